//! The states a snapshot run saves: the built-in set, or a team's own (a
//! directory of typed JSON files, one state each).

use std::path::Path;

use crate::conformance::cases::{IdSpec, Op, parse_suite, saved_state};
use crate::format::{TypeHints, TypeRegistry};
use crate::typed::{TypedTextError, from_typed_text};
use crate::value::Value;

use super::{SnapshotError, check_name};

/// `suites/snapshot/states.json5`: every value kind, the standard custom types
/// and realistic WorkflowStates, in the declarative cases' format.
pub const BUILTIN_STATES: (&str, &str) = ("suites/snapshot/states.json5", include_str!("../../suites/snapshot/states.json5"));

/// One state to save under a stable run id (which names its snapshot).
#[derive(Clone, Debug, PartialEq)]
pub struct StateInput {
    /// The run id, also the snapshot's name.
    pub run_id: String,
    /// The state saved.
    pub state: Value,
}

/// The built-in states, in file order.
pub fn builtin_states(registry: &TypeRegistry) -> Result<Vec<StateInput>, SnapshotError> {
    let (source, text) = BUILTIN_STATES;
    states_from_suite(source, text, registry)
}

/// The states of a file in the declarative cases' format: each `save`
/// step is one state, its `id` the run id.
pub fn states_from_suite(source: &str, text: &str, registry: &TypeRegistry) -> Result<Vec<StateInput>, SnapshotError> {
    let input_error = |reason: String| SnapshotError::Input { origin: source.to_owned(), reason };
    let suite = parse_suite(source, text, registry).map_err(|e| input_error(format!("{}: {}", e.location, e.reason)))?;
    let mut states: Vec<StateInput> = Vec::new();
    for step in suite.cases.iter().flat_map(|case| &case.steps) {
        let (IdSpec::Literal(run_id), Op::Save { context, output, fields }) = (&step.id, &step.op) else { continue };
        check_name(run_id)?;
        if states.iter().any(|s| &s.run_id == run_id) {
            return Err(input_error(format!("run id {run_id:?} is saved twice")));
        }
        states.push(StateInput { run_id: run_id.clone(), state: saved_state(registry.flujo(), run_id, context, output, fields) });
    }
    Ok(states)
}

/// The states in `dir`: every `*.json` file is one state in typed JSON
/// (docs/typed-json.md), an object, saved under the file's name without
/// `.json`; sorted by name. An error names the file and where in it.
pub fn states_from_dir(dir: &Path, registry: &TypeRegistry) -> Result<Vec<StateInput>, SnapshotError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| SnapshotError::io(dir, e))? {
        let path = entry.map_err(|e| SnapshotError::io(dir, e))?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(SnapshotError::Input { origin: dir.display().to_string(), reason: "no *.json state files".to_owned() });
    }
    files
        .iter()
        .map(|path| {
            let input_error = |reason: String| SnapshotError::Input { origin: path.display().to_string(), reason };
            let run_id = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default().to_owned();
            check_name(&run_id).map_err(|e| input_error(e.to_string()))?;
            let text = std::fs::read_to_string(path).map_err(|e| SnapshotError::io(path, e))?;
            let state = from_typed_text(&text, registry).map_err(|e| match e {
                TypedTextError::Json(e) => input_error(format!("line {}, column {}: {}", e.line, e.column, e.kind)),
                TypedTextError::Typed(e) => input_error(e.to_string()),
            })?;
            if !matches!(state, Value::Dict(_)) {
                return Err(input_error(format!("a state is an object, not a {}", state.type_name())));
            }
            Ok(StateInput { run_id, state })
        })
        .collect()
}

/// Hints that load every custom-type value of `state` (at a path of
/// string keys and list indexes) with its type, as a caller that knows
/// what it saved would: so a custom deserializer's change shows too.
pub fn custom_type_hints(state: &Value) -> TypeHints {
    fn walk(value: &Value, pointer: &mut String, hints: &mut TypeHints) {
        let len = pointer.len();
        match value {
            Value::Custom(instance) => {
                hints.insert(pointer.clone(), instance.type_name.clone());
            }
            Value::Dict(dict) => {
                for (key, item) in dict.iter() {
                    if let Some(key) = key.as_str() {
                        pointer.push('/');
                        pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                        walk(item, pointer, hints);
                        pointer.truncate(len);
                    }
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    pointer.push_str(&format!("/{i}"));
                    walk(item, pointer, hints);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut hints = TypeHints::new();
    walk(state, &mut String::new(), &mut hints);
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_set_reads_and_hints_custom_types() {
        let registry = TypeRegistry::standard();
        let states = builtin_states(&registry).unwrap();
        assert!(states.len() > 20);
        let money = states.iter().find(|s| s.run_id == "snap-custom-money").unwrap();
        let hints: Vec<(String, String)> = custom_type_hints(&money.state).into_iter().collect();
        assert_eq!(hints, [("/pipeline_context/price".into(), "Money".into()), ("/pipeline_context/prices/0".into(), "Money".into())]);
    }

    #[test]
    fn bad_states_name_the_file_and_position() {
        let dir = std::env::temp_dir().join(format!("stateharness-states-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), "{\"x\": \n  [1,]}").unwrap();
        let err = states_from_dir(&dir, &TypeRegistry::standard()).unwrap_err().to_string();
        assert!(err.ends_with("a.json: line 2, column 6: unexpected ']', expected a JSON value"), "{err}");
        std::fs::write(dir.join("a.json"), r#"{"x": {"$bytes": "!"}}"#).unwrap();
        let err = states_from_dir(&dir, &TypeRegistry::standard()).unwrap_err().to_string();
        assert!(err.contains("a.json: invalid typed JSON at '/x/$bytes'"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
