//! Typed JSON (`docs/typed-json.md`): a JSON form of a [`Value`] that
//! keeps its type, so that programs in different languages can talk about
//! the same Python value. Encoding and decoding are lossless inverses.

use base64::Engine;

use crate::format::TypeRegistry;
use crate::json::{KeyOrder, ReadError, read_strict, to_python_json, to_python_json_indented};
use crate::path::{AtPath, JsonPath, Segment};
use crate::value::{Date, DateTime, Dict, EnumBase, EnumMember, Instance, Time, Value};

/// A JSON value that is not valid typed JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid typed JSON at '{path}': {reason}")]
pub struct TypedError {
    /// Where in the value.
    pub path: JsonPath,
    /// What is wrong.
    pub reason: String,
}

impl AtPath for TypedError {
    fn path_mut(&mut self) -> &mut JsonPath {
        &mut self.path
    }
}

/// Reading typed JSON text failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TypedTextError {
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] ReadError),
    /// The JSON is not typed JSON.
    #[error(transparent)]
    Typed(#[from] TypedError),
}

fn fail(reason: impl Into<String>) -> TypedError {
    TypedError { path: JsonPath::root(), reason: reason.into() }
}

/// Parses typed JSON text into a value.
pub fn from_typed_text(text: &str, registry: &TypeRegistry) -> Result<Value, TypedTextError> {
    let (json, _) = read_strict(text)?;
    Ok(decode(json, registry)?)
}

/// Typed JSON text of a value (compact Python-style separators, insertion order).
pub fn to_typed_text(value: &Value) -> String {
    // A typed-JSON tree holds only JSON kinds with string keys: it always writes.
    to_python_json(&encode(value), KeyOrder::Insertion).unwrap_or_default()
}

/// Canonical typed JSON text of a value: keys sorted, one item a line
/// (indented by 2), so that the same value always gives the same text and
/// a change shows as a small line diff (snapshots).
pub fn to_canonical_typed_text(value: &Value) -> String {
    // As in `to_typed_text`: a typed-JSON tree always writes.
    to_python_json_indented(&encode(value), KeyOrder::Sorted, 2).unwrap_or_default()
}

/// Decodes a plain JSON value (as the reader returns it) into a typed value.
///
/// `registry` supplies what typed JSON does not carry: an enum's base class
/// (an `IntEnum` member serializes as itself) and its member names.
pub fn decode(json: Value, registry: &TypeRegistry) -> Result<Value, TypedError> {
    match json {
        Value::List(items) => Ok(Value::List(decode_items(items, registry)?)),
        Value::Dict(dict) => {
            if dict.len() == 1 {
                let tag = dict.iter().next().and_then(|(k, _)| k.as_str()).filter(|k| k.starts_with('$')).map(str::to_owned);
                if let Some(tag) = tag {
                    let (_, body) = dict.into_iter().next().ok_or_else(|| fail("empty tag"))?;
                    return decode_tag(&tag, body, registry).map_err(|e| e.under(Segment::Key(tag.clone())));
                }
            }
            Ok(Value::Dict(decode_fields(dict, registry)?))
        }
        Value::Float(x) if !x.is_finite() => Err(fail("a non-finite float must be a $float tag")),
        plain => Ok(plain),
    }
}

fn decode_items(items: Vec<Value>, registry: &TypeRegistry) -> Result<Vec<Value>, TypedError> {
    items.into_iter().enumerate().map(|(i, item)| decode(item, registry).map_err(|e| e.under(Segment::Index(i)))).collect()
}

fn decode_fields(dict: Dict, registry: &TypeRegistry) -> Result<Dict, TypedError> {
    let mut out = Vec::with_capacity(dict.len());
    for (key, item) in dict {
        let item = decode(item, registry).map_err(|e| e.under(Segment::Key(crate::format::py_str(&key, registry.python()))))?;
        out.push((key, item));
    }
    Ok(Dict::from_distinct(out))
}

fn text(body: &Value, tag: &str) -> Result<String, TypedError> {
    body.as_str().map(str::to_owned).ok_or_else(|| fail(format!("{tag} takes a string, got {}", body.type_name())))
}

fn array(body: Value, tag: &str) -> Result<Vec<Value>, TypedError> {
    match body {
        Value::List(items) => Ok(items),
        other => Err(fail(format!("{tag} takes an array, got {}", other.type_name()))),
    }
}

fn base64_bytes(body: &Value, tag: &str) -> Result<Vec<u8>, TypedError> {
    base64::engine::general_purpose::STANDARD.decode(text(body, tag)?).map_err(|e| fail(format!("{tag}: bad base64: {e}")))
}

fn float_part(part: Value, registry: &TypeRegistry) -> Result<f64, TypedError> {
    match decode(part, registry)? {
        Value::Float(x) => Ok(x),
        Value::Int(n) => Ok(n.to_f64()),
        other => Err(fail(format!("a complex part must be a float, got {}", other.type_name()))),
    }
}

/// `{"type": name, ...}` bodies: the type name and the rest of the object.
fn typed_body(body: Value, tag: &str, field: &str) -> Result<(String, Value), TypedError> {
    let Value::Dict(dict) = body else {
        return Err(fail(format!("{tag} takes an object with \"type\" and \"{field}\"")));
    };
    let type_name = dict.get("type").and_then(Value::as_str).ok_or_else(|| fail(format!("{tag} needs a string \"type\"")))?;
    let inner = dict.get(field).ok_or_else(|| fail(format!("{tag} needs \"{field}\"")))?;
    Ok((type_name.to_owned(), inner.clone()))
}

fn decode_tag(tag: &str, body: Value, registry: &TypeRegistry) -> Result<Value, TypedError> {
    Ok(match tag {
        "$float" => match text(&body, tag)?.as_str() {
            "nan" => Value::Float(f64::NAN),
            "inf" => Value::Float(f64::INFINITY),
            "-inf" => Value::Float(f64::NEG_INFINITY),
            other => return Err(fail(format!("$float takes \"nan\", \"inf\" or \"-inf\", got {other:?}"))),
        },
        "$bytes" => Value::Bytes(base64_bytes(&body, tag)?),
        "$bytearray" => Value::ByteArray(base64_bytes(&body, tag)?),
        "$datetime" => Value::DateTime(DateTime::parse(&text(&body, tag)?).map_err(|e| fail(e.to_string()))?),
        "$date" => Value::Date(Date::parse(&text(&body, tag)?).map_err(|e| fail(e.to_string()))?),
        "$time" => Value::Time(Time::parse(&text(&body, tag)?).map_err(|e| fail(e.to_string()))?),
        "$uuid" => Value::Uuid(uuid::Uuid::parse_str(&text(&body, tag)?).map_err(|e| fail(format!("$uuid: {e}")))?),
        "$decimal" => Value::Decimal(text(&body, tag)?),
        "$complex" => {
            let parts = array(body, tag)?;
            let [re, im]: [Value; 2] = parts.try_into().map_err(|_| fail("$complex takes [real, imag]"))?;
            Value::Complex(float_part(re, registry)?, float_part(im, registry)?)
        }
        "$tuple" => Value::Tuple(decode_items(array(body, tag)?, registry)?),
        "$set" => Value::Set(decode_items(array(body, tag)?, registry)?),
        "$frozenset" => Value::FrozenSet(decode_items(array(body, tag)?, registry)?),
        "$dict" => {
            let mut dict = Dict::new();
            for (i, pair) in array(body, tag)?.into_iter().enumerate() {
                let pair = array(pair, "a $dict pair").map_err(|e| e.under(Segment::Index(i)))?;
                let [k, v]: [Value; 2] = pair.try_into().map_err(|_| fail("a $dict pair is [key, value]").under(Segment::Index(i)))?;
                let k = decode(k, registry).map_err(|e| e.under(Segment::Index(0)).under(Segment::Index(i)))?;
                let v = decode(v, registry).map_err(|e| e.under(Segment::Index(1)).under(Segment::Index(i)))?;
                dict.insert(k, v);
            }
            Value::Dict(dict)
        }
        "$enum" => {
            let (type_name, value) = typed_body(body, tag, "value")?;
            let value = decode(value, registry)?;
            let def = registry.enum_def(&type_name);
            let member_name = def.and_then(|d| d.members.iter().find(|(_, v)| *v == value)).map(|(n, _)| n.clone());
            let base = def.map_or(EnumBase::Plain, |d| d.base);
            Value::Enum(Box::new(EnumMember { type_name, value, base, member_name }))
        }
        "$dataclass" | "$model" | "$custom" => {
            let (type_name, fields) = typed_body(body, tag, "fields")?;
            let Value::Dict(fields) = fields else { return Err(fail(format!("{tag} \"fields\" must be an object"))) };
            let instance = Box::new(Instance { type_name, fields: decode_fields(fields, registry)? });
            match tag {
                "$dataclass" => Value::Dataclass(instance),
                "$model" => Value::Model(instance),
                _ => Value::Custom(instance),
            }
        }
        "$callable" => Value::Callable(text(&body, tag)?),
        unknown => return Err(fail(format!("unknown tag {unknown}"))),
    })
}

fn tag(name: &str, body: Value) -> Value {
    Value::Dict(Dict::from_distinct(vec![(Value::from(name), body)]))
}

fn encode_float(x: f64) -> Value {
    if x.is_nan() {
        tag("$float", Value::from("nan"))
    } else if x.is_infinite() {
        tag("$float", Value::from(if x > 0.0 { "inf" } else { "-inf" }))
    } else {
        Value::Float(x)
    }
}

fn encode_instance(inst: &Instance) -> Value {
    let fields = Value::Dict(Dict::from_distinct(inst.fields.iter().map(|(k, v)| (k.clone(), encode(v))).collect()));
    Value::Dict(Dict::from_distinct(vec![(Value::from("type"), Value::from(inst.type_name.as_str())), (Value::from("fields"), fields)]))
}

fn encode_items(items: &[Value]) -> Value {
    Value::List(items.iter().map(encode).collect())
}

/// Encodes a typed value as plain JSON with tags.
pub fn encode(value: &Value) -> Value {
    let b64 = |bytes: &[u8]| Value::Str(base64::engine::general_purpose::STANDARD.encode(bytes));
    match value {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Str(_) | Value::SurrogateStr(_) => value.clone(),
        Value::Float(x) => encode_float(*x),
        Value::Bytes(b) => tag("$bytes", b64(b)),
        Value::ByteArray(b) => tag("$bytearray", b64(b)),
        Value::DateTime(dt) => tag("$datetime", Value::Str(dt.to_string())),
        Value::Date(d) => tag("$date", Value::Str(d.to_string())),
        Value::Time(t) => tag("$time", Value::Str(t.to_string())),
        Value::Uuid(u) => tag("$uuid", Value::Str(u.to_string())),
        Value::Decimal(d) => tag("$decimal", Value::Str(d.clone())),
        Value::Complex(re, im) => tag("$complex", Value::List(vec![encode_float(*re), encode_float(*im)])),
        Value::List(items) => encode_items(items),
        Value::Tuple(items) => tag("$tuple", encode_items(items)),
        Value::Set(items) => tag("$set", encode_items(items)),
        Value::FrozenSet(items) => tag("$frozenset", encode_items(items)),
        Value::Dict(dict) => {
            let single_dollar = dict.len() == 1 && dict.iter().all(|(k, _)| k.as_str().is_some_and(|k| k.starts_with('$')));
            if dict.iter().all(|(k, _)| k.is_str()) && !single_dollar {
                Value::Dict(Dict::from_distinct(dict.iter().map(|(k, v)| (k.clone(), encode(v))).collect()))
            } else {
                tag("$dict", Value::List(dict.iter().map(|(k, v)| Value::List(vec![encode(k), encode(v)])).collect()))
            }
        }
        Value::Enum(member) => tag(
            "$enum",
            Value::Dict(Dict::from_distinct(vec![
                (Value::from("type"), Value::from(member.type_name.as_str())),
                (Value::from("value"), encode(&member.value)),
            ])),
        ),
        Value::Dataclass(inst) => tag("$dataclass", encode_instance(inst)),
        Value::Model(inst) => tag("$model", encode_instance(inst)),
        Value::Custom(inst) => tag("$custom", encode_instance(inst)),
        Value::Callable(name) => tag("$callable", Value::Str(name.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let registry = TypeRegistry::standard();
        for text in [
            r#"{"$float": "nan"}"#,
            r#"{"$dict": [["$float", "nan"]]}"#,
            r#"{"$dict": [[1, "a"], [{"$tuple": [1, 2]}, "t"]]}"#,
            r#"{"$enum": {"type": "Level", "value": 2}}"#,
            r#"{"$model": {"type": "User", "fields": {"name": "ana", "joined": {"$datetime": "2025-07-01T12:00:00+00:00"}}}}"#,
            r#"{"$complex": [{"$float": "nan"}, 1.0]}"#,
            r#"{"$a": 1, "$b": 2}"#,
        ] {
            let value = from_typed_text(text, &registry).unwrap();
            assert_eq!(to_typed_text(&value), text);
        }
        // A str may hold a lone surrogate, as a value or a key, written as Python's json does.
        for text in [r#"{"s": "\ud800", "\udfffk": ["a\udbff"]}"#, r#"{"$dict": [[{"$tuple": ["\ud800"]}, "\udc00"]]}"#] {
            let value = from_typed_text(text, &registry).unwrap();
            assert_eq!(to_typed_text(&value), text);
        }
        let level = from_typed_text(r#"{"$enum": {"type": "Level", "value": 2}}"#, &registry).unwrap();
        assert!(matches!(&level, Value::Enum(m) if m.base == EnumBase::Int && m.member_name.as_deref() == Some("HIGH")));
    }

    #[test]
    fn errors_name_the_path() {
        let err = from_typed_text(r#"{"a": [1, {"$bytes": "!!"}]}"#, &TypeRegistry::standard()).unwrap_err();
        let TypedTextError::Typed(err) = err else { panic!("{err}") };
        assert_eq!(err.path.to_string(), "/a/1/$bytes");
    }
}
