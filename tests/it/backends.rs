//! The built-in backends against real storage: a temp directory, a temp
//! SQLite file, and the Redis and PostgreSQL servers of `crate::common::servers`
//! (never a mock). Every test writes only under a name of its own (a
//! directory, a key prefix, a table) and removes it afterwards, also when
//! it fails.
//!
//! Only what is specific to a backend is here (the values each hands back
//! as flujo's does, file bytes, rows and schemas, keys, refusals, two
//! handles on one storage); the contract every backend keeps (listing with
//! `_`, `%`, globs and multi-byte prefixes, persistence, run ids) is the
//! conformance suite's, which `conformance_backends` runs on each.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stateharness::Value;
use stateharness::backends::codec::{state_to_text, text_to_state};
use stateharness::backends::{ErrorKind, StateBackend, open_backend};
use stateharness::format::{TypeHints, TypeRegistry, deserialize_with_hints, fields, serialize};
use stateharness::json::{KeyOrder, read_text, to_python_json};
use stateharness::value::{DateTime, Dict, Instance};

use rusqlite::types::Value as Sql;

use crate::common::registry;
use crate::common::servers;

// ---------------------------------------------------------------- helpers

/// A name no other test (nor another run of this one) uses.
fn unique(name: &str) -> String {
    format!("sh-test-{}-{name}-", std::process::id())
}

fn dict(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(pairs.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
}

fn datetime(text: &str) -> Value {
    Value::DateTime(DateTime::parse(text).expect("test datetime"))
}

fn money(amount: &str) -> Value {
    Value::Custom(Box::new(Instance { type_name: "Money".into(), fields: fields([("amount", Value::from(amount)), ("currency", Value::from("EUR"))]) }))
}

fn keys(value: &Value) -> Vec<String> {
    value.as_dict().map(|d| d.iter().map(|(k, _)| k.as_str().unwrap_or("?").to_owned()).collect()).unwrap_or_default()
}

fn get<'a>(value: &'a Value, key: &str) -> &'a Value {
    value.as_dict().and_then(|d| d.get(key)).unwrap_or_else(|| panic!("no key {key:?} in {value:?}"))
}

/// A WorkflowState-shaped state (docs/storage.md) whose context holds `payload`
/// beside values flujo does not hand back as they were (a datetime, a set,
/// a NaN, a custom type, a tuple).
fn workflow_state(run_id: &str, step: i64, payload: Value) -> Value {
    dict(vec![
        ("run_id", Value::from(run_id)),
        ("pipeline_id", Value::from("pipe-1")),
        ("pipeline_name", Value::from("demo")),
        ("pipeline_version", Value::from("1.0")),
        ("current_step_index", Value::from(step)),
        (
            "pipeline_context",
            dict(vec![
                ("payload", payload),
                ("zeta", Value::from(1)),
                ("alpha", Value::Tuple(vec![Value::from(1), Value::from("a")])),
                ("price", money("3.50")),
                ("when", datetime("2025-07-01T12:00:00.120000+05:30")),
                ("tags", Value::Set(vec![Value::from(10), Value::from(2), Value::from(1)])),
                ("ratio", Value::Float(f64::NAN)),
            ]),
        ),
        ("last_step_output", dict(vec![("n", Value::from(step))])),
        ("step_history", Value::List(vec![dict(vec![("name", Value::from("step0")), ("ok", Value::from(true))])])),
        ("status", Value::from("running")),
        ("created_at", datetime("2025-07-01T12:00:00.120000+05:30")),
        ("updated_at", datetime("2025-07-01T12:00:01+00:00")),
    ])
}

/// What a text backend (file, Redis, Postgres) hands back for `state`:
/// `safe_deserialize(json.loads(json.dumps(safe_serialize(state))))`.
fn text_loaded(state: &Value, order: KeyOrder, hints: &TypeHints) -> Value {
    let registry = TypeRegistry::standard();
    let text = state_to_text(state, order, &registry).expect("serializable test state");
    text_to_state(&text, hints, &registry, "expected").expect("readable text")
}

/// `json.loads(json.dumps(safe_serialize(value)))`.
fn json_round_trip(value: &Value) -> Value {
    let safe = serialize(value.clone(), &TypeRegistry::standard()).expect("serializable");
    read_text(&to_python_json(&safe, KeyOrder::Insertion).expect("writable")).expect("readable").0
}

/// What flujo's SQLiteBackend hands back for `state` saved under `run_id`
/// (docs/storage.md): every column, in schema order.
fn sqlite_loaded(run_id: &str, state: &Value, hints: &TypeHints) -> Value {
    let field = |key: &str| state.as_dict().and_then(|d| d.get(key)).cloned();
    let json_or = |key: &str, default: Value| match field(key) {
        None | Some(Value::None) => default,
        Some(value) => json_round_trip(&value),
    };
    let loaded = dict(vec![
        ("run_id", Value::from(run_id)),
        ("pipeline_id", field("pipeline_id").unwrap_or_default()),
        ("pipeline_name", field("pipeline_name").unwrap_or_default()),
        ("pipeline_version", field("pipeline_version").unwrap_or_default()),
        ("current_step_index", field("current_step_index").unwrap_or_default()),
        ("pipeline_context", json_or("pipeline_context", Value::Dict(Dict::new()))),
        ("last_step_output", json_or("last_step_output", Value::None)),
        ("step_history", json_or("step_history", Value::List(Vec::new()))),
        ("status", field("status").unwrap_or_default()),
        ("created_at", field("created_at").unwrap_or_default()),
        ("updated_at", field("updated_at").unwrap_or_default()),
        ("total_steps", field("total_steps").unwrap_or(Value::from(0))),
        ("error_message", field("error_message").unwrap_or_default()),
        ("execution_time_ms", field("execution_time_ms").unwrap_or_default()),
        ("memory_usage_mb", field("memory_usage_mb").unwrap_or_default()),
    ]);
    deserialize_with_hints(loaded, hints, &TypeRegistry::standard())
}

/// What a backend hands back for `state` saved under `run_id`.
type Expect = fn(&str, &Value, &TypeHints) -> Value;

fn file_expect(_: &str, state: &Value, hints: &TypeHints) -> Value {
    text_loaded(state, KeyOrder::Sorted, hints)
}

fn insertion_expect(_: &str, state: &Value, hints: &TypeHints) -> Value {
    text_loaded(state, KeyOrder::Insertion, hints)
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(name));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deletes every Redis key under a prefix on drop (a failed test too).
struct RedisKeys {
    url: String,
    prefix: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let cleanup = || -> redis::RedisResult<()> {
            let mut conn = redis::Client::open(self.url.as_str())?.get_connection()?;
            let pattern: String = self.prefix.chars().flat_map(|c| if "*?[]\\".contains(c) { vec!['\\', c] } else { vec![c] }).collect::<String>() + "*";
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query(&mut conn)?;
                if !keys.is_empty() {
                    redis::cmd("DEL").arg(keys).query::<()>(&mut conn)?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        };
        if let Err(e) = cleanup() {
            eprintln!("could not delete the Redis keys under {:?}: {e}", self.prefix);
        }
    }
}

/// Drops a Postgres table on drop (a failed test too). Drop cannot await,
/// so the work runs on a thread with a runtime of its own.
struct PgTable {
    url: String,
    table: String,
}

impl Drop for PgTable {
    fn drop(&mut self) {
        let (url, table) = (self.url.clone(), self.table.clone());
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP TABLE IF EXISTS \"{table}\"")).await.map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the table {}: {dropped:?}", self.table);
        }
    }
}

/// `url` with `name=value` added to its query.
fn with_param(url: &str, name: &str, value: &str) -> String {
    format!("{url}{}{name}={value}", if url.contains('?') { '&' } else { '?' })
}

/// A backend on the test server under `prefix`; `None` (the test is not
/// run) without a server.
async fn redis_backend(prefix: &str) -> Option<(Box<dyn StateBackend>, String, RedisKeys)> {
    let server = servers::redis().await?;
    let url = with_param(&server, "prefix", prefix);
    let backend = open_backend(&url, registry()).await.unwrap_or_else(|e| panic!("{e}"));
    Some((backend, url, RedisKeys { url: server, prefix: prefix.to_owned() }))
}

/// A backend on a table of its own; `None` (the test is not run) without a
/// server.
async fn postgres_backend(name: &str) -> Option<(Box<dyn StateBackend>, String, PgTable)> {
    let server = servers::postgres().await?;
    let table = unique(name).replace('-', "_");
    let guard = PgTable { url: server.clone(), table: table.clone() };
    let url = with_param(&server, "table", &table);
    let backend = open_backend(&url, registry()).await.unwrap_or_else(|e| panic!("{e}"));
    Some((backend, url, guard))
}

// ------------------------------------------------------- shared checks

/// Save, load, overwrite, delete, missing ids, type hints.
async fn check_round_trips(backend: &dyn StateBackend, prefix: &str, expect: Expect) {
    let id = format!("{prefix}basic");
    let none = TypeHints::new();
    assert_eq!(backend.load_state(&id, &none).await.unwrap(), None, "missing load");
    backend.delete_state(&id).await.expect("delete of a missing state");

    let first = workflow_state(&id, 1, Value::from("one"));
    backend.save_state(&id, &first).await.unwrap();
    let loaded = backend.load_state(&id, &none).await.unwrap().expect("saved state");
    let expected = expect(&id, &first, &none);
    assert_eq!(loaded, expected);
    assert_eq!(keys(&loaded), keys(&expected), "key order");
    // What flujo hands back is not what it was given (docs/format.md).
    let context = get(&loaded, "pipeline_context");
    assert_eq!(get(context, "when"), &Value::from("2025-07-01T12:00:00.120000+05:30"));
    assert_eq!(get(context, "ratio"), &Value::from("nan"));
    assert_eq!(get(context, "tags"), &Value::List(vec![Value::from(1), Value::from(10), Value::from(2)]));
    assert_eq!(get(context, "price"), &dict(vec![("amount", Value::from("3.50")), ("currency", Value::from("EUR"))]));

    let hints: TypeHints = [("/pipeline_context/price".to_owned(), "Money".to_owned())].into();
    let hinted = backend.load_state(&id, &hints).await.unwrap().expect("saved state");
    assert_eq!(get(get(&hinted, "pipeline_context"), "price"), &money("3.50"));
    assert_eq!(hinted, expect(&id, &first, &hints));

    let second = workflow_state(&id, 2, Value::from("two"));
    backend.save_state(&id, &second).await.unwrap();
    assert_eq!(backend.load_state(&id, &none).await.unwrap(), Some(expect(&id, &second, &none)), "overwrite");

    backend.delete_state(&id).await.unwrap();
    assert_eq!(backend.load_state(&id, &none).await.unwrap(), None, "after delete");
    backend.delete_state(&id).await.expect("second delete");
}

/// Each id saves, loads, lists and deletes.
async fn check_ids(backend: &dyn StateBackend, prefix: &str, ids: &[String], expect: Expect) {
    let none = TypeHints::new();
    for id in ids {
        let state = workflow_state(id, 3, Value::from(id.as_str()));
        backend.save_state(id, &state).await.unwrap_or_else(|e| panic!("saving {id:?}: {e}"));
        assert_eq!(backend.load_state(id, &none).await.unwrap(), Some(expect(id, &state, &none)), "{id:?}");
        assert!(backend.list_states(prefix).await.unwrap().contains(id), "{id:?} listed");
        backend.delete_state(id).await.unwrap();
        assert_eq!(backend.load_state(id, &none).await.unwrap(), None, "{id:?} deleted");
    }
}

/// Each id is refused by every operation as `invalid_run_id`.
async fn check_refused(backend: &dyn StateBackend, ids: &[String]) {
    let state = workflow_state("x", 0, Value::None);
    for id in ids {
        let kinds = [
            backend.save_state(id, &state).await.err().map(|e| e.kind),
            backend.load_state(id, &TypeHints::new()).await.err().map(|e| e.kind),
            backend.delete_state(id).await.err().map(|e| e.kind),
        ];
        assert_eq!(kinds, [Some(ErrorKind::InvalidRunId); 3], "{id:?}");
    }
}

/// Ids every backend but the file backend accepts.
fn long_and_odd_ids(prefix: &str) -> Vec<String> {
    vec![format!("{prefix}{}", "x".repeat(1024 - prefix.len())), format!("{prefix}😀🎉 ü"), format!("{prefix}a/b\\..c"), format!("{prefix}new\nline\ttab")]
}

/// NUL, astral and several-MB strings go through.
async fn check_large_values(backend: &dyn StateBackend, prefix: &str, expect: Expect) {
    let none = TypeHints::new();
    let id = format!("{prefix}large");
    let big = "0123456789abcdef\u{0}😀é\u{7f}".repeat(150_000);
    assert!(big.len() > 3_000_000);
    for payload in [Value::from("a\u{0}b"), Value::from("𝄞\u{10FFFF}\u{0}"), Value::from(big)] {
        let state = workflow_state(&id, 4, payload.clone());
        backend.save_state(&id, &state).await.unwrap();
        let loaded = backend.load_state(&id, &none).await.unwrap().expect("saved state");
        assert_eq!(get(get(&loaded, "pipeline_context"), "payload"), &payload);
        assert_eq!(loaded, expect(&id, &state, &none));
    }
    backend.delete_state(&id).await.unwrap();
}

/// Saves of different states to one id, from two backend instances at
/// once, with loads in between: every load is None or one of the states.
async fn check_concurrent(backends: [Arc<dyn StateBackend>; 2], id: &str, expect: Expect) {
    let none = TypeHints::new();
    // Big enough that a torn write would show.
    let states: Vec<Value> = (0..4).map(|i| workflow_state(id, i, Value::from(char::from(b'a' + i as u8).to_string().repeat(200_000)))).collect();
    let expected: Arc<Vec<Value>> = Arc::new(states.iter().map(|s| expect(id, s, &none)).collect());
    let mut tasks = Vec::new();
    for (i, state) in states.into_iter().enumerate() {
        let backend = Arc::clone(&backends[i % 2]);
        let id = id.to_owned();
        tasks.push(tokio::spawn(async move {
            for _ in 0..6 {
                backend.save_state(&id, &state).await.unwrap();
            }
            0
        }));
    }
    for i in 0..4 {
        let backend = Arc::clone(&backends[i % 2]);
        let (id, expected) = (id.to_owned(), Arc::clone(&expected));
        tasks.push(tokio::spawn(async move {
            let mut seen = 0;
            for _ in 0..12 {
                if let Some(loaded) = backend.load_state(&id, &TypeHints::new()).await.unwrap() {
                    assert!(expected.contains(&loaded), "a load that is none of the saved states");
                    seen += 1;
                }
            }
            seen
        }));
    }
    let mut loads = 0;
    for task in tasks {
        loads += task.await.expect("task");
    }
    let last = backends[0].load_state(id, &none).await.unwrap().expect("saved");
    assert!(expected.contains(&last));
    eprintln!("{}: {loads} loads saw a state, none mixed", backends[0].describe());
    backends[0].delete_state(id).await.unwrap();
}

// ------------------------------------------------------------------ file

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backend_contract() {
    let dir = TempDir::new("file-contract");
    let url = format!("file://{}/states", dir.path().display());
    let backend = open_backend(&url, registry()).await.unwrap();
    assert_eq!(backend.describe(), url);
    assert_eq!(backend.capabilities().names(), ["concurrent", "persistent", "list", "shared"]);
    check_round_trips(&*backend, "p-", file_expect).await;
    let ids = ["p-😀🎉 ü".to_owned(), format!("p-{}", "y".repeat(248)), "p-.hidden.json".to_owned(), "p-a.b c".to_owned()];
    assert_eq!(ids[1].len() + ".json".len(), 255);
    check_ids(&*backend, "p-", &ids, file_expect).await;
    check_large_values(&*backend, "p-", file_expect).await;
    // No temp file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("states")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backend_refuses_ids_it_cannot_name() {
    let dir = TempDir::new("file-refuse");
    let backend = open_backend(&format!("file://{}", dir.path().display()), registry()).await.unwrap();
    let ids: Vec<String> = ["", "a/b", "/etc/passwd", "a\\b", "a\0b", ".", "..", "../x", "a..b", "x/../../y"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("p-{}", "y".repeat(249)), "z".repeat(1024), "😀".repeat(63)])
        .collect();
    check_refused(&*backend, &ids).await;
    let err = backend.save_state("../escape", &workflow_state("x", 0, Value::None)).await.unwrap_err();
    assert!(err.message.starts_with("Invalid run_id: '../escape'"), "{err}");
    assert!(backend.list_states("").await.unwrap().is_empty());
    assert!(!dir.path().parent().unwrap().join("escape.json").exists());
}

/// The file's bytes are flujo's FileBackend bytes: every converted legacy
/// file of the legacy corpus, loaded and saved again under its id, comes out
/// byte for byte the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backend_writes_flujo_file_bytes() {
    let dir = TempDir::new("file-bytes");
    let expected_dir = crate::common::legacy_corpus().join("legacy-expected");
    let backend = open_backend(&format!("file://{}", dir.path().display()), registry()).await.unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&expected_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(id) = name.strip_suffix(".json") else { continue };
        let original = std::fs::read(&path).unwrap();
        let copy = dir.path().join(&name);
        std::fs::write(&copy, &original).unwrap();
        let state = backend.load_state(id, &TypeHints::new()).await.unwrap().expect("copied file");
        std::fs::remove_file(&copy).unwrap();
        backend.save_state(id, &state).await.unwrap();
        let written = std::fs::read(&copy).unwrap();
        assert!(written == original, "{name}: the saved bytes differ from flujo's");
        checked += 1;
    }
    assert_eq!(checked as u64, crate::common::legacy_count("legacy-expected"));
    assert!(dir.path().join("run-000000.json").exists());

    // A state's file is json.dumps(safe_serialize(state), sort_keys=True).
    let state = workflow_state("s", 1, Value::from("a\u{0}b"));
    backend.save_state("s", &state).await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("s.json")).unwrap();
    let safe = serialize(state, &TypeRegistry::standard()).unwrap();
    assert_eq!(text, to_python_json(&safe, KeyOrder::Sorted).unwrap());
    assert!(text.starts_with(r#"{"created_at": "2025-07-01T12:00:00.120000+05:30", "current_step_index": 1, "#), "{text}");
    assert!(text.contains(r#""payload": "a\u0000b""#) && !text.ends_with('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backend_concurrent_saves_never_mix() {
    let dir = TempDir::new("file-concurrent");
    let url = format!("file://{}", dir.path().display());
    let backends: [Arc<dyn StateBackend>; 2] =
        [Arc::from(open_backend(&url, registry()).await.unwrap()), Arc::from(open_backend(&url, registry()).await.unwrap())];
    check_concurrent(backends, "same-id", file_expect).await;
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temp files left");
}

// ---------------------------------------------------------------- sqlite

fn sqlite_url(dir: &TempDir, file: &str) -> String {
    format!("sqlite://{}", dir.path().join(file).display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_contract() {
    let dir = TempDir::new("sqlite-contract");
    // The parent directory is created too.
    let url = sqlite_url(&dir, "sub/state.db");
    let backend = open_backend(&url, registry()).await.unwrap();
    assert_eq!(backend.describe(), url);
    check_round_trips(&*backend, "p-", sqlite_loaded).await;
    let mut ids = long_and_odd_ids("p-");
    ids.push("p-".to_owned());
    check_ids(&*backend, "p-", &ids, sqlite_loaded).await;
    check_large_values(&*backend, "p-", sqlite_loaded).await;
    backend.close().await.unwrap();
    assert!(backend.load_state("p-x", &TypeHints::new()).await.unwrap_err().message.contains("closed"));
}

/// The row is flujo's: scalar columns, insertion-order JSON text, isoformat
/// timestamps, NULLs where flujo writes NULL; WAL journal; the schema and
/// indexes of docs/storage.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_writes_flujo_rows() {
    let dir = TempDir::new("sqlite-rows");
    let url = sqlite_url(&dir, "state.db");
    let backend = open_backend(&url, registry()).await.unwrap();
    let mut state = workflow_state("r1", 7, Value::from("a\u{0}b"));
    if let Value::Dict(d) = &mut state {
        d.insert(Value::from("last_step_output"), Value::None);
        d.insert(Value::from("total_steps"), Value::from(9));
        d.insert(Value::from("error_message"), Value::from("boom: é"));
        d.insert(Value::from("memory_usage_mb"), Value::Float(1.5));
        d.insert(Value::from("updated_at"), Value::from("not a datetime"));
    }
    backend.save_state("r1", &state).await.unwrap();
    let loaded = backend.load_state("r1", &TypeHints::new()).await.unwrap().unwrap();
    assert_eq!(loaded, sqlite_loaded("r1", &state, &TypeHints::new()));
    assert_eq!(
        keys(&loaded),
        [
            "run_id",
            "pipeline_id",
            "pipeline_name",
            "pipeline_version",
            "current_step_index",
            "pipeline_context",
            "last_step_output",
            "step_history",
            "status",
            "created_at",
            "updated_at",
            "total_steps",
            "error_message",
            "execution_time_ms",
            "memory_usage_mb"
        ]
    );
    assert_eq!(get(&loaded, "created_at"), &datetime("2025-07-01T12:00:00.120000+05:30"));
    assert_eq!(get(&loaded, "updated_at"), &Value::from("not a datetime"));
    backend.close().await.unwrap();

    let conn = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    let journal: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["idx_workflow_state_created_at", "idx_workflow_state_status"]);
    let row: Vec<Sql> = conn
        .query_row(
            "SELECT run_id, pipeline_id, pipeline_name, pipeline_version, current_step_index, pipeline_context, last_step_output, \
             step_history, status, created_at, updated_at, total_steps, error_message, execution_time_ms, memory_usage_mb FROM workflow_state",
            [],
            |r| (0..15).map(|i| r.get(i)).collect(),
        )
        .unwrap();
    let context = get(&state, "pipeline_context").clone();
    let context_text = to_python_json(&serialize(context, &TypeRegistry::standard()).unwrap(), KeyOrder::Insertion).unwrap();
    assert!(context_text.starts_with(r#"{"payload": "a\u0000b", "zeta": 1, "alpha": [1, "a"], "price": {"amount": "3.50""#), "{context_text}");
    let text = |s: &str| Sql::Text(s.to_owned());
    assert_eq!(
        row,
        [
            text("r1"),
            text("pipe-1"),
            text("demo"),
            text("1.0"),
            Sql::Integer(7),
            Sql::Text(context_text),
            Sql::Null,
            text(r#"[{"name": "step0", "ok": true}]"#),
            text("running"),
            text("2025-07-01T12:00:00.120000+05:30"),
            text("not a datetime"),
            Sql::Integer(9),
            text("boom: é"),
            Sql::Null,
            Sql::Real(1.5),
        ]
    );
}

/// A pre-0.7 table (no `step_history`, orjson text) reads as flujo read
/// it, and reading leaves it as it was; the first save adds the column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_reads_legacy_tables() {
    let dir = TempDir::new("sqlite-legacy");
    let db = dir.path().join("legacy.sqlite");
    std::fs::copy(crate::common::legacy_corpus().join("legacy.sqlite"), &db).unwrap();
    let columns = |db: &Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut statement = conn.prepare("SELECT name FROM pragma_table_info('workflow_state')").unwrap();
        statement.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let before = columns(&db);
    assert!(!before.contains(&"step_history".to_owned()));

    let url = format!("sqlite://{}", db.display());
    let backend = open_backend(&url, registry()).await.unwrap();
    let files = open_backend(&format!("file://{}/files", dir.path().display()), registry()).await.unwrap();
    let expected_dir = crate::common::legacy_corpus().join("legacy-sqlite-expected");
    let ids = backend.list_states("run-").await.unwrap();
    assert_eq!(ids.len() as u64, crate::common::legacy_count("legacy-sqlite-expected"));
    for id in &ids {
        let mut state = backend.load_state(id, &TypeHints::new()).await.unwrap().expect("legacy row");
        let Value::Dict(d) = &mut state else { panic!("not a dict") };
        assert_eq!(d.get("step_history"), Some(&Value::List(Vec::new())), "{id}");
        assert!(matches!(d.get("created_at"), Some(Value::DateTime(_))), "{id}");
        // legacy-sqlite-expected holds what flujo's load returned (the
        // fourteen columns), written by the FileBackend.
        let d: Dict = std::mem::take(d).into_iter().filter(|(k, _)| k.as_str() != Some("step_history")).collect();
        files.save_state(id, &Value::Dict(d)).await.unwrap();
        let written = std::fs::read(dir.path().join("files").join(format!("{id}.json"))).unwrap();
        let expected = std::fs::read(expected_dir.join(format!("{id}.json"))).unwrap();
        assert!(written == expected, "{id}: differs from legacy-sqlite-expected");
    }
    backend.close().await.unwrap();
    assert_eq!(columns(&db), before, "reading changed the table");

    // `early` sees the table before the other connection's first save.
    let early = open_backend(&url, registry()).await.unwrap();
    let backend = open_backend(&url, registry()).await.unwrap();
    let state = workflow_state("new", 1, Value::from("x"));
    backend.save_state("new", &state).await.unwrap();
    let expected = Some(sqlite_loaded("new", &state, &TypeHints::new()));
    assert_eq!(backend.load_state("new", &TypeHints::new()).await.unwrap(), expected);
    assert_eq!(early.load_state("new", &TypeHints::new()).await.unwrap(), expected, "step_history seen by a connection opened before");
    assert!(columns(&db).contains(&"step_history".to_owned()));
    let old = backend.load_state(&ids[0], &TypeHints::new()).await.unwrap().unwrap();
    assert_eq!(get(&old, "step_history"), &Value::List(Vec::new()));
    assert_eq!(backend.list_states("").await.unwrap().len() as u64, crate::common::legacy_count("legacy-sqlite-expected") + 1);
}

/// SQLite keeps a NUL inside TEXT (checked here): such ids are accepted,
/// loaded and listed exactly, prefixes with NUL included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_keeps_nul_in_run_ids() {
    let dir = TempDir::new("sqlite-nul");
    let backend = open_backend(&sqlite_url(&dir, "nul.db"), registry()).await.unwrap();
    let ids = ["n-a\0b".to_owned(), "n-a\0c".to_owned(), "n-a".to_owned(), "n-\0".to_owned()];
    for id in &ids {
        backend.save_state(id, &workflow_state(id, 1, Value::from(id.as_str()))).await.unwrap();
    }
    for id in &ids {
        let loaded = backend.load_state(id, &TypeHints::new()).await.unwrap().expect("saved");
        assert_eq!(get(&loaded, "run_id"), &Value::from(id.as_str()));
        assert_eq!(get(get(&loaded, "pipeline_context"), "payload"), &Value::from(id.as_str()));
    }
    let list = |prefix: &'static str| backend.list_states(prefix);
    assert_eq!(list("n-").await.unwrap(), ["n-\0", "n-a", "n-a\0b", "n-a\0c"]);
    assert_eq!(list("n-a\0").await.unwrap(), ["n-a\0b", "n-a\0c"]);
    assert_eq!(list("n-a\0c").await.unwrap(), ["n-a\0c"]);
    backend.delete_state("n-a\0b").await.unwrap();
    assert_eq!(backend.load_state("n-a\0b", &TypeHints::new()).await.unwrap(), None);
    assert!(backend.load_state("n-a\0c", &TypeHints::new()).await.unwrap().is_some());
}

/// States that do not fit flujo's row are refused as `unsupported`, with
/// the field named; nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_refuses_states_that_do_not_fit_the_row() {
    let dir = TempDir::new("sqlite-unsupported");
    let backend = open_backend(&sqlite_url(&dir, "u.db"), registry()).await.unwrap();
    let big: Value = Value::Int("100000000000000000000".parse().unwrap());
    let cases: Vec<(&str, Value, &str)> = vec![
        ("status", Value::from("done"), "status"),
        ("status", Value::from(3), "status"),
        ("pipeline_id", Value::from(3), "pipeline_id"),
        ("current_step_index", big.clone(), "current_step_index"),
        ("current_step_index", Value::from("3"), "current_step_index"),
        ("total_steps", big.clone(), "total_steps"),
        ("execution_time_ms", big, "execution_time_ms"),
        ("memory_usage_mb", Value::Float(f64::NAN), "memory_usage_mb"),
        ("error_message", Value::from(1), "error_message"),
        ("created_at", Value::from(1), "created_at"),
        ("pipeline_context", dict(vec![("id", Value::Uuid(uuid_value()))]), "/pipeline_context/id"),
    ];
    for (field, value, named) in cases {
        let mut state = workflow_state("u", 1, Value::None);
        if let Value::Dict(d) = &mut state {
            d.insert(Value::from(field), value);
        }
        let err = backend.save_state("u", &state).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported, "{field}: {err}");
        assert!(err.message.contains(named), "{field}: {err}");
    }
    let Value::Dict(d) = workflow_state("u", 1, Value::None) else { unreachable!() };
    let without: Dict = d.into_iter().filter(|(k, _)| k.as_str() != Some("created_at")).collect();
    let err = backend.save_state("u", &Value::Dict(without)).await.unwrap_err();
    assert!(err.kind == ErrorKind::Unsupported && err.message.contains("created_at"), "{err}");
    assert_eq!(backend.save_state("u", &Value::List(vec![])).await.unwrap_err().kind, ErrorKind::Unsupported);
    assert_eq!(backend.load_state("u", &TypeHints::new()).await.unwrap(), None);
}

fn uuid_value() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x1234)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_concurrent_saves_never_mix() {
    let dir = TempDir::new("sqlite-concurrent");
    let url = sqlite_url(&dir, "c.db");
    // Two connections: the second waits for the first's lock (busy timeout).
    let backends: [Arc<dyn StateBackend>; 2] =
        [Arc::from(open_backend(&url, registry()).await.unwrap()), Arc::from(open_backend(&url, registry()).await.unwrap())];
    check_concurrent(backends, "same-id", sqlite_loaded).await;
}

// ----------------------------------------------------------------- redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_contract() {
    let prefix = unique("redis-contract");
    let Some((backend, _, _keys)) = redis_backend(&prefix).await else { return };
    check_round_trips(&*backend, "p-", insertion_expect).await;
    let mut ids = long_and_odd_ids("p-");
    ids.extend(["p-a\0b".to_owned(), "p-*?[x]\\".to_owned()]);
    check_ids(&*backend, "p-", &ids, insertion_expect).await;
    check_large_values(&*backend, "p-", insertion_expect).await;
}

/// The value is the recipe's insertion-order text, and with an empty
/// prefix the keys are the run ids themselves, so recipe data reads as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_stores_the_recipe_text() {
    let prefix = unique("redis-recipe");
    let Some(server) = servers::redis().await else { return };
    let _keys = RedisKeys { url: server.clone(), prefix: prefix.clone() };
    // No prefix in the URL: the key is the run id (read raw below).
    let backend = open_backend(&server, registry()).await.unwrap();
    let mut raw = redis::Client::open(server.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();

    let id = format!("{prefix}run");
    let state = workflow_state(&id, 1, Value::from("a\u{0}b"));
    backend.save_state(&id, &state).await.unwrap();
    let stored: String = redis::cmd("GET").arg(&id).query_async(&mut raw).await.unwrap();
    assert_eq!(stored, state_to_text(&state, KeyOrder::Insertion, &TypeRegistry::standard()).unwrap());
    assert!(stored.starts_with(&format!(r#"{{"run_id": "{id}", "pipeline_id": "pipe-1", "#)), "{stored}");

    // A value written by the Python recipe (json.dumps, here sorted).
    let flujo_text = std::fs::read_to_string(crate::common::legacy_corpus().join("legacy-expected/run-000000.json")).unwrap();
    let python_id = format!("{prefix}python");
    redis::cmd("SET").arg(&python_id).arg(&flujo_text).query_async::<()>(&mut raw).await.unwrap();
    let loaded = backend.load_state(&python_id, &TypeHints::new()).await.unwrap().unwrap();
    assert_eq!(loaded, read_text(&flujo_text).unwrap().0);
    assert_eq!(backend.list_states(&prefix).await.unwrap(), [python_id.clone(), id.clone()]);

    // A prefixed backend sees only its own keys.
    let (prefixed, _, _more) = redis_backend(&format!("{prefix}inner:")).await.expect("Redis answered above");
    prefixed.save_state("x", &state).await.unwrap();
    assert_eq!(prefixed.list_states("").await.unwrap(), ["x"]);
    let exists: bool = redis::cmd("EXISTS").arg(format!("{prefix}inner:x")).query_async(&mut raw).await.unwrap();
    assert!(exists);
    backend.delete_state(&python_id).await.unwrap();
    backend.delete_state(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_concurrent_saves_never_mix() {
    let prefix = unique("redis-concurrent");
    let Some((first, _, _keys)) = redis_backend(&prefix).await else { return };
    let (second, _, _) = redis_backend(&prefix).await.expect("Redis answered above");
    check_concurrent([Arc::from(first), Arc::from(second)], "same-id", insertion_expect).await;
}

// -------------------------------------------------------------- postgres

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_contract() {
    let Some((backend, _, _table)) = postgres_backend("pg-contract").await else { return };
    check_round_trips(&*backend, "p-", insertion_expect).await;
    check_ids(&*backend, "p-", &long_and_odd_ids("p-"), insertion_expect).await;
    check_refused(&*backend, &["p-a\0b".to_owned(), "\0".to_owned()]).await;
    assert_eq!(backend.list_states("p-\0").await.unwrap(), Vec::<String>::new());
    check_large_values(&*backend, "p-", insertion_expect).await;
}

/// flujo's own Postgres backend lost NUL; this one keeps `\u0000` in the
/// stored text, and the column holds the recipe's insertion-order text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_keeps_nul() {
    let Some((backend, _, table)) = postgres_backend("pg-nul").await else { return };
    let state = workflow_state("nul", 1, Value::from("a\u{0}b"));
    backend.save_state("nul", &state).await.unwrap();
    let loaded = backend.load_state("nul", &TypeHints::new()).await.unwrap().unwrap();
    assert_eq!(get(get(&loaded, "pipeline_context"), "payload"), &Value::from("a\u{0}b"));

    let (client, connection) = tokio_postgres::connect(&table.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client.query_one(&format!("SELECT state FROM \"{}\" WHERE run_id = 'nul'", table.table), &[]).await.unwrap();
    let stored: String = row.get(0);
    assert_eq!(stored, state_to_text(&state, KeyOrder::Insertion, &TypeRegistry::standard()).unwrap());
    assert!(stored.contains(r#""payload": "a\u0000b""#), "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_concurrent_saves_never_mix() {
    let Some((first, url, _table)) = postgres_backend("pg-concurrent").await else { return };
    let second = open_backend(&url, registry()).await.unwrap();
    check_concurrent([Arc::from(first), Arc::from(second)], "same-id", insertion_expect).await;
}

// ----------------------------------------------------------------- open

/// Bad URLs and unreachable servers are `connection` errors that name the
/// URL (without its password).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_errors_name_the_url() {
    let cases = [
        ("redis://127.0.0.1:1/0", "could not connect to redis://127.0.0.1:1/0: "),
        ("redis://:secret@127.0.0.1:1/0?prefix=p", "could not connect to redis://:***@127.0.0.1:1/0?prefix=p: "),
        ("redis://127.0.0.1:6379/0?prefix=a&prefix=b", "given twice"),
        ("postgres://postgres:secret@127.0.0.1:1/test", "could not connect to postgres://postgres:***@127.0.0.1:1/test: "),
        ("postgres://postgres@127.0.0.1:5432/test?table=bad-name", "table name \"bad-name\""),
        ("postgresql://postgres@127.0.0.1:5432/test?nonsense=1", "could not connect to postgresql://"),
        ("file://relative/dir", "expected file:///DIR"),
        ("sqlite://relative.db", "expected sqlite:///PATH"),
        ("sqlite:///proc/self/no/such.db", "could not open sqlite:///proc/self/no/such.db: "),
        ("nosuch://x", "unknown backend URL"),
    ];
    for (url, message) in cases {
        let err = open_backend(url, registry()).await.err().unwrap_or_else(|| panic!("{url} opened"));
        assert_eq!(err.kind, ErrorKind::Connection, "{url}: {err}");
        assert!(err.message.contains(message), "{url}: {err}");
        assert!(!err.message.contains("secret"), "{url}: {err}");
    }
}
