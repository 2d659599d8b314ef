//! How flujo-compatible backends turn a state into stored text and back:
//! `json.dumps(safe_serialize(state))` on the way in, `safe_deserialize(
//! json.loads(text))` on the way out.

use crate::format::{TypeHints, TypeRegistry, deserialize_with_hints, serialize};
use crate::json::{KeyOrder, read_text, to_python_json};
use crate::value::Value;

use super::{BackendError, ErrorKind};

/// The stored text of `state`: FileBackend text with [`KeyOrder::Sorted`],
/// the Redis recipe's and SQLite columns' with [`KeyOrder::Insertion`].
///
/// A value flujo refuses to serialize is an `unsupported` error carrying
/// flujo's message and the JSON path.
pub fn state_to_text(state: &Value, order: KeyOrder, registry: &TypeRegistry) -> Result<String, BackendError> {
    let safe = serialize(state.clone(), registry).map_err(|e| BackendError::new(ErrorKind::Unsupported, e.to_string()))?;
    safe_to_text(&safe, order)
}

/// The stored text of a state already in the safe serialized form.
pub(crate) fn safe_to_text(safe: &Value, order: KeyOrder) -> Result<String, BackendError> {
    to_python_json(safe, order).map_err(|e| BackendError::internal("writing JSON text", e))
}

/// The state stored as `text` (read with the strict reader, JSON5 when
/// needed), deserialized with `hints`. `origin` names where the text came
/// from, for the error message.
pub fn text_to_state(text: &str, hints: &TypeHints, registry: &TypeRegistry, origin: &str) -> Result<Value, BackendError> {
    let (value, _) = read_text(text).map_err(|e| BackendError::internal(format!("reading {origin}"), e))?;
    Ok(deserialize_with_hints(value, hints, registry))
}
