//! `py:MODULE:CLASS` backends: a Python flujo backend class run through the
//! adapter built into the binary, with its constructor arguments from an
//! environment variable or a file, never from the command line.

use std::process::Output;

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
