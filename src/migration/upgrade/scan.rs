//! One state as flujo 0.6's backend loads it and saves it next, value by
//! value: the findings, each at its JSON path.
//!
//! Where a value sits for the serializer decides the cut-off: FileBackend
//! serializes the whole state (a value at `/a/b` is at depth 2), the
//! SQLiteBackend each JSON column on its own (`/pipeline_context/x` is at
//! depth 1) and stores the other columns as they are. The SQLite JSON
//! columns are written by orjson on the strict path; the File text by
//! `json.dumps` on the file path, which writes any int and escapes lone
//! surrogates. A state read from a 0.4 store holds JSON values only (0.4
//! wrote bytes as base64 text), so the strict path's U+FFFD never applies:
//! text that is not UTF-8 is found where it is read (see the parent).

use num_bigint::BigInt;
use num_traits::FromPrimitive;

use crate::format::{
    FlujoVersion, ORJSON_INTS, OrjsonError, Rules, SQLITE_JSON_COLUMNS, SerializePath, TypeRegistry, as_complex, orjson_writes, py_str, serialize_on, to_orjson,
};
use crate::json::{KeyOrder, float_repr, to_python_json};
use crate::path::{JsonPath, Segment};
use crate::value::{Date, DateTime, Int, Value};

use super::{Backend06, Effect, Finding, Kind};

/// The timestamps of a state: 0.6 reads them as datetimes.
const TIMESTAMPS: [&str; 2] = ["created_at", "updated_at"];

/// What 0.6 would do to `state` (a dict: every reader makes one).
pub(super) fn state(state: &Value, backend: Backend06, registry: &TypeRegistry) -> Vec<Finding> {
    let path = match backend {
        Backend06::File => SerializePath::File,
        Backend06::Sqlite => SerializePath::Strict,
    };
    let mut scan = Scan { backend, path, rules: FlujoVersion::V0_6.rules(path), registry, findings: Vec::new() };
    let Value::Dict(dict) = state else { return scan.findings };
    for (key, value) in dict.iter() {
        let name = key.as_str().unwrap_or_default();
        let at = vec![Segment::Key(name.to_owned())];
        if TIMESTAMPS.contains(&name) {
            scan.timestamp(value, &at);
        }
        match backend {
            // The whole state is at depth 0, its fields at 1.
            Backend06::File => scan.value(value, &at, 1),
            Backend06::Sqlite if SQLITE_JSON_COLUMNS.contains(&name) => scan.value(value, &at, 0),
            Backend06::Sqlite => scan.column(value, &at),
        }
    }
    scan.findings
}

struct Scan<'r> {
    backend: Backend06,
    path: SerializePath,
    rules: Rules,
    registry: &'r TypeRegistry,
    findings: Vec<Finding>,
}

impl Scan<'_> {
    fn found(&mut self, at: &[Segment], kind: Kind, effect: Effect, detail: String) {
        let path = JsonPath::from_segments(at.iter().cloned()).to_string();
        self.findings.push(Finding { path, kind, effect, detail });
    }

    /// The text the next save writes for the leaf `value`: 0.6's rules,
    /// then `json.dumps` (File) or orjson (SQLite).
    fn saved_as(&self, value: &Value) -> String {
        let saved = match serialize_on(value.clone(), self.registry, self.path) {
            Ok(saved) => saved,
            Err(e) => return format!("(an error: {e})"),
        };
        let text = match self.backend {
            Backend06::File => to_python_json(&saved, KeyOrder::Sorted).map_err(|e| e.to_string()),
            Backend06::Sqlite => to_orjson(&saved).map_err(|e| e.to_string()),
        };
        text.unwrap_or_else(|e| format!("(an error: {e})"))
    }

    /// A value that is serialized, at `depth` as the serializer sees it.
    fn value(&mut self, value: &Value, at: &[Segment], depth: usize) {
        match value {
            Value::Dict(dict) => {
                if self.complex_shaped(value, at) {
                    return;
                }
                if self.cut(dict.len(), "dict", at, depth) {
                    return;
                }
                for (key, item) in dict.iter() {
                    let mut inner = at.to_vec();
                    inner.push(Segment::Key(key.as_str().map_or_else(|| py_str(key, self.registry.python()), str::to_owned)));
                    self.leaf(key, &inner);
                    self.value(item, &inner, depth + 1);
                }
            }
            Value::List(items) => {
                if self.cut(items.len(), "list", at, depth) {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    let mut inner = at.to_vec();
                    inner.push(Segment::Index(i));
                    self.value(item, &inner, depth + 1);
                }
            }
            leaf => self.leaf(leaf, at),
        }
    }

    /// A container at `depth` whose items (and keys) are past the cut-off:
    /// reported once, for the container.
    fn cut(&mut self, items: usize, type_name: &str, at: &[Segment], depth: usize) -> bool {
        let Some(max) = self.rules.max_depth.filter(|max| depth >= *max && items > 0) else { return false };
        let detail = format!(
            "this {type_name} is at depth {depth} for 0.6's {}: its {items} item(s) are past the cut-off ({max}) and become \"<max-depth-exceeded:TYPE>\" on the next save{}",
            self.backend.name(),
            if type_name == "dict" { ", keys included" } else { "" }
        );
        self.found(at, Kind::Depth, Effect::Loss, detail);
        true
    }

    /// A dict 0.6's load revives as a complex; true when it is one.
    fn complex_shaped(&mut self, value: &Value, at: &[Segment]) -> bool {
        let Value::Dict(dict) = value else { return false };
        let revived = match as_complex(value) {
            Ok(Some(revived)) => revived,
            Ok(None) => return false,
            Err(e) => {
                let detail =
                    format!("0.6's load revives {{\"real\", \"imag\"}} dicts as complex, and this one's int part raises {e}: the run cannot be loaded");
                self.found(at, Kind::ComplexShaped, Effect::Loss, detail);
                return true;
            }
        };
        let Value::Complex(re, im) = revived else { return false };
        let exact = |key: &str, part: f64| match dict.get(key) {
            Some(Value::Int(n)) => int_is(n, part),
            _ => true,
        };
        let nulled = self.backend == Backend06::Sqlite && !(re.is_finite() && im.is_finite());
        let effect = if !exact("real", re) || !exact("imag", im) || nulled { Effect::Loss } else { Effect::Change };
        let detail = format!(
            "0.6's load makes it complex({}, {}), not a dict; the next save writes {}{}",
            float_repr(re),
            float_repr(im),
            self.saved_as(&revived),
            match (effect, nulled) {
                (Effect::Loss, true) => " (orjson writes NaN and infinities as null)",
                (Effect::Loss, false) => " (an int part does not survive as a float)",
                _ => "",
            }
        );
        self.found(at, Kind::ComplexShaped, effect, detail);
        true
    }

    /// A value that is not a container (or a dict key).
    fn leaf(&mut self, value: &Value, at: &[Segment]) {
        match value {
            Value::Int(n) if self.backend == Backend06::Sqlite && !orjson_writes(n) => {
                let detail = format!(
                    "outside [{}, {}]: 0.6's SQLiteBackend writes with orjson, and the next save fails ({})",
                    ORJSON_INTS.start(),
                    ORJSON_INTS.end(),
                    OrjsonError::IntegerRange
                );
                self.found(at, Kind::IntRange, Effect::Loss, detail);
            }
            Value::SurrogateStr(_) if self.backend == Backend06::Sqlite => {
                let detail = format!("a lone surrogate: 0.6's SQLiteBackend writes with orjson, and the next save fails ({})", OrjsonError::Surrogate);
                self.found(at, Kind::LoneSurrogate, Effect::Loss, detail);
            }
            Value::Float(x) if !x.is_finite() => {
                let detail = format!("loaded as the float {}; the next save writes {} (a string)", float_repr(*x), self.saved_as(value));
                self.found(at, Kind::NonFinite, Effect::Change, detail);
            }
            _ => {}
        }
    }

    /// A SQLite column stored as it is: sqlite3 encodes a str as UTF-8.
    fn column(&mut self, value: &Value, at: &[Segment]) {
        if let Value::SurrogateStr(_) = value {
            let detail = "a lone surrogate in a text column: sqlite3 cannot encode it as UTF-8, and the next save fails (UnicodeEncodeError)".to_owned();
            self.found(at, Kind::LoneSurrogate, Effect::Loss, detail);
        }
    }

    /// `created_at` / `updated_at`: 0.6's SQLiteBackend loads them with
    /// `datetime.fromisoformat`; its FileBackend returns the text, which
    /// `WorkflowState` parses when the run resumes.
    fn timestamp(&mut self, value: &Value, at: &[Segment]) {
        let refused = match value {
            Value::DateTime(_) => return,
            Value::Str(text) if DateTime::parse(text).is_ok() || Date::parse(text).is_ok() => return,
            Value::Str(text) => format!("{text:?} is no ISO 8601 datetime"),
            other if self.backend == Backend06::Sqlite => format!("the column holds {}, not text", other.type_name()),
            _ => return,
        };
        let detail = match self.backend {
            Backend06::Sqlite => format!("{refused}: 0.6's SQLiteBackend reads it with datetime.fromisoformat, which raises, so the run cannot be loaded"),
            Backend06::File => format!("{refused}: 0.6's FileBackend returns it as text, and WorkflowState refuses it when the run resumes"),
        };
        self.found(at, Kind::Timestamp, Effect::Loss, detail);
    }
}

/// Whether the float `part` is exactly the int `n`.
fn int_is(n: &Int, part: f64) -> bool {
    BigInt::from_f64(part).is_some_and(|back| part.trunc() == part && Int::from_big(back) == *n)
}
