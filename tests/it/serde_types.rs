//! Rust serde types as custom types (`SuiteOptions::with_serde_type`): a
//! type the serde bridge cannot carry is refused when registered, integers
//! beyond i64 go both ways, and a type whose own `Deserialize` fails is
//! reported as the type's fault, not the backend's.

use std::sync::Arc;

use num_bigint::BigInt;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use stateharness::Value;
use stateharness::conformance::{Report, Status, Suite, SuiteOptions, UrlOpener};
use stateharness::format::{TypeHints, TypeRegistry, custom_value, deserialize_with_hints, from_custom, serialize};
use stateharness::value::Int;

/// A newtype over a string: its serde form is a plain string.
#[derive(Debug, Serialize, Deserialize)]
struct Id(String);

/// Integers serde has beyond i64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wide {
    count: u64,
    total: u128,
    delta: i128,
}

/// A type whose `Deserialize` refuses what its `Serialize` writes.
#[derive(Debug, Serialize, Deserialize)]
struct Invoice {
    #[serde(rename(serialize = "total_cents"))]
    total: u32,
}

/// Runs only the custom type check of `type_name` on `memory://`.
async fn custom_type_check(options: SuiteOptions, type_name: &str) -> Report {
    let options = SuiteOptions { cases: 8, seed: 11, only: vec![format!("custom type: {type_name} *")], ..options };
    Suite::open(Arc::new(UrlOpener::new("memory://")), options).await.expect("memory:// opens").run().await
}

#[test]
fn a_newtype_over_a_string_is_refused_when_registered_naming_the_type() {
    let error = SuiteOptions::default().with_serde_type("Id", "[a-z]{1,8}".prop_map(Id)).expect_err("a string is not a map of fields");
    assert!(error.starts_with("custom type `Id`: its serde form is a string; a custom type must serialize to a map (a struct or a map)"), "{error}");
}

#[test]
fn a_sequence_type_is_refused_too_and_a_struct_is_accepted() {
    let error = SuiteOptions::default().with_serde_type("Pair", any::<(u8, u8)>()).expect_err("a tuple is a sequence");
    assert!(error.starts_with("custom type `Pair`: its serde form is a sequence;"), "{error}");
    let options = SuiteOptions::default().with_serde_type("Wide", any::<u64>().prop_map(|n| Wide { count: n, total: 0, delta: 0 }));
    assert!(options.is_ok_and(|o| o.custom_types.iter().any(|c| c.name == "Wide")));
}

fn wide_extremes() -> Wide {
    Wide { count: u64::MAX, total: u128::MAX, delta: i128::MIN }
}

#[test]
fn integers_beyond_i64_go_both_ways_through_the_bridge() {
    let wide = wide_extremes();
    let value = custom_value("Wide", &wide).expect("u64/u128/i128 fields are carried");
    let Value::Custom(instance) = &value else { panic!("not a custom value: {value:?}") };
    assert_eq!(instance.fields.get("count"), Some(&Value::Int(Int::from_big(BigInt::from(u64::MAX)))));
    assert_eq!(instance.fields.get("total"), Some(&Value::Int(Int::from_big(BigInt::from(u128::MAX)))));
    assert_eq!(instance.fields.get("delta"), Some(&Value::Int(Int::from_big(BigInt::from(i128::MIN)))));
    assert_eq!(from_custom::<Wide>(&value), Ok(wide));
}

#[test]
fn integers_beyond_i64_round_trip_through_the_registry() {
    let mut registry = TypeRegistry::standard();
    registry.register_serde::<Wide>("Wide");
    let value = custom_value("Wide", &wide_extremes()).expect("carried");
    let stored = serialize(value.clone(), &registry).expect("the safe value");
    assert!(matches!(stored, Value::Dict(_)), "stored as its fields: {stored:?}");
    let mut hints = TypeHints::new();
    hints.insert(String::new(), "Wide".to_owned());
    assert_eq!(deserialize_with_hints(stored, &hints, &registry), value);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_suite_checks_a_type_with_u128_fields_on_a_correct_backend() {
    let strategy = (any::<u64>(), any::<u128>(), any::<i128>()).prop_map(|(count, total, delta)| Wide { count, total, delta });
    let options = SuiteOptions::default().with_serde_type("Wide", strategy).expect("a struct");
    let report = custom_type_check(options, "Wide").await;
    let check = report.checks.iter().find(|c| c.group == "custom type" && c.name.starts_with("Wide ")).expect("the Wide check ran");
    assert_eq!(check.status, Status::Passed, "{}", report.human());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_deserialize_is_reported_as_the_types_fault() {
    let options = SuiteOptions::default().with_serde_type("Invoice", any::<u32>().prop_map(|total| Invoice { total })).expect("a struct");
    let report = custom_type_check(options, "Invoice").await;
    let check = report.checks.iter().find(|c| c.group == "custom type" && c.name.starts_with("Invoice ")).expect("the Invoice check ran");
    assert_eq!(check.status, Status::Failed, "{}", report.human());
    let human = report.human();
    assert!(human.contains("custom type `Invoice`: its Deserialize failed on what the backend returned: missing field `total`"), "{human}");
    assert!(human.contains("so this is the type's fault, not the backend's"), "{human}");
}
