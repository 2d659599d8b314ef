//! The corpus: legacy dumps to migrate and the files they must become,
//! generated once with flujo's own generator, and the flujo venv's python
//! that generates it and runs the Python baseline.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The corpus the issue names: `gen_oracle.py OUT 7 0 --legacy 1500`.
const CORPUS_NAME: &str = "legacy-7-1500";
/// Versions the corpus and the Python baseline were measured with (orjson
/// is the one the fixtures were made with).
const PY_PACKAGES: [&str; 3] = ["orjson==3.13.0", "json5==0.17.3", "pyjson5==2.0.1"];

/// The files to migrate and what they must become.
pub struct Corpus {
    pub legacy: PathBuf,
    pub expected: PathBuf,
    pub files: Vec<PathBuf>,
    pub expected_files: Vec<PathBuf>,
    pub total_bytes: u64,
    pub largest_bytes: u64,
    pub largest_name: String,
}

impl Corpus {
    fn open(dir: &Path) -> io::Result<Corpus> {
        let legacy = dir.join("legacy");
        let mut files = json_files(&legacy)?;
        files.sort();
        let (mut total_bytes, mut largest_bytes, mut largest_name) = (0, 0, String::new());
        for file in &files {
            // Reading every file once also puts the corpus in the page cache,
            // so that no contender pays for the first, cold read.
            let len = fs::read(file)?.len() as u64;
            total_bytes += len;
            if len > largest_bytes {
                largest_bytes = len;
                largest_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            }
        }
        let expected = dir.join("legacy-expected");
        let mut expected_files = json_files(&expected)?;
        expected_files.sort();
        for file in &expected_files {
            fs::read(file)?;
        }
        Ok(Corpus { legacy, expected, files, expected_files, total_bytes, largest_bytes, largest_name })
    }
}

/// The corpus to use: `BENCH_CORPUS`, else the generated one (made now if
/// missing and Python is there), else the small corpus of fixtures/legacy/seed-2.
pub fn corpus(repo: &Path, target: &Path, python: Option<&Path>) -> Option<Corpus> {
    let open = |dir: &Path| match Corpus::open(dir) {
        Ok(corpus) => Some(corpus),
        Err(e) => {
            println!("corpus {}: {e}", dir.display());
            None
        }
    };
    if let Some(dir) = std::env::var_os("BENCH_CORPUS") {
        return open(Path::new(&dir));
    }
    let generated = target.join("bench-corpus").join(CORPUS_NAME);
    if !generated.is_dir() {
        match python {
            Some(py) => {
                if let Err(e) = generate_corpus(repo, py, &generated) {
                    println!("generating the corpus failed: {e}");
                }
            }
            None => println!("no Python to generate the corpus with"),
        }
    }
    if generated.is_dir() {
        return open(&generated);
    }
    let small = repo.join("fixtures/legacy/seed-2");
    println!("using the small corpus {} instead: the ratios are not the issue's measure", small.display());
    open(&small)
}

/// Runs `gen_oracle.py OUT 7 0 --legacy 1500` into a side directory and
/// renames it into place, so that an interrupted generation is never taken
/// for a corpus.
fn generate_corpus(repo: &Path, python: &Path, dir: &Path) -> Result<(), String> {
    let partial = dir.with_extension("partial");
    let _ = fs::remove_dir_all(&partial);
    let generator = repo.join("ci/oracle/gen_oracle.py");
    println!("generating the corpus into {} (once; several minutes)", dir.display());
    let started = Instant::now();
    let status = Command::new(python)
        .arg(&generator)
        .arg(&partial)
        .args(["7", "0", "--legacy", "1500"])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", generator.display()))?;
    if !status.success() {
        return Err(format!("{} exited with {status}", generator.display()));
    }
    fs::rename(&partial, dir).map_err(|e| e.to_string())?;
    println!("generated in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The flujo venv's python with orjson, json5 and pyjson5 added, or None
/// (with the reason printed) when it cannot be made.
pub fn flujo_python(repo: &Path, target: &Path) -> Option<PathBuf> {
    let output = Command::new("bash")
        .arg(repo.join("ci/flujo-venv.sh"))
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| println!("python: ci/flujo-venv.sh did not run: {e}"))
        .ok()?;
    if !output.status.success() {
        println!("python: ci/flujo-venv.sh failed:\n{}", String::from_utf8_lossy(&output.stderr).trim_end());
        return None;
    }
    let python = PathBuf::from(String::from_utf8_lossy(&output.stdout).lines().last()?.trim());
    let has_parsers =
        |python: &Path| Command::new(python).args(["-c", "import orjson, json5, pyjson5"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !has_parsers(&python) {
        println!("python: installing {} into the flujo venv", PY_PACKAGES.join(" "));
        let installed = Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]).args(PY_PACKAGES).status();
        if !installed.is_ok_and(|s| s.success()) || !has_parsers(&python) {
            println!("python: could not install {}", PY_PACKAGES.join(" "));
            return None;
        }
    }
    Some(python)
}

fn json_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    Ok(files)
}
