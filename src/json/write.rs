//! Python-compatible JSON text: exactly what `json.dumps(value)` and
//! `json.dumps(value, sort_keys=True)` produce with their defaults
//! (`", "` and `": "` separators, `ensure_ascii`, float `repr`, `NaN` and
//! `Infinity` literals).

use crate::path::{AtPath, JsonPath, Segment};
use crate::value::{EnumBase, Int, Value, cmp_code_points};

use super::float::write_float_repr;

/// The order in which dict keys are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// Insertion order: `json.dumps(value)` (the Redis recipe, SQLite columns).
    Insertion,
    /// By code point: `json.dumps(value, sort_keys=True)` (FileBackend).
    Sorted,
}

/// The value holds something `json.dumps` cannot write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot write JSON at path '{path}': {reason}")]
pub struct WriteError {
    /// Where in the value (a JSON pointer).
    pub path: JsonPath,
    /// What could not be written.
    pub reason: String,
}

impl AtPath for WriteError {
    fn path_mut(&mut self) -> &mut JsonPath {
        &mut self.path
    }
}

/// `json.dumps(value)` (or with `sort_keys=True`), as a `String`.
pub fn to_python_json(value: &Value, order: KeyOrder) -> Result<String, WriteError> {
    let mut out = Vec::new();
    write_python_json(value, order, &mut out)?;
    // ensure_ascii: the text is ASCII, so always valid UTF-8.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// `json.dumps(value, indent=indent)` (or with `sort_keys=True`): one item
/// per line, nested items indented by `indent` more spaces, `", "` becoming
/// `","` at line ends as Python does. Made for people to read and diff
/// (snapshots), not for storage.
pub fn to_python_json_indented(value: &Value, order: KeyOrder, indent: usize) -> Result<String, WriteError> {
    let mut out = Vec::new();
    write_value(value, order, Some(Indent { width: indent, depth: 0 }), &mut out)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// Appends the bytes of `json.dumps(value)` to `out` (ASCII only). On
/// error, `out` holds a partial text.
pub fn write_python_json(value: &Value, order: KeyOrder, out: &mut Vec<u8>) -> Result<(), WriteError> {
    write_value(value, order, None, out)
}

/// Where an indented text is: spaces per level and the current level.
#[derive(Clone, Copy)]
struct Indent {
    width: usize,
    depth: usize,
}

impl Indent {
    fn deeper(self) -> Indent {
        Indent { depth: self.depth + 1, ..self }
    }

    fn newline(self, out: &mut Vec<u8>) {
        out.push(b'\n');
        out.resize(out.len() + self.width * self.depth, b' ');
    }
}

/// Before item `i` of a container: the separator, then (indented) a new line.
fn item_start(i: usize, indent: Option<Indent>, out: &mut Vec<u8>) {
    match indent {
        None if i > 0 => out.extend_from_slice(b", "),
        None => {}
        Some(level) => {
            if i > 0 {
                out.push(b',');
            }
            level.deeper().newline(out);
        }
    }
}

/// After the last item of a non-empty container: the closing bracket's line.
fn container_end(len: usize, indent: Option<Indent>, out: &mut Vec<u8>) {
    if let Some(level) = indent.filter(|_| len > 0) {
        level.newline(out);
    }
}

fn write_value(value: &Value, order: KeyOrder, indent: Option<Indent>, out: &mut Vec<u8>) -> Result<(), WriteError> {
    let inner = indent.map(Indent::deeper);
    match value {
        Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(Int::Small(n)) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float(x) => write_json_float(*x, out),
        Value::Str(s) => write_ascii_string(s, out),
        Value::SurrogateStr(s) => write_ascii_units(s.units(), out),
        Value::List(items) | Value::Tuple(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                item_start(i, indent, out);
                write_value(item, order, inner, out).map_err(|e| e.under(Segment::Index(i)))?;
            }
            container_end(items.len(), indent, out);
            out.push(b']');
        }
        Value::Dict(dict) => {
            let mut entries: Vec<(&Value, &Value)> = Vec::with_capacity(dict.len());
            for (key, item) in dict.iter() {
                match key {
                    key if key.is_str() => entries.push((key, item)),
                    other => {
                        return Err(WriteError {
                            path: JsonPath::root(),
                            reason: format!("a dict key of type {} (the safe format has string keys only)", other.type_name()),
                        });
                    }
                }
            }
            if order == KeyOrder::Sorted {
                entries.sort_unstable_by(|a, b| cmp_str_keys(a.0, b.0));
            }
            out.push(b'{');
            let len = entries.len();
            for (i, (key, item)) in entries.into_iter().enumerate() {
                item_start(i, indent, out);
                write_value(key, order, inner, out)?;
                out.extend_from_slice(b": ");
                write_value(item, order, inner, out).map_err(|e| e.under(Segment::Key(key_text(key))))?;
            }
            container_end(len, indent, out);
            out.push(b'}');
        }
        // An IntEnum or str-enum member is an int or a str to json.dumps.
        Value::Enum(member) if member.base != EnumBase::Plain => {
            write_value(&member.value, order, indent, out)?;
        }
        other => {
            return Err(WriteError { path: JsonPath::root(), reason: format!("a value of type {} is not JSON (serialize it first)", other.type_name()) });
        }
    }
    Ok(())
}

/// Python's order of two str keys: by code point (for UTF-8 text, the
/// order of its bytes).
fn cmp_str_keys(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Str(a), Value::Str(b)) => a.cmp(b),
        (Value::SurrogateStr(a), Value::Str(b)) => cmp_code_points(a.code_points(), b.chars().map(u32::from)),
        (Value::Str(a), Value::SurrogateStr(b)) => cmp_code_points(a.chars().map(u32::from), b.code_points()),
        (Value::SurrogateStr(a), Value::SurrogateStr(b)) => cmp_code_points(a.code_points(), b.code_points()),
        _ => std::cmp::Ordering::Equal,
    }
}

/// A str key as a JSON path segment.
fn key_text(key: &Value) -> String {
    match key {
        Value::SurrogateStr(s) => s.to_string_lossy(),
        other => other.as_str().unwrap_or_default().to_owned(),
    }
}

/// A float as `json.dumps` writes it: `repr`, or `NaN`/`Infinity`/`-Infinity`.
pub fn write_json_float(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        write_float_repr(x, out);
    }
}

/// True for the bytes that `ensure_ascii` writes as they are.
#[inline]
fn is_plain(byte: u8) -> bool {
    (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\'
}

/// A string as `json.dumps` writes it with `ensure_ascii=True`.
pub fn write_ascii_string(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let run = bytes[start..].iter().position(|&b| !is_plain(b)).unwrap_or(bytes.len() - start);
        out.extend_from_slice(&bytes[start..start + run]);
        start += run;
        let Some(c) = s[start..].chars().next() else { break };
        write_escape(c, out);
        start += c.len_utf8();
    }
    out.push(b'"');
}

/// A str with lone surrogates as `json.dumps` writes it with
/// `ensure_ascii=True`: one `\uXXXX` per UTF-16 unit beyond ASCII, so a
/// lone surrogate is `\ud800`.
fn write_ascii_units(units: &[u16], out: &mut Vec<u8>) {
    out.push(b'"');
    for &unit in units {
        match u8::try_from(unit) {
            Ok(byte) if is_plain(byte) => out.push(byte),
            Ok(byte) if byte.is_ascii() => write_escape(char::from(byte), out),
            _ => push_unicode_escape(unit, out),
        }
    }
    out.push(b'"');
}

fn write_escape(c: char, out: &mut Vec<u8>) {
    let short: &[u8] = match c {
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '\n' => b"\\n",
        '\r' => b"\\r",
        '\t' => b"\\t",
        '\u{8}' => b"\\b",
        '\u{c}' => b"\\f",
        _ => {
            let mut units = [0u16; 2];
            for &unit in c.encode_utf16(&mut units).iter() {
                push_unicode_escape(unit, out);
            }
            return;
        }
    };
    out.extend_from_slice(short);
}

/// `\uXXXX` with lowercase hex, without the formatting machinery (this is
/// the hot path for non-ASCII text).
fn push_unicode_escape(unit: u16, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[usize::from(unit >> 12)],
        HEX[usize::from((unit >> 8) & 0xf)],
        HEX[usize::from((unit >> 4) & 0xf)],
        HEX[usize::from(unit & 0xf)],
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Dict;

    #[test]
    fn escapes_like_python() {
        let mut s = Vec::new();
        write_ascii_string("a\"\\/\n\u{7f}\u{e9}\u{1F600}\u{0}\u{2028}", &mut s);
        assert_eq!(String::from_utf8(s).unwrap(), r#""a\"\\/\n\u007f\u00e9\ud83d\ude00\u0000\u2028""#);
    }

    #[test]
    fn sorted_and_insertion_order() {
        let dict: Dict =
            [("b", 1.5), ("a", f64::NAN), ("\u{e9}", f64::NEG_INFINITY), ("C", 1e16)].into_iter().map(|(k, v)| (Value::from(k), Value::from(v))).collect();
        let value = Value::Dict(dict);
        assert_eq!(to_python_json(&value, KeyOrder::Insertion).unwrap(), r#"{"b": 1.5, "a": NaN, "\u00e9": -Infinity, "C": 1e+16}"#);
        assert_eq!(to_python_json(&value, KeyOrder::Sorted).unwrap(), r#"{"C": 1e+16, "a": NaN, "b": 1.5, "\u00e9": -Infinity}"#);
    }

    #[test]
    fn indented_like_python() {
        let inner: Dict = [("z", Value::List(vec![Value::from(1), Value::List(Vec::new())])), ("a", Value::Dict(Dict::new()))]
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect();
        let value = Value::List(vec![Value::Dict(inner), Value::from("x")]);
        // json.dumps(value, indent=2, sort_keys=True)
        assert_eq!(
            to_python_json_indented(&value, KeyOrder::Sorted, 2).unwrap(),
            "[\n  {\n    \"a\": {},\n    \"z\": [\n      1,\n      []\n    ]\n  },\n  \"x\"\n]"
        );
        assert_eq!(to_python_json_indented(&Value::List(Vec::new()), KeyOrder::Sorted, 2).unwrap(), "[]");
    }

    #[test]
    fn refuses_values_that_are_not_json_with_their_path() {
        let value = Value::List(vec![Value::from(1), Value::Bytes(vec![1])]);
        let err = to_python_json(&value, KeyOrder::Sorted).unwrap_err();
        assert_eq!(err.path.to_string(), "/1");
    }
}
