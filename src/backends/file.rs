//! `file:///DIR`: flujo's FileBackend. One file per run, `DIR/RUN_ID.json`,
//! holding the bytes of `json.dumps(safe_serialize(state), sort_keys=True)`
//! (no trailing newline), replaced atomically on every save.
//!
//! A save killed midway leaves a hidden `.RUN_ID.json.tmp-PID-N` file
//! behind, never a partial state file; such files are not states (they do
//! not end in `.json`), so loads and listings ignore them, and opening the
//! directory again removes those whose writing process is gone.
//!
//! A compare-and-set ([`StateBackend::swap_state`]) holds an exclusive
//! `flock` on `.RUN_ID.json.lock` while it reads and replaces the state:
//! one lock per run id, never one on the directory, so migrators writing
//! other run ids never wait. The kernel drops the lock with its process (a
//! SIGKILL leaves no stale lock), and the holder removes the file before
//! unlocking: a waiter that then gets the lock of a removed file sees it is
//! no longer the one at the path and starts over.
//!
//! The path after `file://` is taken literally (no percent-decoding), so
//! `file:///tmp/my states` is the directory `/tmp/my states`.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::format::{TypeHints, TypeRegistry};
use crate::json::KeyOrder;
use crate::value::Value;

use super::codec::{safe_to_text, state_to_text, text_to_state};
use super::{BackendError, Capabilities, ErrorKind, NewState, Raw, RawState, StateBackend, StoredForm, StoredPart, TextStore};

/// The longest file name Linux (and macOS) file systems accept, in bytes.
const MAX_FILE_NAME: usize = 255;

/// What every state file's name ends with; temp files never do.
const SUFFIX: &str = ".json";

/// What a run id's lock file name ends with (after `.RUN_ID.json`).
const LOCK_SUFFIX: &str = ".lock";

/// Makes temp file names unique within the process; the pid makes them
/// unique across processes, and `create_new` catches anything left.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// flujo's FileBackend: `DIR/RUN_ID.json` per run.
#[derive(Debug)]
pub struct FileBackend {
    dir: PathBuf,
    registry: Arc<TypeRegistry>,
}

impl FileBackend {
    /// Opens `file:///DIR`, creating `DIR` (and its parents) when missing.
    ///
    /// A URL without an absolute path, or a directory that cannot be
    /// created, is a [`ErrorKind::Connection`] error.
    pub async fn open(url: &str, registry: Arc<TypeRegistry>) -> Result<FileBackend, BackendError> {
        let dir = dir_of(url)?;
        let created = dir.clone();
        blocking(move || {
            fs::create_dir_all(&created)?;
            remove_stale_temp_files(&created)?;
            remove_unheld_lock_files(&created)
        })
        .await
        .map_err(|e| BackendError::new(ErrorKind::Connection, format!("could not open {url}: {e}")))?;
        Ok(FileBackend { dir, registry })
    }

    /// Opens an existing `file:///DIR` only to read from it (a dry run's
    /// target): unlike [`FileBackend::open`] it creates and removes nothing,
    /// not even the temp files of dead writers.
    #[cfg(feature = "cli")]
    pub(crate) fn open_to_read(url: &str, registry: Arc<TypeRegistry>) -> Result<FileBackend, BackendError> {
        let dir = dir_of(url)?;
        if !dir.is_dir() {
            return Err(BackendError::new(ErrorKind::Connection, format!("could not open {url}: {} is not a directory", dir.display())));
        }
        Ok(FileBackend { dir, registry })
    }

    /// The file that holds `run_id`'s state (after checking the id).
    pub(crate) fn state_path(&self, run_id: &str) -> Result<PathBuf, BackendError> {
        check_run_id(run_id)?;
        Ok(self.dir.join(format!("{run_id}{SUFFIX}")))
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// The path and bytes of `run_id`'s file, or `None` when there is none.
    async fn read_state_file(&self, run_id: &str) -> Result<Option<(PathBuf, Vec<u8>)>, BackendError> {
        let path = self.state_path(run_id)?;
        let file = path.clone();
        match blocking(move || read_if_present(&file)).await {
            Ok(bytes) => Ok(bytes.map(|bytes| (path, bytes))),
            Err(e) => Err(BackendError::internal(format!("loading run {run_id:?} from {}", path.display()), e)),
        }
    }
}

/// The file's bytes, or `None` when there is no such file.
fn read_if_present(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl TextStore for FileBackend {
    fn encode(&self, safe: &Value) -> Result<String, BackendError> {
        safe_to_text(safe, KeyOrder::Sorted)
    }

    fn read_text(&self, run_id: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let path = self.state_path(run_id)?;
        read_if_present(&path).map_err(|e| BackendError::internal(format!("loading run {run_id:?} from {}", path.display()), e))
    }

    fn write_text(&self, run_id: &str, text: &[u8]) -> Result<(), BackendError> {
        let path = self.state_path(run_id)?;
        write_atomically(&self.dir, run_id, &path, text).map_err(|e| BackendError::internal(format!("saving run {run_id:?} to {}", path.display()), e))
    }
}

/// The directory named by `file:///DIR` (or `file://localhost/DIR`).
pub(crate) fn dir_of(url: &str) -> Result<PathBuf, BackendError> {
    let rest = url.strip_prefix("file://").unwrap_or_default();
    let path = if rest.starts_with('/') { Some(rest) } else { rest.strip_prefix("localhost").filter(|p| p.starts_with('/')) };
    match path {
        Some(path) => Ok(PathBuf::from(path)),
        None => Err(BackendError::new(ErrorKind::Connection, format!("could not open {url:?}: expected file:///DIR with an absolute DIR"))),
    }
}

/// Refuses the ids flujo refuses (a path separator, `..`) and the ones no
/// file can be named after (empty, NUL, `.`, a name over 255 bytes).
fn check_run_id(run_id: &str) -> Result<(), BackendError> {
    let why = if run_id.is_empty() {
        "it is empty"
    } else if run_id.contains('/') || run_id.contains('\\') {
        "it contains a path separator"
    } else if run_id.contains('\0') {
        "it contains NUL, which no file name can hold"
    } else if run_id == "." || run_id.contains("..") {
        "it contains '..' or is '.'"
    } else if run_id.len() + SUFFIX.len() > MAX_FILE_NAME {
        "its file name RUN_ID.json would exceed 255 bytes"
    } else {
        return Ok(());
    };
    Err(BackendError::invalid_run_id(run_id, why))
}

/// Removes the temp files of saves whose process no longer runs (killed
/// midway). A live process's temp file may be a save in progress: it stays.
/// Without `/proc` there is no telling, so nothing is removed.
fn remove_stale_temp_files(dir: &Path) -> io::Result<()> {
    if !Path::new("/proc/self").exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let writer = name
            .strip_prefix('.')
            .and_then(|rest| rest.rsplit_once(".tmp-"))
            .filter(|(id, _)| id.ends_with(SUFFIX))
            .and_then(|(_, pid_and_counter)| pid_and_counter.split_once('-'))
            .and_then(|(pid, counter)| counter.parse::<u64>().ok().and(pid.parse::<u32>().ok()));
        if let Some(pid) = writer {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(())
}

/// A fresh temp file name in the state directory for `run_id`: hidden, and
/// never ending in `.json`, so it can be neither another run's file nor
/// listed. Long ids are cut (at a char boundary) to keep within 255 bytes;
/// the pid and counter keep the name unique.
fn temp_name(run_id: &str) -> OsString {
    let tail = format!("{SUFFIX}.tmp-{}-{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut budget = MAX_FILE_NAME - 1 - tail.len();
    while !run_id.is_char_boundary(budget.min(run_id.len())) {
        budget -= 1;
    }
    OsString::from(format!(".{}{tail}", &run_id[..budget.min(run_id.len())]))
}

/// Writes `text` to a new temp file, fsyncs it, renames it over `target`
/// and fsyncs the directory. On failure before the rename the temp file is
/// removed, so the target keeps its previous content.
fn write_atomically(dir: &Path, run_id: &str, target: &Path, text: &[u8]) -> io::Result<()> {
    let (temp, file) = loop {
        let temp = dir.join(temp_name(run_id));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => break (temp, file),
            // Another process (pid reuse across namespaces) holds the name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let written = write_and_sync(file, text).and_then(|()| fs::rename(&temp, target));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // The new state is in place; a failure here means only that the rename
    // may not survive a power loss, which the caller should still hear of.
    sync_dir(dir)
}

/// Writes `text` and flushes it to the disk; the file is closed on return.
fn write_and_sync(mut file: File, text: &[u8]) -> io::Result<()> {
    file.write_all(text)?;
    file.sync_all()
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The lock file of `run_id`: hidden and never ending in `.json`, like a
/// temp file's name; a long id is cut (two ids may then share a lock,
/// which only makes them wait for each other).
fn lock_name(run_id: &str) -> OsString {
    let tail = format!("{SUFFIX}{LOCK_SUFFIX}");
    let mut budget = MAX_FILE_NAME - 1 - tail.len();
    while !run_id.is_char_boundary(budget.min(run_id.len())) {
        budget -= 1;
    }
    OsString::from(format!(".{}{tail}", &run_id[..budget.min(run_id.len())]))
}

/// An exclusive lock on one run id (see the module doc); dropping it
/// removes the lock file, then unlocks.
struct RunLock {
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// Waits for the lock of `run_id` in `dir`.
    fn acquire(dir: &Path, run_id: &str) -> io::Result<RunLock> {
        use rustix::fs::{FlockOperation, flock, fstat, stat};
        let path = dir.join(lock_name(run_id));
        loop {
            let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
            flock(&file, FlockOperation::LockExclusive)?;
            let held = fstat(&file)?;
            // The holder before removed the file it locked: lock the new one.
            match stat(&path) {
                Ok(now) if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino) => return Ok(RunLock { path, _file: file }),
                Ok(_) => continue,
                Err(e) if e == rustix::io::Errno::NOENT => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so no waiter can take it as current.
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes the lock files no process holds (left by a killed one): each is
/// taken without waiting, and removed while held, as its holder would.
fn remove_unheld_lock_files(dir: &Path) -> io::Result<()> {
    use rustix::fs::{FlockOperation, flock};
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with('.') && name.ends_with(&format!("{SUFFIX}{LOCK_SUFFIX}"))) {
            continue;
        }
        let Ok(file) = File::open(entry.path()) else { continue };
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Compare-and-set of `run_id`'s file under its lock: `new` (bytes, or
/// `None` to remove the file) replaces the file only when it holds
/// `expected` (`None`: no file). True when the file now holds `new`.
fn swap_file(dir: &Path, run_id: &str, path: &Path, expected: Option<&[u8]>, new: Option<&[u8]>) -> io::Result<bool> {
    let _lock = RunLock::acquire(dir, run_id)?;
    let held = read_if_present(path)?;
    if held.as_deref() == new {
        return Ok(true);
    }
    if held.as_deref() != expected {
        return Ok(false);
    }
    match new {
        Some(text) => write_atomically(dir, run_id, path, text)?,
        None => {
            fs::remove_file(path)?;
            sync_dir(dir)?;
        }
    }
    Ok(true)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| Err(io::Error::other(e)))
}

#[async_trait]
impl StateBackend for FileBackend {
    fn describe(&self) -> String {
        self.url()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: true, shared: true }
    }

    fn text_store(&self) -> Option<&dyn TextStore> {
        Some(self)
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let target = self.state_path(run_id)?;
        let text = state_to_text(state, KeyOrder::Sorted, &self.registry)?;
        let (dir, id, path) = (self.dir.clone(), run_id.to_owned(), target.clone());
        blocking(move || write_atomically(&dir, &id, &path, text.as_bytes()))
            .await
            .map_err(|e| BackendError::internal(format!("saving run {run_id:?} to {}", target.display()), e))
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let Some((path, bytes)) = self.read_state_file(run_id).await? else { return Ok(None) };
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| BackendError::internal(format!("loading run {run_id:?} from {origin}"), e))?;
        text_to_state(&text, hints, &self.registry, &origin).map(Some)
    }

    async fn load_raw(&self, run_id: &str) -> Result<Option<RawState>, BackendError> {
        Ok(self.read_state_file(run_id).await?.map(|(_, bytes)| RawState(Raw::Bytes(bytes))))
    }

    fn decode_raw(&self, run_id: &str, raw: &RawState, hints: &TypeHints) -> Result<Value, BackendError> {
        let origin = self.state_path(run_id)?.display().to_string();
        let Some(bytes) = raw.bytes() else { return Err(BackendError::internal(format!("loading run {run_id:?} from {origin}"), "not a file's bytes")) };
        let text = std::str::from_utf8(bytes).map_err(|e| BackendError::internal(format!("loading run {run_id:?} from {origin}"), e))?;
        text_to_state(text, hints, &self.registry, &origin)
    }

    async fn swap_state(&self, run_id: &str, expected: Option<&RawState>, new: NewState<'_>) -> Result<bool, BackendError> {
        let path = self.state_path(run_id)?;
        let context = || format!("saving run {run_id:?} to {}", path.display());
        let not_bytes = || BackendError::internal(context(), "a raw state that is not a file's bytes");
        let expected = expected.map(|raw| raw.bytes().map(<[u8]>::to_vec).ok_or_else(not_bytes)).transpose()?;
        let new = match new {
            NewState::State(state) => Some(state_to_text(state, KeyOrder::Sorted, &self.registry)?.into_bytes()),
            NewState::Raw(raw) => Some(raw.bytes().ok_or_else(not_bytes)?.to_vec()),
            NewState::Nothing => None,
        };
        let (dir, id, file) = (self.dir.clone(), run_id.to_owned(), path.clone());
        blocking(move || swap_file(&dir, &id, &file, expected.as_deref(), new.as_deref())).await.map_err(|e| BackendError::internal(context(), e))
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        let path = self.state_path(run_id)?;
        let (dir, file) = (self.dir.clone(), path.clone());
        blocking(move || match fs::remove_file(&file) {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await
        .map_err(|e| BackendError::internal(format!("deleting run {run_id:?} at {}", path.display()), e))
    }

    /// The file's bytes, at `RUN_ID.json` (the directory left out: it
    /// differs from machine to machine).
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let stored = self.read_state_file(run_id).await?;
        let parts = stored.map(|(_, bytes)| StoredPart::blob(bytes)).into_iter().collect();
        Ok(Some(StoredForm { location: format!("{run_id}{SUFFIX}"), parts }))
    }

    /// The ids of the `*.json` regular files whose id starts with `prefix`,
    /// sorted. Temp files, names that are not UTF-8 and names that are not
    /// a valid run id's file are not states and are skipped.
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let dir = self.dir.clone();
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut ids = Vec::new();
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else { continue };
                let Some(id) = name.strip_suffix(SUFFIX) else { continue };
                if id.starts_with(prefix.as_str()) && check_run_id(id).is_ok() && entry.file_type()?.is_file() {
                    ids.push(id.to_owned());
                }
            }
            ids.sort();
            Ok(ids)
        })
        .await
        .map_err(|e| BackendError::internal(format!("listing {}", self.url()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_fit_and_never_end_in_json() {
        for id in ["a", &"é".repeat(125), &"x".repeat(250)] {
            let name = temp_name(id).into_string().unwrap_or_default();
            assert!(name.len() <= MAX_FILE_NAME, "{name}");
            assert!(name.starts_with('.') && !name.ends_with(SUFFIX), "{name}");
        }
    }

    #[test]
    fn opening_removes_only_the_lock_files_no_process_holds() {
        let dir = std::env::temp_dir().join(format!("stateharness-locks-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let held = RunLock::acquire(&dir, "held").unwrap();
        let left = dir.join(lock_name("left"));
        fs::write(&left, b"").unwrap();
        remove_unheld_lock_files(&dir).unwrap();
        assert!(!left.exists() && held.path.exists());
        drop(held);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "a released lock leaves no file");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_swap_writes_only_over_the_expected_bytes() {
        let dir = std::env::temp_dir().join(format!("stateharness-swap-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        assert!(swap_file(&dir, "r", &path, None, Some(b"1")).unwrap());
        assert!(!swap_file(&dir, "r", &path, None, Some(b"2")).unwrap(), "the file is no longer absent");
        assert!(swap_file(&dir, "r", &path, None, Some(b"1")).unwrap(), "it already holds that");
        assert!(swap_file(&dir, "r", &path, Some(b"1"), Some(b"2")).unwrap());
        assert!(!swap_file(&dir, "r", &path, Some(b"1"), None).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"2");
        assert!(swap_file(&dir, "r", &path, Some(b"2"), None).unwrap());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn opening_removes_temp_files_of_dead_writers_only() {
        let dir = std::env::temp_dir().join(format!("stateharness-stale-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // No process has pid 4294967295; this test process is alive.
        let dead = dir.join(".run-1.json.tmp-4294967295-0");
        let alive = dir.join(format!(".run-2.json.tmp-{}-0", std::process::id()));
        let state = dir.join("run-3.json");
        let other = dir.join(".notes.tmp-1-2");
        for path in [&dead, &alive, &state, &other] {
            fs::write(path, b"{}").unwrap();
        }
        remove_stale_temp_files(&dir).unwrap();
        assert!(!dead.exists());
        assert!(alive.exists() && state.exists() && other.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
