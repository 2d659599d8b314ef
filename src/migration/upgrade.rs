//! `stateharness migrate --check-upgrade SRC`: what flujo 0.6.11 would
//! break or change in a flujo 0.4 store, run by run, read without writing
//! anything (docs/migrate.md, "Checking an upgrade to flujo 0.6").
//!
//! The store is read with the migration's own [`Source`] readers; each
//! state is then judged by the 0.6 rules of the format engine
//! (its serialize rules, the orjson int range, the complex revival)
//! as the 0.6 backend that would open the store sees it: a directory is
//! FileBackend's, a database SQLiteBackend's (`scan`). The store itself is
//! judged once: a 0.4 table's status CHECK constraint (`schema`).

mod scan;
#[cfg(feature = "sqlite")]
mod schema;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use tokio::sync::mpsc;

#[cfg(feature = "sqlite")]
use crate::backends::sqlite::loaded_state;
use crate::format::{FlujoVersion, TypeRegistry};

use super::decode::decode;
use super::report::Note;
use super::source::{Input, Listing, Payload, Source, SourceError};
use super::worker::read_at_most;

/// The flujo 0.6 backend that opens the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend06 {
    /// FileBackend, for a directory of `RUN_ID.json` files.
    File,
    /// SQLiteBackend, for a database (it upgrades a 0.4 table on open).
    Sqlite,
}

impl Backend06 {
    /// Its name in flujo (`FileBackend`).
    pub fn name(self) -> &'static str {
        match self {
            Backend06::File => "FileBackend",
            Backend06::Sqlite => "SQLiteBackend",
        }
    }
}

/// What a finding does to the run under flujo 0.6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Information is destroyed, or 0.6 cannot load or save the run at all
    /// (its state is then lost to 0.6 just the same).
    Loss,
    /// The representation differs, nothing is lost.
    Change,
}

impl Effect {
    /// The report's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Loss => "loss",
            Effect::Change => "change",
        }
    }
}

/// What kind of difference 0.6 makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An int outside [-2^63, 2^64-1]: 0.6's SQLite refuses the save.
    IntRange,
    /// A str with a lone surrogate: 0.6's SQLite refuses the save.
    LoneSurrogate,
    /// A dict of exactly `real` and `imag` numbers: 0.6 loads a complex.
    ComplexShaped,
    /// Nesting past 0.6's cut-off: cut to `<max-depth-exceeded:T>` on save.
    Depth,
    /// Stored text that is not UTF-8: 0.6 cannot load the run.
    NonUtf8,
    /// A `created_at` / `updated_at` 0.6 cannot read as a datetime.
    Timestamp,
    /// A leftover status CHECK constraint in a 0.4 SQLite table.
    StatusCheck,
    /// NaN or an infinity: a string (`"nan"`) from the next save on.
    NonFinite,
    /// Text that Python's `json.loads` refuses (JSON5, a byte order mark).
    NotJson,
    /// An object that repeats a key: the last value is all 0.6 keeps.
    DuplicateKeys,
    /// A run that cannot be read at all.
    Unreadable,
}

impl Kind {
    /// The report's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IntRange => "int_range",
            Kind::LoneSurrogate => "lone_surrogate",
            Kind::ComplexShaped => "complex_shaped",
            Kind::Depth => "depth",
            Kind::NonUtf8 => "non_utf8",
            Kind::Timestamp => "timestamp",
            Kind::StatusCheck => "status_check",
            Kind::NonFinite => "non_finite",
            Kind::NotJson => "not_json",
            Kind::DuplicateKeys => "duplicate_keys",
            Kind::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing flujo 0.6 would do to a run (or to the store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Where in the state, as a JSON pointer (`""`: the run or the store as a whole).
    pub path: String,
    /// What kind of difference.
    pub kind: Kind,
    /// Loss or change.
    pub effect: Effect,
    /// What 0.6 does, in words.
    pub detail: String,
}

/// The verdict on one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 0.6 loads and saves it as it is.
    Unchanged,
    /// 0.6 changes it, losing nothing.
    Changed,
    /// 0.6 would lose something of it (or cannot load or save it).
    Lossy,
    /// Not a run (another file in the directory); `detail` says why.
    Skipped,
}

/// At most this many findings of one run are listed; the rest are counted.
pub(crate) const MAX_LISTED_FINDINGS: usize = 100;

/// One input of the store and what 0.6 would do to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunCheck {
    /// Where it comes from (a file, `DB: run_id "X"`).
    pub source: String,
    /// Its run id (none for a skipped entry or an unreadable row).
    pub run_id: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The findings, in state order (at most 100).
    pub findings: Vec<Finding>,
    /// Findings past the first 100, counted only.
    #[serde(skip_serializing_if = "is_zero")]
    pub findings_left_off: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How many findings of one kind, by effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindCount {
    /// Findings that lose something.
    pub loss: u64,
    /// Findings that change something.
    pub change: u64,
    /// Runs with at least one finding of the kind.
    pub runs: u64,
}

/// The counts of a check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeTotals {
    /// Inputs (every verdict).
    pub inputs: u64,
    /// Runs 0.6 keeps as they are.
    pub unchanged: u64,
    /// Runs 0.6 changes without loss.
    pub changed: u64,
    /// Runs 0.6 would lose something of.
    pub lossy: u64,
    /// Inputs that are no runs.
    pub skipped: u64,
    /// Findings by kind (runs and store), kinds without any left out.
    pub by_kind: BTreeMap<Kind, KindCount>,
}

impl UpgradeTotals {
    fn add(&mut self, run: &RunCheck) {
        self.inputs += 1;
        *match run.verdict {
            Verdict::Unchanged => &mut self.unchanged,
            Verdict::Changed => &mut self.changed,
            Verdict::Lossy => &mut self.lossy,
            Verdict::Skipped => &mut self.skipped,
        } += 1;
        self.count(&run.findings);
        let mut kinds: Vec<Kind> = run.findings.iter().map(|f| f.kind).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            self.by_kind.entry(kind).or_default().runs += 1;
        }
    }

    fn count(&mut self, findings: &[Finding]) {
        for finding in findings {
            let count = self.by_kind.entry(finding.kind).or_default();
            match finding.effect {
                Effect::Loss => count.loss += 1,
                Effect::Change => count.change += 1,
            }
        }
    }
}

impl UpgradeTotals {
    /// Whether 0.6 would lose anything (of a run or of the store).
    pub fn any_loss(&self) -> bool {
        self.by_kind.values().any(|count| count.loss > 0)
    }
}

/// How a check reads the store.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The largest run file read, in bytes (a larger one is unreadable).
    pub max_input_size: u64,
    /// Follow a directory's symbolic links that lead outside it.
    pub follow_symlinks: bool,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions { max_input_size: super::DEFAULT_MAX_INPUT_SIZE, follow_symlinks: false }
    }
}

/// The version of the check's report layout.
pub const UPGRADE_SCHEMA_VERSION: u32 = 1;

/// What the report says before its entries: the store, the flujo 0.6
/// backend that would open it, and the store's own findings.
#[derive(Clone, Debug, Serialize)]
pub struct UpgradeHead {
    /// [`UPGRADE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `"upgrade"`: what was checked.
    pub check: &'static str,
    /// The flujo the store was written by (`0.4`).
    pub flujo_from: &'static str,
    /// The flujo it is checked for (`0.6.11`).
    pub flujo_to: &'static str,
    /// The store's path.
    pub source: String,
    /// What kind of store.
    pub source_kind: &'static str,
    /// The 0.6 backend that would open it.
    pub backend: Backend06,
    /// Findings about the store itself (its schema).
    pub store: Vec<Finding>,
}

/// A check of one flujo 0.4 store for flujo 0.6.11, opened and ready to
/// read the runs; nothing is ever written.
pub struct UpgradeCheck {
    head: UpgradeHead,
    listing: Listing,
    options: CheckOptions,
}

impl UpgradeCheck {
    /// Opens `source` and judges the store itself. A JSON Lines file is no
    /// flujo store (no flujo backend reads one); a source that cannot be
    /// opened is an error.
    pub fn open(source: &Source, options: &CheckOptions) -> Result<UpgradeCheck, SourceError> {
        let backend = match source {
            Source::Dir(_) => Backend06::File,
            Source::Sqlite(_) => Backend06::Sqlite,
            Source::JsonLines(path) => {
                let why = "a JSON Lines file is no flujo store: --check-upgrade reads a directory of run files or a flujo SQLite database".to_owned();
                return Err(SourceError::NotFlujo { path: path.clone(), why });
            }
        };
        let listing = source.list(options.follow_symlinks)?;
        let head = UpgradeHead {
            schema_version: UPGRADE_SCHEMA_VERSION,
            check: "upgrade",
            flujo_from: FlujoVersion::V0_4.as_str(),
            flujo_to: FlujoVersion::V0_6.release(),
            source: source.path().display().to_string(),
            source_kind: source.kind(),
            backend,
            store: store_findings(&listing)?,
        };
        Ok(UpgradeCheck { head, listing, options: options.clone() })
    }

    /// The report's head: the store and its own findings.
    pub fn head(&self) -> &UpgradeHead {
        &self.head
    }

    /// Reads every input, telling `observer` of each in source order, and
    /// returns the counts (the store's findings included). An input that
    /// cannot be read is a finding of its run ([`Kind::Unreadable`]).
    pub fn run(self, observer: &mut dyn FnMut(&RunCheck)) -> Result<UpgradeTotals, SourceError> {
        let UpgradeCheck { head, listing, options } = self;
        let registry = TypeRegistry::standard().with_flujo(FlujoVersion::V0_6).with_python(FlujoVersion::V0_6.default_python());
        let mut totals = UpgradeTotals::default();
        totals.count(&head.store);
        // The producer hands over one input at a time, as for a migration.
        let (tx, mut rx) = mpsc::channel(4);
        let producer = std::thread::spawn(move || listing.produce(&tx));
        while let Some(input) = rx.blocking_recv() {
            let run = check_input(input, head.backend, &registry, options.max_input_size);
            totals.add(&run);
            observer(&run.listed());
        }
        producer.join().map_err(|_| SourceError::Internal("the source reader panicked".to_owned()))?;
        Ok(totals)
    }
}

/// The store's own findings: a SQLite table's status CHECK.
fn store_findings(listing: &Listing) -> Result<Vec<Finding>, SourceError> {
    match listing {
        #[cfg(feature = "sqlite")]
        Listing::Sqlite(table) => Ok(schema::status_check(&table.table_sql()?).into_iter().collect()),
        _ => Ok(Vec::new()),
    }
}

/// Reads one input and judges what it holds.
fn check_input(input: Input, backend: Backend06, registry: &TypeRegistry, limit: u64) -> RunCheck {
    let Input { source, run_id, payload, .. } = input;
    let findings = match payload {
        Payload::Skip(why) => {
            return RunCheck { source, run_id, verdict: Verdict::Skipped, detail: Some(why), findings: Vec::new(), findings_left_off: 0 };
        }
        Payload::Broken(why) => vec![unreadable(why)],
        Payload::File(path) => match read_at_most(&path, limit) {
            Ok(bytes) => text_findings(&bytes, backend, registry),
            Err(why) => vec![unreadable(why)],
        },
        Payload::Text(bytes) => text_findings(&bytes, backend, registry),
        #[cfg(feature = "sqlite")]
        Payload::Row(columns) => match loaded_state(columns) {
            Ok(state) => scan::state(&state, backend, registry),
            Err(why) => vec![unreadable(why)],
        },
    };
    run_check(source, run_id, findings)
}

/// The findings of a run file's bytes: what 0.6's `json.loads` makes of
/// the text, then of the state it holds.
fn text_findings(bytes: &[u8], backend: Backend06, registry: &TypeRegistry) -> Vec<Finding> {
    if let Err(e) = std::str::from_utf8(bytes) {
        let detail = format!(
            "byte {} is not UTF-8: 0.6's {} decodes the file as UTF-8 and raises UnicodeDecodeError, so the run cannot be loaded",
            e.valid_up_to(),
            backend.name()
        );
        return vec![Finding { path: String::new(), kind: Kind::NonUtf8, effect: Effect::Loss, detail }];
    }
    let decoded = match decode(bytes) {
        Ok(decoded) => decoded,
        Err(why) => return vec![unreadable(why)],
    };
    let mut findings: Vec<Finding> = decoded.notes.iter().filter_map(|note| text_note(*note, backend)).collect();
    findings.extend(scan::state(&decoded.state, backend, registry));
    findings
}

/// What a note on the text means under 0.6, which reads it with `json.loads`.
fn text_note(note: Note, backend: Backend06) -> Option<Finding> {
    let (kind, effect, detail) = match note {
        Note::Json5 => (
            Kind::NotJson,
            Effect::Loss,
            format!(
                "the text is JSON5 (comments, trailing commas...), which 0.6's {} reads with json.loads: it cannot load the run (`stateharness migrate` converts it)",
                backend.name()
            ),
        ),
        Note::ByteOrderMark => (
            Kind::NotJson,
            Effect::Loss,
            format!(
                "the text starts with a byte order mark, which json.loads refuses (\"Unexpected UTF-8 BOM\"): 0.6's {} cannot load the run",
                backend.name()
            ),
        ),
        Note::DuplicateKeys => {
            (Kind::DuplicateKeys, Effect::Loss, "an object repeats a key: json.loads keeps the last value, so the next save drops the others".to_owned())
        }
        // Non-finite numbers are found where they are, by the scan.
        Note::NonFinite | Note::RunIdMismatch | Note::Overwrote => return None,
    };
    Some(Finding { path: String::new(), kind, effect, detail })
}

fn unreadable(why: String) -> Finding {
    Finding { path: String::new(), kind: Kind::Unreadable, effect: Effect::Loss, detail: format!("{why}; 0.6 cannot load it either") }
}

/// The run's entry, with all its findings and the verdict they give.
fn run_check(source: String, run_id: Option<String>, findings: Vec<Finding>) -> RunCheck {
    let verdict = if findings.iter().any(|f| f.effect == Effect::Loss) {
        Verdict::Lossy
    } else if findings.is_empty() {
        Verdict::Unchanged
    } else {
        Verdict::Changed
    };
    RunCheck { source, run_id, verdict, detail: None, findings, findings_left_off: 0 }
}

impl RunCheck {
    /// The entry as reported: the first [`MAX_LISTED_FINDINGS`] findings
    /// listed, the rest counted.
    fn listed(mut self) -> RunCheck {
        self.findings_left_off += self.findings.len().saturating_sub(MAX_LISTED_FINDINGS);
        self.findings.truncate(MAX_LISTED_FINDINGS);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_lists_its_first_findings_and_counts_them_all() {
        let finding = |effect| Finding { path: "/a".to_owned(), kind: Kind::NonFinite, effect, detail: String::new() };
        let mut findings = vec![finding(Effect::Change); MAX_LISTED_FINDINGS];
        findings.push(finding(Effect::Loss));
        let run = run_check("a.json".to_owned(), Some("a".to_owned()), findings);
        assert_eq!(run.verdict, Verdict::Lossy);
        let mut totals = UpgradeTotals::default();
        totals.add(&run);
        assert_eq!(totals.by_kind[&Kind::NonFinite], KindCount { loss: 1, change: MAX_LISTED_FINDINGS as u64, runs: 1 });
        let listed = run.listed();
        assert_eq!((listed.findings.len(), listed.findings_left_off), (MAX_LISTED_FINDINGS, 1));
        assert!(totals.any_loss());
    }
}
