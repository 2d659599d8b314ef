//! Storage backends: flujo's `StateBackend` contract in Rust, and the
//! built-in backends, each storing state where and how flujo does
//! (`docs/storage.md`) so that Python and Rust read each other's data.
//!
//! Open them by URL with [`open_backend`]:
//!
//! | URL | stores as |
//! | --- | --- |
//! | `memory://` | a map in memory ([`MemoryBackend`]), the embedded default |
//! | `file:///DIR` | flujo's `FileBackend` |
//! | `sqlite:///PATH` | flujo's `SQLiteBackend` |
//! | `redis://HOST:PORT/DB?prefix=P` | the Redis recipe of flujo's docs |
//! | `postgres://...` | flujo's `PostgresBackend` |
//! | `exec:COMMAND` | any program speaking the protocol (`ExecBackend`) |
//! | `py:MODULE:CLASS` | a Python flujo backend class, through the bundled adapter |

pub mod codec;
#[cfg(feature = "exec")]
pub(crate) mod exec;
pub(crate) mod file;
mod harness;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod link;
pub(crate) mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "exec")]
pub(crate) mod py;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod serve;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod url_query;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::format::{TypeHints, TypeRegistry};
use crate::value::Value;

pub use crate::error::{BackendError, ErrorKind};
#[cfg(feature = "exec")]
pub use exec::{ExecBackend, ExecTimeouts};
pub(crate) use harness::{NewState, Raw, RawState, Runtime, TextStore};
pub use memory::MemoryBackend;

/// What a backend promises, as in `docs/protocol.md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Requests may overlap: saves and loads from many tasks at once.
    pub concurrent: bool,
    /// What was saved survives closing and reopening the backend.
    pub persistent: bool,
    /// [`StateBackend::list_states`] works.
    pub list: bool,
    /// Several processes (or handles) may use one storage at once: a save
    /// from one is seen whole, never torn or mixed, by the others.
    pub shared: bool,
}

impl Capabilities {
    /// The protocol names of the capabilities held (`concurrent`, ...).
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.concurrent {
            names.push("concurrent");
        }
        if self.persistent {
            names.push("persistent");
        }
        if self.list {
            names.push("list");
        }
        if self.shared {
            names.push("shared");
        }
        names
    }
}

/// What a backend holds for one run id, as the harness can see it in the
/// storage itself: the raw stored form behind what `load_state` returns, for
/// snapshot review (a change of format or backend shows as changed bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredForm {
    /// Where it is, relative to the backend (`RUN_ID.json`, a key, a row),
    /// never a machine's own path: snapshots must read the same everywhere.
    pub location: String,
    /// What is there, in storage order; empty when nothing is stored.
    pub parts: Vec<StoredPart>,
}

/// One part of a stored form: a whole file or value, or one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    /// The column and its storage type (`pipeline_context [text]`), or
    /// empty for a backend that stores one blob per run.
    pub name: String,
    /// The stored content as text: UTF-8 as it is, other bytes escaped
    /// (`\xff`).
    pub text: String,
}

impl StoredPart {
    /// The one blob a file or key holds; bytes that are not UTF-8 are shown
    /// escaped rather than lost.
    pub fn blob(bytes: Vec<u8>) -> StoredPart {
        let text = String::from_utf8(bytes).unwrap_or_else(|e| e.as_bytes().escape_ascii().to_string());
        StoredPart { name: String::new(), text }
    }
}

/// flujo's `StateBackend`: save, load and delete a run's state.
///
/// An implementation writes `describe`, `capabilities`, `save_state`,
/// `load_state`, `delete_state` and, with the `list` capability,
/// `list_states`; `stored_form` optionally shows snapshots the stored bytes.
/// The other methods have defaults and serve the harness's own backends
/// (processes it can kill, text stores a migration writes directly): they
/// are hidden from these docs, and a backend of yours leaves them alone.
///
/// `state` is a WorkflowState-shaped dict of [`Value`]s. What `load_state`
/// returns is what the backend really hands back: for flujo-compatible
/// backends that is `safe_deserialize` of what was stored, so datetimes come
/// back as strings, tuples as lists, and so on (docs/format.md, Deserialize).
#[async_trait]
pub trait StateBackend: Send + Sync {
    /// A short description for reports (`file:///tmp/states`).
    fn describe(&self) -> String;

    /// What the backend promises.
    fn capabilities(&self) -> Capabilities;

    /// Stores `state` under `run_id`, replacing what was there, atomically.
    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError>;

    /// The state stored under `run_id`, or `None`. Each hinted path is
    /// deserialized with its target type (custom deserializers).
    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError>;

    /// Removes the state under `run_id`; succeeds when there is none.
    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError>;

    /// The stored run ids that start with `prefix` (capability `list`).
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let _ = prefix;
        Err(BackendError::new(ErrorKind::NotSupportedOp, format!("{} cannot list states", self.describe())))
    }

    /// Whether [`StateBackend::list_states`] answers the backend's own
    /// filtering by the prefix: so for every backend written in Rust; an
    /// `exec:` backend only with capability `list_prefix` (without it the
    /// harness filters, and a check of prefix filtering can judge nothing).
    #[doc(hidden)]
    fn lists_by_prefix(&self) -> bool {
        true
    }

    /// The directory the backend keeps its data in on this machine, when
    /// known (an `exec:` backend's `hello` may say, `storage_root`).
    #[doc(hidden)]
    fn storage_root(&self) -> Option<&std::path::Path> {
        None
    }

    /// What `run_id` holds exactly as stored, or `None`. The default is the
    /// loaded state, for backends whose storage is out of sight.
    #[doc(hidden)]
    async fn load_raw(&self, run_id: &str) -> Result<Option<RawState>, BackendError> {
        Ok(self.load_state(run_id, &TypeHints::new()).await?.map(|state| RawState(Raw::State(state))))
    }

    /// The state a [`RawState`] of this backend holds, as `load_state`
    /// would return it with `hints`.
    #[doc(hidden)]
    fn decode_raw(&self, run_id: &str, raw: &RawState, hints: &TypeHints) -> Result<Value, BackendError> {
        let _ = hints;
        match &raw.0 {
            Raw::State(state) => Ok(state.clone()),
            _ => Err(BackendError::internal(format!("reading run {run_id:?} of {}", self.describe()), "the raw state is not of this backend")),
        }
    }

    /// Compare-and-set: puts `new` under `run_id` only if the run id holds
    /// `expected` (`None`: nothing), and tells whether it now holds `new`
    /// (`true` also when it already held exactly that, so a retried swap
    /// whose first answer was lost is no failure). Atomic against other
    /// writers using it, so two migrators can never both write over the
    /// same run id: per run id, never a lock on the whole storage.
    ///
    /// The default loads, compares and then saves or deletes, which is not
    /// atomic: the backends whose storage is out of sight (`exec:`) do that.
    #[doc(hidden)]
    async fn swap_state(&self, run_id: &str, expected: Option<&RawState>, new: NewState<'_>) -> Result<bool, BackendError> {
        let held = self.load_raw(run_id).await?;
        if held.as_ref() != expected {
            return Ok(false);
        }
        match new {
            NewState::State(state) | NewState::Raw(RawState(Raw::State(state))) => self.save_state(run_id, state).await?,
            NewState::Raw(_) => {
                return Err(BackendError::internal(format!("restoring run {run_id:?} of {}", self.describe()), "the raw state is not of this backend"));
            }
            NewState::Nothing => self.delete_state(run_id).await?,
        }
        Ok(true)
    }

    /// The backend's [`TextStore`], when it keeps one text per run.
    #[doc(hidden)]
    fn text_store(&self) -> Option<&dyn TextStore> {
        None
    }

    /// Keys that `load_state` returns whether or not the saved state had
    /// them (a table's columns): comparing a saved and a loaded state must
    /// allow them.
    #[doc(hidden)]
    fn keys_filled_on_load(&self) -> &'static [&'static str] {
        &[]
    }

    /// What is stored under `run_id`, read from the storage itself (file
    /// bytes, the Redis value, the row); `None` when the storage is out of
    /// the harness's sight (`exec:` backends), which is the default.
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let _ = run_id;
        Ok(None)
    }

    /// Releases connections and files; the backend is not used afterwards.
    async fn close(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// False once the backend can no longer answer (its process died).
    #[doc(hidden)]
    fn is_alive(&self) -> bool {
        true
    }

    /// Whether the backend runs as a process the harness can kill.
    #[doc(hidden)]
    fn has_process(&self) -> bool {
        false
    }

    /// Kills the backend's process abruptly (SIGKILL), for the
    /// crash-atomicity check. `false` when there is no process to kill.
    #[doc(hidden)]
    async fn crash(&self) -> Result<bool, BackendError> {
        Ok(false)
    }

    /// Custom types the backend announced, with sample values of each.
    #[doc(hidden)]
    fn announced_custom_types(&self) -> Vec<(String, Vec<Value>)> {
        Vec::new()
    }

    /// The Python runtime the backend reported (`hello`'s `python`,
    /// `unicode`, `flujo`), for backends that run in Python.
    #[doc(hidden)]
    fn runtime(&self) -> Option<&Runtime> {
        None
    }
}

/// How a backend is opened: the deadline of its operations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpenOptions {
    /// The longest one operation may take: a save, a load, a query, a
    /// request over the protocol (the first `hello` gets twice as long, at
    /// least 60 s). Past it the operation fails, and a stalled server
    /// cannot hang the caller. Default 30 s.
    pub op_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions { op_timeout: Duration::from_secs(30) }
    }
}

/// Opens a built-in backend from its URL (see the module table), with the
/// default [`OpenOptions`].
///
/// A URL that names no known backend, or one whose server cannot be
/// reached, is a [`ErrorKind::Connection`] error that names the URL.
pub async fn open_backend(url: &str, registry: Arc<TypeRegistry>) -> Result<Box<dyn StateBackend>, BackendError> {
    open_backend_with(url, registry, OpenOptions::default()).await
}

/// Opens a built-in backend from its URL with `options`.
pub async fn open_backend_with(url: &str, registry: Arc<TypeRegistry>, options: OpenOptions) -> Result<Box<dyn StateBackend>, BackendError> {
    let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
    match scheme {
        "memory" => Ok(Box::new(MemoryBackend::new(registry))),
        "file" => Ok(Box::new(file::FileBackend::open(url, registry).await?)),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Box::new(sqlite::SqliteBackend::open(url, registry).await?)),
        #[cfg(feature = "redis")]
        "redis" | "rediss" => Ok(Box::new(redis::RedisBackend::open_with(url, registry, options).await?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Box::new(postgres::PostgresBackend::open_with(url, registry, options).await?)),
        #[cfg(feature = "exec")]
        "exec" => Ok(Box::new(ExecBackend::open(url, registry, ExecTimeouts::from(options)).await?)),
        #[cfg(feature = "exec")]
        "py" => Ok(Box::new(ExecBackend::open(&py::exec_command(url)?, registry, ExecTimeouts::from(options)).await?)),
        _ => {
            let _ = options;
            Err(BackendError::new(ErrorKind::Connection, unknown_scheme(url, scheme)))
        }
    }
}

/// Why `url` opens no backend: a scheme this build leaves out (naming the
/// Cargo feature that has it) or one that does not exist.
fn unknown_scheme(url: &str, scheme: &str) -> String {
    const FEATURES: [(&[&str], &str); 4] =
        [(&["sqlite"], "sqlite"), (&["redis", "rediss"], "redis"), (&["postgres", "postgresql"], "postgres"), (&["exec", "py"], "exec")];
    match FEATURES.iter().find(|(schemes, _)| schemes.contains(&scheme)) {
        Some((_, feature)) => format!("{url:?}: this stateharness was built without its `{feature}` feature, which that backend needs"),
        None => format!(
            "unknown backend URL {url:?}: expected memory://, file:///DIR, sqlite:///PATH, redis://HOST:PORT/DB?prefix=P, postgres://..., exec:COMMAND or py:MODULE:CLASS"
        ),
    }
}
