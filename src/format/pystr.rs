//! Python's `str()` and `repr()` of values, which the safe format uses in
//! two places: dict keys become `str(serialize(key))`, and sets are sorted
//! by `str()` of each element.

use std::fmt::Write;

use crate::json::{float_repr, float_repr_bare};
use crate::value::{DateTime, EnumBase, Time, UtcOffset, Value};

use super::python::PythonVersion;

/// Python `str(value)` on the given Python.
pub fn py_str(value: &Value, py: PythonVersion) -> String {
    let mut out = String::new();
    write_str(value, py, &mut out);
    out
}

/// Python `repr(value)` on the given Python.
pub fn py_repr(value: &Value, py: PythonVersion) -> String {
    let mut out = String::new();
    write_repr(value, py, &mut out);
    out
}

/// Appends Python `str(value)`: the text itself for strings and the types
/// whose `str` is their isoformat or canonical text, `repr` otherwise.
pub fn write_str(value: &Value, py: PythonVersion, out: &mut String) {
    match value {
        Value::Str(s) => out.push_str(s),
        // The text itself, but a String cannot hold a lone surrogate.
        Value::SurrogateStr(s) => out.push_str(&s.to_string_lossy()),
        Value::DateTime(dt) => {
            let _ = dt.write_iso(' ', out);
        }
        Value::Date(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Time(t) => {
            let _ = write!(out, "{t}");
        }
        Value::Uuid(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Decimal(d) => out.push_str(d),
        // Python 3.11: an IntEnum's str() is the int's; other enums show Type.NAME.
        Value::Enum(member) if member.base == EnumBase::Int => write_str(&member.value, py, out),
        Value::Enum(member) => write_enum_name(&member.type_name, member.member_name.as_deref(), &member.value, py, out),
        other => write_repr(other, py, out),
    }
}

fn write_enum_name(type_name: &str, member_name: Option<&str>, value: &Value, py: PythonVersion, out: &mut String) {
    out.push_str(type_name);
    out.push('.');
    match member_name {
        Some(name) => out.push_str(name),
        // Unknown member names: the value stands in, so sorting stays stable.
        None => write_repr(value, py, out),
    }
}

/// Appends Python `repr(value)`.
pub fn write_repr(value: &Value, py: PythonVersion, out: &mut String) {
    match value {
        Value::None => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(x) => out.push_str(&float_repr(*x)),
        Value::Str(s) => write_str_repr(s.chars().map(u32::from), py, out),
        Value::SurrogateStr(s) => write_str_repr(s.code_points(), py, out),
        Value::Bytes(b) => write_bytes_repr(b, out),
        Value::ByteArray(b) => {
            out.push_str("bytearray(");
            write_bytes_repr(b, out);
            out.push(')');
        }
        Value::DateTime(dt) => write_datetime_repr(dt, out),
        Value::Date(d) => {
            let _ = write!(out, "datetime.date({}, {}, {})", d.year, d.month, d.day);
        }
        Value::Time(t) => {
            out.push_str("datetime.time(");
            write_time_fields(t, out);
            out.push(')');
        }
        Value::Uuid(u) => {
            let _ = write!(out, "UUID('{u}')");
        }
        Value::Decimal(d) => {
            let _ = write!(out, "Decimal('{d}')");
        }
        Value::Complex(re, im) => write_complex_repr(*re, *im, out),
        Value::List(items) => write_sequence("[", items, "]", py, out),
        Value::Tuple(items) if items.len() == 1 => write_sequence("(", items, ",)", py, out),
        Value::Tuple(items) => write_sequence("(", items, ")", py, out),
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => write_sequence("{", items, "}", py, out),
        Value::FrozenSet(items) if items.is_empty() => out.push_str("frozenset()"),
        Value::FrozenSet(items) => write_sequence("frozenset({", items, "})", py, out),
        Value::Dict(dict) => {
            out.push('{');
            for (i, (k, v)) in dict.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(k, py, out);
                out.push_str(": ");
                write_repr(v, py, out);
            }
            out.push('}');
        }
        Value::Enum(member) => {
            out.push('<');
            write_enum_name(&member.type_name, member.member_name.as_deref(), &member.value, py, out);
            out.push_str(": ");
            write_repr(&member.value, py, out);
            out.push('>');
        }
        Value::Dataclass(inst) | Value::Model(inst) => {
            out.push_str(&inst.type_name);
            out.push('(');
            for (i, (k, v)) in inst.fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(k, py, out);
                out.push('=');
                write_repr(v, py, out);
            }
            out.push(')');
        }
        // The address Python would show is unknowable; the type still sorts.
        Value::Custom(inst) => {
            let _ = write!(out, "<{} object>", inst.type_name);
        }
        Value::Callable(name) => {
            let _ = write!(out, "<function {name}>");
        }
    }
}

fn write_sequence(open: &str, items: &[Value], close: &str, py: PythonVersion, out: &mut String) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_repr(item, py, out);
    }
    out.push_str(close);
}

/// `complex.__repr__`: `1j`, `(1+2j)`, `(1.5-infj)`, `(-0+1j)`.
fn write_complex_repr(re: f64, im: f64, out: &mut String) {
    let bare_imaginary = re == 0.0 && re.is_sign_positive();
    if !bare_imaginary {
        out.push('(');
        out.push_str(&float_repr_bare(re));
        if !im.is_sign_negative() || im.is_nan() {
            out.push('+');
        }
    }
    out.push_str(&float_repr_bare(im));
    out.push('j');
    if !bare_imaginary {
        out.push(')');
    }
}

fn write_datetime_repr(dt: &DateTime, out: &mut String) {
    let d = dt.date;
    let _ = write!(out, "datetime.datetime({}, {}, {}, ", d.year, d.month, d.day);
    write_time_fields(&dt.time, out);
    out.push(')');
}

/// The time arguments of a `datetime`/`time` repr: trailing zero seconds
/// and microseconds are left out, as Python does.
fn write_time_fields(t: &Time, out: &mut String) {
    let _ = write!(out, "{}, {}", t.hour, t.minute);
    if t.micro != 0 {
        let _ = write!(out, ", {}, {}", t.second, t.micro);
    } else if t.second != 0 {
        let _ = write!(out, ", {}", t.second);
    }
    if let Some(offset) = t.offset {
        out.push_str(", tzinfo=");
        write_timezone_repr(offset, out);
    }
}

fn write_timezone_repr(offset: UtcOffset, out: &mut String) {
    if offset.seconds == 0 && offset.micros == 0 {
        out.push_str("datetime.timezone.utc");
        return;
    }
    // timedelta normalizes to days, 0 <= seconds < 86400, 0 <= microseconds.
    let total_micros = i64::from(offset.seconds) * 1_000_000 + i64::from(offset.micros);
    let days = total_micros.div_euclid(86_400_000_000);
    let rest = total_micros.rem_euclid(86_400_000_000);
    let (seconds, micros) = (rest / 1_000_000, rest % 1_000_000);
    out.push_str("datetime.timezone(datetime.timedelta(");
    let mut parts = Vec::new();
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if seconds != 0 {
        parts.push(format!("seconds={seconds}"));
    }
    if micros != 0 {
        parts.push(format!("microseconds={micros}"));
    }
    out.push_str(&parts.join(", "));
    out.push_str("))");
}

fn pick_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double { '"' } else { '\'' }
}

/// `str.__repr__` of a str's code points; what counts as printable depends
/// on the Python. A lone surrogate is never printable: `\ud800`.
fn write_str_repr(code_points: impl Iterator<Item = u32> + Clone, py: PythonVersion, out: &mut String) {
    let quote = pick_quote(code_points.clone().any(|c| c == u32::from('\'')), code_points.clone().any(|c| c == u32::from('"')));
    out.push(quote);
    for code_point in code_points {
        let Some(c) = char::from_u32(code_point) else {
            let _ = write!(out, "\\u{code_point:04x}");
            continue;
        };
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && (c < ' ' || c == '\u{7f}') => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() || py.is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
}

/// `bytes.__repr__`.
fn write_bytes_repr(bytes: &[u8], out: &mut String) {
    let quote = pick_quote(bytes.contains(&b'\''), bytes.contains(&b'"'));
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if char::from(b) == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            b' '..=b'~' => out.push(char::from(b)),
            b => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Int;

    fn py_repr(value: &Value) -> String {
        super::py_repr(value, PythonVersion::V3_11)
    }

    fn py_str(value: &Value) -> String {
        super::py_str(value, PythonVersion::V3_11)
    }

    #[test]
    fn a_lone_surrogate_is_escaped_in_repr() {
        let lone = crate::value::SurrogateStr::value_from_units(vec![0x27, 0xd800]);
        assert_eq!(py_repr(&Value::Tuple(vec![lone])), "(\"'\\ud800\",)");
    }

    #[test]
    fn str_repr_follows_the_python() {
        let key = Value::Tuple(vec![Value::from("\u{1e030}")]);
        assert_eq!(super::py_str(&key, PythonVersion::V3_11), "('\\U0001e030',)");
        assert_eq!(super::py_str(&key, PythonVersion::V3_12), "('\u{1e030}',)");
    }

    #[test]
    fn reprs_match_python() {
        let tuple = Value::Tuple(vec![Value::from(1), Value::from("a'b"), Value::None, Value::from(1.5), Value::Bool(true)]);
        assert_eq!(py_repr(&tuple), r#"(1, "a'b", None, 1.5, True)"#);
        assert_eq!(py_repr(&Value::Tuple(vec![Value::from(1)])), "(1,)");
        assert_eq!(py_repr(&Value::from("\u{e9}\u{0}\u{2028}\u{1F600}")), "'\u{e9}\\x00\\u2028\u{1F600}'");
        assert_eq!(py_repr(&Value::Bytes(b"\xff'a".to_vec())), r#"b"\xff'a""#);
        assert_eq!(py_repr(&Value::Complex(1.5, -2.0)), "(1.5-2j)");
        assert_eq!(py_repr(&Value::Complex(0.0, 1.0)), "1j");
        assert_eq!(py_repr(&Value::Complex(f64::INFINITY, f64::NAN)), "(inf+nanj)");
        assert_eq!(py_str(&Value::Float(f64::NAN)), "nan");
        assert_eq!(py_str(&Value::Int(Int::Small(-3))), "-3");
        let dt = Value::DateTime(DateTime::parse("2025-07-01T12:00:00.120000+05:30").unwrap());
        assert_eq!(py_str(&dt), "2025-07-01 12:00:00.120000+05:30");
        assert_eq!(py_repr(&dt), "datetime.datetime(2025, 7, 1, 12, 0, 0, 120000, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800)))");
        let west = Value::DateTime(DateTime::parse("2000-01-01T00:00:00-05:00").unwrap());
        assert_eq!(py_repr(&west), "datetime.datetime(2000, 1, 1, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))");
    }
}
