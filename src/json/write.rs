//! Python-compatible JSON text: exactly what `json.dumps(value)` and
//! `json.dumps(value, sort_keys=True)` produce with their defaults
//! (`", "` and `": "` separators, `ensure_ascii`, float `repr`, `NaN` and
//! `Infinity` literals).

use std::fmt::Write;

use crate::path::{AtPath, JsonPath, Segment};
use crate::value::{EnumBase, Value};

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
    let mut out = String::new();
    write_python_json(value, order, &mut out)?;
    Ok(out)
}

/// Appends `json.dumps(value)` to `out`. On error, `out` holds a partial text.
pub fn write_python_json(value: &Value, order: KeyOrder, out: &mut String) -> Result<(), WriteError> {
    match value {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(x) => write_json_float(*x, out),
        Value::Str(s) => write_ascii_string(s, out),
        Value::List(items) | Value::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, order, out).map_err(|e| e.under(Segment::Index(i)))?;
            }
            out.push(']');
        }
        Value::Dict(dict) => {
            let mut entries: Vec<(&str, &Value)> = Vec::with_capacity(dict.len());
            for (key, item) in dict.iter() {
                match key {
                    Value::Str(k) => entries.push((k, item)),
                    other => {
                        return Err(WriteError {
                            path: JsonPath::root(),
                            reason: format!("a dict key of type {} (the safe format has string keys only)", other.type_name()),
                        });
                    }
                }
            }
            if order == KeyOrder::Sorted {
                // Byte order of UTF-8 is code point order.
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_ascii_string(key, out);
                out.push_str(": ");
                write_python_json(item, order, out).map_err(|e| e.under(Segment::Key(key.to_owned())))?;
            }
            out.push('}');
        }
        // An IntEnum or str-enum member is an int or a str to json.dumps.
        Value::Enum(member) if member.base != EnumBase::Plain => {
            write_python_json(&member.value, order, out)?;
        }
        other => {
            return Err(WriteError {
                path: JsonPath::root(),
                reason: format!("a value of type {} is not JSON (serialize it first)", other.type_name()),
            });
        }
    }
    Ok(())
}

/// A float as `json.dumps` writes it: `repr`, or `NaN`/`Infinity`/`-Infinity`.
pub fn write_json_float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
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
pub fn write_ascii_string(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let run = bytes[start..].iter().position(|&b| !is_plain(b)).unwrap_or(bytes.len() - start);
        out.push_str(&s[start..start + run]);
        start += run;
        let Some(c) = s[start..].chars().next() else { break };
        write_escape(c, out);
        start += c.len_utf8();
    }
    out.push('"');
}

fn write_escape(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Dict;

    #[test]
    fn escapes_like_python() {
        let mut s = String::new();
        write_ascii_string("a\"\\/\n\u{7f}\u{e9}\u{1F600}\u{0}\u{2028}", &mut s);
        assert_eq!(s, r#""a\"\\/\n\u007f\u00e9\ud83d\ude00\u0000\u2028""#);
    }

    #[test]
    fn sorted_and_insertion_order() {
        let dict: Dict = [("b", 1.5), ("a", f64::NAN), ("\u{e9}", f64::NEG_INFINITY), ("C", 1e16)]
            .into_iter()
            .map(|(k, v)| (Value::from(k), Value::from(v)))
            .collect();
        let value = Value::Dict(dict);
        assert_eq!(
            to_python_json(&value, KeyOrder::Insertion).unwrap(),
            r#"{"b": 1.5, "a": NaN, "\u00e9": -Infinity, "C": 1e+16}"#
        );
        assert_eq!(
            to_python_json(&value, KeyOrder::Sorted).unwrap(),
            r#"{"C": 1e+16, "a": NaN, "b": 1.5, "\u00e9": -Infinity}"#
        );
    }

    #[test]
    fn refuses_values_that_are_not_json_with_their_path() {
        let value = Value::List(vec![Value::from(1), Value::Bytes(vec![1])]);
        let err = to_python_json(&value, KeyOrder::Sorted).unwrap_err();
        assert_eq!(err.path.to_string(), "/1");
    }
}
