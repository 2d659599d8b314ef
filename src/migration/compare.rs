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
use crate::text::cut;
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
        let segment = key_segment(key);
        let Some((_, stored)) = got.iter().find(|(k, _)| *k == key) else {
            return Some(format!("{} is missing", JsonPath::from_segments([segment])));
        };
        if let Some(mut found) = first_difference(value, stored) {
            found.path.push_parent(segment);
            return Some(format!("{} differs: converted {}, stored {}", found.path, cut(&to_typed_text(found.converted)), cut(&to_typed_text(found.stored))));
        }
    }
    got.iter()
        .map(|(k, _)| k)
        .find(|k| !want.iter().any(|(w, _)| w == *k) && !k.as_str().is_some_and(|k| filled.contains(&k)))
        .map(|extra| format!("the stored state has a key the converted one lacks: {}", to_typed_text(extra)))
}

/// The first place where two safe values differ, and their parts there.
struct Found<'v> {
    path: JsonPath,
    converted: &'v Value,
    stored: &'v Value,
}

fn first_difference<'v>(converted: &'v Value, stored: &'v Value) -> Option<Found<'v>> {
    let (mut found, segment) = match (converted, stored) {
        (Value::Dict(x), Value::Dict(y)) if x.len() == y.len() => x.iter().find_map(|(key, value)| match y.iter().find(|(k, _)| *k == key) {
            Some((_, other)) => first_difference(value, other).map(|found| (found, key_segment(key))),
            None => Some((Found { path: JsonPath::root(), converted: value, stored }, key_segment(key))),
        })?,
        (Value::List(x), Value::List(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q).map(|found| (found, Segment::Index(i))))?
        }
        _ => return (converted != stored).then(|| Found { path: JsonPath::root(), converted, stored }),
    };
    found.path.push_parent(segment);
    Some(found)
}

/// A dict key as a path segment (safe states have string keys only).
fn key_segment(key: &Value) -> Segment {
    Segment::Key(key.as_str().unwrap_or_default().to_owned())
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
