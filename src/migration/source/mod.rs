//! Where the inputs of a migration come from, detected by content: a
//! directory of dumps, a legacy flujo SQLite database, or a JSON Lines file.
//!
//! [`Source::list`] does the cheap part up front (the directory listing,
//! the row count) so that progress has a total; [`Listing::produce`] then
//! hands the inputs over one at a time, reading as little as it can itself:
//! files are read by the workers, rows and lines by the producer.

mod dir;
mod jsonl;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

#[cfg(feature = "sqlite")]
use rusqlite::types::Value as SqlValue;
use tokio::sync::mpsc;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// A migration's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A directory of `RUN_ID.json` dumps.
    Dir(PathBuf),
    /// A flujo SQLite database with a `workflow_state` table.
    Sqlite(PathBuf),
    /// One state per line, the run id in its `run_id` key.
    JsonLines(PathBuf),
}

/// A source that cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The path cannot be read.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// The source path.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A database that is not a flujo state database.
    #[error("{path}: {why}")]
    NotFlujo {
        /// The database.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A bug: a part of the migration stopped unexpectedly.
    #[error("{0}")]
    Internal(String),
}

impl Source {
    /// The source at `path`, by what it holds: a directory, a file that
    /// starts like an SQLite database, or else a JSON Lines file. A pipe
    /// (`--from <(...)`) is JSON Lines unread: what sniffing would read of
    /// it could never be read again.
    pub fn detect(path: &Path) -> Result<Source, SourceError> {
        let unreadable = |error| SourceError::Unreadable { path: path.to_owned(), error };
        let meta = path.metadata().map_err(unreadable)?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_owned()));
        }
        if !meta.is_file() {
            return Ok(Source::JsonLines(path.to_owned()));
        }
        let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
        File::open(path).and_then(|file| file.take(SQLITE_MAGIC.len() as u64).read_to_end(&mut head)).map_err(unreadable)?;
        Ok(if head == SQLITE_MAGIC { Source::Sqlite(path.to_owned()) } else { Source::JsonLines(path.to_owned()) })
    }

    /// The source's path.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Source::Dir(path) | Source::Sqlite(path) | Source::JsonLines(path) => path,
        }
    }

    /// What kind of source, for messages (`a directory of dumps`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Source::Dir(_) => "a directory of dumps",
            Source::Sqlite(_) => "a flujo SQLite database",
            Source::JsonLines(_) => "a JSON Lines file",
        }
    }

    /// Opens the source and does the work that gives the number of inputs.
    /// `follow_symlinks`: a directory's symbolic links that lead outside it
    /// are inputs too (else they are skipped).
    pub(crate) fn list(&self, follow_symlinks: bool) -> Result<Listing, SourceError> {
        Ok(match self {
            Source::Dir(path) => Listing::Dir(dir::list(path, follow_symlinks)?),
            #[cfg(feature = "sqlite")]
            Source::Sqlite(path) => Listing::Sqlite(sqlite::Table::open(path)?),
            #[cfg(not(feature = "sqlite"))]
            Source::Sqlite(path) => {
                let why = "this stateharness was built without its `sqlite` feature, which reading SQLite databases needs".to_owned();
                return Err(SourceError::NotFlujo { path: path.clone(), why });
            }
            Source::JsonLines(path) => Listing::JsonLines(jsonl::open(path)?),
        })
    }
}

/// An opened source, ready to hand over its inputs.
pub enum Listing {
    /// The sorted entries of a directory.
    Dir(dir::Entries),
    /// A database table, read row by row.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::Table),
    /// A file, read line by line.
    JsonLines(jsonl::Lines),
}

impl Listing {
    /// The number of inputs, when known without reading them.
    pub fn total(&self) -> Option<u64> {
        match self {
            Listing::Dir(entries) => Some(entries.len() as u64),
            #[cfg(feature = "sqlite")]
            Listing::Sqlite(table) => Some(table.rows()),
            Listing::JsonLines(_) => None,
        }
    }

    /// Sends every input, numbered from 0, until the receiver goes away. A
    /// source that stops being readable midway sends a broken input saying
    /// so, and nothing after it.
    pub fn produce(self, inputs: &mpsc::Sender<Input>) {
        let mut index = 0;
        let mut send = |source: String, run_id: Option<String>, payload: Payload| {
            let sent = inputs.blocking_send(Input { index, source, run_id, payload }).is_ok();
            index += 1;
            sent
        };
        match self {
            Listing::Dir(entries) => entries.produce(&mut send),
            #[cfg(feature = "sqlite")]
            Listing::Sqlite(table) => table.produce(&mut send),
            Listing::JsonLines(lines) => lines.produce(&mut send),
        }
    }
}

/// Hands one input to the workers; false when nobody listens any more.
pub(crate) type Emit<'a> = dyn FnMut(String, Option<String>, Payload) -> bool + 'a;

/// One input of a migration.
#[derive(Debug)]
pub struct Input {
    /// Its position in the source (the order of the report).
    pub index: usize,
    /// Where it comes from, for the report: a file, `DB: run_id 'X'`,
    /// `FILE:LINE`.
    pub source: String,
    /// The run id, when the source gives it apart from the state (a file
    /// name, a row's key); otherwise it is the state's `run_id`.
    pub run_id: Option<String>,
    /// What to migrate.
    pub payload: Payload,
}

/// What an input holds.
#[derive(Debug)]
pub enum Payload {
    /// A dump file, read by the worker.
    File(PathBuf),
    /// A dump's text as bytes (a JSON Lines line).
    Text(Vec<u8>),
    /// A row of flujo's table, as (column, value) in the table's order.
    #[cfg(feature = "sqlite")]
    Row(Vec<(&'static str, SqlValue)>),
    /// Not an input: why it is left alone.
    Skip(String),
    /// An input that could not be read: why.
    Broken(String),
}
