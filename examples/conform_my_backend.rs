//! Running the conformance suite on your own backend type, from your own
//! code or tests: implement `StateBackend`, give the suite an opener, run.
//!
//! `cargo run --release --example conform_my_backend`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use stateharness::Value;
use stateharness::backends::{BackendError, Capabilities, StateBackend, codec};
use stateharness::conformance::{FnOpener, Suite, SuiteOptions};
use stateharness::format::{TypeHints, TypeRegistry};
use stateharness::json::KeyOrder;

/// A backend that keeps flujo's text in a map, as a Redis recipe would.
struct TextMapBackend {
    texts: Arc<Mutex<HashMap<String, String>>>,
    registry: Arc<TypeRegistry>,
}

#[async_trait]
impl StateBackend for TextMapBackend {
    fn describe(&self) -> String {
        "text map (example)".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: false, shared: false }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let text = codec::state_to_text(state, KeyOrder::Insertion, &self.registry)?;
        self.texts.lock().unwrap().insert(run_id.to_owned(), text);
        Ok(())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let text = self.texts.lock().unwrap().get(run_id).cloned();
        text.map(|t| codec::text_to_state(&t, hints, &self.registry, run_id)).transpose()
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        self.texts.lock().unwrap().remove(run_id);
        Ok(())
    }
}

/// Your own custom type: a serde type with a proptest strategy.
#[derive(Debug, Serialize, Deserialize)]
struct Invoice {
    number: u32,
    lines: Vec<String>,
}

#[tokio::main]
async fn main() {
    let options = SuiteOptions::default()
        .with_serde_type("Invoice", (any::<u32>(), proptest::collection::vec("[a-z ]{0,12}", 0..4)).prop_map(|(number, lines)| Invoice { number, lines }))
        .expect("Invoice serializes to a map");
    // Reopening shares the map, so the persistence check sees the same data.
    let texts: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let opener = FnOpener::new("text map (example)", move |registry| Ok(Arc::new(TextMapBackend { texts: texts.clone(), registry })));
    let report = Suite::open(Arc::new(opener), options).await.expect("opens").run().await;
    print!("{}", report.human());
    std::process::exit(if report.passed() { 0 } else { 1 });
}
