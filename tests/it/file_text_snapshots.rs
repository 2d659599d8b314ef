//! insta snapshots of the FileBackend text of representative states, so
//! that any change in the bytes stateharness writes shows up for review
//! (`cargo insta review`). The snapshots live in `fixtures/snapshots/`; when
//! recorded, each text was checked against what the real flujo 0.4.35 writes
//! for the same Python value.

use stateharness::format::{TypeRegistry, serialize};
use stateharness::json::{KeyOrder, to_python_json};
use stateharness::typed::from_typed_text;

fn file_text(typed: &str) -> String {
    let registry = TypeRegistry::standard();
    let value = from_typed_text(typed, &registry).unwrap();
    to_python_json(&serialize(value, &registry).unwrap(), KeyOrder::Sorted).unwrap()
}

macro_rules! snapshot {
    ($name:literal, $typed:expr) => {
        insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false, description => $typed }, {
            insta::assert_snapshot!($name, file_text($typed));
        });
    };
}

#[test]
fn workflow_state_with_every_kind() {
    snapshot!(
        "file_text_workflow_state",
        r#"{"run_id": "run-1", "pipeline_id": "p", "pipeline_name": "demo", "pipeline_version": "1.0",
            "current_step_index": 2, "status": "running",
            "pipeline_context": {
                "user": {"$model": {"type": "User", "fields": {"name": "bo", "joined": {"$datetime": "2025-07-01T12:00:00.120000"}, "score": 0.0, "avatar": {"$bytes": ""}}}},
                "prices": [{"$custom": {"type": "Money", "fields": {"amount": "3", "currency": "USD"}}}],
                "seen": {"$set": ["y", "x", 10, 2]}, "ratio": {"$float": "nan"}, "blob": {"$bytes": "AQ=="},
                "point": {"$dataclass": {"type": "Point", "fields": {"x": 1, "y": 2.5, "tags": {"$tuple": ["a"]}}}},
                "z": {"$complex": [1.5, {"$float": "-inf"}]}, "level": {"$enum": {"type": "Level", "value": 2}},
                "color": {"$enum": {"type": "Color", "value": "green"}}, "fn": {"$callable": "len"}
            },
            "last_step_output": {"text": "ok", "tokens": {"$tuple": [1, 2, 3]}},
            "created_at": {"$datetime": "2025-07-01T12:00:00.120000"},
            "updated_at": {"$datetime": "2025-07-01T12:00:00.120000+00:00"}}"#
    );
}

#[test]
fn numbers_at_the_edges() {
    snapshot!(
        "file_text_numbers",
        r#"{"big": 123456789012345678901234567890, "neg_zero": -0.0, "tiny": 1e-07, "huge": 1e+16,
            "third": 0.3333333333333333, "max": 1.7976931348623157e+308, "sub": 5e-324,
            "nan": {"$float": "nan"}, "inf": {"$float": "inf"}}"#
    );
}

#[test]
fn strings_and_keys_that_need_escaping() {
    snapshot!(
        "file_text_strings_and_keys",
        r#"{"$dict": [["\u00e9t\u00e9", "caf\u00e9 \ud83d\ude00"], ["nul", "a\u0000b"], ["ctl", "\t\n\r\u0001\u007f"],
            [1, "int key"], [true, "bool key"], [null, "none key"], [1.5, "float key"],
            [{"$tuple": [1, "a"]}, "tuple key"], [{"$datetime": "2025-07-01T12:00:00"}, "datetime key"],
            ["\u2028", "line separator"]]}"#
    );
}
