//! Migration of legacy flujo state into the safe serialized format, into
//! any backend: directories of orjson-era dumps, pre-0.7 SQLite databases
//! and JSON Lines files (`docs/format.md`, Legacy dumps).
//!
//! The pipeline, `jobs` inputs at a time:
//! `source` finds the inputs and reads them lazily → `decode` turns
//! each into a state (strict JSON, JSON5 when needed) → the worker converts
//! it, compares it with what the target already holds (`compare`), writes
//! and verifies it → the caller's [`Observer`] gets one [`Entry`] per input,
//! in input order (see `report`).
//!
//! Nothing holds the corpus: an input is read when a worker takes it and
//! dropped once written. The source is only ever read; every write is the
//! target backend's own atomic save, so a run killed at any point and run
//! again ends with exactly what one uninterrupted run gives (states already
//! written count as unchanged).

mod claims;
pub(crate) mod compare;
pub(crate) mod decode;
pub(crate) mod report;
pub(crate) mod sample;
pub(crate) mod shard;
#[cfg(feature = "cli")]
pub(crate) mod snapshots;
pub(crate) mod source;
pub mod upgrade;
mod worker;

use std::collections::BTreeMap;
#[cfg(feature = "cli")]
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(feature = "cli")]
use rustix::fs::{Access, access};
use tokio::sync::{Mutex, mpsc};

use crate::backends::StateBackend;
#[cfg(feature = "cli")]
use crate::backends::file::FileBackend;
#[cfg(feature = "cli")]
use crate::backends::{BackendError, OpenOptions, open_backend_with};
use crate::format::TypeRegistry;

#[cfg(feature = "cli")]
pub(crate) use report::ReportWriter;
pub use report::{Entry, Note, Outcome, SampleTexts, Totals};
pub use shard::Shard;
pub use source::{Source, SourceError};

/// Whether the backend at `url` would write into the source itself (a
/// `file://` directory or `sqlite://` database that is the source), which
/// the migration refuses: the source is never modified.
#[cfg(feature = "cli")]
pub(crate) fn target_is_source(source: &Source, url: &str) -> bool {
    match (local_path(url).and_then(|p| std::fs::canonicalize(p).ok()), std::fs::canonicalize(source.path())) {
        (Some(target), Ok(source)) => target == source,
        _ => false,
    }
}

/// Whether writing `path` (a report, a snapshot directory) could write
/// over the source: `path` is the source file itself or lies inside the
/// source directory. A path that does not exist yet is judged by its
/// nearest existing ancestor.
#[cfg(feature = "cli")]
pub(crate) fn would_write_into_source(source: &Source, path: &std::path::Path) -> bool {
    let Ok(source_path) = std::fs::canonicalize(source.path()) else { return false };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let existing = absolute.ancestors().find_map(|p| std::fs::canonicalize(p).ok().map(|c| (p, c)));
    let Some((found, canonical)) = existing else { return false };
    let full = canonical.join(absolute.strip_prefix(found).unwrap_or(std::path::Path::new("")));
    full == source_path || (matches!(source, Source::Dir(_)) && full.starts_with(&source_path))
}

/// Whether `url` names a `file://` directory or `sqlite://` database that
/// does not exist yet. Opening such a target creates it, so a dry run
/// compares with an empty target instead: it writes nothing, not even that.
#[cfg(feature = "cli")]
pub(crate) fn target_is_absent(url: &str) -> bool {
    local_path(url).is_some_and(|path| !path.exists())
}

/// Opens the target at `url`. A dry run writes nothing, opening included:
/// an absent local target is an empty `memory://` one, and an existing
/// `file://` directory is only read (a real open removes stale temp files).
#[cfg(feature = "cli")]
pub(crate) async fn open_target(url: &str, registry: Arc<TypeRegistry>, options: OpenOptions, dry_run: bool) -> Result<Box<dyn StateBackend>, BackendError> {
    if dry_run && target_is_absent(url) {
        return open_backend_with("memory://", registry, options).await;
    }
    if dry_run && url.starts_with("file:") {
        return Ok(Box::new(FileBackend::open_to_read(url, registry)?));
    }
    open_backend_with(url, registry, options).await
}

/// Refuses a local target (a `file://` directory, a `sqlite://` database)
/// this process cannot write into, naming it, before any input is read (in
/// a dry run too, which would otherwise promise writes that must fail). A
/// target not created yet is judged by the nearest existing ancestor, where
/// it would be created.
#[cfg(feature = "cli")]
pub(crate) fn check_target_writable(url: &str) -> Result<(), String> {
    let Some(path) = local_path(url) else { return Ok(()) };
    let Some(existing) = path.ancestors().find(|p| p.exists()) else { return Ok(()) };
    // A directory must also be searchable to create files in it.
    let needed = if existing.is_dir() { Access::WRITE_OK | Access::EXEC_OK } else { Access::WRITE_OK };
    access(existing, needed).map_err(|e| {
        let within = if existing == path { String::new() } else { format!(" (to be created in {})", existing.display()) };
        format!("the target {}{within} is not writable: {}", path.display(), std::io::Error::from(e))
    })
}

/// The local path of a `file://` or `sqlite://` URL, as the backend reads it.
#[cfg(feature = "cli")]
fn local_path(url: &str) -> Option<PathBuf> {
    let dir = crate::backends::file::dir_of(url).ok();
    #[cfg(feature = "sqlite")]
    let dir = dir.or_else(|| crate::backends::sqlite::path_of(url));
    dir
}

/// The default of [`Options::max_input_size`]: 1 GiB.
pub const DEFAULT_MAX_INPUT_SIZE: u64 = 1 << 30;

/// How a migration runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Inputs converted and written at once.
    pub jobs: usize,
    /// Write nothing: only tell what would happen.
    pub dry_run: bool,
    /// Replace a different state the target already holds (a conflict).
    pub overwrite: bool,
    /// Load each written state back and compare it with the converted one.
    pub verify: bool,
    /// Take only the inputs whose run id falls in this shard.
    pub shard: Option<Shard>,
    /// The first `sample` inputs (in input order), and when `sample` is
    /// not 0 every input with notes (whose values may change), keep their
    /// texts and the diff of their values in [`Entry::sample`], for a dry
    /// run's diffs and for snapshots.
    pub sample: usize,
    /// The largest input file read, in bytes: a larger one fails alone
    /// (only this much and a byte more is ever read, whatever its size).
    pub max_input_size: u64,
    /// Follow symbolic links in a source directory that lead outside it
    /// (those are skipped otherwise: the source is what the directory holds).
    pub follow_symlinks: bool,
    /// Stops the run: set by the worker that finds the target unreachable,
    /// or by whoever holds a clone (a signal handler).
    pub stop: Stop,
}

/// Tells a running migration to stop taking inputs: the inputs in flight
/// finish, every later one is [`Outcome::NotAttempted`].
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Asks the run to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the run was asked to stop.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            dry_run: false,
            overwrite: false,
            verify: true,
            shard: None,
            sample: 0,
            max_input_size: DEFAULT_MAX_INPUT_SIZE,
            follow_symlinks: false,
            stop: Stop::default(),
        }
    }
}

/// Hears of a migration's progress, one input at a time, in input order.
pub trait Observer {
    /// The migration starts; `total` is the number of inputs when the
    /// source knows it without reading them all (not for JSON Lines).
    fn start(&mut self, total: Option<u64>);
    /// One input is done.
    fn entry(&mut self, entry: &Entry);
}

/// Migrates every input of `source` into `target`, telling `observer` of
/// each, and returns the totals.
///
/// Failures of single inputs are entries, not errors (a source that stops
/// being readable midway is a failed entry too): the only error is a source
/// that cannot be opened at all. A target that cannot be reached stops the
/// run (see [`Stop`]): that input is [`Outcome::ConnectionFailed`], the
/// ones after it are still listed, as [`Outcome::NotAttempted`].
pub async fn migrate(
    source: &Source,
    target: Arc<dyn StateBackend>,
    registry: Arc<TypeRegistry>,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Totals, SourceError> {
    let jobs = options.jobs.max(1);
    let listing = source.list(options.follow_symlinks)?;
    observer.start(listing.total());

    // A small input queue keeps at most a few inputs in memory at once.
    let (input_tx, input_rx) = mpsc::channel(jobs);
    let producer = std::thread::spawn(move || listing.produce(&input_tx));

    let input_rx = Arc::new(Mutex::new(input_rx));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let repeats = matches!(source, Source::JsonLines(_));
    let worker = Arc::new(worker::Worker::new(target, registry, options.clone(), repeats));
    let mut workers = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let (input_rx, done_tx, worker) = (Arc::clone(&input_rx), done_tx.clone(), Arc::clone(&worker));
        workers.push(tokio::spawn(async move {
            loop {
                let next = input_rx.lock().await.recv().await;
                let Some(input) = next else { break };
                let index = input.index;
                if done_tx.send((index, worker.process(input).await)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(done_tx);

    // Entries arrive in completion order and leave in input order; only
    // those that finished ahead of a slower earlier input wait here.
    let mut totals = Totals::default();
    let mut waiting: BTreeMap<usize, Option<Entry>> = BTreeMap::new();
    let mut next = 0;
    while let Some((index, entry)) = done_rx.recv().await {
        waiting.insert(index, entry);
        while let Some(entry) = waiting.remove(&next) {
            match entry {
                Some(entry) => {
                    totals.add(&entry);
                    observer.entry(&entry);
                }
                None => totals.other_shards += 1,
            }
            next += 1;
        }
    }
    for worker in workers {
        // A worker that panicked lost its input: that is a bug, say so.
        if let Err(e) = worker.await {
            return Err(SourceError::Internal(format!("a migration worker failed: {e}")));
        }
    }
    producer.join().map_err(|_| SourceError::Internal("the source reader panicked".to_owned()))?;
    Ok(totals)
}
