//! Python strs may hold lone surrogates (`"\ud800"`): the value model holds
//! them, the FileBackend text writes `\ud800` as flujo does and reads it
//! back, and `migrate` reads a legacy dump holding one.

use stateharness::backends::open_backend;
use stateharness::format::TypeHints;
use stateharness::json::read_strict;

use crate::common::{registry, run_stateharness, scratch_dir, scratch_root};

const DUMP: &str = r#"{"run_id":"run-lone","pipeline_id":"p","pipeline_name":"demo","pipeline_version":"1","current_step_index":0,"pipeline_context":{"s":"a\ud800","\udc00k":["\udbff"]},"last_step_output":null,"status":"running","created_at":"2025-01-14T08:42:32.627777","updated_at":"2025-01-14T08:42:33.000001"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_backend_stores_lone_surrogates_as_flujo_does() {
    let dir = scratch_dir("lone-surrogates", "file");
    let backend = open_backend(&format!("file://{}", dir.display()), registry()).await.unwrap();
    let (state, _) = read_strict(r#"{"run_id": "r", "pipeline_context": {"s": "a\ud800", "\udc00k": ["\udbff"]}}"#).unwrap();
    backend.save_state("r", &state).await.unwrap();
    let text = std::fs::read_to_string(dir.join("r.json")).unwrap();
    assert!(text.contains(r#""s": "a\ud800""#) && text.contains(r#""\udc00k": ["\udbff"]"#), "{text}");
    let loaded = backend.load_state("r", &TypeHints::new()).await.unwrap().expect("stored");
    assert_eq!(loaded, state);
    let _ = std::fs::remove_dir_all(scratch_root("lone-surrogates"));
}

#[test]
fn migrate_reads_a_legacy_dump_holding_a_lone_surrogate() {
    let from = scratch_dir("lone-surrogates-migrate", "from");
    let to = scratch_dir("lone-surrogates-migrate", "to");
    std::fs::write(from.join("run-lone.json"), DUMP).unwrap();
    let out = run_stateharness(&["migrate", "--from", &from.display().to_string(), "--to", &format!("file://{}", to.display())]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(to.join("run-lone.json")).unwrap();
    assert!(text.contains(r#""s": "a\ud800""#) && text.contains(r#""\udc00k": ["\udbff"]"#), "{text}");
    let _ = std::fs::remove_dir_all(scratch_root("lone-surrogates-migrate"));
}

/// Through the protocol to flujo's own FileBackend and back: the wire
/// carries `\ud800`, flujo stores it so, and it comes back unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flujo_stores_and_returns_them_through_the_adapter() {
    let Some(python) = crate::common::flujo_python() else { return };
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/adapters/flujo_adapter.py");
    let dir = scratch_dir("lone-surrogates-flujo", "files");
    let command = format!("exec:'{python}' '{adapter}' flujo.state.backends.file:FileBackend '{{\"path\": \"{}\"}}'", dir.display());
    let backend = open_backend(&command, registry()).await.unwrap();
    let (state, _) = read_strict(r#"{"run_id": "r", "pipeline_context": {"s": "a\ud800", "\udc00k": ["\udbff"]}}"#).unwrap();
    backend.save_state("r", &state).await.unwrap();
    let text = std::fs::read_to_string(dir.join("r.json")).unwrap();
    assert!(text.contains(r#""s": "a\ud800""#) && text.contains(r#""\udc00k": ["\udbff"]"#), "{text}");
    let loaded = backend.load_state("r", &TypeHints::new()).await.unwrap().expect("stored");
    assert_eq!(loaded.as_dict().and_then(|d| d.get("pipeline_context")), state.as_dict().and_then(|d| d.get("pipeline_context")));
    backend.close().await.unwrap();
    let _ = std::fs::remove_dir_all(scratch_root("lone-surrogates-flujo"));
}
