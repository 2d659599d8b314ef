//! flujo's safe serialized format (`docs/format.md`): the rules that
//! turn a state value into JSON and back, and the registry of custom types.

mod deserialize;
mod printable_table;
mod pystr;
mod python;
mod registry;
mod serde_bridge;
mod serialize;

pub use deserialize::{TypeHints, deserialize, deserialize_with_hints, pointer_mut};
pub use pystr::{py_repr, py_str};
pub use python::{PythonChoice, PythonSource, PythonVersion, UnknownPythonVersion};
pub use registry::{DeserializeFn, EnumDef, SerializeFn, TypeRegistry, fields};
pub use serde_bridge::{custom_value, from_custom, from_serde_json};
pub use serialize::{SerializeError, SerializeErrorKind, serialize, serialize_in_place};
