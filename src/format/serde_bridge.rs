//! Rust serde types as custom types: their values travel as
//! [`Value::Custom`] whose fields are the type's serde form.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::value::{Dict, Instance, Int, Value};

/// A [`Value::Custom`] of type `type_name` holding `value`'s serde form.
///
/// The serde form must be a map (a struct), as a custom type's fields are.
pub fn custom_value<T: Serialize>(type_name: &str, value: &T) -> Result<Value, String> {
    let json = serde_json::to_value(value).map_err(|e| format!("{type_name}: {e}"))?;
    match from_serde_json(json) {
        Value::Dict(fields) => Ok(Value::Custom(Box::new(Instance { type_name: type_name.to_owned(), fields }))),
        other => Err(format!("{type_name}: serializes to {}, not to a map of fields", other.type_name())),
    }
}

/// Reads a `T` back from a custom value's fields or from a plain dict.
pub fn from_custom<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    let json = match value {
        Value::Custom(inst) => to_serde_json(&Value::Dict(inst.fields.clone()))?,
        other => to_serde_json(other)?,
    };
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// Checks that `value` is a valid `T` and returns `T`'s own fields for it.
pub(crate) fn roundtrip_through<T: Serialize + DeserializeOwned>(value: &Value) -> Result<Dict, String> {
    let typed: T = from_custom(value)?;
    let json = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    match from_serde_json(json) {
        Value::Dict(fields) => Ok(fields),
        other => Err(format!("serializes to {}, not to a map of fields", other.type_name())),
    }
}

fn to_serde_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::None => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(Int::Small(n)) => serde_json::Value::from(*n),
        Value::Int(Int::Big(n)) => return Err(format!("integer {n} is too large for a serde type")),
        Value::Float(x) => {
            serde_json::Number::from_f64(*x).map(serde_json::Value::Number).ok_or_else(|| format!("non-finite float {x} cannot go into a serde type"))?
        }
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::List(items) | Value::Tuple(items) => serde_json::Value::Array(items.iter().map(to_serde_json).collect::<Result<_, _>>()?),
        Value::Dict(dict) => {
            let mut map = serde_json::Map::new();
            for (k, v) in dict.iter() {
                let key = k.as_str().ok_or_else(|| format!("a {} dict key cannot go into a serde type", k.type_name()))?;
                map.insert(key.to_owned(), to_serde_json(v)?);
            }
            serde_json::Value::Object(map)
        }
        other => return Err(format!("a {} value cannot go into a serde type", other.type_name())),
    })
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
