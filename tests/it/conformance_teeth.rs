//! Proof that the suite has teeth: deliberately broken backends (wrappers
//! around the memory backend, one defect each) are each caught by the check
//! that should catch them; correct variants (one that reorders dict keys,
//! one that is lossy exactly as flujo is) pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use stateharness::Value;
use stateharness::backends::memory::MemoryBackend;
use stateharness::backends::{BackendError, Capabilities, ErrorKind, StateBackend, codec};
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
        Capabilities { concurrent: true, persistent: true, list: true }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let id = self.storage_id(run_id);
        match self.defect {
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
    registry: Arc<TypeRegistry>,
}

#[async_trait]
impl Opener for BrokenOpener {
    fn describe(&self) -> String {
        format!("broken memory backend ({:?})", self.defect)
    }

    async fn open(&self) -> Result<Arc<dyn StateBackend>, BackendError> {
        let inner = if self.defect == Defect::LostPersistence { Arc::new(MemoryBackend::new(self.registry.clone())) } else { self.store.clone() };
        Ok(Arc::new(Broken {
            inner,
            defect: self.defect,
            torn: self.torn.clone(),
            registry: self.registry.clone(),
            last_saved: Arc::default(),
            texts: self.texts.clone(),
        }))
    }
}

async fn run(defect: Defect, profile: Profile) -> Report {
    let options = SuiteOptions { profile, cases: 24, seed: 7, ..SuiteOptions::default() };
    let registry = options.registry.clone();
    let opener =
        Arc::new(BrokenOpener { defect, store: Arc::new(MemoryBackend::new(registry.clone())), torn: Arc::default(), texts: Arc::default(), registry });
    Suite::open(opener, options).await.unwrap().run().await
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
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let report = runtime.block_on(async {
            let mut options = SuiteOptions { cases: 4, seed: 7, ..SuiteOptions::default() };
            options.suites = vec![stateharness::conformance::cases::parse_suite("deep", suite, &options.registry).unwrap()];
            let registry = options.registry.clone();
            let store = Arc::new(MemoryBackend::new(registry.clone()));
            let opener = Arc::new(BrokenOpener { defect, store, torn: Arc::default(), texts: Arc::default(), registry });
            Suite::open(opener, options).await.unwrap().run().await
        });
        let _ = sender.send(report);
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
    // The printed case is a valid suite case.
    let case = details.split("paste into a suites/*.json5 file:\n").nth(1).unwrap();
    let suite = format!("{{suite: \"pasted\", cases: [{case}]}}");
    let parsed = stateharness::conformance::cases::parse_suite("pasted", &suite, &TypeRegistry::standard()).unwrap();
    assert_eq!(parsed.cases.len(), 1);
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
