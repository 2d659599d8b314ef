//! Proof that the suite has teeth: deliberately broken backends (wrappers
//! around the memory backend, one defect each) are each caught by the check
//! that should catch them; correct variants (one that reorders dict keys,
//! one that is lossy exactly as flujo is) pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use stateharness::Value;
use stateharness::backends::{BackendError, Capabilities, ErrorKind, MemoryBackend, StateBackend, codec};
use stateharness::conformance::{Opener, Profile, Report, Status, Suite, SuiteOptions};
use stateharness::format::{TypeHints, TypeRegistry};
use stateharness::json::KeyOrder;
use stateharness::value::{Dict, Int};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Defect {
    None,
    RoundsFloats,
    DropsNul,
    ReplacesAstral,
    TruncatesLongStrings,
    BigIntsToFloat,
    NegativeZeroToZero,
    DropsEmptyContainers,
    CaseInsensitiveIds,
    IdsCutAt64,
    OverwriteIgnored,
    DeleteIgnored,
    DeleteMissingFails,
    LoadMissingNotNone,
    DeleteHitsAnotherId,
    TornWrites,
    LostPersistence,
    ReordersKeys,
    LossyLikeFlujoText,
    ChangesDeepLeaf,
    /// Lists with SQL LIKE: `_` and `%` are wildcards.
    ListsLikeSql,
    /// Trims leading whitespace and dots off ids (OpenDAL's path normalizer).
    TrimsLeadingChars,
    /// Turns lone surrogates into U+FFFD.
    ReplacesLoneSurrogates,
    /// Drops lone surrogates.
    DropsLoneSurrogates,
    /// Refuses states with lone surrogates as `unsupported` (as PostgreSQL JSONB would).
    RefusesLoneSurrogates,
}

/// Whether `value` holds a lone surrogate, in a key or a value.
fn has_lone_surrogate(value: &Value) -> bool {
    match value {
        Value::SurrogateStr(_) => true,
        Value::List(items) => items.iter().any(has_lone_surrogate),
        Value::Dict(dict) => dict.iter().any(|(k, v)| has_lone_surrogate(k) || has_lone_surrogate(v)),
        _ => false,
    }
}

/// SQL LIKE's `_` (one character) and `%` (any run), as a naive SQL backend lists.
fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like(&text[i..], rest)),
        Some(('_', rest)) => !text.is_empty() && like(&text[1..], rest),
        Some((c, rest)) => text.first() == Some(c) && like(&text[1..], rest),
    }
}

/// A memory backend with one defect. Shared storage makes "reopening"
/// (the persistence check) see the same data, except for LostPersistence.
struct Broken {
    inner: Arc<MemoryBackend>,
    defect: Defect,
    /// For TornWrites: states assembled key by key.
    torn: Arc<Mutex<HashMap<String, Dict>>>,
    registry: Arc<TypeRegistry>,
    last_saved: Arc<Mutex<Option<String>>>,
    /// For LossyLikeFlujoText: FileBackend text per run id.
    texts: Arc<Mutex<HashMap<String, String>>>,
}

fn map_leaves(value: Value, f: &impl Fn(Value) -> Value) -> Value {
    match value {
        Value::List(items) => Value::List(items.into_iter().map(|v| map_leaves(v, f)).collect()),
        Value::Dict(dict) => Value::Dict(dict.into_iter().map(|(k, v)| (k, map_leaves(v, f))).collect()),
        other => f(other),
    }
}

fn drop_empty(value: Value) -> Value {
    match value {
        Value::List(items) => Value::List(items.into_iter().map(drop_empty).collect()),
        Value::Dict(dict) => Value::Dict(
            dict.into_iter()
                .filter(|(_, v)| !matches!(v, Value::List(l) if l.is_empty()) && !matches!(v, Value::Dict(d) if d.is_empty()))
                .map(|(k, v)| (k, drop_empty(v)))
                .collect(),
        ),
        other => other,
    }
}

fn reverse_keys(value: Value) -> Value {
    match value {
        Value::List(items) => Value::List(items.into_iter().map(reverse_keys).collect()),
        Value::Dict(dict) => {
            let mut entries: Vec<(Value, Value)> = dict.into_iter().map(|(k, v)| (k, reverse_keys(v))).collect();
            entries.reverse();
            Value::Dict(Dict::from_distinct(entries))
        }
        other => other,
    }
}

impl Broken {
    fn storage_id(&self, run_id: &str) -> String {
        match self.defect {
            Defect::CaseInsensitiveIds => run_id.to_lowercase(),
            Defect::IdsCutAt64 => run_id.chars().take(64).collect(),
            Defect::TrimsLeadingChars => run_id.trim_start_matches(|c: char| c.is_whitespace() || c == '.').to_owned(),
            _ => run_id.to_owned(),
        }
    }

    fn corrupt(&self, value: Value) -> Value {
        match self.defect {
            Defect::RoundsFloats => map_leaves(value, &|v| match v {
                Value::Float(x) => Value::Float(f64::from(x as f32)),
                other => other,
            }),
            Defect::DropsNul => map_leaves(value, &|v| match v {
                Value::Str(s) => Value::Str(s.replace('\0', "")),
                other => other,
            }),
            Defect::ReplacesAstral => map_leaves(value, &|v| match v {
                Value::Str(s) => Value::Str(s.chars().map(|c| if c as u32 > 0xFFFF { '\u{fffd}' } else { c }).collect()),
                other => other,
            }),
            Defect::TruncatesLongStrings => map_leaves(value, &|v| match v {
                Value::Str(s) if s.len() > 1 << 20 => Value::Str(s.chars().take(1 << 19).collect()),
                other => other,
            }),
            Defect::BigIntsToFloat => map_leaves(value, &|v| match v {
                Value::Int(n @ Int::Big(_)) => Value::Float(n.to_f64()),
                other => other,
            }),
            Defect::NegativeZeroToZero => map_leaves(value, &|v| match v {
                Value::Float(0.0) => Value::Float(0.0),
                other => other,
            }),
            Defect::DropsEmptyContainers => drop_empty(value),
            Defect::ChangesDeepLeaf => map_leaves(value, &|v| match v {
                Value::Str(s) if s == DEEP_LEAF => Value::from("changed"),
                other => other,
            }),
            Defect::ReordersKeys => reverse_keys(value),
            Defect::ReplacesLoneSurrogates => map_leaves(value, &|v| match v {
                Value::SurrogateStr(s) => Value::Str(s.to_string_lossy()),
                other => other,
            }),
            Defect::DropsLoneSurrogates => map_leaves(value, &|v| match v {
                Value::SurrogateStr(s) => Value::Str(s.to_string_lossy().replace('\u{fffd}', "")),
                other => other,
            }),
            _ => value,
        }
    }
}

#[async_trait]
impl StateBackend for Broken {
    fn describe(&self) -> String {
        format!("broken memory backend ({:?})", self.defect)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: true, shared: false }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let id = self.storage_id(run_id);
        match self.defect {
            Defect::RefusesLoneSurrogates if has_lone_surrogate(state) => {
                return Err(BackendError::new(ErrorKind::Unsupported, "unsupported Unicode escape sequence (\\ud800 cannot be converted to text)"));
            }
            Defect::OverwriteIgnored if self.inner.load_state(&id, &TypeHints::new()).await?.is_some() => return Ok(()),
            Defect::TornWrites => {
                // Writes the state key by key over what is there: a mix of writers.
                let Value::Dict(dict) = state else { return self.inner.save_state(&id, state).await };
                for (k, v) in dict.iter() {
                    let snapshot = {
                        let mut torn = self.torn.lock().unwrap();
                        let entry = torn.entry(id.clone()).or_default();
                        entry.insert(k.clone(), v.clone());
                        entry.clone()
                    };
                    self.inner.save_state(&id, &Value::Dict(snapshot)).await?;
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                return Ok(());
            }
            Defect::LossyLikeFlujoText => {
                // Keeps FileBackend text, as flujo's file backend does.
                let text = codec::state_to_text(state, KeyOrder::Sorted, &self.registry)?;
                self.texts.lock().unwrap().insert(id, text);
                return Ok(());
            }
            _ => {}
        }
        *self.last_saved.lock().unwrap() = Some(id.clone());
        self.inner.save_state(&id, state).await
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        if self.defect == Defect::LossyLikeFlujoText {
            let text = self.texts.lock().unwrap().get(run_id).cloned();
            return text.map(|t| codec::text_to_state(&t, hints, &self.registry, run_id)).transpose();
        }
        let loaded = self.inner.load_state(&self.storage_id(run_id), hints).await?;
        match (loaded, self.defect) {
            (None, Defect::LoadMissingNotNone) => Ok(Some(Value::Dict(Dict::new()))),
            (loaded, _) => Ok(loaded.map(|v| self.corrupt(v))),
        }
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        let id = self.storage_id(run_id);
        self.torn.lock().unwrap().remove(&id);
        self.texts.lock().unwrap().remove(&id);
        match self.defect {
            Defect::DeleteIgnored => Ok(()),
            Defect::DeleteMissingFails if self.inner.load_state(&id, &TypeHints::new()).await?.is_none() => {
                Err(BackendError::new(ErrorKind::Internal, format!("KeyError: {id:?}")))
            }
            Defect::DeleteHitsAnotherId => {
                let other = self.last_saved.lock().unwrap().clone();
                if let Some(other) = other.filter(|o| *o != id) {
                    self.inner.delete_state(&other).await?;
                }
                self.inner.delete_state(&id).await
            }
            _ => self.inner.delete_state(&id).await,
        }
    }

    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        if self.defect == Defect::ListsLikeSql {
            let pattern: Vec<char> = prefix.chars().chain(['%']).collect();
            let all = self.inner.list_states("").await?;
            return Ok(all.into_iter().filter(|id| like(&id.chars().collect::<Vec<_>>(), &pattern)).collect());
        }
        let mut ids = self.inner.list_states(prefix).await?;
        ids.extend(self.texts.lock().unwrap().keys().filter(|id| id.starts_with(prefix)).cloned());
        Ok(ids)
    }
}

struct BrokenOpener {
    defect: Defect,
    store: Arc<MemoryBackend>,
    torn: Arc<Mutex<HashMap<String, Dict>>>,
    texts: Arc<Mutex<HashMap<String, String>>>,
}

#[async_trait]
impl Opener for BrokenOpener {
    fn describe(&self) -> String {
        format!("broken memory backend ({:?})", self.defect)
    }

    async fn open(&self, registry: Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> {
        let inner = if self.defect == Defect::LostPersistence { Arc::new(MemoryBackend::new(registry.clone())) } else { self.store.clone() };
        Ok(Arc::new(Broken { inner, defect: self.defect, torn: self.torn.clone(), registry, last_saved: Arc::default(), texts: self.texts.clone() }))
    }
}

async fn run(defect: Defect, profile: Profile) -> Report {
    run_with(defect, SuiteOptions { profile, cases: 24, seed: 7, ..SuiteOptions::default() }).await
}

async fn run_with(defect: Defect, options: SuiteOptions) -> Report {
    let store = Arc::new(MemoryBackend::new(options.registry.clone()));
    let opener = Arc::new(BrokenOpener { defect, store, torn: Arc::default(), texts: Arc::default() });
    Suite::open(opener, options).await.unwrap().run().await
}

/// `options` with the one suite file `suite` as its declarative cases, read
/// from a directory as `conform --suites DIR` reads it.
fn with_suite(name: &str, suite: &str, options: SuiteOptions) -> SuiteOptions {
    let dir = crate::common::scratch_dir("conformance_teeth", name);
    std::fs::write(dir.join(format!("{name}.json5")), suite).unwrap();
    options.with_suites_from(&dir).unwrap_or_else(|e| panic!("{e}\n{suite}"))
}

/// The leaf of [`DEEP_SUITE`], which [`Defect::ChangesDeepLeaf`] changes.
const DEEP_LEAF: &str = "the bottom";

const DEEP_SUITE: &str = r#"{suite: "deep", cases: [{name: "a leaf at depth 1,000", steps: [
  { op: "save", id: "d", context: { deep: { "$$nest": [1000, "the bottom"] } } },
  { op: "load", id: "d", expect: "saved" },
]}]}"#;

/// Runs the suite's cases from `suite` on `defect` on a thread of its own,
/// failing (instead of hanging CI) when it takes more than a minute.
fn run_suite_within_a_minute(defect: Defect, suite: &'static str) -> Report {
    let options = with_suite("deep", suite, SuiteOptions { cases: 4, seed: 7, ..SuiteOptions::default() });
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _ = sender.send(runtime.block_on(run_with(defect, options)));
    });
    receiver.recv_timeout(Duration::from_secs(60)).expect("the suite did not finish within 60 s")
}

#[test]
fn a_changed_leaf_at_depth_1000_is_judged_failed() {
    let report = run_suite_within_a_minute(Defect::ChangesDeepLeaf, DEEP_SUITE);
    assert_eq!(failed(&report), ["case: deep: a leaf at depth 1,000"], "{}", report.human());
    let report = run_suite_within_a_minute(Defect::None, DEEP_SUITE);
    assert!(report.passed(), "{}", report.human());
}

fn failed(report: &Report) -> Vec<String> {
    report.checks.iter().filter(|c| c.status == Status::Failed).map(|c| format!("{}: {}", c.group, c.name)).collect()
}

/// Runs the suite on `defect` and asserts that every check named in
/// `caught_by` failed.
async fn assert_caught(defect: Defect, caught_by: &[&str]) {
    let report = run(defect, Profile::Flujo).await;
    let failed = failed(&report);
    for check in caught_by {
        assert!(failed.iter().any(|f| f.contains(check)), "{defect:?} should be caught by {check:?}; failed: {failed:#?}\n{}", report.human());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_corruptions_are_caught() {
    assert_caught(Defect::RoundsFloats, &["values: negative zero, NaN and infinities", "property: arbitrary WorkflowStates"]).await;
    assert_caught(Defect::DropsNul, &["values: NUL and astral characters", "persistence"]).await;
    assert_caught(Defect::ReplacesAstral, &["values: NUL and astral characters"]).await;
    assert_caught(Defect::TruncatesLongStrings, &["values: a string of several MB"]).await;
    assert_caught(Defect::BigIntsToFloat, &["values: integers beyond 64 bits"]).await;
    assert_caught(Defect::NegativeZeroToZero, &["values: negative zero, NaN and infinities"]).await;
    assert_caught(Defect::DropsEmptyContainers, &["values: empty strings and containers"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_collisions_are_caught() {
    assert_caught(Defect::CaseInsensitiveIds, &["run_ids: ids that differ only in case"]).await;
    assert_caught(Defect::IdsCutAt64, &["run_ids: ids that differ after the 64th character", "run_ids: ids that differ after the 255th character"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_violations_are_caught() {
    assert_caught(Defect::OverwriteIgnored, &["basics: save overwrites", "property: random save/load/delete sequences"]).await;
    assert_caught(Defect::DeleteIgnored, &["basics: delete then load is None", "property: random save/load/delete sequences"]).await;
    assert_caught(Defect::DeleteMissingFails, &["basics: delete of a missing id succeeds"]).await;
    assert_caught(Defect::LoadMissingNotNone, &["basics: load of a missing id is None", "property: random save/load/delete sequences"]).await;
    assert_caught(Defect::DeleteHitsAnotherId, &["basics: ids are independent", "property: random save/load/delete sequences"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_writes_and_lost_persistence_are_caught() {
    assert_caught(Defect::TornWrites, &["concurrency: concurrent saves and loads of one id never mix states"]).await;
    assert_caught(Defect::LostPersistence, &["persistence: data survives closing and reopening the backend"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_based_failure_is_a_ready_to_paste_case_with_its_seed() {
    let report = run(Defect::DeleteIgnored, Profile::Flujo).await;
    let check = report.checks.iter().find(|c| c.name.contains("random save/load/delete")).unwrap();
    let details = check.details.join("\n");
    assert!(details.contains("paste into a suites/*.json5 file"), "{details}");
    assert!(details.contains("op: \"delete\"") && details.contains("expect: \"none\""), "{details}");
    assert_eq!(check.replay.as_deref(), Some("--seed 7"));
    // The printed case is a valid suite case: pasted into a suite file, it
    // is one case, which a correct backend passes.
    let case = details.split("paste into a suites/*.json5 file:\n").nth(1).unwrap();
    let suite = format!("{{suite: \"pasted\", cases: [{case}]}}");
    let options = with_suite("pasted", &suite, SuiteOptions { only: vec!["case: pasted: *".into()], ..SuiteOptions::default() });
    let report = run_with(Defect::None, options).await;
    let pasted: Vec<_> = report.checks.iter().filter(|c| c.group == "case" && c.name.starts_with("pasted: ")).collect();
    assert_eq!(pasted.len(), 1, "{}", report.human());
    assert_eq!(pasted[0].status, Status::Passed, "{}", report.human());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_variants_pass() {
    for defect in [Defect::None, Defect::ReordersKeys, Defect::LossyLikeFlujoText] {
        let report = run(defect, Profile::Flujo).await;
        assert!(report.passed(), "{defect:?} should pass:\n{}", report.human());
    }
    // Lossy as flujo is, but not exact.
    let report = run(Defect::LossyLikeFlujoText, Profile::Exact).await;
    assert!(!report.passed());
    assert!(failed(&report).iter().any(|f| f.contains("values: every kind flujo stores")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_in_list_prefixes_are_caught() {
    assert_caught(Defect::ListsLikeSql, &["list: a prefix is matched literally"]).await;
}

/// Every id of the suite starts with the run prefix but these: a backend
/// that trims the start of an id is seen, and their states are cleaned up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_trimmed_at_the_start_are_caught_and_cleaned_up() {
    assert_caught(Defect::TrimsLeadingChars, &["run_ids: ids whose odd characters come first"]).await;
    let options = SuiteOptions { cases: 4, seed: 7, ..SuiteOptions::default() };
    let store = Arc::new(MemoryBackend::new(options.registry.clone()));
    let opener = Arc::new(BrokenOpener { defect: Defect::None, store: store.clone(), torn: Arc::default(), texts: Arc::default() });
    let report = Suite::open(opener, options).await.unwrap().run().await;
    assert!(report.passed(), "{}", report.human());
    assert_eq!(store.list_states("").await.unwrap(), Vec::<String>::new(), "the suite deletes every id it wrote, leading ones too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_surrogates_changed_fail_and_refused_warn() {
    assert_caught(Defect::ReplacesLoneSurrogates, &["values: lone surrogates"]).await;
    assert_caught(Defect::DropsLoneSurrogates, &["values: lone surrogates"]).await;
    let report = run(Defect::RefusesLoneSurrogates, Profile::Flujo).await;
    assert!(report.passed(), "an `unsupported` refusal is a warning:\n{}", report.human());
    assert!(report.warnings.iter().any(|w| w.contains("lone surrogates") && w.contains("refused as unsupported")), "{:?}", report.warnings);
}

/// A file backend that makes a path of the id as is: `DIR/RUN_ID.json`,
/// with no check for `..` or `/`, so `../x` is written outside `DIR`.
struct NaiveFile {
    dir: std::path::PathBuf,
    registry: Arc<TypeRegistry>,
}

impl NaiveFile {
    fn path(&self, run_id: &str) -> std::path::PathBuf {
        self.dir.join(format!("{run_id}.json"))
    }
}

fn io_error(run_id: &str, e: std::io::Error) -> BackendError {
    BackendError::new(ErrorKind::Internal, format!("{run_id:?}: {e}"))
}

#[async_trait]
impl StateBackend for NaiveFile {
    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let text = codec::state_to_text(state, KeyOrder::Sorted, &self.registry)?;
        std::fs::write(self.path(run_id), text).map_err(|e| io_error(run_id, e))
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        match std::fs::read_to_string(self.path(run_id)) {
            Ok(text) => codec::text_to_state(&text, hints, &self.registry, run_id).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(run_id, e)),
        }
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        match std::fs::remove_file(self.path(run_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(run_id, e)),
            _ => Ok(()),
        }
    }
}

struct NaiveFileOpener(std::path::PathBuf);

#[async_trait]
impl Opener for NaiveFileOpener {
    fn describe(&self) -> String {
        format!("file://{}", self.0.display())
    }

    async fn open(&self, registry: Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> {
        Ok(Arc::new(NaiveFile { dir: self.0.clone(), registry }))
    }
}

/// A save of `../sh-…` that lands outside the storage directory fails the
/// path traversal check, which removes what escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_backend_writing_outside_its_directory_is_caught() {
    let scratch = crate::common::scratch_dir("conformance_teeth", "naive-file");
    let dir = scratch.join("states");
    std::fs::create_dir_all(&dir).unwrap();
    let options = SuiteOptions { cases: 2, seed: 7, only: vec!["run ids: *".to_owned()], ..SuiteOptions::default() };
    let opener = Arc::new(NaiveFileOpener(dir.clone()));
    let report = Suite::open(opener, options).await.unwrap().run().await;
    let failed = failed(&report);
    assert!(failed.len() == 1 && failed[0].starts_with("run ids: ids starting with ../"), "{}", report.human());
    let check = report.checks.iter().find(|c| c.status == Status::Failed).unwrap();
    let escaped = check.details.iter().find(|d| d.contains("outside the storage directory")).expect("the escape is named");
    assert!(escaped.contains(&scratch.display().to_string()), "{escaped}");
    let left: Vec<_> = std::fs::read_dir(&scratch).unwrap().map(|e| e.unwrap().path()).filter(|p| *p != dir).collect();
    assert!(left.is_empty(), "what escaped is removed: {left:?}");
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// A failure is a record (check, step, op, run id, JSON path, sent,
/// expected, got), in the report and in its JSON form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_records_with_step_op_run_id_path_sent_and_got() {
    let report = run(Defect::DropsNul, Profile::Flujo).await;
    let check = report.checks.iter().find(|c| c.name == "values: NUL and astral characters").expect("the check");
    let failure = check.failures.iter().find(|f| f.path.as_deref() == Some("/pipeline_context/nul")).unwrap_or_else(|| panic!("{:#?}", check.failures));
    assert_eq!(failure.check, "case: values: NUL and astral characters");
    assert_eq!((failure.step, failure.op), (Some(2), Some("load")));
    assert!(failure.run_id.as_deref().is_some_and(|id| id.starts_with(&report.prefix) && id.ends_with("-v")), "{failure:?}");
    assert!(failure.sent.as_deref().is_some_and(|s| s.contains("a\\u0000b")), "{failure:?}");
    assert!(failure.got.as_deref().is_some_and(|s| s.contains("ab") && !s.contains("\\u0000")), "{failure:?}");
    assert!(failure.expected.is_some(), "{failure:?}");
    assert_eq!(check.details, check.failures.iter().map(|f| f.message.clone()).collect::<Vec<_>>());
    let json = report.to_json();
    let records = json["checks"].as_array().unwrap().iter().find(|c| c["name"] == "values: NUL and astral characters").unwrap()["failures"].clone();
    let record = records.as_array().unwrap().iter().find(|r| r["path"] == "/pipeline_context/nul").expect("the record in the JSON report");
    assert_eq!((record["step"].as_u64(), record["op"].as_str()), (Some(2), Some("load")));
    assert_eq!(record["run_id"].as_str(), failure.run_id.as_deref());
    // The model-based check's counterexample is a case: its record too.
    let report = run(Defect::DeleteIgnored, Profile::Flujo).await;
    let model = report.checks.iter().find(|c| c.name.contains("random save/load/delete")).unwrap();
    let record = &model.failures[0];
    assert!(record.step.is_some() && record.op == Some("load") && record.run_id.is_some(), "{record:?}");
}
