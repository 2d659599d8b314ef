//! A team's own backend and custom type, as they would write them: flujo's
//! text per run id in a map (as a Redis recipe keeps it), and an invoice
//! type that travels in workflow state. `tests/suite.rs` is the glue that
//! puts both under stateharness's conformance suite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use stateharness::backends::{BackendError, Capabilities, StateBackend, codec};
use stateharness::format::{TypeHints, TypeRegistry};
use stateharness::json::KeyOrder;
use stateharness::{Value, async_trait};

/// The storage: flujo's text per run id, shared by every handle on it.
#[derive(Clone, Default)]
pub struct Texts(Arc<Mutex<HashMap<String, String>>>);

/// A handle on [`Texts`], serializing custom types with `registry`.
pub struct MapBackend {
    texts: Texts,
    registry: Arc<TypeRegistry>,
}

impl MapBackend {
    /// A new handle on `texts`.
    pub fn new(texts: Texts, registry: Arc<TypeRegistry>) -> MapBackend {
        MapBackend { texts, registry }
    }
}

#[async_trait]
impl StateBackend for MapBackend {
    fn describe(&self) -> String {
        "a map of texts".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: false, shared: false }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let text = codec::state_to_text(state, KeyOrder::Insertion, &self.registry)?;
        self.texts.0.lock().unwrap().insert(run_id.to_owned(), text);
        Ok(())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let text = self.texts.0.lock().unwrap().get(run_id).cloned();
        text.map(|text| codec::text_to_state(&text, hints, &self.registry, run_id)).transpose()
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        self.texts.0.lock().unwrap().remove(run_id);
        Ok(())
    }
}

/// A custom type of the team's workflows.
#[derive(Debug, Serialize, Deserialize)]
pub struct Invoice {
    /// The invoice's number.
    pub number: u32,
    /// Its lines, as printed.
    pub lines: Vec<String>,
}
