//! proptest strategies that make state values of every kind, for the
//! project's property tests and for conformance suites.

use proptest::prelude::*;

use crate::value::{Date, DateTime, Dict, EnumBase, EnumMember, Instance, Int, Time, UtcOffset, Value, distinct_set_elements};

/// Any float, NaN, infinities, `-0.0` and subnormals included.
pub fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(5e-324),
        1 => -1e6f64..1e6,
    ]
}

/// Integers of any size: small, 64-bit edges and far beyond.
pub fn any_int() -> impl Strategy<Value = Int> {
    prop_oneof![
        4 => (-1000i64..1000).prop_map(Int::Small),
        2 => any::<i64>().prop_map(Int::Small),
        2 => "-?[1-9][0-9]{19,45}".prop_map(|digits| digits.parse().unwrap_or(Int::Small(0))),
    ]
}

/// Strings with NUL, controls, quotes, non-ASCII and astral characters.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z$_ ]{0,8}",
        3 => any::<String>(),
        1 => "[\\x00-\\x1f\"\\\\\u{7f}\u{e9}\u{2028}\u{feff}\u{1F600}]{0,6}",
    ]
}

/// A Python date, years 1 to 9999.
pub fn any_date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(year, month, day)| Date { year, month, day })
}

fn any_offset() -> impl Strategy<Value = Option<UtcOffset>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(UtcOffset { seconds: 0, micros: 0 })),
        2 => (-1439i32..=1439).prop_map(|minutes| Some(UtcOffset { seconds: minutes * 60, micros: 0 })),
        1 => (-86_399i32..=86_399).prop_map(|seconds| Some(UtcOffset { seconds, micros: 0 })),
    ]
}

/// A time of day, naive or aware, with or without microseconds.
pub fn any_time() -> impl Strategy<Value = Time> {
    (0u8..24, 0u8..60, 0u8..60, prop_oneof![Just(0u32), 0u32..1_000_000], any_offset()).prop_map(|(hour, minute, second, micro, offset)| Time {
        hour,
        minute,
        second,
        micro,
        offset,
    })
}

/// A datetime, naive or aware.
pub fn any_datetime() -> impl Strategy<Value = DateTime> {
    (any_date(), any_time()).prop_map(|(date, time)| DateTime { date, time })
}

fn enum_member() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(("Color", EnumBase::Plain, "RED", Value::from(1))),
        Just(("Color", EnumBase::Plain, "GREEN", Value::from("green"))),
        Just(("Level", EnumBase::Int, "LOW", Value::from(1))),
        Just(("Level", EnumBase::Int, "HIGH", Value::from(2))),
    ]
    .prop_map(|(type_name, base, name, value)| Value::Enum(Box::new(EnumMember { type_name: type_name.into(), value, base, member_name: Some(name.into()) })))
}

/// A value of the standard custom type `Money` (docs/typed-json.md).
pub fn money() -> impl Strategy<Value = Value> {
    ("[0-9]{1,6}\\.[0-9]{2}", prop_oneof![Just("USD"), Just("EUR"), Just("JPY")]).prop_map(|(amount, currency)| {
        Value::Custom(Box::new(Instance {
            type_name: "Money".into(),
            fields: crate::format::fields([("amount", Value::from(amount)), ("currency", Value::from(currency))]),
        }))
    })
}

/// The hashable kinds that are not containers; `refused` adds UUID and
/// Decimal, which flujo refuses to serialize.
fn hashable_leaves(refused: bool) -> Vec<BoxedStrategy<Value>> {
    let mut kinds: Vec<BoxedStrategy<Value>> = vec![
        Just(Value::None).boxed(),
        any::<bool>().prop_map(Value::Bool).boxed(),
        any_int().prop_map(Value::Int).boxed(),
        any_float().prop_map(Value::Float).boxed(),
        any_text().prop_map(Value::Str).boxed(),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes).boxed(),
        any_date().prop_map(Value::Date).boxed(),
        any_datetime().prop_map(Value::DateTime).boxed(),
        enum_member().boxed(),
    ];
    if refused {
        kinds.push(any::<u128>().prop_map(|n| Value::Uuid(uuid::Uuid::from_u128(n))).boxed());
        kinds.push("-?[0-9]{1,5}\\.[0-9]{1,3}".prop_map(Value::Decimal).boxed());
    }
    kinds
}

/// Hashables (tuples of them included); `refused` includes UUID and Decimal.
pub fn hashable_with(refused: bool) -> BoxedStrategy<Value> {
    proptest::strategy::Union::new(hashable_leaves(refused))
        .prop_recursive(2, 6, 3, |inner| proptest::collection::vec(inner, 0..3).prop_map(Value::Tuple))
        .boxed()
}

/// Leaf values; `refused` includes the kinds flujo refuses to serialize
/// (bytearray, UUID, Decimal); `custom` adds values of the caller's types.
pub fn leaf_with(refused: bool, custom: Vec<BoxedStrategy<Value>>) -> BoxedStrategy<Value> {
    let mut kinds = hashable_leaves(refused);
    kinds.extend([
        any_time().prop_map(Value::Time).boxed(),
        (any_float(), any_float()).prop_map(|(re, im)| Value::Complex(re, im)).boxed(),
        money().boxed(),
        "[a-z_]{1,8}".prop_map(Value::Callable).boxed(),
    ]);
    if refused {
        kinds.push(proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::ByteArray).boxed());
    }
    kinds.extend(custom);
    proptest::strategy::Union::new(kinds).boxed()
}

fn str_dict(inner: impl Strategy<Value = Value>, size: usize) -> impl Strategy<Value = Dict> {
    proptest::collection::vec((any_text(), inner), 0..size).prop_map(|entries| entries.into_iter().map(|(k, v)| (Value::Str(k), v)).collect())
}

/// Any value of any kind, nested a few levels.
#[cfg(test)]
pub fn any_value() -> impl Strategy<Value = Value> {
    value_with(leaf_with(true, Vec::new()), true)
}

/// Values of every kind flujo can store (no bytearray, UUID or Decimal),
/// with the caller's custom types among the leaves.
pub fn storable_value(custom: Vec<BoxedStrategy<Value>>) -> BoxedStrategy<Value> {
    value_with(leaf_with(false, custom), false).boxed()
}

/// Nests `leaf` values in every container kind, a few levels deep; set
/// elements and dict keys include UUID and Decimal when `refused`.
pub fn value_with(leaf: BoxedStrategy<Value>, refused: bool) -> impl Strategy<Value = Value> {
    leaf.prop_recursive(4, 48, 5, move |inner| {
        let hashable = || hashable_with(refused);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Tuple),
            proptest::collection::vec(hashable(), 0..5).prop_map(|items| Value::Set(distinct_set_elements(items))),
            proptest::collection::vec(hashable(), 0..5).prop_map(|items| Value::FrozenSet(distinct_set_elements(items))),
            str_dict(inner.clone(), 5).prop_map(Value::Dict),
            proptest::collection::vec((hashable(), inner.clone()), 0..4).prop_map(|e| Value::Dict(e.into_iter().collect())),
            (any_int(), any_float(), proptest::collection::vec(inner.clone(), 0..3)).prop_map(|(x, y, tags)| {
                Value::Dataclass(Box::new(Instance {
                    type_name: "Point".into(),
                    fields: crate::format::fields([("x", Value::Int(x)), ("y", Value::Float(y)), ("tags", Value::Tuple(tags))]),
                }))
            }),
            (any_text(), any_datetime(), any_float(), proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(name, joined, score, avatar)| {
                Value::Model(Box::new(Instance {
                    type_name: "User".into(),
                    fields: crate::format::fields([
                        ("name", Value::Str(name)),
                        ("joined", Value::DateTime(joined)),
                        ("score", Value::Float(score)),
                        ("avatar", Value::Bytes(avatar)),
                    ]),
                }))
            }),
        ]
    })
}

/// JSON-ready values, as `safe_serialize` produces them: None, bool, int,
/// finite float, str, list and dicts with string keys.
#[cfg(test)]
pub fn safe_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any_int().prop_map(Value::Int),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Value::Float),
        any_text().prop_map(Value::Str),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List), str_dict(inner, 5).prop_map(Value::Dict),]
    })
}
