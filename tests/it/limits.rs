//! Limits of the engine: deep nesting works to 1,000 levels end to end and
//! deeper text is refused with a clear error (never a stack overflow); very
//! long strings and wide dicts go through.

use stateharness::Value;
use stateharness::format::{TypeRegistry, deserialize, serialize};
use stateharness::json::{KeyOrder, MAX_DEPTH, ReadErrorKind, read_text, to_python_json};
use stateharness::typed::{from_typed_text, to_typed_text};

fn nested_text(depth: usize) -> String {
    format!("{}1{}", r#"{"n": "#.repeat(depth), "}".repeat(depth))
}

#[test]
fn a_thousand_levels_go_through_every_stage() {
    let registry = TypeRegistry::standard();
    let text = nested_text(1000);
    let (value, _) = read_text(&text).unwrap();
    let safe = serialize(value.clone(), &registry).unwrap();
    let written = to_python_json(&safe, KeyOrder::Sorted).unwrap();
    assert_eq!(written, text);
    assert_eq!(deserialize(read_text(&written).unwrap().0, None, &registry), value);
    assert_eq!(from_typed_text(&to_typed_text(&value), &registry).unwrap(), value);
}

#[test]
fn deeper_text_is_refused_with_the_limit_named() {
    for text in [nested_text(MAX_DEPTH + 1), "[".repeat(100_000), format!("// c\n{}", "[".repeat(100_000))] {
        let err = read_text(&text).unwrap_err();
        assert_eq!(err.kind, ReadErrorKind::TooDeep(MAX_DEPTH), "{err}");
        assert!(err.to_string().contains("nesting deeper than 1024 levels"));
    }
}

#[test]
fn long_strings_and_wide_dicts() {
    let registry = TypeRegistry::standard();
    let long = "é\u{0}x".repeat(7_000_000);
    let text = to_python_json(&Value::from(long.as_str()), KeyOrder::Sorted).unwrap();
    assert_eq!(read_text(&text).unwrap().0, Value::from(long.as_str()));
    let wide = format!("{{{}}}", (0..10_000).map(|i| format!("\"k{i}\": {i}")).collect::<Vec<_>>().join(", "));
    let (value, notes) = read_text(&wide).unwrap();
    assert!(!notes.duplicate_keys);
    let safe = serialize(value, &registry).unwrap();
    assert_eq!(safe.as_dict().unwrap().len(), 10_000);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let refused = ["", " ", "{", "[1,", "\"abc", "{\"a\" 1}", "nul", "-", ".", "01", "[1] 2", "[1,,]", "/* open", "{'a': 0x}", "{a b: 1}"];
    for text in refused {
        assert!(read_text(text).is_err(), "{text:?} should be refused");
    }
    // JSON5, not errors: a trailing point, a trailing comma, a BOM, \x escapes.
    for text in ["1.", "{\"a\": 1,}", "\u{feff}{}", "\"\\x41\""] {
        assert!(read_text(text).unwrap().1.json5, "{text:?} is JSON5");
    }
}
