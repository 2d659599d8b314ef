//! Deserialize: safe JSON -> value, as flujo 0.4's `safe_deserialize` does
//! it: everything comes back as it is (a string is never turned back into a
//! datetime or bytes), except that a dict aimed at a target type goes to that
//! type's registered deserializer.

use std::collections::BTreeMap;

use crate::value::Value;

use super::registry::TypeRegistry;

/// `safe_deserialize(data, target_type)`.
///
/// Without a target, `data` is returned as it is: that is flujo's behaviour,
/// and the reason a flujo backend hands back strings for datetimes, lists
/// for tuples and sets, and dicts for custom types (docs/format.md, Deserialize).
/// With a target, a dict goes to the target's deserializer (the exact type,
/// then a registered base type); if there is none or it fails, the plain
/// dict comes back.
pub fn deserialize(data: Value, target: Option<&str>, registry: &TypeRegistry) -> Value {
    let Some(target) = target else { return data };
    if !matches!(data, Value::Dict(_)) {
        return data;
    }
    match registry.deserializer_for(target).map(|deserializer| deserializer(&data)) {
        Some(Ok(value)) => value,
        Some(Err(_)) | None => data,
    }
}

/// Type hints for a load: JSON pointer (`/pipeline_context/price`) -> the
/// type name to deserialize the value found there with.
pub type TypeHints = BTreeMap<String, String>;

/// `safe_deserialize` of a loaded state, with each hinted path deserialized
/// with its target type. A hint whose path is not in the state does nothing.
pub fn deserialize_with_hints(mut data: Value, hints: &TypeHints, registry: &TypeRegistry) -> Value {
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
