//! Declarative cases (`suites/*.json5`): operation sequences with expected
//! outcomes, readable by a person. The format:
//!
//! ```json5
//! {
//!   suite: "basics",
//!   cases: [
//!     {
//!       name: "save overwrites",
//!       steps: [
//!         { op: "save", id: "a", context: { v: 1 } },      // context: typed JSON, merged into pipeline_context
//!         { op: "save", id: "a", context: { v: 2 }, output: "done" },
//!         { op: "load", id: "a", expect: "saved" },        // the last state saved under "a", judged for fidelity
//!         { op: "delete", id: "a" },
//!         { op: "load", id: "a", expect: "none" },
//!       ],
//!     },
//!   ],
//! }
//! ```
//!
//! - `id`: a string, or `{pad: "x", to: 65, then: "b"}`: `pad` repeated
//!   until the *full* run id (run prefix included) is `to` characters long,
//!   then `then`: ids that differ exactly after a given length.
//!   `{lead: " x"}`: `lead` first, then the run prefix: ids whose odd
//!   characters come first, still namespaced by the run.
//! - `refusable: true`: the backend may refuse the id with `invalid_run_id`;
//!   later steps then expect `none` or the same refusal for it.
//! - `unsupported: "warn"` (on a save): an `unsupported` refusal of the
//!   state is a warning, not a failure (values flujo stores that some
//!   storage cannot hold, such as lone surrogates).
//! - `state`: typed JSON overriding top-level WorkflowState fields.
//! - Value macros, expanded before typed JSON is read:
//!   `{"$$repeat": ["ab", 3]}` -> `"ababab"`; `{"$$nest": [200, leaf]}` ->
//!   200 levels of `{"n": ...}` around `leaf`; `{"$$keys": [10000, v]}` ->
//!   `{"k0": v, ..., "k9999": v}`.

use std::collections::{HashMap, HashSet};

use crate::backends::ErrorKind;
use crate::format::{FlujoVersion, TypeHints, TypeRegistry, serialize};
use crate::json::read_text;
use crate::text::{cut, show_run_id};
use crate::typed::{decode, to_typed_text};
use crate::value::{Dict, Value};

use super::failure::Failure;
use super::fidelity::{Causes, Matrix, judge};
use super::judging::{Judging, extra_keys_warnings};
use super::state::base_state;
use super::tracker::Tracked;

/// The suites shipped inside the binary (the files of `suites/`).
pub const EMBEDDED_SUITES: [(&str, &str); 3] = [
    ("suites/basics.json5", include_str!("../../suites/basics.json5")),
    ("suites/run_ids.json5", include_str!("../../suites/run_ids.json5")),
    ("suites/values.json5", include_str!("../../suites/values.json5")),
];

/// A file of declarative cases.
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteFile {
    /// The suite's name.
    pub(crate) name: String,
    /// Where it was read from.
    pub(crate) source: String,
    /// Its cases, in order.
    pub(crate) cases: Vec<Case>,
}

/// One case: steps run in order against fresh ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// What the case checks.
    pub name: String,
    /// The steps.
    pub steps: Vec<Step>,
}

/// How a run id is spelled in a case.
#[derive(Clone, Debug, PartialEq)]
pub enum IdSpec {
    /// The id as written (prefixed with the run prefix and case number).
    Literal(String),
    /// `pad` repeated until the full run id has `to` characters, then `then`.
    Padded {
        /// What to repeat.
        pad: String,
        /// The full length to reach.
        to: usize,
        /// What follows.
        then: String,
    },
    /// `lead` first, then the run prefix and the case's namespace: ids
    /// whose odd characters (` x`, `.x`, `../`) come first, still
    /// namespaced by the run.
    Leading(String),
}

/// One operation and its expected outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The id the step works on.
    pub id: IdSpec,
    /// Whether an `invalid_run_id` refusal is acceptable.
    pub refusable: bool,
    /// Whether a save refused as `unsupported` is a warning, not a failure
    /// (`unsupported: "warn"`: values flujo stores but some storage cannot
    /// hold, such as lone surrogates); later steps then expect `none`.
    pub unsupported_warns: bool,
    /// The operation.
    pub op: Op,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Save a base WorkflowState with these parts.
    Save {
        /// Merged into `pipeline_context`.
        context: Dict,
        /// `last_step_output`.
        output: Value,
        /// Top-level fields overriding the base state.
        fields: Dict,
    },
    /// Load, expecting nothing or the last state saved under the id.
    Load {
        /// `true`: the last saved state; `false`: `None`.
        expect_saved: bool,
    },
    /// Delete; always expected to succeed.
    Delete,
}

/// A case as text to paste into a `suites/*.json5` file (the format
/// [`parse_suite`] reads), ending with a comma.
pub fn case_text(case: &Case) -> String {
    let text = |value: &Value| to_typed_text(value);
    let mut lines = vec!["{".to_owned(), format!("  name: {},", text(&Value::from(case.name.as_str()))), "  steps: [".to_owned()];
    for step in &case.steps {
        let mut parts = Vec::new();
        parts.push(match &step.op {
            Op::Save { .. } => "op: \"save\"".to_owned(),
            Op::Load { .. } => "op: \"load\"".to_owned(),
            Op::Delete => "op: \"delete\"".to_owned(),
        });
        parts.push(match &step.id {
            IdSpec::Literal(id) => format!("id: {}", text(&Value::from(id.as_str()))),
            IdSpec::Padded { pad, to, then } => {
                format!("id: {{ pad: {}, to: {to}, then: {} }}", text(&Value::from(pad.as_str())), text(&Value::from(then.as_str())))
            }
            IdSpec::Leading(lead) => format!("id: {{ lead: {} }}", text(&Value::from(lead.as_str()))),
        });
        if step.refusable {
            parts.push("refusable: true".to_owned());
        }
        if step.unsupported_warns {
            parts.push("unsupported: \"warn\"".to_owned());
        }
        match &step.op {
            Op::Save { context, output, fields } => {
                parts.push(format!("context: {}", text(&Value::Dict(context.clone()))));
                if *output != Value::None {
                    parts.push(format!("output: {}", text(output)));
                }
                if !fields.is_empty() {
                    parts.push(format!("state: {}", text(&Value::Dict(fields.clone()))));
                }
            }
            Op::Load { expect_saved } => parts.push(format!("expect: \"{}\"", if *expect_saved { "saved" } else { "none" })),
            Op::Delete => {}
        }
        lines.push(format!("    {{ {} }},", parts.join(", ")));
    }
    lines.extend(["  ],".to_owned(), "},".to_owned()]);
    lines.join("\n")
}

/// A suite file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {location}: {reason}")]
pub struct CaseFileError {
    /// The file.
    pub source_name: String,
    /// The case and step, or the line and column.
    pub location: String,
    /// What is wrong.
    pub reason: String,
}

/// Reads a suite file's text.
pub fn parse_suite(source: &str, text: &str, registry: &TypeRegistry) -> Result<SuiteFile, CaseFileError> {
    let error = |location: String, reason: String| CaseFileError { source_name: source.to_owned(), location, reason };
    let (root, _) = read_text(text).map_err(|e| error(format!("line {}, column {}", e.line, e.column), e.kind.to_string()))?;
    let root = root.as_dict().ok_or_else(|| error("top level".into(), "expected an object with `suite` and `cases`".into()))?;
    let name = root.get("suite").and_then(Value::as_str).unwrap_or(source).to_owned();
    let Some(Value::List(raw_cases)) = root.get("cases") else {
        return Err(error("top level".into(), "expected `cases: [...]`".into()));
    };
    let mut cases = Vec::new();
    for (i, raw) in raw_cases.iter().enumerate() {
        let case_name = raw.as_dict().and_then(|d| d.get("name")).and_then(Value::as_str).unwrap_or("?").to_owned();
        let location = |step: Option<usize>| match step {
            Some(s) => format!("case {} ({case_name:?}), step {}", i + 1, s + 1),
            None => format!("case {} ({case_name:?})", i + 1),
        };
        let Some(Value::List(raw_steps)) = raw.as_dict().and_then(|d| d.get("steps")) else {
            return Err(error(location(None), "expected `steps: [...]`".into()));
        };
        let steps = raw_steps
            .iter()
            .enumerate()
            .map(|(s, step)| parse_step(step, registry).map_err(|reason| error(location(Some(s)), reason)))
            .collect::<Result<_, _>>()?;
        cases.push(Case { name: case_name, steps });
    }
    Ok(SuiteFile { name, source: source.to_owned(), cases })
}

fn parse_step(raw: &Value, registry: &TypeRegistry) -> Result<Step, String> {
    let step = raw.as_dict().ok_or("a step is an object")?;
    let id = match step.get("id") {
        Some(Value::Str(id)) => IdSpec::Literal(id.clone()),
        Some(Value::Dict(spec)) if spec.get("lead").is_none() => IdSpec::Padded {
            pad: spec.get("pad").and_then(Value::as_str).filter(|p| !p.is_empty()).ok_or("`pad` must be a non-empty string")?.to_owned(),
            to: match spec.get("to") {
                Some(Value::Int(n)) => n.as_i64().and_then(|n| usize::try_from(n).ok()).ok_or("`to` out of range")?,
                _ => return Err("`to` must be an integer".into()),
            },
            then: spec.get("then").and_then(Value::as_str).unwrap_or("").to_owned(),
        },
        Some(Value::Dict(spec)) if spec.get("lead").is_some() => match spec.get("lead") {
            Some(Value::Str(lead)) if spec.len() == 1 => IdSpec::Leading(lead.clone()),
            _ => return Err("`{lead: ...}` takes one string".into()),
        },
        _ => return Err("`id` must be a string, {pad, to, then} or {lead}".into()),
    };
    let refusable = matches!(step.get("refusable"), Some(Value::Bool(true)));
    let unsupported_warns = match step.get("unsupported") {
        None => false,
        Some(Value::Str(s)) if s == "warn" => true,
        Some(_) => return Err("`unsupported` can only be \"warn\"".into()),
    };
    let typed = |key: &str| -> Result<Option<Value>, String> {
        step.get(key).map(|v| decode(expand_macros(v.clone())?, registry).map_err(|e| format!("`{key}`: {e}"))).transpose()
    };
    let op = match step.get("op").and_then(Value::as_str) {
        Some("save") => Op::Save {
            context: match typed("context")? {
                None => Dict::new(),
                Some(Value::Dict(d)) => d,
                Some(_) => return Err("`context` must be an object".into()),
            },
            output: typed("output")?.unwrap_or(Value::None),
            fields: match typed("state")? {
                None => Dict::new(),
                Some(Value::Dict(d)) => d,
                Some(_) => return Err("`state` must be an object".into()),
            },
        },
        Some("load") => match step.get("expect").and_then(Value::as_str) {
            Some("none") => Op::Load { expect_saved: false },
            Some("saved") => Op::Load { expect_saved: true },
            _ => return Err("a load needs `expect: \"none\"` or `expect: \"saved\"`".into()),
        },
        Some("delete") => Op::Delete,
        other => return Err(format!("unknown op {other:?} (save, load or delete)")),
    };
    Ok(Step { id, refusable, unsupported_warns, op })
}

/// Limits that keep a macro from asking for more memory than a test has.
const MAX_MACRO_SIZE: usize = 64 * 1024 * 1024;

/// Expands the `$$repeat`, `$$nest` and `$$keys` macros.
pub fn expand_macros(value: Value) -> Result<Value, String> {
    let count = |n: &Value| -> Result<usize, String> {
        match n {
            Value::Int(n) => n.as_i64().and_then(|n| usize::try_from(n).ok()).filter(|n| *n <= MAX_MACRO_SIZE).ok_or_else(|| format!("count {n} out of range")),
            _ => Err("a macro count must be an integer".into()),
        }
    };
    match value {
        Value::Dict(dict) if dict.len() == 1 && dict.iter().all(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("$$"))) => {
            let (key, args) = dict.into_iter().next().ok_or("empty macro")?;
            let Value::List(args) = args else { return Err(format!("{} takes [count-or-text, ...]", py_key(&key))) };
            match (key.as_str(), args.as_slice()) {
                (Some("$$repeat"), [Value::Str(text), n]) => {
                    let n = count(n)?;
                    if text.len().saturating_mul(n) > MAX_MACRO_SIZE {
                        return Err("$$repeat result larger than 64 MiB".into());
                    }
                    Ok(Value::Str(text.repeat(n)))
                }
                (Some("$$nest"), [n, leaf]) => {
                    let mut value = expand_macros(leaf.clone())?;
                    for _ in 0..count(n)? {
                        value = Value::Dict(Dict::from_distinct(vec![(Value::from("n"), value)]));
                    }
                    Ok(value)
                }
                (Some("$$keys"), [n, item]) => {
                    let item = expand_macros(item.clone())?;
                    Ok(Value::Dict(Dict::from_distinct((0..count(n)?).map(|i| (Value::Str(format!("k{i}")), item.clone())).collect())))
                }
                _ => Err(format!("unknown macro or wrong arguments: {}", py_key(&key))),
            }
        }
        Value::Dict(dict) => Ok(Value::Dict(Dict::from_distinct(dict.into_iter().map(|(k, v)| Ok((k, expand_macros(v)?))).collect::<Result<_, String>>()?))),
        Value::List(items) => Ok(Value::List(items.into_iter().map(expand_macros).collect::<Result<_, _>>()?)),
        other => Ok(other),
    }
}

fn py_key(key: &Value) -> String {
    key.as_str().unwrap_or("?").to_owned()
}

/// What running one case gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseRun {
    /// Why the case failed; empty when it passed.
    pub failures: Vec<Failure>,
    /// Warnings (extra keys the backend added).
    pub warnings: Vec<String>,
    /// Verdicts of everything loaded.
    pub matrix: Matrix,
    /// What the failures come from.
    pub causes: Causes,
}

/// The full run id a step works on, under the run's `prefix` and the
/// case's `namespace`.
fn step_run_id(spec: &IdSpec, prefix: &str, namespace: &str) -> String {
    match spec {
        IdSpec::Literal(id) => format!("{prefix}{namespace}{id}"),
        IdSpec::Padded { pad, to, then } => {
            let mut id = format!("{prefix}{namespace}");
            while id.chars().count() < *to {
                id.push_str(pad);
            }
            // Never shorter than the prefix: the id stays the run's.
            let full: String = id.chars().take((*to).max(prefix.chars().count())).collect();
            full + then
        }
        IdSpec::Leading(lead) => format!("{lead}{prefix}{namespace}"),
    }
}

/// The state a save step sends under `run_id`: the base WorkflowState of
/// `flujo`'s shape with `context`, `output`, and `fields` overriding
/// top-level fields.
pub fn saved_state(flujo: FlujoVersion, run_id: &str, context: &Dict, output: &Value, fields: &Dict) -> Value {
    let mut state = base_state(flujo, run_id, context.clone(), output.clone());
    for (k, v) in fields.iter() {
        state.insert(k.clone(), v.clone());
    }
    Value::Dict(state)
}

/// Runs one case against fresh ids under `namespace`, then deletes them.
pub async fn run_case(case: &Case, namespace: &str, backend: &Tracked, judging: Judging<'_>) -> CaseRun {
    let mut run = CaseRun::default();
    let mut saved: HashMap<String, Value> = HashMap::new();
    let mut refused: HashSet<String> = HashSet::new();
    let hints = TypeHints::new();
    let mut used = Vec::new();
    let (mut differences, mut from_findings) = (std::collections::BTreeSet::new(), 0);
    for (index, step) in case.steps.iter().enumerate() {
        let run_id = step_run_id(&step.id, backend.prefix(), namespace);
        if !used.contains(&run_id) {
            used.push(run_id.clone());
        }
        let shown = show_run_id(&run_id);
        let at = |what: &str| format!("step {} ({what} of run id {shown})", index + 1);
        let this_id = run_id.clone();
        let failure = |what: &'static str, message: String| Failure::new(format!("{}: {message}", at(what))).step(index + 1).op(what, &this_id);
        match &step.op {
            Op::Save { context, output, fields } => {
                let state = saved_state(backend.flujo(), &run_id, context, output, fields);
                match backend.save_id(&run_id, &state).await {
                    Ok(()) => {
                        refused.remove(&run_id);
                        saved.insert(run_id, state);
                    }
                    Err(e) if e.kind == ErrorKind::InvalidRunId && step.refusable => {
                        refused.insert(run_id);
                    }
                    Err(e) if e.kind == ErrorKind::Unsupported && step.unsupported_warns => {
                        run.warnings.push(format!("case {:?}: {}: refused as unsupported (flujo stores it): {}", case.name, at("save"), e.message));
                        saved.remove(&run_id);
                        refused.insert(run_id);
                    }
                    Err(e) if e.kind == ErrorKind::Unsupported && serialize(state.clone(), judging.registry).is_err() => {}
                    Err(e) => run.failures.push(failure("save", e.to_string()).got(e.to_string())),
                }
            }
            Op::Load { expect_saved } => {
                let expected = if *expect_saved { saved.get(&run_id) } else { None };
                match (backend.load_id(&run_id, &hints).await, expected) {
                    (Err(e), _) if e.kind == ErrorKind::InvalidRunId && refused.contains(&run_id) => {}
                    (Err(e), _) => run.failures.push(failure("load", e.to_string()).got(e.to_string())),
                    (Ok(None), None) => {}
                    (Ok(None), Some(sent)) => {
                        let lost = failure("load", "expected the saved state, got None (the state was lost)".to_owned());
                        run.failures.push(Failure { sent: Some(cut(&to_typed_text(sent))), ..lost.got("None") });
                    }
                    (Ok(Some(got)), None) if *expect_saved && refused.contains(&run_id) => {
                        let got = cut(&to_typed_text(&got));
                        run.failures.push(failure("load", format!("the id was refused, yet a state came back: {got}")).got(got));
                    }
                    (Ok(Some(got)), None) => {
                        let got = cut(&to_typed_text(&got));
                        run.failures
                            .push(Failure { expected: Some("None".to_owned()), ..failure("load", format!("expected None, got a state: {got}")).got(got) });
                    }
                    (Ok(Some(got)), Some(sent)) => {
                        let judgement = judge(sent, &got, judging.registry);
                        run.matrix.merge(&judgement.matrix);
                        for finding in judgement.rejected(judging.profile) {
                            run.failures.push(failure("load", finding.to_string()).finding(finding));
                            differences.insert(finding.cause.clone());
                            from_findings += 1;
                        }
                        if !judgement.extra_keys.is_empty() {
                            if judging.strict {
                                run.failures.push(failure("load", format!("the backend added keys {:?}", judgement.extra_keys)));
                            } else {
                                run.warnings.extend(extra_keys_warnings(&judgement.extra_keys));
                            }
                        }
                    }
                }
            }
            Op::Delete => match backend.delete_id(&run_id).await {
                Ok(()) => {
                    saved.remove(&run_id);
                }
                Err(e) if e.kind == ErrorKind::InvalidRunId && refused.contains(&run_id) => {}
                Err(e) => run.failures.push(failure("delete", e.to_string()).got(e.to_string())),
            },
        }
    }
    for run_id in used {
        if !refused.contains(&run_id) {
            if let Err(e) = backend.delete_id(&run_id).await {
                run.failures
                    .push(Failure::new(format!("cleanup: delete of run id {} failed: {e}", show_run_id(&run_id))).op("delete", &run_id).got(e.to_string()));
            }
        }
    }
    run.causes = Causes::of(differences, run.failures.len(), from_findings);
    run
}
