//! stateharness: keeps flujo workflow state safe across storage backends
//! and format changes.
//!
//! # Quick start: your backend under the conformance suite
//!
//! With `stateharness = { version = "0.1", default-features = false }`
//! (no database client, no CLI crates), plus tokio and proptest for the
//! test: a backend, a custom serde type, and the whole suite on both. This
//! is `ci/external-crate` (built and tested in CI as a crate of its own):
//! the backend and the type are its `src/lib.rs`, the glue below the line
//! its `tests/suite.rs`.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//!
//! use proptest::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use stateharness::backends::{BackendError, Capabilities, StateBackend, codec};
//! use stateharness::conformance::{FnOpener, Suite, SuiteOptions};
//! use stateharness::format::{TypeHints, TypeRegistry};
//! use stateharness::json::KeyOrder;
//! use stateharness::{Value, async_trait};
//!
//! /// The storage: flujo's text per run id, shared by every handle on it.
//! #[derive(Clone, Default)]
//! struct Texts(Arc<Mutex<HashMap<String, String>>>);
//!
//! /// A handle on [`Texts`], serializing custom types with `registry`.
//! struct MapBackend {
//!     texts: Texts,
//!     registry: Arc<TypeRegistry>,
//! }
//!
//! #[async_trait]
//! impl StateBackend for MapBackend {
//!     fn describe(&self) -> String {
//!         "a map of texts".into()
//!     }
//!
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities { concurrent: true, persistent: true, list: false, shared: false }
//!     }
//!
//!     async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
//!         let text = codec::state_to_text(state, KeyOrder::Insertion, &self.registry)?;
//!         self.texts.0.lock().unwrap().insert(run_id.to_owned(), text);
//!         Ok(())
//!     }
//!
//!     async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
//!         let text = self.texts.0.lock().unwrap().get(run_id).cloned();
//!         text.map(|text| codec::text_to_state(&text, hints, &self.registry, run_id)).transpose()
//!     }
//!
//!     async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
//!         self.texts.0.lock().unwrap().remove(run_id);
//!         Ok(())
//!     }
//! }
//!
//! /// A custom type of your workflows.
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Invoice {
//!     number: u32,
//!     lines: Vec<String>,
//! }
//!
//! // ---- the glue, in a test ----
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! // Each open is a new handle on the same storage (the persistence check
//! // reopens), with the registry the suite hands over.
//! let texts = Texts::default();
//! let opener = FnOpener::new("a map of texts", move |registry| Ok(Arc::new(MapBackend { texts: texts.clone(), registry })));
//! let invoices = (any::<u32>(), proptest::collection::vec("[a-z ]{0,12}", 0..4)).prop_map(|(number, lines)| Invoice { number, lines });
//! let options = SuiteOptions::default().with_serde_type("Invoice", invoices).unwrap();
//! let report = Suite::open(Arc::new(opener), options).await.unwrap().run().await;
//! report.assert_passed(); // panics with the failures, grouped, and the seed to replay
//! # }
//! ```
//!
//! An implementer's checklist:
//!
//! - Write `describe`, `capabilities`, `save_state`, `load_state`,
//!   `delete_state`, and `list_states` when you declare `list`. The other
//!   methods of [`backends::StateBackend`] have defaults you leave alone.
//! - A save replaces the whole state atomically; a load of an unknown id is
//!   `Ok(None)`; a delete of an unknown id succeeds.
//! - Refuse with the right [`backends::ErrorKind`]: `Unsupported` for a value
//!   your storage cannot hold (the suite then warns, or expects flujo's own
//!   refusals), `InvalidRunId` for an id it cannot store, `Internal` for
//!   anything broken (a corrupt stored text), `Connection` for faults.
//! - Store what flujo stores: [`backends::codec`] gives flujo's exact text
//!   (`KeyOrder::Sorted` is FileBackend's bytes, `KeyOrder::Insertion` the
//!   Redis recipe's and SQLite's) and reads it back as flujo's loads do.
//! - The [`conformance::Opener`] (for an in-process backend, a
//!   [`conformance::FnOpener`]) must reopen the *same* storage and use the
//!   registry it is handed: the persistence and crash checks depend on it.
//! - Custom types: [`conformance::SuiteOptions::with_serde_type`] registers a
//!   serde type and mixes its values into the generated states.
//! - The checks that need a process (SIGKILL during saves, a restart): serve
//!   the backend with [`serve_stdio`] from a small binary and run
//!   `stateharness conform --backend "exec:PROGRAM"` (see
//!   `examples/serve_my_backend.rs`).
//! - Replay a failing run with the seed it printed: `STATEHARNESS_SEED=N`.
//!
//! # Modules
//!
//! - [`backends`]: the `StateBackend` contract, its codec, and the
//!   built-in backends opened by URL.
//! - [`conformance`]: the conformance suite that judges any backend.
//! - [`format`](mod@format): flujo's safe serialized format (serialize,
//!   deserialize, custom type registry).
//! - [`typed`]: typed JSON, the lossless interchange form of a value.
//! - [`value`]: the dynamic state value, every Python kind a state holds.
//! - [`json`]: Python-compatible JSON text (exact `json.dumps` bytes; a
//!   reader for Python's grammar with a JSON5 fallback).
//! - [`migration`]: legacy dumps and databases into the safe format, into
//!   any backend, verified and crash-safe.
//! - [`snapshot`]: snapshot regression review of stored state (record,
//!   check, review), and named snapshots for other callers.

pub mod backends;
#[cfg(feature = "cli")]
mod cli;
pub mod conformance;
mod error;
pub mod format;
pub mod json;
pub mod migration;
mod path;
#[cfg(test)]
mod properties;
mod protocol;
mod redact;
pub mod snapshot;
mod strategy;
mod text;
pub mod typed;
pub mod value;
#[cfg(any(feature = "cli", test))]
mod vectors;

/// The attribute an implementation of [`backends::StateBackend`] needs
/// (`#[stateharness::async_trait]`), so that it takes no dependency of its own.
pub use async_trait::async_trait;
pub use backends::serve::serve_stdio;
pub use value::Value;

/// The `stateharness` command (`src/main.rs`): parses the process's
/// arguments, runs the command and returns its exit status.
#[cfg(feature = "cli")]
pub fn run_cli() -> std::process::ExitCode {
    cli::run()
}
