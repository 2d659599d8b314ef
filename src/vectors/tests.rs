//! The engine agrees with the real flujo on its reference vectors, byte for
//! byte: flujo 0.4.35 on the project's own vectors in `fixtures/vectors/`
//! (the fixed edge cases, random cases generated with seeds 1-3, and one
//! seed run on Python 3.11, 3.12 and 3.13, whose Unicode tables differ),
//! flujo 0.6.11 on `fixtures/vectors/flujo0.6-seed-5.jsonl` (made by
//! `ci/oracle/gen_oracle06.py`; inputs the engine does not model count as
//! skipped, by kind), and the shared oracle sets (`../shared/oracle`,
//! `../shared/oracle-0.6`) where they are present.

use std::path::{Path, PathBuf};

use super::*;

const FLUJO_06_FIXTURE: &str = "vectors/flujo0.6-seed-5.jsonl";

/// `fixtures/`, the project's own test data.
fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `../shared/NAME` (the shared oracle sets), when present; says on stderr
/// whether the test checked it.
fn shared(test: &str, name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared").join(name);
    let present = dir.join("values.jsonl").is_file();
    eprintln!(
        "{test}: {}",
        if present { format!("checked against ../shared/{name} too") } else { format!("../shared/{name} is absent: covered by fixtures/ only") }
    );
    present.then_some(dir)
}

/// Verifies a file as the flujo (unless `flujo` is given) and Python its
/// metadata names: the totals, the failures in full, the skipped cases.
fn verify(path: &Path, flujo: Option<FlujoVersion>) -> (FlujoVersion, Summary, Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let (flujo, _, summary) = verify_file_for(path, &TypeRegistry::standard(), flujo, None, |case| match &case.outcome {
        CaseOutcome::Passed => {}
        CaseOutcome::Skipped(_) => skipped.push(case.name.clone()),
        CaseOutcome::Failed(mismatches) => failures.push(format!("{} (line {}): {mismatches:?}", case.name, case.line)),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (flujo, summary, failures, skipped)
}

#[test]
fn vectors_of_each_python_agree_as_that_python() {
    let dir = fixtures_dir().join("vectors");
    for python in PythonVersion::ALL {
        let path = dir.join(format!("py{python}-seed-4.jsonl"));
        let (_, summary, failures, skipped) = verify(&path, None);
        assert!(failures.is_empty(), "{}: {failures:#?}", path.display());
        assert_eq!((summary.passed, summary.skipped), (200, 0), "{}: {skipped:?}", path.display());
        let (_, chosen, _) = verify_file_for(&path, &TypeRegistry::standard(), None, Some(python), |_| {}).unwrap();
        assert_eq!(chosen.version, python);
    }
    // The same seed stores keys differently per Python: checked as another
    // Python, some cases of each file fail.
    for (made_by, checked_as) in [("3.11", PythonVersion::V3_12), ("3.12", PythonVersion::V3_11), ("3.13", PythonVersion::V3_12)] {
        let path = dir.join(format!("py{made_by}-seed-4.jsonl"));
        let registry = TypeRegistry::standard().with_python(checked_as);
        let summary = verify_lines(&path, &registry, &default_state_template(&registry), |_| {}).unwrap();
        assert!(summary.failed > 0, "{} checked as {checked_as}: {summary}", path.display());
        let err = verify_file_for(&path, &TypeRegistry::standard(), None, Some(checked_as), |_| {}).unwrap_err();
        assert!(err.contains(&format!("--python-version {checked_as} was given")) && err.contains(&format!("py{made_by}-seed-4.jsonl")), "{err}");
    }
}

#[test]
fn shared_oracle_values_all_agree_the_lone_surrogate_included() {
    let Some(oracle) = shared("oracle_vectors", "oracle") else { return };
    let (_, summary, failures, skipped) = verify(&oracle.join("values.jsonl"), None);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (1590, 0, 0), "{skipped:?}");
}

#[test]
fn fixed_edge_cases_all_agree_the_lone_surrogate_included() {
    let (_, summary, failures, skipped) = verify(&fixtures_dir().join("vectors/fixed.jsonl"), None);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (90, 0, 0), "{skipped:?}");
}

#[test]
fn vectors_from_other_seeds_all_agree() {
    let dir = fixtures_dir().join("vectors");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/vectors") {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("seed-")) {
            let (_, summary, failures, _) = verify(&path, None);
            assert!(failures.is_empty(), "{}: {failures:#?}", path.display());
            assert!(summary.passed >= 400, "{}: {summary}", path.display());
            files += 1;
        }
    }
    assert!(files >= 3, "expected vectors for at least three seeds in {}", dir.display());
}

#[test]
fn a_wrong_expectation_is_reported_as_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let good = r#"{"file_text": "1.0", "input": 1.0, "loaded": 1.0, "name": "f", "plain_text": "1.0", "safe": 1.0}"#;
    let wrong = r#"{"file_text": "1", "input": 1.0, "loaded": 1.0, "name": "g", "plain_text": "1.0", "safe": 1.0}"#;
    std::fs::write(&path, format!("{good}\n{wrong}\nnot json\n")).unwrap();
    let (_, summary, failures, _) = verify(&path, None);
    assert_eq!((summary.passed, summary.failed), (1, 2));
    assert!(failures[0].starts_with("g (line 2)") && failures[0].contains("file_text"), "{failures:?}");
    assert!(failures[1].contains("line 3"), "{failures:?}");
}

#[test]
fn fixture_vectors_of_flujo_0_6_all_agree() {
    let path = fixtures_dir().join(FLUJO_06_FIXTURE);
    let (flujo, summary, failures, _) = verify(&path, None);
    assert_eq!(flujo, FlujoVersion::V0_6, "the metadata line names flujo 0.6.11");
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (193, 0, 6), "{summary}");
    let kinds: Vec<(&str, usize)> = summary.skipped_kinds.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(kinds, [("$backref", 1), ("$class", 1), ("$object", 1), ("$path", 1), ("$timedelta", 2)]);
    assert!(summary.to_string().ends_with("6 skipped (not modelled: $backref 1, $class 1, $object 1, $path 1, $timedelta 2)"), "{summary}");
}

#[test]
fn shared_oracle_0_6_values_all_agree() {
    let Some(dir) = shared("flujo06", "oracle-0.6") else { return };
    let path = dir.join("values.jsonl");
    // No metadata line: the fields of its first case say flujo 0.6.
    assert_eq!(read_header(&path).unwrap().flujo, Some(FlujoVersion::V0_6));
    let (_, summary, failures, _) = verify(&path, None);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (1636, 0, 50), "{summary}");
    // The file's state template is the one built in for files without a metadata line.
    let meta = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    let (meta, _) = read_strict(&meta).unwrap();
    let template = meta.as_dict().and_then(|m| m.get("state_template")).cloned().unwrap();
    let fixture_meta = read_header(&fixtures_dir().join(FLUJO_06_FIXTURE)).unwrap().state_template.unwrap();
    assert_eq!(template, fixture_meta);
}

#[test]
fn a_flujo_flag_that_disagrees_with_the_file_is_an_error() {
    let fixture = fixtures_dir().join(FLUJO_06_FIXTURE);
    let err = verify_file_for(&fixture, &TypeRegistry::standard(), Some(FlujoVersion::V0_4), None, |_| {}).unwrap_err();
    assert!(err.contains("--flujo 0.4 was given") && err.contains("flujo 0.6.11") && err.contains("flujo0.6-seed-5.jsonl"), "{err}");
    let v04 = fixtures_dir().join("vectors/py3.13-seed-4.jsonl");
    let err = verify_file_for(&v04, &TypeRegistry::standard(), Some(FlujoVersion::V0_6), None, |_| {}).unwrap_err();
    assert!(err.contains("--flujo 0.6 was given") && err.contains("flujo 0.4.35"), "{err}");
    // Agreeing flags are fine.
    assert_eq!(verify(&fixture, Some(FlujoVersion::V0_6)).0, FlujoVersion::V0_6);
}
