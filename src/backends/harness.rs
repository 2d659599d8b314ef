//! What the harness's own operations on a backend exchange (the hidden
//! methods of [`StateBackend`](super::StateBackend)): raw stored forms for compare-and-set,
//! text stores a migration writes directly, a Python backend's runtime.
//! Crate-private: a backend of yours never sees them.

use super::BackendError;
use crate::value::Value;

/// A backend that keeps one text per run and can tell in advance the exact
/// bytes it stores for a state. A migration writes those bytes itself and
/// verifies them by comparing bytes, with no second parse. The methods
/// block: they are for callers that own their thread.
pub trait TextStore: Send + Sync {
    /// The bytes stored for `safe`, a state already in the safe format.
    fn encode(&self, safe: &Value) -> Result<String, BackendError>;
    /// The bytes stored under `run_id`, or `None`.
    fn read_text(&self, run_id: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Stores `text` under `run_id`, atomically, as `save_state` does.
    fn write_text(&self, run_id: &str, text: &[u8]) -> Result<(), BackendError>;
}

/// What a run id holds, exactly as stored (the file's or value's bytes, the
/// row's columns), read by [`StateBackend::load_raw`](super::StateBackend::load_raw): what a
/// compare-and-set ([`StateBackend::swap_state`](super::StateBackend::swap_state)) compares, and what it can
/// put back unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct RawState(pub(crate) Raw);

/// The forms a [`RawState`] takes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Raw {
    /// One stored text (a file, a Redis value, a Postgres column).
    Bytes(Vec<u8>),
    /// A table row: every column, by name, as stored.
    #[cfg(feature = "sqlite")]
    Row(Vec<(String, rusqlite::types::Value)>),
    /// The state `load_state` returns, for a backend whose storage is out
    /// of sight (the default implementation).
    State(Value),
}

impl RawState {
    /// The stored bytes, for a backend that keeps one text per run.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Raw::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// A raw state of one stored text: what a [`TextStore`] stores for it.
    pub fn from_bytes(bytes: Vec<u8>) -> RawState {
        RawState(Raw::Bytes(bytes))
    }
}

/// What [`StateBackend::swap_state`](super::StateBackend::swap_state) leaves under the run id.
#[derive(Clone, Copy, Debug)]
pub enum NewState<'a> {
    /// This state, stored as `save_state` stores it.
    State(&'a Value),
    /// Exactly this, as it was read (a state put back).
    Raw(&'a RawState),
    /// Nothing: the run id is removed.
    Nothing,
}

/// What a Python backend runs on, as its `hello` reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runtime {
    /// `3.12.1`.
    pub python: String,
    /// `unicodedata.unidata_version`, when reported.
    pub unicode: Option<String>,
    /// The flujo version, when reported.
    pub flujo: Option<String>,
    /// `PYTHONHASHSEED` (`random` when unset), when reported: flujo 0.6's
    /// set order follows it.
    pub hash_seed: Option<String>,
}

impl Runtime {
    /// The backend's Python and Unicode versions, for [`crate::format::PythonChoice::resolve_for`].
    pub fn python_and_unicode(&self) -> (&str, Option<&str>) {
        (&self.python, self.unicode.as_deref())
    }
}
