//! Interop with the real flujo 0.4.35: for the same states, the Rust file
//! backend and flujo's FileBackend write identical bytes and load each
//! other's files; the same for the SQLite database (rows) and the Redis
//! recipe's keys (values). flujo runs through the Python adapter.

use std::path::Path;
use std::sync::Arc;

use stateharness::backends::{ExecBackend, ExecTimeouts};
use stateharness::backends::{StateBackend, open_backend};
use stateharness::format::{TypeHints, TypeRegistry};
use stateharness::typed::from_typed_text;
use stateharness::value::Value;

/// WorkflowStates with every kind both sides store.
fn states(registry: &TypeRegistry) -> Vec<(String, Value)> {
    let context = [
        r#"{"user": {"$model": {"type": "User", "fields": {"name": "bo", "joined": {"$datetime": "2025-07-01T12:00:00.120000+00:00"}, "score": 0.5, "avatar": {"$bytes": "AAE="}}}}, "prices": [{"$custom": {"type": "Money", "fields": {"amount": "3.10", "currency": "USD"}}}], "seen": {"$set": ["y", "x", 10, 2]}, "ratio": {"$float": "nan"}}"#,
        r#"{"text": "caf\u00e9 \ud83d\ude00 a\u0000b \u2028", "big": 123456789012345678901234567890, "neg": -0.0, "tiny": 1e-07, "keys": {"$dict": [[1, "int"], [{"$tuple": [1, "a"]}, "tuple"], [null, "none"]]}, "point": {"$dataclass": {"type": "Point", "fields": {"x": 1, "y": 2.5, "tags": {"$tuple": ["t"]}}}}}"#,
        r#"{"z": {"$complex": [1.5, {"$float": "inf"}]}, "level": {"$enum": {"type": "Level", "value": 2}}, "color": {"$enum": {"type": "Color", "value": "green"}}, "when": {"$date": "1999-12-31"}, "clock": {"$time": "23:59:59.000001"}, "empty": {"a": [], "b": {}, "c": ""}}"#,
    ];
    context
        .iter()
        .enumerate()
        .map(|(i, ctx)| {
            let run_id = format!("interop-{}-{i}", std::process::id());
            let text = format!(
                r#"{{"run_id": "{run_id}", "pipeline_id": "p", "pipeline_name": "interop", "pipeline_version": "1.0", "current_step_index": {i}, "pipeline_context": {ctx}, "last_step_output": {{"text": "ok", "tokens": {{"$tuple": [1, 2]}}}}, "step_history": [], "status": "running", "created_at": {{"$datetime": "2025-07-01T12:00:00.120000"}}, "updated_at": {{"$datetime": "2025-07-01T12:00:01+00:00"}}}}"#
            );
            (run_id, from_typed_text(&text, registry).unwrap())
        })
        .collect()
}

async fn flujo(python: &str, class: &str, kwargs: &str, registry: &Arc<TypeRegistry>) -> ExecBackend {
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/adapters/flujo_adapter.py");
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    ExecBackend::spawn(&format!("{python} {adapter} {class} '{kwargs}'"), registry.clone(), ExecTimeouts::default()).await.unwrap()
}

async fn save_all(backend: &dyn StateBackend, states: &[(String, Value)]) {
    for (run_id, state) in states {
        backend.save_state(run_id, state).await.unwrap_or_else(|e| panic!("{}: {run_id}: {e}", backend.describe()));
    }
}

async fn load(backend: &dyn StateBackend, run_id: &str) -> Value {
    backend.load_state(run_id, &TypeHints::new()).await.unwrap().unwrap_or_else(|| panic!("{}: {run_id} missing", backend.describe()))
}

/// Each side loads what the other wrote and gets what it gets from its own.
async fn cross_load(
    rust_own: &dyn StateBackend,
    rust_other: &dyn StateBackend,
    flujo_own: &dyn StateBackend,
    flujo_other: &dyn StateBackend,
    states: &[(String, Value)],
) {
    for (run_id, _) in states {
        assert_eq!(load(rust_other, run_id).await, load(rust_own, run_id).await, "Rust reading flujo's {run_id}");
        assert_eq!(load(flujo_other, run_id).await, load(flujo_own, run_id).await, "flujo reading Rust's {run_id}");
    }
}

fn file_bytes(dir: &Path, run_id: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!("{run_id}.json"))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backends_write_the_same_bytes_and_read_each_other() {
    let Some(python) = crate::common::flujo_python() else { return };
    let registry = Arc::new(TypeRegistry::standard());
    let states = states(&registry);
    let (rust_dir, flujo_dir) = (crate::common::scratch_dir("interop", "file-rust"), crate::common::scratch_dir("interop", "file-flujo"));
    let rust = open_backend(&format!("file://{}", rust_dir.display()), registry.clone()).await.unwrap();
    let flujo_files = flujo(&python, "flujo.state.backends.file:FileBackend", &format!("{{\"path\": \"{}\"}}", flujo_dir.display()), &registry).await;
    save_all(&*rust, &states).await;
    save_all(&flujo_files, &states).await;
    for (run_id, _) in &states {
        assert_eq!(String::from_utf8(file_bytes(&rust_dir, run_id)).unwrap(), String::from_utf8(file_bytes(&flujo_dir, run_id)).unwrap(), "{run_id}");
    }
    let rust_other = open_backend(&format!("file://{}", flujo_dir.display()), registry.clone()).await.unwrap();
    let flujo_other = flujo(&python, "flujo.state.backends.file:FileBackend", &format!("{{\"path\": \"{}\"}}", rust_dir.display()), &registry).await;
    cross_load(&*rust, &*rust_other, &flujo_files, &flujo_other, &states).await;
    flujo_files.close().await.unwrap();
    flujo_other.close().await.unwrap();
}

fn rows(db: &Path) -> Vec<Vec<String>> {
    let connection = rusqlite::Connection::open(db).unwrap();
    let mut statement = connection.prepare("SELECT * FROM workflow_state ORDER BY run_id").unwrap();
    let columns = statement.column_count();
    statement.query_map([], |row| (0..columns).map(|i| row.get_ref(i).map(|v| format!("{v:?}"))).collect()).unwrap().collect::<Result<_, _>>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backends_write_the_same_rows_and_read_each_other() {
    let Some(python) = crate::common::flujo_python() else { return };
    let registry = Arc::new(TypeRegistry::standard());
    let states = states(&registry);
    let (rust_db, flujo_db) =
        (crate::common::scratch_dir("interop", "sqlite-rust").join("s.db"), crate::common::scratch_dir("interop", "sqlite-flujo").join("s.db"));
    let rust = open_backend(&format!("sqlite://{}", rust_db.display()), registry.clone()).await.unwrap();
    let flujo_sqlite = flujo(&python, "flujo.state.backends.sqlite:SQLiteBackend", &format!("{{\"db_path\": \"{}\"}}", flujo_db.display()), &registry).await;
    save_all(&*rust, &states).await;
    save_all(&flujo_sqlite, &states).await;
    assert_eq!(rows(&rust_db), rows(&flujo_db));
    let rust_other = open_backend(&format!("sqlite://{}", flujo_db.display()), registry.clone()).await.unwrap();
    let flujo_other = flujo(&python, "flujo.state.backends.sqlite:SQLiteBackend", &format!("{{\"db_path\": \"{}\"}}", rust_db.display()), &registry).await;
    cross_load(&*rust, &*rust_other, &flujo_sqlite, &flujo_other, &states).await;
    flujo_sqlite.close().await.unwrap();
    flujo_other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_recipe_keys_hold_the_same_text_and_read_each_other() {
    let (Some(python), Some(server)) = (crate::common::flujo_python(), crate::common::servers::redis().await) else { return };
    let registry = Arc::new(TypeRegistry::standard());
    // Two key spaces: the Rust backend's prefix, and flujo's keys as is.
    let rust_prefix = format!("stateharness-interop-rust-{}:", std::process::id());
    let flujo_prefix = format!("stateharness-interop-flujo-{}:", std::process::id());
    let states = states(&registry);
    let flujo_states: Vec<(String, Value)> = states.iter().map(|(id, s)| (format!("{flujo_prefix}{id}"), s.clone())).collect();
    let rust = open_backend(&format!("{server}?prefix={rust_prefix}"), registry.clone()).await.unwrap();
    let recipe = flujo(&python, "ci.redis_recipe_backend:RedisRecipeBackend", &format!("{{\"url\": \"{server}\"}}"), &registry).await;
    save_all(&*rust, &states).await;
    save_all(&recipe, &flujo_states).await;
    let client = redis::Client::open(server.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for (run_id, _) in &states {
        let ours: String = redis::cmd("GET").arg(format!("{rust_prefix}{run_id}")).query_async(&mut connection).await.unwrap();
        let theirs: String = redis::cmd("GET").arg(format!("{flujo_prefix}{run_id}")).query_async(&mut connection).await.unwrap();
        assert_eq!(ours, theirs, "{run_id}");
        // Each side reads the other's key.
        let rust_reading_flujo = open_backend(&format!("{server}?prefix={flujo_prefix}"), registry.clone()).await.unwrap();
        assert_eq!(load(&*rust_reading_flujo, run_id).await, load(&*rust, run_id).await);
        assert_eq!(load(&recipe, &format!("{rust_prefix}{run_id}")).await, load(&recipe, &format!("{flujo_prefix}{run_id}")).await);
    }
    for prefix in [&rust_prefix, &flujo_prefix] {
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap();
        for key in keys {
            let _: () = redis::cmd("DEL").arg(&key).query_async(&mut connection).await.unwrap();
        }
    }
    recipe.close().await.unwrap();
}
