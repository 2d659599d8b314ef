//! The Python that runs flujo is a parameter: `--python-version`, or what a
//! Python backend reports in `hello`, or the default (3.11); the report
//! names it, and a flag that disagrees with the backend is an error.

use std::process::Output;

use crate::common::{flujo_python, stateharness};

fn conform(backend: &str, extra: &[&str]) -> Output {
    stateharness().args(["conform", "--backend", backend, "--cases", "4", "--crash-rounds", "0"]).args(extra).output().expect("runs stateharness")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn the_report_names_the_python_from_the_flag_or_the_default() {
    let default = conform("memory://", &[]);
    assert!(default.status.success(), "{}", text(&default));
    assert!(text(&default).contains("Python: 3.11 (default"), "{}", text(&default));
    let flagged = conform("memory://", &["--python-version", "3.13"]);
    assert!(flagged.status.success(), "{}", text(&flagged));
    assert!(text(&flagged).contains("Python: 3.13 (--python-version, Unicode 15.1.0)"), "{}", text(&flagged));
    let unknown = conform("memory://", &["--python-version", "3.9"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(text(&unknown).contains("unsupported Python version '3.9'"), "{}", text(&unknown));
}

#[test]
fn a_flujo_backend_reports_its_python_and_a_contradicting_flag_is_an_error() {
    let Some(python) = flujo_python() else { return };
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/adapters/flujo_adapter.py");
    let backend = format!("exec:'{python}' '{adapter}' flujo.state.backends.memory:InMemoryBackend");
    let version = std::process::Command::new(&python).args(["-c", "import platform; print(platform.python_version())"]).output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let reported = conform(&backend, &[]);
    assert!(reported.status.success(), "{}", text(&reported));
    assert!(text(&reported).contains(&format!("Python: {version} (as reported, Unicode")), "{}", text(&reported));
    let minor = &version[..version.rfind('.').unwrap()];
    let other = if minor == "3.12" { "3.13" } else { "3.12" };
    let contradicted = conform(&backend, &["--python-version", other]);
    assert_eq!(contradicted.status.code(), Some(2), "{}", text(&contradicted));
    assert!(text(&contradicted).contains(&format!("--python-version {other} was given, but the backend runs Python {version}")), "{}", text(&contradicted));
}

#[test]
fn vectors_verify_and_migrate_take_the_python_too() {
    let vectors = crate::common::fixtures_dir().join("vectors/py3.12-seed-4.jsonl");
    let vectors = vectors.display().to_string();
    let by_metadata = crate::common::run_stateharness(&["vectors", "verify", &vectors]);
    assert!(by_metadata.status.success(), "{}", text(&by_metadata));
    assert!(text(&by_metadata).contains("checked as Python 3.12.1 (as reported, Unicode 15.0.0)"), "{}", text(&by_metadata));
    let contradicted = crate::common::run_stateharness(&["vectors", "verify", &vectors, "--python-version", "3.11"]);
    assert_eq!(contradicted.status.code(), Some(2), "{}", text(&contradicted));
    assert!(text(&contradicted).contains("--python-version 3.11 was given, but the file's metadata runs Python 3.12.1"), "{}", text(&contradicted));
    let from = crate::common::fixtures_dir().join("migrate/mixed").display().to_string();
    let to = format!("file://{}", crate::common::scratch_root("python-version-migrate").join("absent").display());
    let migrate = crate::common::run_stateharness(&["migrate", "--from", &from, "--to", &to, "--dry-run", "--python-version", "3.13"]);
    assert!(text(&migrate).contains("(does not exist yet) as Python 3.13 with"), "{}", text(&migrate));
}

/// The Python chosen for the run is the one the built-in backend stores
/// with, not only the one the suite judges with: U+1E030 is printable from
/// Unicode 15.0 (Python 3.12) on, so under 3.13 a tuple key holding it is
/// `('𞀰',)`, under 3.11 `('\U0001e030',)`.
#[test]
fn a_built_in_backend_stores_with_the_python_the_run_models() {
    let suites = tempfile::tempdir().expect("a scratch directory");
    let case = r#"{ suite: "keys", cases: [{ name: "a key printable from Unicode 15", steps: [
        { op: "save", id: "k", context: { "by_key": { "$dict": [[{ "$tuple": ["\ud838\udc30"] }, 1]] } } },
        { op: "load", id: "k", expect: "saved" } ] }] }"#;
    std::fs::write(suites.path().join("keys.json5"), case).expect("writes the suite");
    let states = tempfile::tempdir().expect("a scratch directory");
    for backend in ["memory://".to_owned(), format!("file://{}", states.path().display())] {
        for python in ["3.11", "3.13"] {
            let args = ["--python-version", python, "--suites", suites.path().to_str().unwrap(), "--only", "case: *"];
            let output = conform(&backend, &args);
            assert!(output.status.success(), "{backend} under Python {python}:\n{}", text(&output));
        }
    }
}

/// The flujo targeted is chosen the same way: `--flujo`, or what a Python
/// backend reports, or 0.4; the report names it, a contradicting flag is an
/// error, and a flujo 0.6 backend passes under its own target where the
/// 0.4 model would fail it (UUIDs stored as text, bytes as UTF-8).
#[test]
fn the_flujo_target_comes_from_the_flag_the_backend_or_the_default() {
    let default = conform("memory://", &[]);
    assert!(text(&default).contains("flujo: 0.4 (default; set --flujo)"), "{}", text(&default));
    let flagged = conform("memory://", &["--flujo", "0.6"]);
    assert!(flagged.status.success(), "{}", text(&flagged));
    assert!(text(&flagged).contains("flujo: 0.6 (--flujo)\nPython: 3.13 (default: the oldest Python flujo 0.6 supports"), "{}", text(&flagged));
    assert!(text(&flagged).contains("SKIP  refusals"), "{}", text(&flagged));
    let Some(python) = crate::common::flujo06_python() else { return };
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/adapters/flujo_adapter.py");
    let backend = format!("exec:'{python}' '{adapter}' flujo.state.backends.memory:InMemoryBackend");
    let reported = conform(&backend, &[]);
    assert!(reported.status.success(), "{}", text(&reported));
    assert!(text(&reported).contains("flujo: 0.6 (the backend runs flujo 0.6.11), PYTHONHASHSEED=random"), "{}", text(&reported));
    let contradicted = conform(&backend, &["--flujo", "0.4"]);
    assert_eq!(contradicted.status.code(), Some(2), "{}", text(&contradicted));
    assert!(text(&contradicted).contains("--flujo 0.4 was given, but the backend runs flujo 0.6.11"), "{}", text(&contradicted));
}
