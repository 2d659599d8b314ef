//! Deserialize: safe JSON -> value, as flujo's `safe_deserialize` does
//! it: everything comes back as it is (a string is never turned back into a
//! datetime or bytes), except that a dict aimed at a target type goes to that
//! type's registered deserializer, and (flujo 0.6) a dict of exactly `real`
//! and `imag` numbers, anywhere, comes back as a complex.

use std::collections::BTreeMap;

use crate::value::{Dict, Value};

use super::flujo::FlujoVersion;
use super::registry::TypeRegistry;

/// flujo 0.6's `safe_deserialize` raised: `complex(real, imag)` of an int
/// too large for a float is an OverflowError, which it does not catch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("OverflowError: int too large to convert to float")]
pub struct LoadError;

/// `safe_deserialize(data, target_type)`.
///
/// Without a target, `data` is returned as it is: that is flujo's behaviour,
/// and the reason a flujo backend hands back strings for datetimes, lists
/// for tuples and sets, and dicts for custom types (docs/format.md, Deserialize).
/// With a target, a dict goes to the target's deserializer (the exact type,
/// then a registered base type); if there is none or it fails, the plain
/// dict comes back.
///
/// flujo 0.6 raises where [`try_deserialize`] says so; this returns `data`
/// unchanged there.
pub fn deserialize(data: Value, target: Option<&str>, registry: &TypeRegistry) -> Value {
    match registry.flujo() {
        FlujoVersion::V0_4 => to_target(data, target, registry),
        FlujoVersion::V0_6 => {
            let kept = data.clone();
            try_deserialize(data, target, registry).unwrap_or(kept)
        }
    }
}

/// `safe_deserialize(data, target_type)`, with flujo 0.6's error.
pub fn try_deserialize(data: Value, target: Option<&str>, registry: &TypeRegistry) -> Result<Value, LoadError> {
    match registry.flujo() {
        FlujoVersion::V0_4 => Ok(to_target(data, target, registry)),
        FlujoVersion::V0_6 => {
            if let Some(complex) = as_complex(&data)? {
                return Ok(complex);
            }
            let data = match target {
                Some(_) if matches!(data, Value::Dict(_)) => to_target(data, target, registry),
                _ => data,
            };
            revive_complex(data)
        }
    }
}

/// A dict aimed at a target goes to its deserializer (the exact type, then
/// a registered base type); if there is none or it fails, `data` as it is.
fn to_target(data: Value, target: Option<&str>, registry: &TypeRegistry) -> Value {
    let Some(target) = target else { return data };
    if !matches!(data, Value::Dict(_)) {
        return data;
    }
    match registry.deserializer_for(target).map(|deserializer| deserializer(&data)) {
        Some(Ok(value)) => value,
        Some(Err(_)) | None => data,
    }
}

/// `complex(d["real"], d["imag"])` for a dict of exactly those two keys
/// whose values are numbers (a str or None makes complex() raise a
/// TypeError, which flujo catches: the dict stays).
pub(crate) fn as_complex(data: &Value) -> Result<Option<Value>, LoadError> {
    let Value::Dict(dict) = data else { return Ok(None) };
    let (Some(re), Some(im)) = (dict.get("real"), dict.get("imag")) else { return Ok(None) };
    if dict.len() != 2 {
        return Ok(None);
    }
    let part = |v: &Value| -> Result<Option<f64>, LoadError> {
        Ok(match v {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Float(x) => Some(*x),
            Value::Int(n) => Some(Some(n.to_f64()).filter(|x| x.is_finite()).ok_or(LoadError)?),
            _ => None,
        })
    };
    let (re, im) = (part(re), part(im));
    // complex() checks its first argument first.
    match (re?, im) {
        (Some(re), im) => Ok(im?.map(|im| Value::Complex(re, im))),
        (None, _) => Ok(None),
    }
}

/// The values (and keys) of lists and dicts, deserialized in turn.
fn revive_complex(data: Value) -> Result<Value, LoadError> {
    Ok(match data {
        Value::List(items) => Value::List(items.into_iter().map(revive_one).collect::<Result<_, _>>()?),
        Value::Dict(dict) => {
            let mut out = Dict::with_capacity(dict.len());
            for (k, v) in dict {
                out.insert(revive_one(k)?, revive_one(v)?);
            }
            Value::Dict(out)
        }
        other => other,
    })
}

fn revive_one(data: Value) -> Result<Value, LoadError> {
    match as_complex(&data)? {
        Some(complex) => Ok(complex),
        None => revive_complex(data),
    }
}

/// Type hints for a load: JSON pointer (`/pipeline_context/price`) -> the
/// type name to deserialize the value found there with.
pub type TypeHints = BTreeMap<String, String>;

/// `safe_deserialize` of a loaded state, with each hinted path deserialized
/// with its target type. A hint whose path is not in the state does nothing.
/// Without a hint for the whole state, the whole is `safe_deserialize`d
/// without a target first (flujo 0.6 revives complex-shaped dicts there).
pub fn deserialize_with_hints(mut data: Value, hints: &TypeHints, registry: &TypeRegistry) -> Value {
    if !hints.contains_key("") {
        data = deserialize(data, None, registry);
    }
    for (pointer, target) in hints {
        if pointer.is_empty() {
            data = deserialize(data, Some(target), registry);
        } else if let Some(slot) = pointer_mut(&mut data, pointer) {
            *slot = deserialize(std::mem::take(slot), Some(target), registry);
        }
    }
    data
}

/// The value at an RFC 6901 pointer (string keys and list indexes).
pub fn pointer_mut<'a>(mut value: &'a mut Value, pointer: &str) -> Option<&'a mut Value> {
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        value = match value {
            Value::Dict(dict) => dict.get_mut(&token)?,
            Value::List(items) => items.get_mut(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}
