//! `py:MODULE:CLASS`: a Python `StateBackend` class, run through the flujo
//! adapter that is built into this binary, so that a Python team needs no
//! checkout of this repository and no `exec:` quoting. The URL's query says
//! how to launch it:
//!
//! | key | meaning |
//! | --- | --- |
//! | `python=PATH` | the interpreter (default: the active virtual environment's, then the one installed beside this binary, then `python3`) |
//! | `kwargs-env=VAR` | constructor arguments: a JSON object in the environment variable VAR |
//! | `kwargs-file=FILE` | constructor arguments: a JSON object in FILE |
//! | `types=MODULE` | a module of the user's own types (`STATEHARNESS_TYPES`, `STATEHARNESS_SAMPLES`) |
//! | `capabilities=LIST` | announced in `hello`: `concurrent`, `persistent`, `shared` |
//!
//! Constructor arguments never travel on a command line (where `ps`,
//! reports and replay lines would show a database password): the adapter
//! reads them from the variable or the file itself.

use std::path::{Path, PathBuf};

use crate::error::{BackendError, ErrorKind};

/// The adapter's source, the same file the repository's CI runs.
const ADAPTER: &str = include_str!("../../ci/adapters/flujo_adapter.py");

/// The `exec:` command line that runs the backend a `py:` URL names.
pub fn exec_command(url: &str) -> Result<String, BackendError> {
    let invalid = |why: String| BackendError::new(ErrorKind::Connection, format!("backend {url:?}: {why}"));
    let spec = url.strip_prefix("py:").ok_or_else(|| invalid("not a py: URL".into()))?;
    let (target, query) = spec.split_once('?').unwrap_or((spec, ""));
    if !target.contains(':') || target.starts_with(':') || target.ends_with(':') {
        return Err(invalid("expected py:MODULE:CLASS".into()));
    }
    let mut python = None;
    let mut args = vec![target.to_owned()];
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| invalid(format!("{pair:?} is not KEY=VALUE")))?;
        match key {
            "python" => python = Some(value.to_owned()),
            "kwargs-env" | "kwargs-file" | "types" | "capabilities" => args.extend([format!("--{key}"), value.to_owned()]),
            _ => return Err(invalid(format!("unknown key {key:?} (python, kwargs-env, kwargs-file, types, capabilities)"))),
        }
    }
    let adapter = adapter_file().map_err(|e| invalid(format!("cannot write the bundled adapter: {e}")))?;
    let mut words = vec![python.unwrap_or_else(default_python), adapter.display().to_string()];
    words.extend(args);
    Ok(format!("exec:{}", shell_words::join(words)))
}

/// The active virtual environment's python, else the one beside this
/// executable (a `pip install`ed binary lives in the venv's `bin/`), else
/// `python3` from the PATH.
fn default_python() -> String {
    let venv = std::env::var_os("VIRTUAL_ENV").map(|venv| PathBuf::from(venv).join("bin/python"));
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("python")));
    venv.into_iter().chain(beside).find(|python| python.is_file()).map_or_else(|| "python3".to_owned(), |python| python.display().to_string())
}

/// The bundled adapter as a file Python can run, written once per user and
/// adapter version into the user's cache directory (not a shared temporary
/// directory, where another user could plant a file of that name).
fn adapter_file() -> std::io::Result<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("stateharness");
    let path = cache.join(format!("flujo_adapter-{:016x}.py", xxhash_rust::xxh3::xxh3_64(ADAPTER.as_bytes())));
    if std::fs::read(&path).is_ok_and(|bytes| bytes == ADAPTER.as_bytes()) {
        return Ok(path);
    }
    std::fs::create_dir_all(&cache)?;
    let mut file = tempfile::NamedTempFile::new_in(&cache)?;
    std::io::Write::write_all(&mut file, ADAPTER.as_bytes())?;
    file.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_becomes_adapter_options() {
        let command =
            exec_command("py:mymodule:MyBackend?python=/venv/bin/python&kwargs-env=DB_KWARGS&types=my_types&capabilities=concurrent,persistent").unwrap();
        let words = shell_words::split(command.strip_prefix("exec:").unwrap()).unwrap();
        assert_eq!(words[0], "/venv/bin/python");
        assert!(words[1].ends_with(".py") && std::fs::read_to_string(&words[1]).unwrap() == ADAPTER);
        assert_eq!(words[2..], ["mymodule:MyBackend", "--kwargs-env", "DB_KWARGS", "--types", "my_types", "--capabilities", "concurrent,persistent"]);
    }

    #[test]
    fn bad_urls_are_named() {
        for (url, why) in [("py:justamodule", "py:MODULE:CLASS"), ("py:m:C?user=x", "unknown key \"user\""), ("py:m:C?python", "not KEY=VALUE")] {
            let error = exec_command(url).unwrap_err();
            assert!(error.message.contains(why) && error.message.contains(url), "{url}: {}", error.message);
        }
    }
}
