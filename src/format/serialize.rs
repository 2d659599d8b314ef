//! Serialize: a value -> its safe JSON form, rule by rule as flujo 0.4's
//! `safe_serialize` or flujo 0.6's `_serialize_for_json` does it
//! (`docs/format.md`); what differs between them is [`Rules`] data.

use base64::Engine;

use crate::path::{AtPath, JsonPath, Segment};
use crate::value::{Dict, EnumBase, Value};

use super::flujo::{BytesForm, FlujoVersion, ModelForm, Rules, SerializePath, SetOrder, Unserializable};
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
    /// flujo 0.6 raises this TypeError (docs/format.md, flujo 0.6).
    #[error("TypeError: {0} is not serializable; register_custom_serializer or provide default_serializer")]
    NotSerializable06(String),
    /// flujo 0.6 stores what this engine cannot predict (`str()` of an
    /// object whose default repr holds its memory address, or a model field
    /// pydantic dumps by rules not modelled here).
    #[error("not modelled: flujo 0.6 would store {0}")]
    NotModelled(String),
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
    serialize_in_place_on(value, registry, SerializePath::File)
}

/// [`serialize`] on one of flujo 0.6's two paths (0.4 has one: `path`
/// makes no difference there).
pub fn serialize_on(mut value: Value, registry: &TypeRegistry, path: SerializePath) -> Result<Value, SerializeError> {
    serialize_in_place_on(&mut value, registry, path)?;
    Ok(value)
}

/// [`serialize_in_place`] on one of flujo 0.6's two paths.
pub fn serialize_in_place_on(value: &mut Value, registry: &TypeRegistry, path: SerializePath) -> Result<(), SerializeError> {
    let plain_strings = registry.serializer_for(&Value::Str(String::new())).is_none();
    let rules = registry.flujo().rules(path);
    Serializer { registry, rules, custom_nesting: 0, plain_strings }.value(value, 0)
}

struct Serializer<'r> {
    registry: &'r TypeRegistry,
    rules: Rules,
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

/// Bytes as the rules write them: base64, or UTF-8 with U+FFFD.
fn bytes_text(bytes: &[u8], form: BytesForm) -> Value {
    match form {
        BytesForm::Base64 => base64_text(bytes),
        BytesForm::Utf8Replace => Value::Str(String::from_utf8_lossy(bytes).into_owned()),
    }
}

impl Serializer<'_> {
    fn value(&mut self, value: &mut Value, depth: usize) -> Result<(), SerializeError> {
        // 0.6: anything nested too deep is replaced by a marker naming its type.
        if self.rules.max_depth.is_some_and(|max| depth > max) {
            *value = Value::Str(format!("<max-depth-exceeded:{}>", value.type_name()));
            return Ok(());
        }
        // Rule 1: a registered serializer wins over every built-in rule.
        if let Some((type_name, serializer)) = self.registry.serializer_for(value) {
            let mut produced =
                serializer(value).map_err(|message| SerializeError::new(SerializeErrorKind::CustomFailed { type_name: type_name.to_owned(), message }))?;
            if self.custom_nesting >= MAX_CUSTOM_NESTING {
                return Err(SerializeError::new(SerializeErrorKind::CustomLoop));
            }
            self.custom_nesting += 1;
            let result = self.value(&mut produced, depth + 1);
            self.custom_nesting -= 1;
            *value = produced;
            return result;
        }
        let rules = self.rules;
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
            Value::Bytes(bytes) => *value = bytes_text(bytes, rules.bytes),
            Value::ByteArray(bytes) if rules.bytearray => *value = bytes_text(bytes, rules.bytes),
            Value::Uuid(u) if rules.uuid_decimal_as_text => *value = Value::Str(u.to_string()),
            Value::Decimal(d) if rules.uuid_decimal_as_text => *value = Value::Str(std::mem::take(d)),
            // Rule 6: the parts stay raw floats, NaN included.
            Value::Complex(re, im) => {
                let parts = vec![(Value::from("real"), Value::Float(*re)), (Value::from("imag"), Value::Float(*im))];
                *value = Value::Dict(Dict::from_distinct(parts));
            }
            // Rule 7.
            Value::Callable(name) => *value = Value::Str(std::mem::take(name)),
            // Rule 8 (0.6: `dataclasses.asdict`, which turns nested dataclasses into dicts).
            Value::Dataclass(inst) if rules.flujo == FlujoVersion::V0_6 => {
                *value = Value::Dict(as_dict(std::mem::take(&mut inst.fields)));
                self.value(value, depth + 1)?;
            }
            // Rule 10 (0.6): `model_dump(mode="json")`, else the fields.
            Value::Model(inst) if rules.models == ModelForm::JsonDump => {
                *value = match json_dump_fields(&inst.fields) {
                    Ok(dumped) => Value::Dict(dumped),
                    Err(DumpFailed::Raised) if inst.fields.is_empty() => Value::Str(format!("<unserializable: {}>", inst.type_name)),
                    Err(DumpFailed::Raised) => Value::Dict(std::mem::take(&mut inst.fields)),
                    Err(DumpFailed::NotModelled(what)) => {
                        return Err(SerializeError::new(SerializeErrorKind::NotModelled(format!(
                            "model_dump(mode=\"json\") of a {} field of {}",
                            what, inst.type_name
                        ))));
                    }
                };
                self.value(value, depth + 1)?;
            }
            // Rules 8 and 10: fields as a dict, then serialized.
            Value::Dataclass(inst) | Value::Model(inst) => {
                *value = Value::Dict(std::mem::take(&mut inst.fields));
                self.value(value, depth + 1)?;
            }
            // Rule 9: the member's value (0.4: as is; 0.6: serialized in turn).
            Value::Enum(member) => {
                *value = std::mem::take(&mut member.value);
                if rules.enum_value_serialized {
                    self.value(value, depth + 1)?;
                }
            }
            // Rule 11.
            Value::Dict(dict) => self.dict(dict, depth)?,
            // Rule 12.
            Value::List(items) => self.items(items, depth)?,
            Value::Tuple(items) => {
                self.items(items, depth)?;
                *value = Value::List(std::mem::take(items));
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                let mut items = match rules.sets {
                    SetOrder::SortedByStr => sorted_by_str(std::mem::take(items), self.registry.python()),
                    SetOrder::Iteration => std::mem::take(items),
                };
                self.items(&mut items, depth)?;
                *value = Value::List(items);
            }
            // Rule 13.
            Value::ByteArray(_) | Value::Uuid(_) | Value::Decimal(_) => {
                return Err(SerializeError::new(SerializeErrorKind::NotSerializable(value.type_name().to_owned())));
            }
            Value::Custom(inst) => match rules.flujo {
                FlujoVersion::V0_4 => return Err(SerializeError::new(SerializeErrorKind::NotSerializable(inst.type_name.clone()))),
                FlujoVersion::V0_6 => self.object_without_serializer(value, depth)?,
            },
        }
        Ok(())
    }

    /// flujo 0.6's last resort for an instance with a `__dict__` (its fields)
    /// and no serializer: refused when strict or at the top, unless at the
    /// top its fields hold `output` or `content`; below the top, an empty one
    /// is a placeholder and any other is `str(obj)`.
    fn object_without_serializer(&mut self, value: &mut Value, depth: usize) -> Result<(), SerializeError> {
        let Value::Custom(inst) = value else { return Ok(()) };
        let refuse = || Err(SerializeError::new(SerializeErrorKind::NotSerializable06(inst.type_name.clone())));
        if self.rules.unserializable == Unserializable::Refuse {
            return refuse();
        }
        if depth == 0 {
            if inst.fields.get("output").is_some() || inst.fields.get("content").is_some() {
                *value = Value::Dict(std::mem::take(&mut inst.fields));
                return self.value(value, depth + 1);
            }
            return refuse();
        }
        if inst.fields.is_empty() {
            *value = Value::Str(format!("<unserializable: {}>", inst.type_name));
            return Ok(());
        }
        Err(SerializeError::new(SerializeErrorKind::NotModelled(format!("str() of a {} instance", inst.type_name))))
    }

    fn items(&mut self, items: &mut [Value], depth: usize) -> Result<(), SerializeError> {
        for (i, item) in items.iter_mut().enumerate() {
            self.value(item, depth + 1).map_err(|e| e.under(Segment::Index(i)))?;
        }
        Ok(())
    }

    /// Keys become `str(serialize(key))`; when two keys collide, the later
    /// value wins at the first key's position (as a Python dict does).
    fn dict(&mut self, dict: &mut Dict, depth: usize) -> Result<(), SerializeError> {
        let keys_kept = self.plain_strings && self.rules.max_depth.is_none_or(|max| depth < max);
        if keys_kept && dict.has_only_str_keys() {
            for (key, item) in dict.iter_mut() {
                self.value(item, depth + 1).map_err(|e| e.under(Segment::Key(key.as_str().unwrap_or_default().to_owned())))?;
            }
            return Ok(());
        }
        let mut out = Dict::with_capacity(dict.len());
        for (key, mut item) in std::mem::take(dict) {
            let key = match key {
                Value::Str(_) | Value::SurrogateStr(_) if keys_kept => key,
                mut other => {
                    let shown = py_str(&other, self.registry.python());
                    self.value(&mut other, depth + 1).map_err(|e| e.under(Segment::Key(shown)))?;
                    Value::Str(py_str(&other, self.registry.python()))
                }
            };
            self.value(&mut item, depth + 1).map_err(|e| e.under(Segment::Key(py_str(&key, self.registry.python()))))?;
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

/// `dataclasses.asdict`: the fields, with every dataclass nested in them
/// (through lists, tuples and dicts) turned into a dict of its fields.
fn as_dict(fields: Dict) -> Dict {
    fn inner(value: Value) -> Value {
        match value {
            Value::Dataclass(inst) => Value::Dict(as_dict(inst.fields)),
            Value::List(items) => Value::List(items.into_iter().map(inner).collect()),
            Value::Tuple(items) => Value::Tuple(items.into_iter().map(inner).collect()),
            Value::Dict(dict) => Value::Dict(dict.into_iter().map(|(k, v)| (inner(k), inner(v))).collect()),
            other => other,
        }
    }
    fields.into_iter().map(|(k, v)| (k, inner(v))).collect()
}

/// Why `model_dump(mode="json")` gave no dict.
enum DumpFailed {
    /// pydantic raises (bytes that are not UTF-8): flujo falls back to the fields.
    Raised,
    /// A field this engine does not know pydantic's JSON form of.
    NotModelled(&'static str),
}

fn json_dump_fields(fields: &Dict) -> Result<Dict, DumpFailed> {
    let mut out = Dict::with_capacity(fields.len());
    for (key, item) in fields.iter() {
        out.push(key.clone(), json_dump(item)?);
    }
    Ok(out)
}

/// pydantic's JSON mode for one field value: datetimes its own way (`Z` for
/// UTC), bytes as UTF-8 (raising when they are not), containers as lists.
/// Floats stay floats (flujo then writes NaN as "nan").
fn json_dump(value: &Value) -> Result<Value, DumpFailed> {
    Ok(match value {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::SurrogateStr(_) => value.clone(),
        Value::Bytes(bytes) | Value::ByteArray(bytes) => Value::Str(String::from_utf8(bytes.clone()).map_err(|_| DumpFailed::Raised)?),
        Value::DateTime(dt) => {
            let mut text = format!("{}T{:02}:{:02}:{:02}", dt.date, dt.time.hour, dt.time.minute, dt.time.second);
            if dt.time.micro != 0 {
                text.push_str(&format!(".{:06}", dt.time.micro));
            }
            if let Some(offset) = dt.time.offset {
                text.push_str(&pydantic_offset(offset.seconds, offset.micros));
            }
            Value::Str(text)
        }
        Value::Date(d) => Value::Str(d.to_string()),
        Value::Uuid(u) => Value::Str(u.to_string()),
        Value::Decimal(d) => Value::Str(d.clone()),
        Value::Enum(member) => json_dump(&member.value)?,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            Value::List(items.iter().map(json_dump).collect::<Result<_, _>>()?)
        }
        Value::Dict(dict) if dict.has_only_str_keys() => Value::Dict(json_dump_fields(dict)?),
        Value::Model(inst) | Value::Dataclass(inst) => Value::Dict(json_dump_fields(&inst.fields)?),
        Value::Time(_) => return Err(DumpFailed::NotModelled("time")),
        Value::Dict(_) => return Err(DumpFailed::NotModelled("dict with non-str keys")),
        Value::Complex(..) => return Err(DumpFailed::NotModelled("complex")),
        Value::Callable(_) => return Err(DumpFailed::NotModelled("callable")),
        Value::Custom(_) => return Err(DumpFailed::NotModelled("custom type")),
    })
}

/// pydantic's UTC offset: `Z` for zero, else `±HH:MM` (seconds dropped).
fn pydantic_offset(seconds: i32, micros: i32) -> String {
    if seconds == 0 && micros == 0 {
        return "Z".to_owned();
    }
    let sign = if seconds < 0 || micros < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}
