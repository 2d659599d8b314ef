//! What a migration did, input by input: the [`Entry`] of each input, the
//! [`Totals`], and the JSON report file (`--report PATH.json`), written as
//! the entries come so that a migration of any size holds none of them.
//!
//! The entries go to an unnamed temp file (it vanishes with the process, so
//! a killed run leaves nothing behind), which is copied beside the report
//! and renamed into place at the end: a reader never sees half a report.

use std::fmt;
#[cfg(feature = "cli")]
use std::fs::File;
#[cfg(feature = "cli")]
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
#[cfg(feature = "cli")]
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What happened to one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Converted and written (in a dry run: would be).
    Migrated,
    /// The target already held the same state; nothing written.
    Unchanged,
    /// The target holds a different state for the run id; left alone.
    Conflict,
    /// Could not be read, converted, written or verified.
    Failed,
    /// Not an input (another file in the directory, a subdirectory, a
    /// FIFO, socket or device).
    Skipped,
    /// Its run id came earlier in the same source: the first one in source
    /// order is the one migrated.
    Duplicate,
    /// The target could not be reached (connection refused, broken, timed
    /// out): nothing is known of what it holds. The run stops there.
    ConnectionFailed,
    /// The run stopped before this input (a connection failure, a signal).
    NotAttempted,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Migrated,
        Outcome::Unchanged,
        Outcome::Conflict,
        Outcome::Failed,
        Outcome::Skipped,
        Outcome::Duplicate,
        Outcome::ConnectionFailed,
        Outcome::NotAttempted,
    ];

    /// The report's name for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Migrated => "migrated",
            Outcome::Unchanged => "unchanged",
            Outcome::Conflict => "conflict",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Duplicate => "duplicate",
            Outcome::ConnectionFailed => "connection_failed",
            Outcome::NotAttempted => "not_attempted",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something worth knowing about an input that was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// The text needed the JSON5 reader (comments, trailing commas, ...).
    Json5,
    /// The text held NaN or an infinity (or a number too large for a
    /// float), kept as `"nan"`, `"inf"`, `"-inf"`.
    NonFinite,
    /// An object repeated a key; the last value won, as in Python.
    DuplicateKeys,
    /// The text started with a UTF-8 byte order mark.
    ByteOrderMark,
    /// The state's `run_id` key differs from the run id it is stored under.
    RunIdMismatch,
    /// A different state the target held was replaced (`--overwrite`).
    Overwrote,
}

impl Note {
    /// The report's name for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Note::Json5 => "json5",
            Note::NonFinite => "non_finite",
            Note::DuplicateKeys => "duplicate_keys",
            Note::ByteOrderMark => "byte_order_mark",
            Note::RunIdMismatch => "run_id_mismatch",
            Note::Overwrote => "overwrote",
        }
    }
}

/// A sampled input's texts and what conversion changed, for a dry run's
/// diffs and for snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleTexts {
    /// The source text (for a database row: its columns, one a line).
    pub source: String,
    /// The converted text, as the FileBackend writes it.
    pub converted: String,
    /// The changed values (`leaf_diff`).
    pub diff: String,
}

/// One input's line in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// Where the input came from (a file, `DB: run_id "X"`, `FILE:LINE`).
    pub source: String,
    /// The run id it was (or would have been) stored under.
    pub run_id: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was skipped or is a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What was noticed on the way.
    pub notes: Vec<Note>,
    /// The texts, for the first inputs of a run that asked for a sample.
    #[serde(skip)]
    pub sample: Option<SampleTexts>,
}

impl Entry {
    /// An entry with no error, detail, notes or sample.
    pub(crate) fn new(source: String, run_id: Option<String>, outcome: Outcome) -> Entry {
        Entry { source, run_id, outcome, error: None, detail: None, notes: Vec::new(), sample: None }
    }

    /// A failed entry.
    pub(crate) fn failed(source: String, run_id: Option<String>, error: impl Into<String>) -> Entry {
        Entry { error: Some(error.into()), ..Entry::new(source, run_id, Outcome::Failed) }
    }

    /// The one-line account of the entry for a console. Control
    /// characters (a newline or an ANSI escape in a file name) are shown
    /// escaped, so that no input can forge or hide console lines.
    #[cfg(feature = "cli")]
    pub(crate) fn line(&self) -> String {
        let mut line = format!("{:<9} {}", self.outcome.as_str(), printable(&self.source));
        if let Some(run_id) = self.run_id.as_ref().filter(|id| !self.source.contains(id.as_str())) {
            line.push_str(&format!(" (run {run_id:?})"));
        }
        if let Some(why) = self.error.as_ref().or(self.detail.as_ref()) {
            line.push_str(": ");
            line.push_str(&printable(why));
        }
        line
    }
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`), for a
/// console line.
#[cfg(feature = "cli")]
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// How many inputs had each outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Inputs of this shard (every outcome).
    pub inputs: u64,
    /// Converted and written.
    pub migrated: u64,
    /// Already in the target.
    pub unchanged: u64,
    /// Different state in the target, left alone.
    pub conflict: u64,
    /// Could not be migrated.
    pub failed: u64,
    /// Not inputs.
    pub skipped: u64,
    /// Repeated run ids of the source.
    pub duplicate: u64,
    /// Inputs whose target operation failed to reach the target.
    pub connection_failed: u64,
    /// Inputs left when the run stopped.
    pub not_attempted: u64,
    /// Inputs left to the other shards (`--shard`).
    pub other_shards: u64,
}

impl Totals {
    /// Counts `entry`.
    pub(crate) fn add(&mut self, entry: &Entry) {
        self.inputs += 1;
        *self.count_mut(entry.outcome) += 1;
    }

    /// The count of `outcome`.
    #[cfg(feature = "cli")]
    pub(crate) fn count(&self, outcome: Outcome) -> u64 {
        let mut totals = *self;
        *totals.count_mut(outcome)
    }

    fn count_mut(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Migrated => &mut self.migrated,
            Outcome::Unchanged => &mut self.unchanged,
            Outcome::Conflict => &mut self.conflict,
            Outcome::Failed => &mut self.failed,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Duplicate => &mut self.duplicate,
            Outcome::ConnectionFailed => &mut self.connection_failed,
            Outcome::NotAttempted => &mut self.not_attempted,
        }
    }

    /// One line: `migrated 3, unchanged 0, ...` (the outcomes of a run
    /// that stopped, or of a source with repeated run ids, only when some
    /// input had them).
    #[cfg(feature = "cli")]
    pub(crate) fn line(&self) -> String {
        let shown = |o: &&Outcome| o <= &&Outcome::Skipped || self.count(**o) > 0;
        let mut parts: Vec<String> = Outcome::ALL.iter().filter(shown).map(|o| format!("{o} {}", self.count(*o))).collect();
        if self.other_shards > 0 {
            parts.push(format!("other shards {}", self.other_shards));
        }
        parts.join(", ")
    }
}

/// The version of the report's layout: 2 added `schema_version`, the
/// outcomes `duplicate`, `connection_failed`, `not_attempted` and their
/// totals.
#[cfg(feature = "cli")]
pub const SCHEMA_VERSION: u32 = 2;

/// What the report says about the run itself.
#[derive(Clone, Debug, Serialize)]
#[cfg(feature = "cli")]
pub struct RunInfo {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The source path.
    pub source: String,
    /// What kind of source it was.
    pub source_kind: String,
    /// The target backend.
    pub target: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// Written states were loaded back and compared.
    pub verify: bool,
    /// The shard taken (`K/N`), if any.
    pub shard: Option<String>,
}

/// Writes a JSON report as entries come: the run's fields, `entries`,
/// `totals` (migrate's, and `--check-upgrade`'s with its own entries).
#[cfg(feature = "cli")]
pub struct ReportWriter {
    path: PathBuf,
    dir: PathBuf,
    out: BufWriter<File>,
    entries: u64,
}

#[cfg(feature = "cli")]
impl ReportWriter {
    /// Starts the report for `path`; its directory must exist.
    pub fn create(path: &Path, run: &impl Serialize) -> io::Result<ReportWriter> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned();
        let mut out = BufWriter::new(tempfile::tempfile_in(&dir)?);
        let head = serde_json::to_string_pretty(run).map_err(io::Error::other)?;
        // The run's fields, then the entries array, in one object.
        write!(out, "{},\n  \"entries\": [", head.trim_end_matches(['}', '\n']))?;
        Ok(ReportWriter { path: path.to_owned(), dir, out, entries: 0 })
    }

    /// Adds one entry.
    pub fn entry(&mut self, entry: &impl Serialize) -> io::Result<()> {
        let separator = if self.entries == 0 { "\n    " } else { ",\n    " };
        self.out.write_all(separator.as_bytes())?;
        serde_json::to_writer(&mut self.out, entry).map_err(io::Error::other)?;
        self.entries += 1;
        Ok(())
    }

    /// Ends the report with the totals and puts it in place.
    pub fn finish(mut self, totals: &impl Serialize) -> io::Result<()> {
        let totals = serde_json::to_string_pretty(totals).map_err(io::Error::other)?.replace('\n', "\n  ");
        let close = if self.entries == 0 { "]" } else { "\n  ]" };
        write!(self.out, "{close},\n  \"totals\": {totals}\n}}\n")?;
        let mut entries = self.out.into_inner().map_err(|e| e.into_error())?;
        entries.seek(SeekFrom::Start(0))?;
        let mut named = tempfile::Builder::new().prefix(".stateharness-report-").tempfile_in(&self.dir)?;
        io::copy(&mut entries, &mut named)?;
        named.as_file().sync_all()?;
        named.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}
