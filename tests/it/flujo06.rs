//! flujo 0.6 as a second target of the format engine: the engine agrees
//! with the real flujo 0.6.11 on its reference vectors (both serializer
//! paths, and what InMemory, File and SQLite stored and loaded), field by
//! field; inputs it does not model are counted as skipped, by kind. The
//! repository's own file (`fixtures/vectors/flujo0.6-seed-5.jsonl`, made by
//! `ci/oracle/gen_oracle06.py`), and the shared oracle-0.6 set where present.

use std::path::{Path, PathBuf};

use stateharness::format::{FlujoVersion, PythonVersion, SerializePath, TypeRegistry, serialize_on};
use stateharness::typed::from_typed_text;
use stateharness::vectors::{CaseOutcome, Summary, read_header, verify_file_for};

const FIXTURE: &str = "vectors/flujo0.6-seed-5.jsonl";

/// Verifies a file as the flujo and Python it names; the failures in full.
fn verify(path: &Path, flujo: Option<FlujoVersion>) -> (FlujoVersion, Summary, Vec<String>) {
    let mut failures = Vec::new();
    let (flujo, _, summary) = verify_file_for(path, &TypeRegistry::standard(), flujo, None, |case| {
        if let CaseOutcome::Failed(mismatches) = &case.outcome {
            failures.push(format!("{} (line {}): {mismatches:?}", case.name, case.line));
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (flujo, summary, failures)
}

/// The shared oracle-0.6 set, beside the shared 0.4 oracle.
fn shared_oracle_06() -> Option<PathBuf> {
    let dir = crate::common::shared_oracle("flujo06")?.with_file_name("oracle-0.6");
    dir.join("values.jsonl").is_file().then_some(dir)
}

#[test]
fn fixture_vectors_of_flujo_0_6_all_agree() {
    let path = crate::common::fixtures_dir().join(FIXTURE);
    let (flujo, summary, failures) = verify(&path, None);
    assert_eq!(flujo, FlujoVersion::V0_6, "the metadata line names flujo 0.6.11");
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (193, 0, 6), "{summary}");
    let kinds: Vec<(&str, usize)> = summary.skipped_kinds.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(kinds, [("$backref", 1), ("$class", 1), ("$object", 1), ("$path", 1), ("$timedelta", 2)]);
    assert!(summary.to_string().ends_with("6 skipped (not modelled: $backref 1, $class 1, $object 1, $path 1, $timedelta 2)"), "{summary}");
}

#[test]
fn shared_oracle_0_6_values_all_agree() {
    let Some(dir) = shared_oracle_06() else { return };
    let path = dir.join("values.jsonl");
    // No metadata line: the fields of its first case say flujo 0.6.
    assert_eq!(read_header(&path).unwrap().flujo, Some(FlujoVersion::V0_6));
    let (_, summary, failures) = verify(&path, None);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed, summary.failed, summary.skipped), (1636, 0, 50), "{summary}");
    // The file's state template is the one built in for files without a metadata line.
    let meta = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    let (meta, _) = stateharness::json::read_strict(&meta).unwrap();
    let template = meta.as_dict().and_then(|m| m.get("state_template")).cloned().unwrap();
    let fixture_meta = read_header(&crate::common::fixtures_dir().join(FIXTURE)).unwrap().state_template.unwrap();
    assert_eq!(template, fixture_meta);
}

#[test]
fn a_flujo_flag_that_disagrees_with_the_file_is_an_error() {
    let fixture = crate::common::fixtures_dir().join(FIXTURE);
    let err = verify_file_for(&fixture, &TypeRegistry::standard(), Some(FlujoVersion::V0_4), None, |_| {}).unwrap_err();
    assert!(err.contains("--flujo 0.4 was given") && err.contains("flujo 0.6.11") && err.contains("flujo0.6-seed-5.jsonl"), "{err}");
    let v04 = crate::common::fixtures_dir().join("vectors/py3.13-seed-4.jsonl");
    let err = verify_file_for(&v04, &TypeRegistry::standard(), Some(FlujoVersion::V0_6), None, |_| {}).unwrap_err();
    assert!(err.contains("--flujo 0.6 was given") && err.contains("flujo 0.4.35"), "{err}");
    // Agreeing flags are fine.
    assert_eq!(verify(&fixture, Some(FlujoVersion::V0_6)).0, FlujoVersion::V0_6);
}

#[test]
fn under_flujo_0_4_rules_the_0_6_serializer_output_differs() {
    // The engine really follows the target: flujo 0.4's rules give another
    // serialize_file for many of the same inputs.
    let fixture = crate::common::fixtures_dir().join(FIXTURE);
    let (v04, v06) =
        (TypeRegistry::standard().with_python(PythonVersion::V3_13), TypeRegistry::standard().with_python(PythonVersion::V3_13).with_flujo(FlujoVersion::V0_6));
    let (mut compared, mut differ) = (0, 0);
    for line in std::fs::read_to_string(&fixture).unwrap().lines().skip(1) {
        let (case, _) = stateharness::json::read_strict(line).unwrap();
        let case = case.as_dict().unwrap();
        let (Some(input), Some(expected)) = (case.get("input"), case.get("serialize_file")) else { continue };
        let (Ok(input), Ok(expected)) = (stateharness::typed::decode(input.clone(), &v06), stateharness::typed::decode(expected.clone(), &v06)) else {
            continue;
        };
        compared += 1;
        assert_eq!(serialize_on(input.clone(), &v06, SerializePath::File).as_ref(), Ok(&expected), "{line}");
        differ += usize::from(serialize_on(input, &v04, SerializePath::File).ok() != Some(expected));
    }
    assert!(compared > 180 && differ >= 30, "{differ} of {compared} differ");
}

#[test]
fn the_two_paths_differ_as_flujo_0_6s_do() {
    let registry = TypeRegistry::standard().with_flujo(FlujoVersion::V0_6);
    let value = from_typed_text(
        r#"{"b": {"$bytes": "w6n/"}, "s": {"$set": ["z", "a"]}, "u": {"$uuid": "00000000-0000-0000-0000-000000000001"}, "d": {"$decimal": "1E+3"}}"#,
        &registry,
    )
    .unwrap();
    let file = serialize_on(value.clone(), &registry, SerializePath::File).unwrap();
    let strict = serialize_on(value.clone(), &registry, SerializePath::Strict).unwrap();
    let expect = |text: &str| from_typed_text(text, &registry).unwrap();
    assert_eq!(file, expect(r#"{"b": "w6n/", "s": ["z", "a"], "u": "00000000-0000-0000-0000-000000000001", "d": "1E+3"}"#));
    assert_eq!(strict, expect(r#"{"b": "é\ufffd", "s": ["z", "a"], "u": "00000000-0000-0000-0000-000000000001", "d": "1E+3"}"#));
    // flujo 0.4 refuses the UUID, as it always did.
    let err = serialize_on(value, &TypeRegistry::standard(), SerializePath::File).unwrap_err();
    assert!(err.python_message().contains("Object of type UUID is not serializable"), "{err}");
}

#[test]
fn nesting_past_64_levels_is_cut_off_with_markers_keys_included() {
    let registry = TypeRegistry::standard().with_flujo(FlujoVersion::V0_6);
    let chain = |n: usize| (0..n).fold(r#""leaf""#.to_owned(), |inner, _| format!(r#"{{"n": {inner}}}"#));
    let cut = |n: usize| serialize_on(from_typed_text(&chain(n), &registry).unwrap(), &registry, SerializePath::Strict).unwrap();
    let innermost = |mut v: &stateharness::Value| loop {
        match v.as_dict().map(|d| d.iter().next().unwrap()) {
            Some((_, inner)) if inner.as_dict().is_some() => v = inner,
            Some((k, leaf)) => return (k.as_str().unwrap().to_owned(), leaf.as_str().unwrap().to_owned()),
            None => panic!("not a dict"),
        }
    };
    assert_eq!(innermost(&cut(64)), ("n".to_owned(), "leaf".to_owned()));
    assert_eq!(innermost(&cut(65)), ("<max-depth-exceeded:str>".to_owned(), "<max-depth-exceeded:str>".to_owned()));
    assert_eq!(innermost(&cut(200)), ("<max-depth-exceeded:str>".to_owned(), "<max-depth-exceeded:dict>".to_owned()));
}

#[test]
fn the_command_names_the_flujo_and_ends_with_the_skips_by_kind() {
    let fixture = crate::common::fixtures_dir().join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let out = crate::common::run_stateharness(&["vectors", "verify", fixture]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("checked as flujo 0.6.11\nchecked as Python 3.13.0 (as reported, Unicode 15.1.0)\n"), "{stdout}");
    assert!(stdout.contains("SKIP timedelta_in_dict (line "), "{stdout}");
    assert!(stdout.ends_with("193 passed, 0 failed, 6 skipped (not modelled: $backref 1, $class 1, $object 1, $path 1, $timedelta 2)\n"), "{stdout}");
    let out = crate::common::run_stateharness(&["vectors", "verify", "--flujo", "0.4", fixture]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--flujo 0.4 was given, but the file holds flujo 0.6.11 vectors"));
    // A 0.4 file keeps its closing line.
    let v04 = crate::common::fixtures_dir().join("vectors/fixed.jsonl");
    let out = crate::common::run_stateharness(&["vectors", "verify", "--flujo", "0.4", v04.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.ends_with("checked as flujo 0.4.35\nchecked as Python 3.11 (default: the oldest Python flujo 0.4 supports; set --python-version)\n90 passed, 0 failed, 0 skipped\n"), "{stdout}");
}
