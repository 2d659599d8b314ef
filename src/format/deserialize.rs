//! Deserialize: safe JSON -> value, as flujo 0.4's `safe_deserialize` does
//! it: everything comes back as it is (a string is never turned back into a
//! datetime or bytes), except that a dict aimed at a target type goes to that
//! type's registered deserializer.

use crate::value::Value;

use super::registry::TypeRegistry;

/// `safe_deserialize(data, target_type)`.
///
/// Without a target, `data` is returned as it is: that is flujo's behaviour,
/// and the reason a flujo backend hands back strings for datetimes, lists
/// for tuples and sets, and dicts for custom types (FORMAT.md, Deserialize).
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
