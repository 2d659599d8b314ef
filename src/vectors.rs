//! Checks the engine against reference vectors produced by the real flujo
//! (`fixtures/vectors/*.jsonl` and anything `ci/oracle/gen_oracle.py` or
//! `ci/oracle/gen_oracle06.py` makes). flujo 0.4 cases hold `safe` (or
//! `error`), `file_text`, `plain_text` and `loaded`; flujo 0.6 cases hold
//! both serializer paths and what InMemory, File and SQLite stored and
//! loaded (see [`check_case_06`]). A file may start with a metadata line,
//! `{"meta": {"flujo": "0.6.11", "python": "3.12.1", "unicode": "15.0.0",
//! ...}}`, naming the flujo and Python that made it; without one, the shape
//! of the first case tells the flujo. Its cases are checked as that flujo
//! and Python.

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use crate::format::{
    FlujoVersion, PythonChoice, PythonVersion, SQLITE_JSON_COLUMNS, SerializePath, TypeRegistry, deserialize, serialize, serialize_on, to_orjson,
    try_deserialize,
};
use crate::json::{KeyOrder, read_strict, to_python_json};
use crate::typed::{decode, to_typed_text};
use crate::value::{DateTime, Dict, Value};

/// What became of one case.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    /// Every field agreed.
    Passed,
    /// At least one field disagreed, or the line was malformed.
    Failed(Vec<Mismatch>),
    /// The case holds a value or field this side does not model; says which
    /// (`$timedelta`, `field extra`).
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
    /// The skipped cases by what was not modelled (`$timedelta`, ...).
    pub skipped_kinds: BTreeMap<String, usize>,
}

impl Summary {
    /// Counts one case.
    pub(crate) fn add(&mut self, outcome: &CaseOutcome) {
        match outcome {
            CaseOutcome::Passed => self.passed += 1,
            CaseOutcome::Failed(_) => self.failed += 1,
            CaseOutcome::Skipped(kind) => {
                self.skipped += 1;
                *self.skipped_kinds.entry(kind.clone()).or_default() += 1;
            }
        }
    }
}

impl fmt::Display for Summary {
    /// `N passed, M failed, K skipped`, then what the skipped cases held
    /// that is not modelled: ` (not modelled: $path 9, $timedelta 30)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)?;
        if !self.skipped_kinds.is_empty() {
            let kinds: Vec<String> = self.skipped_kinds.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
            write!(f, " (not modelled: {})", kinds.join(", "))?;
        }
        Ok(())
    }
}

/// What a vectors file says about itself: its metadata line (if any) and
/// the shape of its first case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileHeader {
    /// The Python (full version, Unicode version) the metadata names.
    pub python: Option<(String, Option<String>)>,
    /// The flujo the metadata names (`0.6.11`), else the one the first
    /// case's fields belong to, else `None` (an empty file).
    pub flujo: Option<FlujoVersion>,
    /// The metadata's `state_template` (typed JSON), for 0.6 files.
    pub state_template: Option<Value>,
}

/// The fields that only a flujo 0.6 case has.
const FIELDS_06: [&str; 2] = ["serialize_strict", "serialize_strict_error"];

/// Reads what a vectors file says about itself.
pub fn read_header(path: &Path) -> Result<FileHeader, String> {
    let reader = std::io::BufReader::new(std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?);
    let mut header = FileHeader::default();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        if index == 0 {
            if let Some(meta) = meta_of(&line) {
                let text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_owned);
                header.python = text("python").map(|python| (python, text("unicode")));
                if let Some(flujo) = text("flujo") {
                    header.flujo = Some(flujo.parse().map_err(|e| format!("{}: metadata line: {e}", path.display()))?);
                }
                header.state_template = meta.get("state_template").cloned();
                if header.flujo.is_some() {
                    return Ok(header);
                }
                continue;
            }
        }
        // The first case: its fields tell the flujo.
        if let Ok((Value::Dict(case), _)) = read_strict(&line) {
            let is_06 = FIELDS_06.iter().any(|f| case.get(f).is_some());
            header.flujo = Some(if is_06 { FlujoVersion::V0_6 } else { FlujoVersion::V0_4 });
        }
        break;
    }
    Ok(header)
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

/// Verifies a vectors file as the flujo and Python that made it, both
/// read from the file: `flujo` (`--flujo`) and `python`
/// (`--python-version`) must agree with what the file says it holds; with
/// no Python named, the flujo's default Python. An unreadable file or a
/// disagreement is an error naming the file. Returns the flujo and Python
/// the cases were checked as, and the totals.
pub fn verify_file_for(
    path: &Path,
    registry: &TypeRegistry,
    flujo: Option<FlujoVersion>,
    python: Option<PythonVersion>,
    on_case: impl FnMut(&CaseResult),
) -> Result<(FlujoVersion, PythonChoice, Summary), String> {
    let header = read_header(path)?;
    let recorded = header.flujo.unwrap_or_default();
    if let Some(wanted) = flujo.filter(|wanted| header.flujo.is_some_and(|_| *wanted != recorded)) {
        return Err(format!("{}: --flujo {wanted} was given, but the file holds flujo {} vectors", path.display(), recorded.release()));
    }
    let flujo = flujo.unwrap_or(recorded);
    let python = PythonChoice::resolve_for(flujo, python, header.python.as_ref().map(|(p, u)| (p.as_str(), u.as_deref())))
        .map_err(|e| format!("{}: {}", path.display(), e.replace("the backend", "the file's metadata")))?;
    let registry = registry.clone().with_python(python.version).with_flujo(flujo);
    let envelope = match &header.state_template {
        Some(template) => decode(template.clone(), &registry).map_err(|e| format!("{}: metadata state_template: {e}", path.display()))?,
        None => default_state_template(&registry),
    };
    let summary = verify_lines(path, &registry, &envelope, on_case).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok((flujo, python, summary))
}

/// Verifies every line of a vectors file with `registry`'s flujo and
/// Python, calling `on_case` for each (a leading metadata line is not a
/// case).
fn verify_lines(path: &Path, registry: &TypeRegistry, envelope: &Value, mut on_case: impl FnMut(&CaseResult)) -> std::io::Result<Summary> {
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut summary = Summary::default();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() || index == 0 && meta_of(&line).is_some() {
            continue;
        }
        let result = verify_case_line(index + 1, &line, registry, envelope);
        summary.add(&result.outcome);
        on_case(&result);
    }
    Ok(summary)
}

fn malformed(line: usize, name: String, reason: String) -> CaseResult {
    CaseResult { line, name, outcome: CaseOutcome::Failed(vec![Mismatch { field: "line", expected: "a vectors case".into(), got: reason }]) }
}

fn verify_case_line(line_no: usize, line: &str, registry: &TypeRegistry, envelope: &Value) -> CaseResult {
    let case = match read_strict(line) {
        Ok((Value::Dict(case), _)) => case,
        Ok((other, _)) => return malformed(line_no, "?".into(), format!("line {line_no}: a {} instead of an object", other.type_name())),
        Err(e) => return malformed(line_no, "?".into(), format!("line {line_no}: not JSON: {e}")),
    };
    let name = case.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
    let checked = match registry.flujo() {
        FlujoVersion::V0_4 => check_case(&case, registry).map(Some),
        FlujoVersion::V0_6 => check_case_06(&case, registry, envelope),
    };
    let outcome = match checked {
        Ok(None) => CaseOutcome::Skipped(not_modelled_06(&case).unwrap_or_default()),
        Ok(Some(mismatches)) if mismatches.is_empty() => CaseOutcome::Passed,
        Ok(Some(mismatches)) => CaseOutcome::Failed(mismatches),
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

/// Typed-JSON tags that flujo 0.6 vectors use for inputs this engine has
/// no value for: such a case is skipped, counted under its tag.
const UNMODELLED_TAGS: [&str; 5] = ["$timedelta", "$path", "$class", "$object", "$backref"];

/// The fields of a flujo 0.6 case.
const CASE_FIELDS_06: [&str; 9] =
    ["name", "input", "serialize_file", "serialize_file_error", "serialize_strict", "serialize_strict_error", "memory", "file", "sqlite"];

/// What a 0.6 case holds that is not modelled: a field this checker does
/// not know, or the first unmodelled tag in its input.
fn not_modelled_06(case: &Dict) -> Option<String> {
    if let Some((key, _)) = case.iter().find(|(k, _)| !k.as_str().is_some_and(|k| CASE_FIELDS_06.contains(&k))) {
        return Some(format!("field {}", key.as_str().unwrap_or("?")));
    }
    fn find(json: &Value) -> Option<&'static str> {
        match json {
            Value::List(items) => items.iter().find_map(find),
            Value::Dict(dict) => {
                let tag = (dict.len() == 1).then(|| dict.iter().next().and_then(|(k, _)| k.as_str())).flatten();
                tag.and_then(|t| UNMODELLED_TAGS.iter().find(|u| **u == t).copied()).or_else(|| dict.iter().find_map(|(_, v)| find(v)))
            }
            _ => None,
        }
    }
    case.get("input").and_then(find).map(str::to_owned)
}

/// The state flujo 0.6 vectors save when the file names none: every 0.6
/// `WorkflowState` field, as `gen_oracle06.py`'s `STATE_TEMPLATE` has them
/// (the case's value goes to `pipeline_context.v`).
const STATE_TEMPLATE_06: &str = r#"{"background_error": null, "created_at": {"$datetime": "2025-07-01T12:00:00.120000+00:00"}, "current_step_index": 2, "error_message": null, "is_background_task": false, "last_step_output": {"text": "ok", "tokens": {"$tuple": [1, 2, 3]}}, "metadata": {"source": "oracle"}, "parent_run_id": null, "pipeline_context": {"v": "<VALUE>"}, "pipeline_id": "pipe-1", "pipeline_name": "demo", "pipeline_version": "1.0", "run_id": "run-1", "status": "running", "step_history": [{"attempts": 1, "name": "step0", "output": "ok", "success": true}], "task_id": null, "updated_at": {"$datetime": "2025-07-01T12:00:05+00:00"}}"#;

/// The built-in state template (0.4 vectors need none).
fn default_state_template(registry: &TypeRegistry) -> Value {
    crate::typed::from_typed_text(STATE_TEMPLATE_06, registry).unwrap_or(Value::None)
}

/// The state saved for a case: the template with `pipeline_context = {"v": input}`.
fn state_for(envelope: &Value, input: &Value) -> Result<Dict, String> {
    let Value::Dict(template) = envelope else { return Err("the state template is not an object".into()) };
    let mut state = template.clone();
    let context: Dict = [(Value::from("v"), input.clone())].into_iter().collect();
    state.insert(Value::from("pipeline_context"), Value::Dict(context));
    Ok(state)
}

/// One backend's record in a 0.6 case: `save`, `stored` (if anything was),
/// `loaded` (typed) or `load_error`.
struct BackendRecord<'a> {
    name: &'static str,
    record: &'a Dict,
}

impl BackendRecord<'_> {
    fn get<'a>(case: &'a Dict, name: &'static str) -> Result<BackendRecord<'a>, String> {
        match case.get(name) {
            Some(Value::Dict(record)) => Ok(BackendRecord { name, record }),
            _ => Err(format!("no {name:?} object")),
        }
    }
}

/// Compares what flujo 0.6 did with what the engine does, field by field:
/// `serialize_file`/`serialize_strict` (or their `_error`), and for each of
/// `memory`, `file` and `sqlite` the `save` outcome, what was `stored` and
/// what `load_state` gave back. `Ok(None)`: the case holds something not
/// modelled (`not_modelled_06`).
pub(crate) fn check_case_06(case: &Dict, registry: &TypeRegistry, envelope: &Value) -> Result<Option<Vec<Mismatch>>, String> {
    if not_modelled_06(case).is_some() {
        return Ok(None);
    }
    let typed = |value: &Value, what: &str| decode(value.clone(), registry).map_err(|e| format!("{what}: {e}"));
    let input = typed(field(case, "input")?, "input")?;
    let mut mismatches = Vec::new();
    let mut mismatch = |field: &'static str, expected: String, got: String| mismatches.push(Mismatch { field, expected, got });

    for (key, path) in [("serialize_file", SerializePath::File), ("serialize_strict", SerializePath::Strict)] {
        let got = serialize_on(input.clone(), registry, path);
        let error_key = if key == "serialize_file" { "serialize_file_error" } else { "serialize_strict_error" };
        match (case.get(error_key), &got) {
            (Some(expected), got) => {
                let expected = expected.as_str().ok_or(format!("{error_key:?} is not a string"))?;
                match got {
                    Err(e) if e.python_message() == expected => {}
                    Err(e) => mismatch(key_static(key), expected.to_owned(), e.python_message()),
                    Ok(v) => mismatch(key_static(key), expected.to_owned(), format!("no error; {}", to_typed_text(v))),
                }
            }
            (None, got) => {
                let expected = typed(field(case, key)?, key)?;
                match got {
                    Ok(v) if *v == expected => {}
                    Ok(v) => mismatch(key_static(key), to_typed_text(&expected), to_typed_text(v)),
                    Err(e) => mismatch(key_static(key), to_typed_text(&expected), format!("error: {e}")),
                }
            }
        }
    }

    let state = state_for(envelope, &input)?;
    let memory = BackendRecord::get(case, "memory")?;
    let file = BackendRecord::get(case, "file")?;
    let sqlite = BackendRecord::get(case, "sqlite")?;

    // InMemory: json.loads(json.dumps(strict form of the whole state)), kept
    // and handed back as is (the round trip makes IntEnum members ints).
    let kept = serialize_on(Value::Dict(state.clone()), registry, SerializePath::Strict).map_err(|e| e.python_message()).and_then(|safe| {
        let text = to_python_json(&safe, KeyOrder::Insertion).map_err(|e| format!("(cannot write: {e})"))?;
        read_strict(&text).map(|(json, _)| json).map_err(|e| format!("(cannot read back: {e})"))
    });
    check_backend(&memory, registry, kept.clone().map(|v| (v.clone(), v)), &mut mismatch)?;

    // File: json.dumps(sort_keys=True) of the file-path form; loaded with safe_deserialize.
    let written = serialize_on(Value::Dict(state.clone()), registry, SerializePath::File).map_err(|e| e.python_message()).and_then(|safe| {
        let text = to_python_json(&safe, KeyOrder::Sorted).map_err(|e| format!("(cannot write: {e})"))?;
        Ok(text)
    });
    let file_outcome = match written {
        Ok(text) => {
            // Loading reads flujo's own bytes when there are any, so the reader is checked on its own.
            let source = file.record.get("stored").and_then(Value::as_str).unwrap_or(&text).to_owned();
            let loaded = match read_strict(&source) {
                Ok((json, _)) => try_deserialize(json, None, registry).map_err(|e| e.to_string()),
                Err(e) => Err(format!("(cannot read the stored text: {e})")),
            };
            Ok((Value::Str(text), loaded))
        }
        Err(e) => Err(e),
    };
    check_backend_loaded(&file, registry, file_outcome, &mut mismatch)?;

    // SQLite: one row, JSON columns as orjson text of the strict form.
    let expected_row = sqlite.record.get("stored").and_then(Value::as_dict);
    let sqlite_outcome = sqlite_row(&state, registry, expected_row).map(|row| {
        let loaded = sqlite_load(&row, registry);
        (Value::Dict(row), loaded)
    });
    check_backend_loaded(&sqlite, registry, sqlite_outcome, &mut mismatch)?;
    Ok(Some(mismatches))
}

/// The `&'static str` field name of a serializer key.
fn key_static(key: &str) -> &'static str {
    if key == "serialize_file" { "serialize_file" } else { "serialize_strict" }
}

fn check_backend(
    backend: &BackendRecord<'_>,
    registry: &TypeRegistry,
    outcome: Result<(Value, Value), String>,
    mismatch: &mut impl FnMut(&'static str, String, String),
) -> Result<(), String> {
    check_backend_loaded(backend, registry, outcome.map(|(stored, loaded)| (stored, Ok(loaded))), mismatch)
}

/// Checks `save`, `stored` and `loaded`/`load_error` of one backend against
/// `outcome`: the save error, or what was stored and what loading gives.
/// After a failed save nothing is stored and loading finds no run (`null`).
fn check_backend_loaded(
    backend: &BackendRecord<'_>,
    registry: &TypeRegistry,
    outcome: Result<(Value, Result<Value, String>), String>,
    mismatch: &mut impl FnMut(&'static str, String, String),
) -> Result<(), String> {
    let fields: [&'static str; 3] = match backend.name {
        "memory" => ["memory.save", "memory.stored", "memory.loaded"],
        "file" => ["file.save", "file.stored", "file.loaded"],
        _ => ["sqlite.save", "sqlite.stored", "sqlite.loaded"],
    };
    let save = backend.record.get("save").and_then(Value::as_str).ok_or(format!("{}: no \"save\" text", backend.name))?;
    let (stored, loaded) = match outcome {
        Ok((stored, loaded)) => {
            if save != "ok" {
                mismatch(fields[0], save.to_owned(), "ok".into());
            }
            (Some(stored), loaded)
        }
        Err(error) => {
            if save != error {
                mismatch(fields[0], save.to_owned(), error);
            }
            (None, Ok(Value::None))
        }
    };
    let expected_stored = match backend.record.get("stored") {
        // The file's text is compared as text; the rest as typed values.
        Some(Value::Str(text)) if backend.name == "file" => Some(Value::Str(text.clone())),
        Some(other) => Some(decode(other.clone(), registry).map_err(|e| format!("{}.stored: {e}", backend.name))?),
        None => None,
    };
    if expected_stored != stored {
        let show = |v: &Option<Value>| match v {
            Some(Value::Str(text)) if backend.name == "file" => text.clone(),
            Some(v) => to_typed_text(v),
            None => "(nothing stored)".into(),
        };
        mismatch(fields[1], show(&expected_stored), show(&stored));
    }
    match (backend.record.get("load_error"), loaded) {
        (Some(expected), Err(got)) if expected.as_str() == Some(got.as_str()) => {}
        (Some(expected), got) => mismatch(fields[2], format!("load error {}", to_typed_text(expected)), format!("{got:?}")),
        (None, got) => {
            let expected = decode(field(backend.record, "loaded")?.clone(), registry).map_err(|e| format!("{}.loaded: {e}", backend.name))?;
            match got {
                Ok(got) if got == expected => {}
                Ok(got) => mismatch(fields[2], to_typed_text(&expected), to_typed_text(&got)),
                Err(e) => mismatch(fields[2], to_typed_text(&expected), format!("load error: {e}")),
            }
        }
    }
    Ok(())
}

/// The `workflow_state` row flujo 0.6's SQLiteBackend.save_state writes
/// for `state` (20 columns), or its error. Key order inside the JSON text
/// follows the expected row's where both hold the same keys: vectors store
/// inputs with sorted keys, so the original insertion order is in flujo's text.
fn sqlite_row(state: &Dict, registry: &TypeRegistry, expected: Option<&Dict>) -> Result<Dict, String> {
    let mut json_columns = Vec::new();
    for column in SQLITE_JSON_COLUMNS {
        let value = state.get(column).cloned().unwrap_or(Value::None);
        // pipeline_context is always written; the others are NULL when None.
        if column != "pipeline_context" && value == Value::None {
            json_columns.push(Value::None);
            continue;
        }
        let mut strict = serialize_on(value, registry, SerializePath::Strict).map_err(|e| e.python_message())?;
        if let Some(Ok((reference, _))) = expected.and_then(|row| row.get(column)).and_then(Value::as_str).map(read_strict) {
            align_key_order(&mut strict, &reference);
        }
        json_columns.push(Value::Str(to_orjson(&strict).map_err(|e| e.to_string())?));
    }
    let [context, last_output, history, metadata]: [Value; 4] = json_columns.try_into().map_err(|_| "four JSON columns".to_owned())?;
    let plain = |key: &str| match state.get(key) {
        // sqlite3 stores a bool as the integer 0 or 1.
        Some(Value::Bool(b)) => Value::from(i64::from(*b)),
        Some(other) => other.clone(),
        None => Value::None,
    };
    // `isoformat()` of a datetime, `str()` of anything else.
    let timestamp = |key: &str| match state.get(key) {
        Some(Value::DateTime(dt)) => Value::Str(dt.to_string()),
        Some(other) => Value::Str(crate::format::py_str(other, registry.python())),
        None => Value::from("None"),
    };
    let total_steps = match state.get("total_steps") {
        Some(_) => plain("total_steps"),
        None => Value::from(0),
    };
    let flag = |key: &str| Value::from(i64::from(matches!(state.get(key), Some(v) if truthy(v))));
    let columns = vec![
        ("run_id", plain("run_id")),
        ("pipeline_id", plain("pipeline_id")),
        ("pipeline_name", plain("pipeline_name")),
        ("pipeline_version", plain("pipeline_version")),
        ("current_step_index", plain("current_step_index")),
        ("pipeline_context", context),
        ("last_step_output", last_output),
        ("step_history", history),
        ("status", plain("status")),
        ("created_at", timestamp("created_at")),
        ("updated_at", timestamp("updated_at")),
        ("total_steps", total_steps),
        ("error_message", plain("error_message")),
        ("execution_time_ms", plain("execution_time_ms")),
        ("memory_usage_mb", plain("memory_usage_mb")),
        ("metadata", metadata),
        ("is_background_task", flag("is_background_task")),
        ("parent_run_id", plain("parent_run_id")),
        ("task_id", plain("task_id")),
        ("background_error", plain("background_error")),
    ];
    Ok(columns.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
}

/// Python truthiness of the simple values a state's flags hold.
fn truthy(value: &Value) -> bool {
    match value {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(n) => n.as_i64() != Some(0),
        Value::Str(s) => !s.is_empty(),
        _ => true,
    }
}

/// What flujo 0.6 SQLiteBackend.load_state builds from a row: JSON columns
/// read and `safe_deserialize`d (defaults `{}`, `None`, `[]`, `{}` for
/// NULL), timestamps through `datetime.fromisoformat`, flags as bools.
fn sqlite_load(row: &Dict, registry: &TypeRegistry) -> Result<Value, String> {
    let column = |key: &str| row.get(key).cloned().unwrap_or(Value::None);
    let json = |key: &str, default: Value| -> Result<Value, String> {
        match row.get(key) {
            Some(Value::Str(text)) => {
                let (json, _) = read_strict(text).map_err(|e| format!("(cannot read column {key}: {e})"))?;
                try_deserialize(json, None, registry).map_err(|e| e.to_string())
            }
            _ => Ok(default),
        }
    };
    let timestamp = |key: &str| -> Result<Value, String> {
        let text = row.get(key).and_then(Value::as_str).unwrap_or_default();
        DateTime::parse(text).map(Value::DateTime).map_err(|e| format!("ValueError: Invalid isoformat string: {text:?} ({e})"))
    };
    let total_steps = match row.get("total_steps") {
        Some(v) if truthy(v) => v.clone(),
        _ => Value::from(0),
    };
    let fields = vec![
        ("run_id", column("run_id")),
        ("pipeline_id", column("pipeline_id")),
        ("pipeline_name", column("pipeline_name")),
        ("pipeline_version", column("pipeline_version")),
        ("current_step_index", column("current_step_index")),
        ("pipeline_context", json("pipeline_context", Value::Dict(Dict::new()))?),
        ("last_step_output", json("last_step_output", Value::None)?),
        ("step_history", json("step_history", Value::List(Vec::new()))?),
        ("status", column("status")),
        ("created_at", timestamp("created_at")?),
        ("updated_at", timestamp("updated_at")?),
        ("total_steps", total_steps),
        ("error_message", column("error_message")),
        ("execution_time_ms", column("execution_time_ms")),
        ("memory_usage_mb", column("memory_usage_mb")),
        ("metadata", json("metadata", Value::Dict(Dict::new()))?),
        ("is_background_task", Value::Bool(row.get("is_background_task").is_some_and(truthy))),
        ("parent_run_id", column("parent_run_id")),
        ("task_id", column("task_id")),
        ("background_error", column("background_error")),
    ];
    Ok(Value::Dict(fields.into_iter().map(|(k, v)| (Value::from(k), v)).collect()))
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
#[cfg(feature = "cli")]
pub(crate) fn excerpt(text: &str, focus: usize, width: usize) -> String {
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
#[cfg(feature = "cli")]
pub(crate) fn first_difference(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

#[cfg(test)]
mod tests;
