//! The diff a dry run shows for its sample: what conversion changes in a
//! state, leaf by leaf. Each side is listed as `PATH = VALUE` lines sorted
//! by path, so that what only moved (keys sorted) or only changed spacing
//! and escapes drops out, and what is left is what a reviewer must see:
//! `NaN` becoming `"nan"`, a number too large becoming `"inf"`, a datetime
//! becoming its text, a repeated key collapsing.

use similar::TextDiff;

use crate::json::{KeyOrder, to_python_json};
use crate::path::{JsonPath, Segment};
use crate::typed::to_typed_text;
use crate::value::Value;

/// Diff lines shown per input; the rest are counted.
const MAX_LINES: usize = 40;

/// A unified diff from the `source` state (as read) to the `converted`
/// one, over their sorted leaf listings; `(no change in any value)` when
/// only the text's layout changes.
pub fn leaf_diff(source: &Value, converted: &Value) -> String {
    let (old, new) = (leaves(source), leaves(converted));
    if old == new {
        return "  (the converted state holds the values read; only key order, spacing and escapes differ)\n".to_owned();
    }
    let diff = TextDiff::from_lines(&old, &new);
    let unified = diff.unified_diff().context_radius(1).header("source", "converted").to_string();
    let lines: Vec<&str> = unified.lines().collect();
    let mut out: String = lines.iter().take(MAX_LINES).map(|line| format!("  {line}\n")).collect();
    if lines.len() > MAX_LINES {
        out.push_str(&format!("  … {} more diff lines\n", lines.len() - MAX_LINES));
    }
    out
}

/// `PATH = VALUE` for every leaf (scalars and empty containers), sorted.
fn leaves(value: &Value) -> String {
    let mut lines = Vec::new();
    walk(value, &mut Vec::new(), &mut lines);
    lines.sort();
    lines.concat()
}

fn walk(value: &Value, path: &mut Vec<Segment>, lines: &mut Vec<String>) {
    match value {
        Value::Dict(dict) if !dict.is_empty() => {
            for (key, item) in dict.iter() {
                path.push(Segment::Key(key.as_str().map_or_else(|| to_typed_text(key), str::to_owned)));
                walk(item, path, lines);
                path.pop();
            }
        }
        Value::List(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                walk(item, path, lines);
                path.pop();
            }
        }
        leaf => {
            let text = to_python_json(leaf, KeyOrder::Sorted).unwrap_or_else(|_| to_typed_text(leaf));
            lines.push(format!("{} = {text}\n", JsonPath::from_segments(path.iter().cloned())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::read_text;

    #[test]
    fn shows_changed_values_not_moved_keys() {
        let source = read_text(r#"{"b": NaN, "a": 1, "c": [1e400]}"#).unwrap().0;
        let converted = read_text(r#"{"a": 1, "b": "nan", "c": ["inf"]}"#).unwrap().0;
        let diff = leaf_diff(&source, &converted);
        assert!(diff.contains("-/b = NaN") && diff.contains("+/b = \"nan\""), "{diff}");
        assert!(diff.contains("-/c/0 = Infinity") && diff.contains("+/c/0 = \"inf\""), "{diff}");
        assert!(!diff.contains("-/a") && !diff.contains("+/a"), "an unchanged value is context only: {diff}");
        let moved = read_text(r#"{"a": 1, "b": 2}"#).unwrap().0;
        let sorted = read_text(r#"{"b": 2, "a": 1}"#).unwrap().0;
        assert!(leaf_diff(&moved, &sorted).contains("holds the values read"));
    }
}
