//! Your own Rust backend as a protocol process, so that the suite also runs
//! the checks that need a process: SIGKILL during saves, and data surviving
//! a restart.
//!
//! ```text
//! cargo build --release --example serve_my_backend
//! stateharness conform --backend "exec:target/release/examples/serve_my_backend /tmp/my-states"
//! ```
//!
//! The backend keeps one file per run, written atomically (a temporary file
//! in the same directory, synced, then renamed over the old one), so a kill
//! mid-save leaves the old state or the new one. A file is named by a hash
//! of its run id (any id, of any length, is a short, safe name) and holds
//! the id on its first line, then flujo's text.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use stateharness::backends::{BackendError, Capabilities, ErrorKind, StateBackend, codec};
use stateharness::format::{TypeHints, TypeRegistry};
use stateharness::json::KeyOrder;
use stateharness::{Value, async_trait, serve_stdio};

struct DirBackend {
    dir: PathBuf,
    registry: Arc<TypeRegistry>,
}

impl DirBackend {
    fn path(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("{:032x}.run", xxhash_rust::xxh3::xxh3_128(run_id.as_bytes())))
    }

    /// The run id and flujo's text kept in the file at `path`, if any.
    fn read(path: &std::path::Path) -> Result<Option<(String, String)>, BackendError> {
        match std::fs::read_to_string(path) {
            Ok(content) => {
                let (id, text) = content.split_once('\n').ok_or_else(|| io_error(std::io::ErrorKind::InvalidData.into()))?;
                let id = serde_json::from_str(id).map_err(|e| io_error(std::io::Error::other(e)))?;
                Ok(Some((id, text.to_owned())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }
}

fn io_error(e: std::io::Error) -> BackendError {
    BackendError::new(ErrorKind::Internal, e.to_string())
}

#[async_trait]
impl StateBackend for DirBackend {
    fn describe(&self) -> String {
        format!("hex-named files in {}", self.dir.display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: true, shared: false }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let text = codec::state_to_text(state, KeyOrder::Sorted, &self.registry)?;
        let content = format!("{}\n{text}", serde_json::Value::from(run_id));
        let mut file = tempfile::NamedTempFile::new_in(&self.dir).map_err(io_error)?;
        file.write_all(content.as_bytes()).and_then(|()| file.as_file().sync_all()).map_err(io_error)?;
        file.persist(self.path(run_id)).map_err(|e| io_error(e.error))?;
        Ok(())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        match Self::read(&self.path(run_id))? {
            Some((_, text)) => codec::text_to_state(&text, hints, &self.registry, run_id).map(Some),
            None => Ok(None),
        }
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        match std::fs::remove_file(self.path(run_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(e)),
            _ => Ok(()),
        }
    }

    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            if path.extension().is_some_and(|e| e == "run") {
                // A file deleted since the listing is simply not listed.
                ids.extend(Self::read(&path)?.map(|(id, _)| id).filter(|id| id.starts_with(prefix)));
            }
        }
        Ok(ids)
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: serve_my_backend DIR"));
    std::fs::create_dir_all(&dir)?;
    let registry = Arc::new(TypeRegistry::standard());
    serve_stdio(Arc::new(DirBackend { dir, registry: registry.clone() }), registry).await
}
