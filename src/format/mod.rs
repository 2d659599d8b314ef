//! flujo's safe serialized format (`docs/format.md`): the rules that
//! turn a state value into JSON and back, and the registry of custom types.
//! One engine for flujo 0.4 and 0.6: the registry names the target
//! ([`FlujoVersion`]) and the differences are `Rules` data.

mod deserialize;
mod flujo;
mod orjson;
mod printable_table;
mod pystr;
mod python;
mod registry;
mod serde_bridge;
mod serialize;

pub(crate) use deserialize::as_complex;
pub use deserialize::{LoadError, TypeHints, deserialize, deserialize_with_hints, try_deserialize};
pub use flujo::{FlujoChoice, FlujoVersion, SerializePath, UnknownFlujoVersion};
pub(crate) use flujo::{ORJSON_INTS, Rules, SQLITE_JSON_COLUMNS, SetOrder, orjson_writes};
pub(crate) use orjson::{OrjsonError, to_orjson};
pub(crate) use pystr::{py_repr, py_str};
pub use python::{ChosenBy, PythonChoice, PythonVersion, UnknownPythonVersion};
pub use registry::{DeserializeFn, EnumDef, SerializeFn, TypeRegistry, fields};
pub use serde_bridge::{custom_value, from_custom, from_serde_json};
pub use serialize::{SerializeError, SerializeErrorKind, serialize, serialize_on};
