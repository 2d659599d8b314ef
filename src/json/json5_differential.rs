//! Our JSON5 mode against the `json5` crate, as a differential oracle, on
//! what both can represent (no NaN or infinities, which the crate turns into
//! null through serde_json, and no integers beyond 64 bits, which it turns
//! into floats). The crate writes floats with Rust's `Display` (`1e300` as
//! 301 digits, `1.0` as `1`), so only floats with a fraction below 1e15 keep
//! their type through its writer.

use proptest::prelude::*;

use crate::Value;
use crate::format::from_serde_json;
use crate::json::read_json5;
use crate::strategy::safe_json;

fn crate_reading(text: &str) -> Result<Value, String> {
    json5::from_str::<serde_json::Value>(text).map(from_serde_json).map_err(|e| e.to_string())
}

fn representable(value: &Value) -> bool {
    match value {
        Value::Int(n) => n.as_i64().is_some(),
        Value::Float(x) => x.is_finite() && x.fract() != 0.0 && x.abs() < 1e15,
        Value::List(items) => items.iter().all(representable),
        Value::Dict(dict) => dict.iter().all(|(_, v)| representable(v)),
        _ => true,
    }
}

#[test]
fn hand_written_json5_agrees_with_the_crate() {
    let documents = [
        "// a comment\n{a: 1, 'b': \"two\", /* inline */ c: [1, 2, 3,],}",
        "{hex: 0x1F, neg: -0xff, plus: +7, lead: .5, trail: 5., exp: 1e3, nexp: -2E-2}",
        "{'quote\\'s': 'it\\'s', esc: '\\x41\\u00e9\\t\\v\\0', multi: 'a\\\nb'}",
        "{$dollar: 1, _under: 2, \\u0061bc: 3, été: 4}",
        "\u{feff}\u{a0}[\u{2028}1\u{2029}]",
        "[null, true, false, 'x', {}, [], {nested: {deep: [{}]}}]",
    ];
    for text in documents {
        let ours = read_json5(text).map(|(v, _)| v).map_err(|e| e.to_string());
        assert_eq!(ours, crate_reading(text), "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The crate's own JSON5 writing of a value reads back the same in both readers.
    #[test]
    fn crate_written_json5_reads_the_same(value in safe_json().prop_filter("representable", representable)) {
        let text = json5::to_string(&to_serde(&value)).unwrap();
        let (ours, _) = read_json5(&text).unwrap();
        prop_assert_eq!(&ours, &crate_reading(&text).unwrap(), "text: {}", text);
    }
}

fn to_serde(value: &Value) -> serde_json::Value {
    match value {
        Value::None => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(n) => n.as_i64().unwrap_or_default().into(),
        Value::Float(x) => (*x).into(),
        Value::Str(s) => s.clone().into(),
        Value::List(items) => items.iter().map(to_serde).collect(),
        Value::Dict(dict) => dict.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), to_serde(v))).collect(),
        other => panic!("not safe JSON: {other:?}"),
    }
}
