//! flujo 0.6 as a second target of the format engine: its rules differ
//! from flujo 0.4's, its two serializer paths from each other, and
//! `stateharness vectors verify` names the flujo it checked as. (The
//! agreement with flujo 0.6.11's reference vectors, field by field, is a
//! unit test of the `vectors` module.)

use stateharness::format::{FlujoVersion, PythonVersion, SerializePath, TypeRegistry, serialize_on};
use stateharness::typed::from_typed_text;

const FIXTURE: &str = "vectors/flujo0.6-seed-5.jsonl";

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
