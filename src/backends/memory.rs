//! `memory://`: flujo's InMemoryBackend. Keeps `safe_serialize(state)` per
//! run id and hands back a copy of `safe_deserialize(stored)`; no text is
//! involved, so a complex's NaN part stays a float NaN.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::format::{TypeHints, TypeRegistry, deserialize_with_hints, serialize};
use crate::json::{KeyOrder, to_python_json};
use crate::value::Value;

use super::{BackendError, Capabilities, ErrorKind, StateBackend, StoredForm, StoredPart};

/// The embedded default backend.
#[derive(Debug)]
pub struct MemoryBackend {
    registry: Arc<TypeRegistry>,
    states: Mutex<HashMap<String, Value>>,
}

impl MemoryBackend {
    /// An empty in-memory backend.
    pub fn new(registry: Arc<TypeRegistry>) -> MemoryBackend {
        MemoryBackend { registry, states: Mutex::new(HashMap::new()) }
    }

    fn states(&self) -> MutexGuard<'_, HashMap<String, Value>> {
        // A panic while holding the lock cannot leave a half-written state
        // (entries are replaced whole), so a poisoned lock is still usable.
        self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl StateBackend for MemoryBackend {
    fn describe(&self) -> String {
        "memory://".to_owned()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: false, list: true, shared: false }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let safe = serialize(state.clone(), &self.registry).map_err(|e| BackendError::new(ErrorKind::Unsupported, e.to_string()))?;
        self.states().insert(run_id.to_owned(), safe);
        Ok(())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let stored = self.states().get(run_id).cloned();
        Ok(stored.map(|safe| deserialize_with_hints(safe, hints, &self.registry)))
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        self.states().remove(run_id);
        Ok(())
    }

    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        Ok(self.states().keys().filter(|id| id.starts_with(prefix)).cloned().collect())
    }

    /// The kept safe value, written as JSON text (no text is stored: this
    /// is what `json.dumps` would make of it).
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let stored = self.states().get(run_id).cloned();
        let parts = match stored {
            Some(safe) => {
                let text = to_python_json(&safe, KeyOrder::Insertion).map_err(|e| BackendError::internal(format!("showing run {run_id:?}"), e))?;
                vec![StoredPart { name: String::new(), text }]
            }
            None => Vec::new(),
        };
        Ok(Some(StoredForm { location: "the safe value kept in memory".to_owned(), parts }))
    }
}
