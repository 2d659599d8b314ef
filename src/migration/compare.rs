//! Whether a target holds a given state: the question behind "unchanged",
//! "conflict" and verification.
//!
//! Both sides are compared in the safe serialized form, since that is what
//! a backend stores: a loaded state is serialized again (a SQLite backend
//! hands `created_at` back as a datetime, which serializes to the very text
//! that was saved). Keys the target fills in on every load (the columns of
//! a table) may come back that the state lacked; any other difference is a
//! difference, and the first one is named by its JSON path.

use crate::format::{TypeRegistry, serialize};
use crate::path::{JsonPath, Segment};
use crate::typed::to_typed_text;
use crate::value::Value;

/// Where `loaded` differs from `converted` (a safe, serialized state), or
/// `None` when the target holds exactly that state. `filled` are the keys
/// the target returns whether or not they were saved.
pub fn difference(converted: &Value, loaded: Value, filled: &[&str], registry: &TypeRegistry) -> Option<String> {
    let loaded = match serialize(loaded, registry) {
        Ok(loaded) => loaded,
        Err(e) => return Some(format!("the stored state cannot be serialized again: {e}")),
    };
    let (Value::Dict(want), Value::Dict(got)) = (converted, &loaded) else {
        return (converted != &loaded).then(|| format!("the stored value is {}, not a state", loaded.type_name()));
    };
    for (key, value) in want.iter() {
        let path = JsonPath::from_segments([Segment::Key(key.as_str().unwrap_or_default().to_owned())]);
        match got.iter().find(|(k, _)| *k == key) {
            None => return Some(format!("{path} is missing")),
            Some((_, stored)) => {
                if let Some(inner) = first_difference(value, stored) {
                    let full = JsonPath::from_segments(path.segments().cloned().chain(inner.segments().cloned()));
                    return Some(format!("{full} differs: converted {}, stored {}", excerpt(value_at(value, &inner)), excerpt(value_at(stored, &inner))));
                }
            }
        }
    }
    got.iter()
        .map(|(k, _)| k)
        .find(|k| !want.iter().any(|(w, _)| w == *k) && !k.as_str().is_some_and(|k| filled.contains(&k)))
        .map(|extra| format!("the stored state has a key the converted one lacks: {}", to_typed_text(extra)))
}

/// The path of the first place where two safe values differ.
fn first_difference(a: &Value, b: &Value) -> Option<JsonPath> {
    match (a, b) {
        (Value::Dict(x), Value::Dict(y)) if x.len() == y.len() => {
            for (key, value) in x.iter() {
                let segment = Segment::Key(key.as_str().unwrap_or_default().to_owned());
                let Some((_, other)) = y.iter().find(|(k, _)| *k == key) else {
                    return Some(JsonPath::from_segments([segment]));
                };
                if let Some(inner) = first_difference(value, other) {
                    return Some(JsonPath::from_segments(std::iter::once(segment).chain(inner.segments().cloned())));
                }
            }
            None
        }
        (Value::List(x), Value::List(y)) if x.len() == y.len() => x.iter().zip(y).enumerate().find_map(|(i, (p, q))| {
            first_difference(p, q).map(|inner| JsonPath::from_segments(std::iter::once(Segment::Index(i)).chain(inner.segments().cloned())))
        }),
        _ => (a != b).then(JsonPath::root),
    }
}

/// The part of `value` at `path` (the value itself when the path leaves it).
fn value_at<'v>(value: &'v Value, path: &JsonPath) -> &'v Value {
    let mut here = value;
    for segment in path.segments() {
        let next = match (segment, here) {
            (Segment::Key(key), Value::Dict(d)) => d.get(key),
            (Segment::Index(i), Value::List(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(next) => here = next,
            None => break,
        }
    }
    here
}

/// A value as typed JSON, cut to a readable length.
fn excerpt(value: &Value) -> String {
    const WIDTH: usize = 80;
    let text = to_typed_text(value);
    if text.chars().count() <= WIDTH { text } else { format!("{}…", text.chars().take(WIDTH).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::read_strict;

    fn state(text: &str) -> Value {
        read_strict(text).unwrap().0
    }

    #[test]
    fn names_the_first_difference_and_allows_filled_keys() {
        let registry = TypeRegistry::standard();
        let converted = state(r#"{"a": {"b": [1, 2.5]}, "c": "x"}"#);
        assert_eq!(difference(&converted, converted.clone(), &[], &registry), None);
        let changed = difference(&converted, state(r#"{"a": {"b": [1, 2]}, "c": "x"}"#), &[], &registry).unwrap();
        assert!(changed.starts_with("/a/b/1 differs"), "{changed}");
        let missing = difference(&converted, state(r#"{"a": {"b": [1, 2.5]}}"#), &[], &registry).unwrap();
        assert_eq!(missing, "/c is missing");
        let extra = state(r#"{"a": {"b": [1, 2.5]}, "c": "x", "step_history": []}"#);
        assert_eq!(difference(&converted, extra.clone(), &["step_history"], &registry), None);
        assert!(difference(&converted, extra, &[], &registry).is_some());
    }
}
