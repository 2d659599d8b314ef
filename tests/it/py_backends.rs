//! `py:MODULE:CLASS` backends: a Python flujo backend class run through the
//! adapter built into the binary, with its constructor arguments from an
//! environment variable or a file, never from the command line.

use std::process::Output;

use stateharness::backends::{ErrorKind, StateBackend, open_backend};
use stateharness::format::TypeHints;
use stateharness::typed::from_typed_text;

use crate::common::{flujo_python, scratch_dir, stateharness};

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn flujo_in_memory_backend_conforms_as_a_py_backend() {
    let Some(python) = flujo_python() else { return };
    let output =
        stateharness().args(["conform", "--backend", "py:flujo.state.backends.memory:InMemoryBackend", "--python", &python, "--cases", "8"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("flujo.state.backends.memory:InMemoryBackend"), "{}", text(&output));
}

#[test]
fn constructor_arguments_come_from_the_environment_or_a_file_and_stay_out_of_the_output() {
    let Some(python) = flujo_python() else { return };
    let dir = scratch_dir("py-kwargs", "states");
    let kwargs = format!(r#"{{"path": "{}"}}"#, dir.display());
    let reports = scratch_dir("py-kwargs", "reports");
    let report = reports.join("report.json");
    let backend = "py:flujo.state.backends.file:FileBackend";
    let common = ["conform", "--backend", backend, "--python", &python, "--cases", "8", "--crash-rounds", "2", "--capabilities", "persistent"];
    let from_env = stateharness()
        .args(common)
        .args(["--kwargs-env", "SH_TEST_KWARGS", "--report", report.to_str().unwrap()])
        .env("SH_TEST_KWARGS", &kwargs)
        .output()
        .unwrap();
    // flujo's FileBackend fails the checks of ids over 255 bytes (a file
    // name's limit): the verdict is 1, and the backend was built and used.
    assert_eq!(from_env.status.code(), Some(1), "{}", text(&from_env));
    assert!(text(&from_env).contains("PASS  case         basics: save then load gives the state back"), "{}", text(&from_env));
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.contains("kwargs-env=SH_TEST_KWARGS"), "the report names where the arguments came from: {written}");
    for output in [text(&from_env), written] {
        assert!(!output.contains(&kwargs) && !output.contains(r#"{"path""#), "the constructor arguments leaked: {output}");
    }
    // Only the temp file of a save the crash check killed may be left (flujo
    // writes NAME.json.tmp, then renames): every state was deleted.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| !n.ends_with(".tmp")).collect();
    assert_eq!(left, Vec::<String>::new(), "the run cleaned up after itself");

    let file = reports.join("kwargs.json");
    std::fs::write(&file, &kwargs).unwrap();
    let from_file = stateharness().args(common).args(["--kwargs-json", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(from_file.status.code(), Some(1), "{}", text(&from_file));
    assert!(text(&from_file).contains("PASS  case         basics: save then load gives the state back"), "{}", text(&from_file));
}

#[test]
fn launch_flags_are_refused_for_other_backends_and_bad_specs_are_named() {
    let not_py = stateharness().args(["conform", "--backend", "memory://", "--kwargs-env", "X"]).output().unwrap();
    assert_eq!(not_py.status.code(), Some(2), "{}", text(&not_py));
    assert!(text(&not_py).contains("are for py: backends"), "{}", text(&not_py));
    let no_class = stateharness().args(["conform", "--backend", "py:justamodule"]).output().unwrap();
    assert_eq!(no_class.status.code(), Some(2), "{}", text(&no_class));
    assert!(text(&no_class).contains("py:MODULE:CLASS"), "{}", text(&no_class));
    let Some(python) = flujo_python() else { return };
    let missing_variable = stateharness()
        .args(["conform", "--backend", "py:flujo.state.backends.memory:InMemoryBackend", "--python", &python, "--kwargs-env", "SH_TEST_UNSET"])
        .env_remove("SH_TEST_UNSET")
        .output()
        .unwrap();
    assert_eq!(missing_variable.status.code(), Some(2), "{}", text(&missing_variable));
    assert!(text(&missing_variable).contains("SH_TEST_UNSET"), "{}", text(&missing_variable));
}

/// The flujo backend at `class` with `kwargs`, through the adapter.
async fn through_the_adapter(python: &str, class: &str, kwargs: &str) -> Box<dyn StateBackend> {
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/adapters/flujo_adapter.py");
    open_backend(&format!("exec:'{python}' '{adapter}' {class} '{kwargs}'"), crate::common::registry()).await.unwrap()
}

/// A stored file that is not JSON, or not UTF-8, is corrupt data: an
/// `internal` error that fails a check, never `invalid_run_id` (a refusal
/// the suite accepts for some ids). flujo's FileBackend says where it
/// keeps its files (`storage_root`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_stored_file_is_an_internal_error_not_a_refused_run_id() {
    let Some(python) = flujo_python() else { return };
    let dir = scratch_dir("py-corrupt", "states");
    let backend = through_the_adapter(&python, "flujo.state.backends.file:FileBackend", &format!(r#"{{"path": "{}"}}"#, dir.display())).await;
    assert_eq!(backend.storage_root(), Some(dir.as_path()));
    for (run_id, bytes, names) in [("not-json", &b"{\"run_id\": "[..], "JSONDecodeError"), ("not-utf8", &b"{\"s\": \"\xff\"}"[..], "UnicodeDecodeError")] {
        std::fs::write(dir.join(format!("{run_id}.json")), bytes).unwrap();
        let error = backend.load_state(run_id, &TypeHints::new()).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Internal, "{error}");
        assert!(error.message.contains(names), "{error}");
    }
    backend.close().await.unwrap();
}

/// flujo's SQLiteBackend lists through the adapter, which filters by the
/// prefix itself (`list_prefix`) with no wildcards, and names the
/// database's directory as its storage root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_lists_by_prefix_and_names_the_sqlite_directory() {
    let Some(python) = flujo_python() else { return };
    let dir = scratch_dir("py-list-prefix", "db");
    let kwargs = format!(r#"{{"db_path": "{}"}}"#, dir.join("flujo.db").display());
    let backend = through_the_adapter(&python, "flujo.state.backends.sqlite:SQLiteBackend", &kwargs).await;
    assert!(backend.capabilities().list && backend.lists_by_prefix());
    assert_eq!(backend.storage_root(), Some(dir.as_path()));
    let state = r#"{"run_id": "r", "pipeline_id": "p", "pipeline_name": "p", "pipeline_version": "1", "current_step_index": 0, "pipeline_context": {},
        "last_step_output": null, "step_history": [], "status": "running", "created_at": {"$datetime": "2025-07-01T12:00:00"}, "updated_at": {"$datetime": "2025-07-01T12:00:01"}}"#;
    let state = from_typed_text(state, &crate::common::registry()).unwrap();
    for run_id in ["a%1", "a_1", "ab1", "é1"] {
        backend.save_state(run_id, &state).await.unwrap();
    }
    let mut listed = backend.list_states("a_").await.unwrap();
    listed.sort();
    assert_eq!(listed, ["a_1"]);
    assert_eq!(backend.list_states("é").await.unwrap(), ["é1"]);
    backend.close().await.unwrap();
}
