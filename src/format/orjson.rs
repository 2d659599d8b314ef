//! `orjson.dumps(value)`: the text flujo 0.6's SQLite backend stores in its
//! JSON columns. Compact, keys in insertion order, non-ASCII as UTF-8,
//! NaN and infinities as `null`; ints outside [-2^63, 2^64-1] and strs with
//! lone surrogates are refused with orjson's own messages.

use super::flujo::orjson_writes;
use crate::json::write_float_repr;
use crate::value::{EnumBase, Int, Value};

/// orjson refused a value (`orjson.JSONEncodeError`, a TypeError).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrjsonError {
    /// An int outside [-2^63, 2^64-1].
    #[error("TypeError: Integer exceeds 64-bit range")]
    IntegerRange,
    /// A str holding a lone surrogate.
    #[error("TypeError: str is not valid UTF-8: surrogates not allowed")]
    Surrogate,
    /// Something that is not a JSON kind (the value was not serialized first).
    #[error("TypeError: Type is not JSON serializable: {0}")]
    NotJson(String),
}

/// `orjson.dumps(value).decode()`.
pub fn to_orjson(value: &Value) -> Result<String, OrjsonError> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    // Only UTF-8 text and ASCII are written.
    Ok(String::from_utf8(out).unwrap_or_default())
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), OrjsonError> {
    match value {
        Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(n) => write_int(n, out)?,
        Value::Float(x) => write_float(*x, out),
        Value::Str(s) => write_str(s, out),
        Value::SurrogateStr(_) => return Err(OrjsonError::Surrogate),
        // An IntEnum or str-like enum member is an int or a str to orjson.
        Value::Enum(member) if member.base != EnumBase::Plain => write(&member.value, out)?,
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Dict(dict) => {
            out.push(b'{');
            for (i, (key, item)) in dict.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match key {
                    Value::Str(s) => write_str(s, out),
                    Value::SurrogateStr(_) => return Err(OrjsonError::Surrogate),
                    other => return Err(OrjsonError::NotJson(format!("dict key {}", other.type_name()))),
                }
                out.push(b':');
                write(item, out)?;
            }
            out.push(b'}');
        }
        other => return Err(OrjsonError::NotJson(other.type_name().to_owned())),
    }
    Ok(())
}

fn write_int(n: &Int, out: &mut Vec<u8>) -> Result<(), OrjsonError> {
    if !orjson_writes(n) {
        return Err(OrjsonError::IntegerRange);
    }
    out.extend_from_slice(n.to_string().as_bytes());
    Ok(())
}

/// Python's `repr`, except that the exponent has no leading zeros
/// (`1e-7`, not `1e-07`) and 1e-5 <= |x| < 1e-4 is written in full
/// (`0.00001234`); NaN and the infinities are `null`.
fn write_float(x: f64, out: &mut Vec<u8>) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut repr = Vec::with_capacity(24);
    write_float_repr(x, &mut repr);
    let Some(e) = repr.iter().position(|&b| b == b'e') else {
        out.extend_from_slice(&repr);
        return;
    };
    let (mantissa, exponent) = (&repr[..e], &repr[e + 1..]);
    let negative_exponent = exponent.first() == Some(&b'-');
    let digits = exponent.iter().skip_while(|b| matches!(b, b'+' | b'-' | b'0')).copied().collect::<Vec<u8>>();
    if negative_exponent && digits == b"5" {
        let (sign, mantissa) = match mantissa.split_first() {
            Some((b'-', rest)) => (&b"-"[..], rest),
            _ => (&b""[..], mantissa),
        };
        out.extend_from_slice(sign);
        out.extend_from_slice(b"0.0000");
        out.extend(mantissa.iter().filter(|&&b| b != b'.'));
        return;
    }
    out.extend_from_slice(mantissa);
    out.push(b'e');
    out.push(if negative_exponent { b'-' } else { b'+' });
    out.extend_from_slice(&digits);
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Dict;

    /// Each pair was printed by orjson 3.13.0 (`orjson.dumps(x)`).
    #[test]
    fn floats_as_orjson_writes_them() {
        for (x, text) in [
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-7, "1e-7"),
            (0.0001, "0.0001"),
            (5e-324, "5e-324"),
            (-0.0, "-0.0"),
            (1e-5, "0.00001"),
            (1.234e-5, "0.00001234"),
            (-1.5e-5, "-0.000015"),
            (9.99e-6, "9.99e-6"),
            (1e100, "1e+100"),
            (-1e-300, "-1e-300"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(to_orjson(&Value::Float(x)).unwrap(), text, "{x:e}");
        }
    }

    #[test]
    fn strings_ints_and_refusals() {
        let dict: Dict =
            [(Value::from("k\u{e9}"), Value::List(vec![Value::None, Value::Bool(true), Value::from("\n\u{1}\u{7f}\u{2028}\"\\/")]))].into_iter().collect();
        assert_eq!(to_orjson(&Value::Dict(dict)).unwrap(), "{\"k\u{e9}\":[null,true,\"\\n\\u0001\u{7f}\u{2028}\\\"\\\\/\"]}");
        let int = |text: &str| Value::Int(text.parse().unwrap());
        assert_eq!(to_orjson(&int("18446744073709551615")).unwrap(), "18446744073709551615");
        assert_eq!(to_orjson(&int("-9223372036854775808")).unwrap(), "-9223372036854775808");
        assert_eq!(to_orjson(&int("18446744073709551616")), Err(OrjsonError::IntegerRange));
        assert_eq!(to_orjson(&int("-9223372036854775809")), Err(OrjsonError::IntegerRange));
    }
}
