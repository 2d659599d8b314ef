//! Serialize: a value -> its safe JSON form, rule by rule as flujo 0.4's
//! `safe_serialize` does it (`docs/format.md`).

use base64::Engine;

use crate::path::{AtPath, JsonPath, Segment};
use crate::value::{Dict, EnumBase, Value};

use super::pystr::py_str;
use super::python::PythonVersion;
use super::registry::TypeRegistry;

/// How deep custom serializers may nest their results within each other,
/// so that a serializer that returns its own type cannot loop forever.
const MAX_CUSTOM_NESTING: usize = 64;

/// Why a value could not be serialized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at JSON path '{path}': {kind}")]
pub struct SerializeError {
    /// Where in the value.
    pub path: JsonPath,
    /// What went wrong.
    pub kind: SerializeErrorKind,
}

/// The kinds of [`SerializeError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SerializeErrorKind {
    /// flujo raises this TypeError (docs/format.md rule 13).
    #[error(
        "TypeError: Object of type {0} is not serializable. Consider providing a custom default_serializer or registering a custom serializer using register_custom_serializer."
    )]
    NotSerializable(String),
    /// A registered serializer failed.
    #[error("the custom serializer for {type_name} failed: {message}")]
    CustomFailed {
        /// The type the serializer was registered for.
        type_name: String,
        /// The serializer's message.
        message: String,
    },
    /// Custom serializers kept returning values that need a serializer.
    #[error("custom serializers nested more than {MAX_CUSTOM_NESTING} times (a serializer returning its own type?)")]
    CustomLoop,
}

impl SerializeError {
    /// The message flujo's exception carries, `TypeError: ...` included.
    pub fn python_message(&self) -> String {
        self.kind.to_string()
    }

    fn new(kind: SerializeErrorKind) -> SerializeError {
        SerializeError { path: JsonPath::root(), kind }
    }
}

impl AtPath for SerializeError {
    fn path_mut(&mut self) -> &mut JsonPath {
        &mut self.path
    }
}

/// `safe_serialize(value)`: the JSON-ready value that flujo stores.
///
/// The result holds only None, bool, int, float, str, list and dicts with
/// string keys (and int-like or str-like enum members, which are ints and
/// strs to Python). Non-finite floats become strings, except in the parts of
/// a complex, which stay raw floats (rule 6).
pub fn serialize(mut value: Value, registry: &TypeRegistry) -> Result<Value, SerializeError> {
    serialize_in_place(&mut value, registry)?;
    Ok(value)
}

/// [`serialize`] without moving the value: parts that are already safe
/// (most of a state read from JSON text) are left where they are. On error
/// the value is left partly serialized.
pub fn serialize_in_place(value: &mut Value, registry: &TypeRegistry) -> Result<(), SerializeError> {
    let plain_strings = registry.serializer_for(&Value::Str(String::new())).is_none();
    Serializer { registry, custom_nesting: 0, plain_strings }.value(value)
}

struct Serializer<'r> {
    registry: &'r TypeRegistry,
    custom_nesting: usize,
    /// No custom serializer applies to `str`, so string keys stay as they are.
    plain_strings: bool,
}

fn base64_text(bytes: &[u8]) -> Value {
    Value::Str(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn float(x: f64) -> Value {
    if x.is_nan() {
        Value::from("nan")
    } else if x == f64::INFINITY {
        Value::from("inf")
    } else if x == f64::NEG_INFINITY {
        Value::from("-inf")
    } else {
        Value::Float(x)
    }
}

impl Serializer<'_> {
    fn value(&mut self, value: &mut Value) -> Result<(), SerializeError> {
        // Rule 1: a registered serializer wins over every built-in rule.
        if let Some((type_name, serializer)) = self.registry.serializer_for(value) {
            let mut produced =
                serializer(value).map_err(|message| SerializeError::new(SerializeErrorKind::CustomFailed { type_name: type_name.to_owned(), message }))?;
            if self.custom_nesting >= MAX_CUSTOM_NESTING {
                return Err(SerializeError::new(SerializeErrorKind::CustomLoop));
            }
            self.custom_nesting += 1;
            let result = self.value(&mut produced);
            self.custom_nesting -= 1;
            *value = produced;
            return result;
        }
        match value {
            // Rule 2; an int-like or str-like enum member *is* an int or a str.
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Str(_) | Value::SurrogateStr(_) => {}
            Value::Enum(member) if member.base != EnumBase::Plain => {}
            // Rule 3.
            Value::Float(x) => *value = float(*x),
            // Rule 4.
            Value::DateTime(dt) => *value = Value::Str(dt.to_string()),
            Value::Date(d) => *value = Value::Str(d.to_string()),
            Value::Time(t) => *value = Value::Str(t.to_string()),
            // Rule 5.
            Value::Bytes(bytes) => *value = base64_text(bytes),
            // Rule 6: the parts stay raw floats, NaN included.
            Value::Complex(re, im) => {
                let parts = vec![(Value::from("real"), Value::Float(*re)), (Value::from("imag"), Value::Float(*im))];
                *value = Value::Dict(Dict::from_distinct(parts));
            }
            // Rule 7.
            Value::Callable(name) => *value = Value::Str(std::mem::take(name)),
            // Rules 8 and 10: fields as a dict, then serialized.
            Value::Dataclass(inst) | Value::Model(inst) => {
                *value = Value::Dict(std::mem::take(&mut inst.fields));
                self.value(value)?;
            }
            // Rule 9: the member's value, as is.
            Value::Enum(member) => *value = std::mem::take(&mut member.value),
            // Rule 11.
            Value::Dict(dict) => self.dict(dict)?,
            // Rule 12.
            Value::List(items) => self.items(items)?,
            Value::Tuple(items) => {
                self.items(items)?;
                *value = Value::List(std::mem::take(items));
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                let mut sorted = sorted_by_str(std::mem::take(items), self.registry.python());
                self.items(&mut sorted)?;
                *value = Value::List(sorted);
            }
            // Rule 13.
            Value::ByteArray(_) | Value::Uuid(_) | Value::Decimal(_) | Value::Custom(_) => {
                return Err(SerializeError::new(SerializeErrorKind::NotSerializable(value.type_name().to_owned())));
            }
        }
        Ok(())
    }

    fn items(&mut self, items: &mut [Value]) -> Result<(), SerializeError> {
        for (i, item) in items.iter_mut().enumerate() {
            self.value(item).map_err(|e| e.under(Segment::Index(i)))?;
        }
        Ok(())
    }

    /// Keys become `str(serialize(key))`; when two keys collide, the later
    /// value wins at the first key's position (as a Python dict does).
    fn dict(&mut self, dict: &mut Dict) -> Result<(), SerializeError> {
        if self.plain_strings && dict.has_only_str_keys() {
            for (key, item) in dict.iter_mut() {
                self.value(item).map_err(|e| e.under(Segment::Key(key.as_str().unwrap_or_default().to_owned())))?;
            }
            return Ok(());
        }
        let mut out = Dict::with_capacity(dict.len());
        for (key, mut item) in std::mem::take(dict) {
            let key = match key {
                Value::Str(_) | Value::SurrogateStr(_) if self.plain_strings => key,
                mut other => {
                    let shown = py_str(&other, self.registry.python());
                    self.value(&mut other).map_err(|e| e.under(Segment::Key(shown)))?;
                    Value::Str(py_str(&other, self.registry.python()))
                }
            };
            self.value(&mut item).map_err(|e| e.under(Segment::Key(py_str(&key, self.registry.python()))))?;
            out.insert(key, item);
        }
        *dict = out;
        Ok(())
    }
}

/// Rule 12: sorted by `str()` of each original element; stable.
fn sorted_by_str(items: Vec<Value>, py: PythonVersion) -> Vec<Value> {
    let mut keyed: Vec<(String, Value)> = items.into_iter().map(|v| (py_str(&v, py), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, v)| v).collect()
}
