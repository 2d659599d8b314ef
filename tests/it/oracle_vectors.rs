//! The engine agrees with the real flujo 0.4.35 on its reference vectors,
//! byte for byte: the project's own vectors in `fixtures/vectors/` (the
//! fixed edge cases, random cases generated with seeds 1-3, and one seed
//! run on Python 3.11, 3.12 and 3.13, whose Unicode tables differ), and the
//! shared oracle's seed-0 set where it is present.

use std::path::Path;

use stateharness::format::{PythonVersion, TypeRegistry};
use stateharness::vectors::{CaseOutcome, Summary, verify_file, verify_file_as};

/// Verifies a file as the Python its metadata names (3.11 without any).
fn verify(path: &Path) -> (Summary, Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let (_, summary) = verify_file_as(path, &TypeRegistry::standard(), None, |case| match &case.outcome {
        CaseOutcome::Passed => {}
        CaseOutcome::Skipped(_) => skipped.push(case.name.clone()),
        CaseOutcome::Failed(mismatches) => failures.push(format!("{} (line {}): {mismatches:?}", case.name, case.line)),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (summary, failures, skipped)
}

#[test]
fn vectors_of_each_python_agree_as_that_python() {
    let dir = crate::common::fixtures_dir().join("vectors");
    for python in PythonVersion::ALL {
        let path = dir.join(format!("py{python}-seed-4.jsonl"));
        let (summary, failures, skipped) = verify(&path);
        assert!(failures.is_empty(), "{}: {failures:#?}", path.display());
        assert_eq!((summary.passed, summary.skipped), (200, 0), "{}: {skipped:?}", path.display());
        let (chosen, _) = verify_file_as(&path, &TypeRegistry::standard(), Some(python), |_| {}).unwrap();
        assert_eq!(chosen.version, python);
    }
    // The same seed stores keys differently per Python: checked as another
    // Python, some cases of each file fail.
    for (made_by, checked_as) in [("3.11", PythonVersion::V3_12), ("3.12", PythonVersion::V3_11), ("3.13", PythonVersion::V3_12)] {
        let path = dir.join(format!("py{made_by}-seed-4.jsonl"));
        let summary = verify_file(&path, &TypeRegistry::standard().with_python(checked_as), |_| {}).unwrap();
        assert!(summary.failed > 0, "{} checked as {checked_as}: {summary}", path.display());
        let err = verify_file_as(&path, &TypeRegistry::standard(), Some(checked_as), |_| {}).unwrap_err();
        assert!(err.contains(&format!("--python-version {checked_as} was given")) && err.contains(&format!("py{made_by}-seed-4.jsonl")), "{err}");
    }
}

#[test]
fn shared_oracle_values_all_agree_the_lone_surrogate_included() {
    let Some(oracle) = crate::common::shared_oracle("oracle_vectors") else { return };
    let (summary, failures, skipped) = verify(&oracle.join("values.jsonl"));
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (1590, 0, 0), "{skipped:?}");
}

#[test]
fn fixed_edge_cases_all_agree_the_lone_surrogate_included() {
    let (summary, failures, skipped) = verify(&crate::common::fixtures_dir().join("vectors/fixed.jsonl"));
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (90, 0, 0), "{skipped:?}");
}

#[test]
fn vectors_from_other_seeds_all_agree() {
    let dir = crate::common::fixtures_dir().join("vectors");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/vectors") {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("seed-")) {
            let (summary, failures, _) = verify(&path);
            assert!(failures.is_empty(), "{}: {failures:#?}", path.display());
            assert!(summary.passed >= 400, "{}: {summary}", path.display());
            files += 1;
        }
    }
    assert!(files >= 3, "expected vectors for at least three seeds in {}", dir.display());
}

#[test]
fn a_wrong_expectation_is_reported_as_a_failure() {
    let dir = crate::common::scratch_dir("vectors", "bad");
    let path = dir.join("bad.jsonl");
    let good = r#"{"file_text": "1.0", "input": 1.0, "loaded": 1.0, "name": "f", "plain_text": "1.0", "safe": 1.0}"#;
    let wrong = r#"{"file_text": "1", "input": 1.0, "loaded": 1.0, "name": "g", "plain_text": "1.0", "safe": 1.0}"#;
    std::fs::write(&path, format!("{good}\n{wrong}\nnot json\n")).unwrap();
    let (summary, failures, _) = verify(&path);
    assert_eq!((summary.passed, summary.failed), (1, 2));
    assert!(failures[0].starts_with("g (line 2)") && failures[0].contains("file_text"), "{failures:?}");
    assert!(failures[1].contains("line 3"), "{failures:?}");
}
