//! Properties of the format engine on arbitrary values: typed JSON, the
//! text writer and reader, serialize.

use proptest::prelude::*;

use crate::Value;
use crate::format::{TypeRegistry, serialize};
use crate::json::{KeyOrder, read_strict, read_text, to_python_json};
use crate::strategy::{any_value, safe_json};
use crate::typed::{decode, encode, from_typed_text, to_typed_text};
use crate::value::SurrogateStr;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// Typed JSON is lossless: decode(encode(v)) == v, through text too.
    #[test]
    fn typed_json_round_trip_is_identity(value in any_value()) {
        let registry = TypeRegistry::standard();
        prop_assert_eq!(&decode(encode(&value), &registry).unwrap(), &value);
        let text = to_typed_text(&value);
        prop_assert_eq!(&from_typed_text(&text, &registry).unwrap(), &value, "text: {}", text);
    }

    /// Python-compatible text reads back as the value it was written from,
    /// in both key orders, and the strict reader never needs JSON5 for it.
    #[test]
    fn text_writer_and_reader_round_trip(value in safe_json()) {
        for order in [KeyOrder::Insertion, KeyOrder::Sorted] {
            let text = to_python_json(&value, order).unwrap();
            let (read, notes) = read_text(&text).unwrap();
            prop_assert!(!notes.json5);
            prop_assert_eq!(&read, &value, "text: {}", text);
            prop_assert!(text.is_ascii());
        }
    }

    /// Any Python str, lone surrogates included, survives the text writer
    /// and reader, as a value and as a key, with keys sorted by code point
    /// as `json.dumps(sort_keys=True)` sorts them.
    #[test]
    fn any_str_survives_text(units in proptest::collection::vec(prop_oneof![0x20u16..0x80, 0xd7f0u16..0xe010, any::<u16>()], 0..8), other in "\\PC{0,4}") {
        let text_value = SurrogateStr::value_from_units(units);
        let dict = Value::Dict([(text_value.clone(), Value::from(1)), (Value::from(other.as_str()), text_value.clone())].into_iter().collect());
        for order in [KeyOrder::Insertion, KeyOrder::Sorted] {
            let text = to_python_json(&dict, order).unwrap();
            prop_assert_eq!(&read_strict(&text).unwrap().0, &dict, "text: {}", text);
            prop_assert!(text.is_ascii());
        }
        let Value::Dict(sorted) = read_strict(&to_python_json(&dict, KeyOrder::Sorted).unwrap()).unwrap().0 else { unreachable!() };
        let code_points = |key: &Value| match key {
            Value::SurrogateStr(s) => s.code_points().collect::<Vec<_>>(),
            other => other.as_str().unwrap().chars().map(u32::from).collect(),
        };
        let keys: Vec<Vec<u32>> = sorted.iter().map(|(k, _)| code_points(k)).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{:?}", keys);
    }

    /// Serializing a value that is already safe JSON changes nothing.
    #[test]
    fn serializing_safe_json_changes_nothing(value in safe_json()) {
        let registry = TypeRegistry::standard();
        prop_assert_eq!(&serialize(value.clone(), &registry).unwrap(), &value);
    }

    /// Serialize either refuses (rule 13 kinds) or gives text that reads
    /// back to the same safe value: what a backend stores is what it loads.
    #[test]
    fn serialized_values_survive_text(value in any_value()) {
        let registry = TypeRegistry::standard();
        if let Ok(safe) = serialize(value, &registry) {
            let text = to_python_json(&safe, KeyOrder::Sorted).unwrap();
            let (read, _) = read_strict(&text).unwrap();
            prop_assert_eq!(&read, &without_enums(safe), "text: {}", text);
        }
    }
}

/// An int-like enum member is an int once written as text.
fn without_enums(value: Value) -> Value {
    match value {
        Value::Enum(member) => without_enums(member.value),
        Value::List(items) => Value::List(items.into_iter().map(without_enums).collect()),
        Value::Dict(dict) => Value::Dict(dict.into_iter().map(|(k, v)| (k, without_enums(v))).collect()),
        other => other,
    }
}
