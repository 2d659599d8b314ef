//! Rust serde types as custom types: their values travel as
//! [`Value::Custom`] whose fields are the type's serde form.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{KeyOrder, read_strict, to_python_json};
use crate::value::{Dict, Instance, Int, Value};

/// A [`Value::Custom`] of type `type_name` holding `value`'s serde form.
///
/// The serde form must be a map (a struct), as a custom type's fields are;
/// the error names the type and the form it has instead.
pub fn custom_value<T: Serialize>(type_name: &str, value: &T) -> Result<Value, String> {
    match serde_form(value).map_err(|e| format!("custom type `{type_name}`: {e}"))? {
        Value::Dict(fields) => Ok(Value::Custom(Box::new(Instance { type_name: type_name.to_owned(), fields }))),
        other => Err(format!("custom type `{type_name}`: its serde form is {}; a custom type must serialize to a map (a struct or a map)", form_name(&other))),
    }
}

/// Reads a `T` back from a custom value's fields or from a plain dict.
pub fn from_custom<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    // Through JSON text rather than serde_json::Value, whose numbers stop at
    // u64: serde_json reads i128/u128 fields from the digits themselves.
    let text = match value {
        Value::Custom(inst) => to_python_json(&Value::Dict(inst.fields.clone()), KeyOrder::Insertion),
        other => to_python_json(other, KeyOrder::Insertion),
    }
    .map_err(|e| format!("not a serde value: {e}"))?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// Checks that `value` is a valid `T` and returns `T`'s own fields for it.
pub(crate) fn roundtrip_through<T: Serialize + DeserializeOwned>(value: &Value) -> Result<Dict, String> {
    let typed: T = from_custom(value)?;
    match serde_form(&typed)? {
        Value::Dict(fields) => Ok(fields),
        other => Err(format!("its serde form is {}, not a map of fields", form_name(&other))),
    }
}

/// `value`'s serde form as a state value, through JSON text so that
/// integers beyond i64 (u64, i128, u128) stay exact ints.
fn serde_form<T: Serialize>(value: &T) -> Result<Value, String> {
    let text = serde_json::to_string(value).map_err(|e| format!("its Serialize failed: {e}"))?;
    read_strict(&text).map(|(form, _)| form).map_err(|e| format!("its serde form is not JSON: {e}"))
}

/// The serde data model's word for the form of `value`.
fn form_name(value: &Value) -> &'static str {
    match value {
        Value::None => "null (a unit or None)",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Str(_) => "a string",
        Value::List(_) | Value::Tuple(_) => "a sequence",
        _ => "not a map",
    }
}

/// A serde_json value as a state value (numbers as int when integral text).
pub fn from_serde_json(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::Int(Int::from_big(u.into())),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(items) => Value::List(items.into_iter().map(from_serde_json).collect()),
        serde_json::Value::Object(map) => Value::Dict(Dict::from_distinct(map.into_iter().map(|(k, v)| (Value::Str(k), from_serde_json(v))).collect())),
    }
}
