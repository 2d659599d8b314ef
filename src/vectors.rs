//! Checks the engine against reference vectors produced by the real flujo
//! (`fixtures/vectors/*.jsonl` and anything `ci/oracle/gen_oracle.py` makes):
//! for each case, `safe` (or `error`), `file_text`, `plain_text` and `loaded`.
//! A file may start with a metadata line, `{"meta": {"python": "3.12.1",
//! "unicode": "15.0.0", ...}}`, naming the Python that made it; its cases are
//! checked as that Python.

use std::fmt;
use std::io::BufRead;
use std::path::Path;

use crate::format::{PythonChoice, PythonVersion, TypeRegistry, deserialize, serialize};
use crate::json::{KeyOrder, read_strict, to_python_json};
use crate::typed::{decode, to_typed_text};
use crate::value::{Dict, Value};

/// What became of one case.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    /// Every field agreed.
    Passed,
    /// At least one field disagreed, or the line was malformed.
    Failed(Vec<Mismatch>),
    /// The case holds a value this side cannot represent.
    Skipped(String),
}

/// One field of one case that disagreed with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// `safe`, `error`, `file_text`, `plain_text`, `loaded`, `input` or `line`.
    pub field: &'static str,
    /// What flujo produced (or what was wrong with the line).
    pub expected: String,
    /// What stateharness produced.
    pub got: String,
}

/// The verdict on one line of a vectors file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// 1-based line number in the file.
    pub line: usize,
    /// The case name (or `?` when the line has none).
    pub name: String,
    /// The verdict.
    pub outcome: CaseOutcome,
}

/// Totals over a vectors file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Cases where every field agreed.
    pub passed: usize,
    /// Cases with a mismatch or a malformed line.
    pub failed: usize,
    /// Cases holding values this side cannot represent.
    pub skipped: usize,
}

impl Summary {
    /// Counts one case.
    pub fn add(&mut self, outcome: &CaseOutcome) {
        match outcome {
            CaseOutcome::Passed => self.passed += 1,
            CaseOutcome::Failed(_) => self.failed += 1,
            CaseOutcome::Skipped(_) => self.skipped += 1,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

/// The Python (full version, Unicode version) a vectors file's metadata
/// line names, if it has one.
pub fn recorded_python(path: &Path) -> std::io::Result<Option<(String, Option<String>)>> {
    let mut first = String::new();
    std::io::BufReader::new(std::fs::File::open(path)?).read_line(&mut first)?;
    let meta = meta_of(&first);
    let text = |key: &str| meta.as_ref().and_then(|m| m.get(key)).and_then(Value::as_str).map(str::to_owned);
    Ok(text("python").map(|python| (python, text("unicode"))))
}

/// The `meta` object of a metadata line.
fn meta_of(line: &str) -> Option<Dict> {
    match read_strict(line) {
        Ok((Value::Dict(line), _)) if line.len() == 1 => match line.get("meta") {
            Some(Value::Dict(meta)) => Some(meta.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Verifies a vectors file as the Python that made it: `flag`
/// (`--python-version`) must agree with the file's metadata; with neither,
/// the default Python. An unreadable file or a disagreement is an error
/// naming the file.
pub fn verify_file_as(
    path: &Path,
    registry: &TypeRegistry,
    flag: Option<PythonVersion>,
    on_case: impl FnMut(&CaseResult),
) -> Result<(PythonChoice, Summary), String> {
    let recorded = recorded_python(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let python = PythonChoice::resolve(flag, recorded.as_ref().map(|(p, u)| (p.as_str(), u.as_deref())))
        .map_err(|e| format!("{}: {}", path.display(), e.replace("the backend", "the file's metadata")))?;
    let registry = registry.clone().with_python(python.version);
    let summary = verify_file(path, &registry, on_case).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok((python, summary))
}

/// Verifies every line of a vectors file with `registry`'s Python, calling
/// `on_case` for each (a leading metadata line is not a case).
pub fn verify_file(path: &Path, registry: &TypeRegistry, mut on_case: impl FnMut(&CaseResult)) -> std::io::Result<Summary> {
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut summary = Summary::default();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() || index == 0 && meta_of(&line).is_some() {
            continue;
        }
        let result = verify_line(index + 1, &line, registry);
        summary.add(&result.outcome);
        on_case(&result);
    }
    Ok(summary)
}

fn malformed(line: usize, name: String, reason: String) -> CaseResult {
    CaseResult { line, name, outcome: CaseOutcome::Failed(vec![Mismatch { field: "line", expected: "a vectors case".into(), got: reason }]) }
}

/// Verifies one case, given as its JSON line.
pub fn verify_line(line_no: usize, line: &str, registry: &TypeRegistry) -> CaseResult {
    let case = match read_strict(line) {
        Ok((Value::Dict(case), _)) => case,
        Ok((other, _)) => return malformed(line_no, "?".into(), format!("line {line_no}: a {} instead of an object", other.type_name())),
        Err(e) => return malformed(line_no, "?".into(), format!("line {line_no}: not JSON: {e}")),
    };
    let name = case.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
    let outcome = match check_case(&case, registry) {
        Ok(mismatches) if mismatches.is_empty() => CaseOutcome::Passed,
        Ok(mismatches) => CaseOutcome::Failed(mismatches),
        Err(reason) => CaseOutcome::Failed(vec![Mismatch { field: "line", expected: "a vectors case".into(), got: format!("line {line_no}: {reason}") }]),
    };
    CaseResult { line: line_no, name, outcome }
}

fn field<'a>(case: &'a Dict, key: &str) -> Result<&'a Value, String> {
    case.get(key).ok_or_else(|| format!("no {key:?} field"))
}

fn text_field<'a>(case: &'a Dict, key: &str) -> Result<&'a str, String> {
    field(case, key)?.as_str().ok_or_else(|| format!("{key:?} is not a string"))
}

fn check_case(case: &Dict, registry: &TypeRegistry) -> Result<Vec<Mismatch>, String> {
    let typed = |key: &str| decode(field(case, key)?.clone(), registry).map_err(|e| format!("{key}: {e}"));
    let input = typed("input")?;
    let mut mismatches = Vec::new();
    let mut mismatch = |field: &'static str, expected: String, got: String| {
        mismatches.push(Mismatch { field, expected, got });
    };
    let result = serialize(input, registry);
    if let Some(expected) = case.get("error") {
        let expected = expected.as_str().ok_or("\"error\" is not a string")?;
        match &result {
            Err(e) if e.python_message() == expected => {}
            Err(e) => mismatch("error", expected.to_owned(), e.python_message()),
            Ok(safe) => mismatch("error", expected.to_owned(), format!("no error; safe = {}", to_typed_text(safe))),
        }
        return Ok(mismatches);
    }
    let expected_safe = typed("safe")?;
    let expected_file = text_field(case, "file_text")?;
    let expected_plain = text_field(case, "plain_text")?;
    let expected_loaded = typed("loaded")?;
    match result {
        Err(e) => mismatch("safe", to_typed_text(&expected_safe), format!("error: {e}")),
        Ok(mut safe) => {
            if safe != expected_safe {
                mismatch("safe", to_typed_text(&expected_safe), to_typed_text(&safe));
            }
            let file_text = to_python_json(&safe, KeyOrder::Sorted).unwrap_or_else(|e| format!("error: {e}"));
            if file_text != expected_file {
                mismatch("file_text", expected_file.to_owned(), file_text);
            }
            // Vectors files store inputs with sorted keys, so insertion order
            // comes from the reference text itself.
            if let Ok((reference, _)) = read_strict(expected_plain) {
                align_key_order(&mut safe, &reference);
            }
            let plain_text = to_python_json(&safe, KeyOrder::Insertion).unwrap_or_else(|e| format!("error: {e}"));
            if plain_text != expected_plain {
                mismatch("plain_text", expected_plain.to_owned(), plain_text);
            }
        }
    }
    // Loading reads flujo's own bytes, so the reader is checked on its own.
    match read_strict(expected_file) {
        Ok((json, _)) => {
            let loaded = deserialize(json, None, registry);
            if loaded != expected_loaded {
                mismatch("loaded", to_typed_text(&expected_loaded), to_typed_text(&loaded));
            }
        }
        Err(e) => mismatch("loaded", to_typed_text(&expected_loaded), format!("reading file_text failed: {e}")),
    }
    Ok(mismatches)
}

/// Reorders the keys of `value`'s dicts to follow `reference`'s wherever
/// both have the same keys; anything else is left as it is.
fn align_key_order(value: &mut Value, reference: &Value) {
    match (value, reference) {
        (Value::Dict(dict), Value::Dict(reference)) => {
            let same_keys = dict.len() == reference.len() && reference.iter().all(|(k, _)| dict.iter().any(|(k2, _)| k == k2));
            if same_keys {
                let mut entries: Vec<Option<(Value, Value)>> = std::mem::take(dict).into_iter().map(Some).collect();
                let mut ordered = Vec::with_capacity(entries.len());
                for (key, reference_item) in reference.iter() {
                    if let Some(slot) = entries.iter_mut().find(|e| e.as_ref().is_some_and(|(k, _)| k == key)) {
                        if let Some((k, mut v)) = slot.take() {
                            align_key_order(&mut v, reference_item);
                            ordered.push((k, v));
                        }
                    }
                }
                *dict = Dict::from_distinct(ordered);
            }
        }
        (Value::List(items), Value::List(reference)) if items.len() == reference.len() => {
            for (item, reference_item) in items.iter_mut().zip(reference) {
                align_key_order(item, reference_item);
            }
        }
        _ => {}
    }
}

/// Shortens `text` to about `width` characters around byte `focus`.
pub fn excerpt(text: &str, focus: usize, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_owned();
    }
    let focus_char = text.get(..focus.min(text.len())).map_or(0, |s| s.chars().count());
    let start = focus_char.saturating_sub(width / 3).min(chars.len() - width);
    let end = start + width;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Byte offset of the first difference between two texts.
pub fn first_difference(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}
