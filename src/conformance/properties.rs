//! Property checks with proptest: arbitrary WorkflowStates survive save
//! then load; random save/load/delete sequences agree with an in-memory
//! model (shrunk to the shortest failing sequence, printed as a ready-to-
//! paste case for `suites/`); custom types come back equal when loaded with
//! their target type.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use tokio::runtime::Handle;

use crate::backends::ErrorKind;
use crate::format::{TypeHints, TypeRegistry, fields, serialize, to_orjson};
use crate::typed::to_typed_text;
use crate::value::{Date, DateTime, Dict, Time, Value};

use super::cases::{Case, IdSpec, Op, Step, case_text, run_case};
use super::failure::Failure;

use super::fidelity::{Causes, Matrix, judge};
use super::judging::{Judging, extra_keys_warnings};
use super::state::{with_run_id, workflow_states};
use super::tracker::Tracked;

/// What a property check found.
#[derive(Clone, Debug, Default)]
pub struct PropertyRun {
    /// The failure with its minimal counterexample, when it failed.
    pub failure: Option<String>,
    /// The minimal counterexample's failures as records, when it was a case.
    pub records: Vec<Failure>,
    /// Cases run (shrinking included).
    pub cases: u64,
    /// Verdicts of everything loaded.
    pub matrix: Matrix,
    /// Warnings (extra keys).
    pub warnings: Vec<String>,
    /// What the failure comes from.
    pub causes: Causes,
}

/// A property's runner, seeded so that a failure can be replayed.
fn runner(cases: u32, seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&seed.to_le_bytes());
    }
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2048, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Shared state of one property run, updated from inside proptest's closure.
struct Shared<'a> {
    judging: Judging<'a>,
    handle: Handle,
    counter: AtomicUsize,
    matrix: Mutex<Matrix>,
    warnings: Mutex<Vec<String>>,
    /// What the case under way failed on, when known (its findings).
    causes: Mutex<Option<Causes>>,
    /// That of the last case that failed: the counterexample reported.
    failed_on: Mutex<Option<Option<Causes>>>,
    /// The failures of the case under way, as records.
    records: Mutex<Vec<Failure>>,
    /// Those of the last case that failed.
    failed_records: Mutex<Vec<Failure>>,
}

impl Shared<'_> {
    fn next_case(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs one case, remembering what it failed on.
    fn settle(&self, case: impl FnOnce() -> Result<(), TestCaseError>) -> Result<(), TestCaseError> {
        *lock(&self.causes) = None;
        lock(&self.records).clear();
        let outcome = case();
        if outcome.is_err() {
            *lock(&self.failed_on) = Some(lock(&self.causes).take());
            *lock(&self.failed_records) = std::mem::take(&mut *lock(&self.records));
        }
        outcome
    }

    /// Judges a loaded state; records verdicts; fails on a rejected finding.
    fn check_loaded(&self, what: &str, sent: &Value, got: Option<Value>) -> Result<(), TestCaseError> {
        let Some(got) = got else {
            return Err(TestCaseError::fail(format!("{what}: the state was lost (load gave None)")));
        };
        let judgement = judge(sent, &got, self.judging.registry);
        if !judgement.extra_keys.is_empty() && self.judging.strict {
            self.record(&judgement.matrix, Vec::new());
            return Err(TestCaseError::fail(format!("{what}: the backend added keys {:?}", judgement.extra_keys)));
        }
        self.record(&judgement.matrix, extra_keys_warnings(&judgement.extra_keys).collect());
        let rejected: Vec<String> = judgement.rejected(self.judging.profile).map(ToString::to_string).collect();
        if !rejected.is_empty() {
            *lock(&self.causes) = Some(Causes::of(judgement.rejected(self.judging.profile).map(|f| f.cause.clone()).collect(), 0, 0));
        }
        if rejected.is_empty() { Ok(()) } else { Err(TestCaseError::fail(format!("{what}: {}", rejected.join("; ")))) }
    }

    /// Records the verdicts of a load, and its warnings (each once).
    fn record(&self, matrix: &Matrix, notes: Vec<String>) {
        lock(&self.matrix).merge(matrix);
        let mut warnings = lock(&self.warnings);
        for note in notes {
            if !warnings.contains(&note) {
                warnings.push(note);
            }
        }
    }

    fn finish(self, result: Result<(), String>, cases: u64) -> PropertyRun {
        let causes = match (&result, self.failed_on.into_inner().unwrap_or_else(|p| p.into_inner())) {
            (Ok(()), _) => Causes::default(),
            (Err(_), Some(Some(causes))) => causes,
            (Err(_), _) => Causes::of(Default::default(), 1, 0),
        };
        PropertyRun {
            causes,
            records: self.failed_records.into_inner().unwrap_or_else(|p| p.into_inner()),
            failure: result.err(),
            cases,
            matrix: self.matrix.into_inner().unwrap_or_else(|p| p.into_inner()),
            warnings: self.warnings.into_inner().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

fn shared(judging: Judging<'_>) -> Shared<'_> {
    Shared {
        judging,
        handle: Handle::current(),
        counter: AtomicUsize::new(0),
        matrix: Mutex::new(Matrix::default()),
        warnings: Mutex::new(Vec::new()),
        causes: Mutex::new(None),
        failed_on: Mutex::new(None),
        records: Mutex::new(Vec::new()),
        failed_records: Mutex::new(Vec::new()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn outcome<T: std::fmt::Debug>(result: Result<(), TestError<T>>, describe: impl Fn(&T) -> String) -> Result<(), String> {
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, minimal)) => Err(format!("{reason}\nminimal counterexample:\n{}", describe(&minimal))),
        Err(TestError::Abort(reason)) => Err(format!("aborted: {reason}")),
    }
}

/// Whether flujo serializes `state` to text any storage can hold: orjson
/// (flujo 0.6's SQLiteBackend, and strict storages like JSONB) refuses
/// integers beyond 64 bits and lone surrogates.
fn storable_anywhere(state: &Value, registry: &TypeRegistry) -> bool {
    serialize(state.clone(), registry).is_ok_and(|safe| to_orjson(&safe).is_ok())
}

/// Arbitrary WorkflowStates survive save then load.
pub fn round_trip(backend: &Tracked, judging: Judging<'_>, custom: Vec<BoxedStrategy<Value>>, cases: u32, seed: u64) -> PropertyRun {
    let shared = shared(judging);
    let mut runner = runner(cases, seed);
    let result = runner.run(&workflow_states(backend.flujo(), custom), |state| {
        shared.settle(|| {
            let local = format!("rt{}", shared.next_case());
            let state = with_run_id(state, &backend.run_id(&local));
            let saved = shared.handle.block_on(backend.save(&local, &state));
            let outcome = match saved {
                Ok(()) => {
                    let loaded = shared.handle.block_on(backend.load(&local, &TypeHints::new()));
                    match loaded {
                        Ok(got) => shared.check_loaded("save then load", &state, got),
                        Err(e) => Err(TestCaseError::fail(format!("load failed: {e}"))),
                    }
                }
                // A refusal of what flujo refuses, or of what some storage
                // cannot hold (the declarative cases warn about those).
                Err(e) if e.kind == ErrorKind::Unsupported && !storable_anywhere(&state, judging.registry) => Ok(()),
                Err(e) => Err(TestCaseError::fail(format!("save failed: {e}"))),
            };
            let deleted = shared.handle.block_on(backend.delete(&local));
            outcome?;
            deleted.map_err(|e| TestCaseError::fail(format!("delete failed: {e}")))
        })
    });
    let count = shared.counter.load(Ordering::Relaxed) as u64;
    let result = outcome(result, |state| format!("state (typed JSON): {}", to_typed_text(state)));
    shared.finish(result, count)
}

/// One operation of the model-based check, on one of three ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelOp {
    /// Save state variant `1` under id `0`.
    Save(usize, usize),
    /// Load id.
    Load(usize),
    /// Delete id.
    Delete(usize),
}

const MODEL_IDS: [&str; 3] = ["a", "b", "c"];

fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        (0..MODEL_IDS.len(), 0..3usize).prop_map(|(id, variant)| ModelOp::Save(id, variant)),
        (0..MODEL_IDS.len()).prop_map(ModelOp::Load),
        (0..MODEL_IDS.len()).prop_map(ModelOp::Delete),
    ]
}

/// The three states the model-based check saves, told apart by their context.
pub fn model_context(variant: usize) -> Dict {
    let when = Value::DateTime(DateTime { date: Date { year: 2025, month: 7, day: 1 }, time: Time { hour: 12, minute: 0, second: 0, micro: 0, offset: None } });
    match variant {
        0 => fields([("variant", Value::from(0))]),
        1 => fields([("variant", Value::from(1)), ("when", when)]),
        _ => fields([("variant", Value::from(2)), ("text", Value::from("\u{e9}\u{0}\u{1F600}")), ("ratio", Value::from(0.1))]),
    }
}

/// The case a sequence of operations is: each load expects what the
/// model holds (the last state saved under the id, or nothing).
pub fn model_case(ops: &[ModelOp], seed: u64) -> Case {
    let mut saved = HashSet::new();
    let step = |id: usize, op: Op| Step { id: IdSpec::Literal(MODEL_IDS[id].to_owned()), refusable: false, unsupported_warns: false, op };
    let steps = ops
        .iter()
        .map(|op| match *op {
            ModelOp::Save(id, variant) => {
                saved.insert(id);
                step(id, Op::Save { context: model_context(variant), output: Value::None, fields: Dict::new() })
            }
            ModelOp::Load(id) => step(id, Op::Load { expect_saved: saved.contains(&id) }),
            ModelOp::Delete(id) => {
                saved.remove(&id);
                step(id, Op::Delete)
            }
        })
        .collect();
    Case { name: format!("model-based counterexample (seed {seed})"), steps }
}

/// Random save/load/delete sequences over three ids agree with a model:
/// each sequence is a [`Case`] run by the one interpreter of cases, so the
/// minimal counterexample is printed as that case, ready to paste.
pub fn model_based(backend: &Tracked, judging: Judging<'_>, cases: u32, seed: u64) -> PropertyRun {
    let shared = shared(judging);
    let mut runner = runner(cases, seed);
    let result = runner.run(&proptest::collection::vec(model_op(), 1..24), |ops| {
        shared.settle(|| {
            let namespace = format!("m{}-", shared.next_case());
            let run = shared.handle.block_on(run_case(&model_case(&ops, seed), &namespace, backend, judging));
            shared.record(&run.matrix, run.warnings);
            if run.failures.is_empty() {
                return Ok(());
            }
            *lock(&shared.causes) = Some(run.causes);
            let reason = run.failures.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("\n");
            *lock(&shared.records) = run.failures;
            Err(TestCaseError::fail(reason))
        })
    });
    let count = shared.counter.load(Ordering::Relaxed) as u64;
    let result = outcome(result, |ops| format!("paste into a suites/*.json5 file:\n{}", case_text(&model_case(ops, seed))));
    shared.finish(result, count)
}

/// A custom type the suite mixes into states: its name, and a strategy
/// that makes values of it ([`Value::Custom`], registered in the registry).
#[derive(Clone, Debug)]
pub struct CustomType {
    /// The type name (`Money`).
    pub name: String,
    /// Makes values of the type.
    pub strategy: SBoxedStrategy<Value>,
}

/// Values of `custom` placed in a state come back equal when loaded with
/// their target type.
pub fn custom_type(backend: &Tracked, judging: Judging<'_>, custom: &CustomType, cases: u32, seed: u64) -> PropertyRun {
    let shared = shared(judging);
    let mut runner = runner(cases, seed);
    let result = runner.run(&proptest::collection::vec(custom.strategy.clone(), 1..4), |values| {
        shared.settle(|| {
            let local = format!("ct{}", shared.next_case());
            let mut context = Dict::new();
            let mut hints = TypeHints::new();
            for (i, value) in values.iter().enumerate() {
                let key = format!("{}_{i}", custom.name);
                hints.insert(format!("/pipeline_context/{key}"), custom.name.clone());
                context.insert(Value::Str(key), value.clone());
            }
            let state = backend.state(&local, context, Value::None);
            let what = format!("save then load with {} as the target type", custom.name);
            let outcome = match shared.handle.block_on(backend.save(&local, &state)) {
                Ok(()) => match shared.handle.block_on(backend.load(&local, &hints)) {
                    Ok(got) => match type_fault(&got, &values, &custom.name, judging.registry) {
                        Some(fault) => Err(TestCaseError::fail(format!("{what}: {fault}"))),
                        None => {
                            let exact = custom_values_exact(&got, &values, &custom.name);
                            shared.check_loaded(&what, &state, got).and(exact.map_err(|e| TestCaseError::fail(format!("{what}: {e}"))))
                        }
                    },
                    Err(e) => Err(TestCaseError::fail(format!("load failed: {e}"))),
                },
                Err(e) => Err(TestCaseError::fail(format!("save failed: {e}"))),
            };
            let _ = shared.handle.block_on(backend.delete(&local));
            outcome
        })
    });
    let count = shared.counter.load(Ordering::Relaxed) as u64;
    let result = outcome(result, |values| format!("values: {}", values.iter().map(to_typed_text).collect::<Vec<_>>().join(", ")));
    shared.finish(result, count)
}

/// The user type's own fault, if any: a value came back as exactly the
/// stored form it was saved as (so the backend kept it), and the type's
/// deserializer refuses that form (for a serde type: its `Deserialize`
/// fails on what its `Serialize` wrote).
fn type_fault(got: &Option<Value>, sent: &[Value], type_name: &str, registry: &TypeRegistry) -> Option<String> {
    let context = got.as_ref().and_then(Value::as_dict).and_then(|d| d.get("pipeline_context")).and_then(Value::as_dict)?;
    let deserializer = registry.deserializer_for(type_name)?;
    sent.iter().enumerate().find_map(|(i, value)| {
        let back = context.get(&format!("{type_name}_{i}"))?;
        let stored = registry.serializer_for(value).and_then(|(_, serializer)| serializer(value).ok())?;
        if back == value || *back != stored {
            return None;
        }
        let error = deserializer(back).err()?;
        Some(format!(
            "custom type `{type_name}`: its Deserialize failed on what the backend returned: {error} — the stored value came back unchanged \
             ({}), so this is the type's fault, not the backend's",
            to_typed_text(back)
        ))
    })
}

/// Each custom value must come back as itself, not as its dict: with a
/// target type, "lossy" is not good enough.
fn custom_values_exact(got: &Option<Value>, sent: &[Value], type_name: &str) -> Result<(), String> {
    let context = got.as_ref().and_then(Value::as_dict).and_then(|d| d.get("pipeline_context")).and_then(Value::as_dict);
    for (i, value) in sent.iter().enumerate() {
        let key = format!("{type_name}_{i}");
        match context.and_then(|c| c.get(&key)) {
            Some(back) if back == value => {}
            Some(back) => {
                return Err(format!("/pipeline_context/{key} came back as {}, not as the {type_name} sent ({})", to_typed_text(back), to_typed_text(value)));
            }
            None => return Err(format!("/pipeline_context/{key} is missing")),
        }
    }
    Ok(())
}

/// The standard custom type `Money` of docs/typed-json.md.
pub fn money_type() -> CustomType {
    CustomType { name: "Money".to_owned(), strategy: crate::strategy::money().sboxed() }
}

/// Shares `backend` with the blocking thread that proptest runs on.
pub(crate) async fn on_blocking_thread<T: Send + 'static>(backend: Arc<Tracked>, work: impl FnOnce(&Tracked) -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(move || work(&backend)).await.map_err(|e| format!("the property check panicked: {e}"))
}
