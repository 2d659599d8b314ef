//! A directory of dumps: `RUN_ID.json` files, in name order. Every other
//! entry (a subdirectory, another extension, a name that is not UTF-8) is
//! skipped and listed, so an operator sees everything that was not migrated.
//! A symbolic link that leads outside the directory is skipped too, unless
//! asked to follow it: what the directory holds is the source, not what it
//! points at elsewhere.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::{Emit, Payload, SourceError};

/// The suffix of a dump's file name.
const SUFFIX: &str = ".json";

/// The entries of the directory, sorted by name.
pub struct Entries {
    dir: PathBuf,
    names: Vec<OsString>,
    /// The directory's own path with every link resolved; `None` when
    /// links are followed wherever they lead.
    inside: Option<PathBuf>,
}

/// Lists `dir` (names only: the files are read later, one at a time).
pub fn list(dir: &Path, follow_symlinks: bool) -> Result<Entries, SourceError> {
    let unreadable = |error| SourceError::Unreadable { path: dir.to_owned(), error };
    let mut names = fs::read_dir(dir).map_err(unreadable)?.map(|entry| entry.map(|e| e.file_name())).collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    names.sort();
    let inside = if follow_symlinks { None } else { Some(fs::canonicalize(dir).map_err(unreadable)?) };
    Ok(Entries { dir: dir.to_owned(), names, inside })
}

impl Entries {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub(super) fn produce(self, emit: &mut Emit<'_>) {
        for name in &self.names {
            let path = self.dir.join(name);
            let source = path.display().to_string();
            let (run_id, payload) = match (name.to_str(), fs::metadata(&path)) {
                (None, _) => (None, Payload::Skip("the file name is not UTF-8, so it names no run id".to_owned())),
                (Some(_), _) if self.leads_outside(&path) => {
                    let target = fs::read_link(&path).map_or_else(|e| e.to_string(), |t| t.display().to_string());
                    (None, Payload::Skip(format!("a symbolic link to {target}, outside the source directory (--follow-symlinks follows it)")))
                }
                (_, Err(e)) => (None, Payload::Broken(format!("cannot read it: {e}"))),
                (Some(_), Ok(meta)) if meta.is_dir() => (None, Payload::Skip("a directory (subdirectories are not searched)".to_owned())),
                // A link was put there on purpose: following it to what is no dump is an error, not a skip.
                (Some(_), Ok(meta)) if !meta.is_file() && !meta.is_dir() && path.is_symlink() => {
                    let target = fs::read_link(&path).map_or_else(|e| e.to_string(), |t| t.display().to_string());
                    (None, Payload::Broken(format!("a symbolic link to {target}, {} and no dump", file_kind(&meta))))
                }
                // Reading a FIFO would wait for a writer, a device may never end.
                (Some(_), Ok(meta)) if !meta.is_file() => (None, Payload::Skip(format!("not a regular file ({})", file_kind(&meta)))),
                (Some(name), Ok(_)) => match name.strip_suffix(SUFFIX) {
                    Some(run_id) if !run_id.is_empty() => (Some(run_id.to_owned()), Payload::File(path)),
                    _ => (None, Payload::Skip("not a RUN_ID.json file".to_owned())),
                },
            };
            if !emit(source, run_id, payload) {
                return;
            }
        }
    }
}

impl Entries {
    /// Whether `path` is a symbolic link whose target (with every link on
    /// the way resolved) is not inside the directory, while links are not
    /// followed there. A link that resolves nowhere (dangling, a loop)
    /// leads nowhere to read: it fails as unreadable.
    fn leads_outside(&self, path: &Path) -> bool {
        let Some(inside) = &self.inside else { return false };
        path.is_symlink() && fs::canonicalize(path).is_ok_and(|target| !target.starts_with(inside))
    }
}

/// What kind of file that is not a regular file or a directory `meta` is.
fn file_kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}
