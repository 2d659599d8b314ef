//! Etiquette: every run id the suite uses carries a prefix unique to the
//! run, every id written is remembered, and everything is deleted at the end
//! (also after a failure or Ctrl-C). Nothing outside the prefix is touched.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::backends::{BackendError, Capabilities, ErrorKind, StateBackend};
use crate::format::{FlujoVersion, TypeHints};
use crate::text::show_run_id;
use crate::value::{Dict, Value};

use super::state::base_state;

/// A backend seen through the suite's etiquette.
pub struct Tracked {
    backend: RwLock<Arc<dyn StateBackend>>,
    prefix: String,
    /// The flujo whose WorkflowState shape the run's states have.
    flujo: FlujoVersion,
    written: Mutex<BTreeSet<String>>,
    ops: AtomicU64,
    /// Set on interruption: no new operation starts.
    stopped: AtomicBool,
    /// Operations under way, so that cleanup can wait for them.
    in_flight: AtomicUsize,
    /// The first connection fault an operation met: no operation starts after it.
    fault: Mutex<Option<BackendError>>,
}

/// Counts an operation as under way until it ends or is dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A fresh prefix for one run of the suite: `sh-` and 16 hex digits mixing
/// the process id, the clock and a random seed. Its length is fixed, so
/// the ids a suite pads to a given length look the same in every run.
pub fn fresh_prefix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(nanos);
    format!("sh-{:016x}-", hasher.finish())
}

impl Tracked {
    /// Wraps `backend`; every id will start with `prefix`.
    pub fn new(backend: Arc<dyn StateBackend>, prefix: String, flujo: FlujoVersion) -> Tracked {
        Tracked {
            backend: RwLock::new(backend),
            prefix,
            flujo,
            written: Mutex::new(BTreeSet::new()),
            ops: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            fault: Mutex::new(None),
        }
    }

    /// The flujo whose WorkflowState shape the run's states have.
    pub fn flujo(&self) -> FlujoVersion {
        self.flujo
    }

    /// The run's base WorkflowState (of its flujo's shape) for the run's id
    /// of `local`.
    pub fn state(&self, local: &str, pipeline_context: Dict, last_step_output: Value) -> Value {
        Value::Dict(base_state(self.flujo, &self.run_id(local), pipeline_context, last_step_output))
    }

    /// The run's prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full run id of the suite's local id `local`.
    pub fn run_id(&self, local: &str) -> String {
        format!("{}{local}", self.prefix)
    }

    /// The backend in use.
    pub fn backend(&self) -> Arc<dyn StateBackend> {
        self.backend.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the backend (after a reopen); returns the old one.
    pub fn replace(&self, backend: Arc<dyn StateBackend>) -> Arc<dyn StateBackend> {
        std::mem::replace(&mut *self.backend.write().unwrap_or_else(|p| p.into_inner()), backend)
    }

    /// What the backend promises.
    pub fn capabilities(&self) -> Capabilities {
        self.backend().capabilities()
    }

    /// Operations sent to the backend so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    fn written(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.written.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first connection fault (connection lost, timeout) met so far.
    pub fn fault(&self) -> Option<BackendError> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Remembers the first connection fault in `result` (of an operation,
    /// or of reopening the backend).
    pub(crate) fn watch<T>(&self, result: Result<T, BackendError>) -> Result<T, BackendError> {
        if let Err(e) = &result {
            if e.kind.is_fault() {
                self.fault.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.clone());
            }
        }
        result
    }

    /// Starts an operation, unless the run was interrupted or its
    /// connection lost (the operations after a fault would only repeat it).
    fn start(&self) -> Result<InFlight<'_>, BackendError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(&self.in_flight);
        if self.stopped.load(Ordering::SeqCst) {
            return Err(BackendError::new(ErrorKind::Internal, "the run was interrupted"));
        }
        if let Some(fault) = self.fault() {
            return Err(BackendError::new(fault.kind, format!("not sent after an earlier fault: {}", fault.message)));
        }
        self.ops.fetch_add(1, Ordering::Relaxed);
        Ok(guard)
    }

    /// `save_state` of the local id.
    pub async fn save(&self, local: &str, state: &Value) -> Result<(), BackendError> {
        self.save_id(&self.run_id(local), state).await
    }

    /// `load_state` of the local id.
    pub async fn load(&self, local: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        self.load_id(&self.run_id(local), hints).await
    }

    /// `delete_state` of the local id.
    pub async fn delete(&self, local: &str) -> Result<(), BackendError> {
        self.delete_id(&self.run_id(local)).await
    }

    /// A full run id may put the run's prefix anywhere (`../sh-…`, ` xsh-…`:
    /// ids whose odd characters come first), but it must carry it: the
    /// run never touches an id of someone else's.
    fn namespaced(&self, run_id: &str) -> Result<(), BackendError> {
        if run_id.contains(&self.prefix) {
            return Ok(());
        }
        Err(BackendError::new(ErrorKind::Internal, format!("run id {} does not carry the run prefix {:?}", show_run_id(run_id), self.prefix)))
    }

    /// `save_state` of a full run id that carries the run's prefix.
    pub async fn save_id(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        self.namespaced(run_id)?;
        let _running = self.start()?;
        self.written().insert(run_id.to_owned());
        self.watch(self.backend().save_state(run_id, state).await)
    }

    /// `load_state` of a full run id that carries the run's prefix.
    pub async fn load_id(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        self.namespaced(run_id)?;
        let _running = self.start()?;
        self.watch(self.backend().load_state(run_id, hints).await)
    }

    /// `delete_state` of a full run id that carries the run's prefix.
    pub async fn delete_id(&self, run_id: &str) -> Result<(), BackendError> {
        self.namespaced(run_id)?;
        let _running = self.start()?;
        self.watch(self.backend().delete_state(run_id).await)
    }

    /// `list_states` under the run's prefix, as local ids.
    pub async fn list(&self) -> Result<Vec<String>, BackendError> {
        let _running = self.start()?;
        let ids = self.watch(self.backend().list_states(&self.prefix).await)?;
        Ok(ids.into_iter().filter_map(|id| id.strip_prefix(&self.prefix).map(str::to_owned)).collect())
    }

    /// `list_states` of the run's prefix followed by `local`, as the
    /// backend answers it (not filtered here: the backend's own filtering
    /// is what is checked); ids under the run's prefix as local ids.
    pub async fn list_under(&self, local: &str) -> Result<Vec<String>, BackendError> {
        let _running = self.start()?;
        let ids = self.watch(self.backend().list_states(&self.run_id(local)).await)?;
        Ok(ids.into_iter().map(|id| id.strip_prefix(&self.prefix).map_or_else(|| id.clone(), str::to_owned)).collect())
    }

    /// On Ctrl-C: stops new operations, waits (up to 30 s) for those under
    /// way, which may run on other threads, then cleans up.
    #[cfg(feature = "cli")]
    pub async fn interrupt_and_cleanup(&self) -> (usize, Vec<BackendError>) {
        self.stopped.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.in_flight.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.cleanup().await
    }

    /// Deletes everything the run wrote (and, with `list`, anything else
    /// under its prefix). Returns how many ids were deleted and the errors.
    pub async fn cleanup(&self) -> (usize, Vec<BackendError>) {
        let backend = self.backend();
        let mut ids: BTreeSet<String> = std::mem::take(&mut *self.written());
        if backend.capabilities().list {
            if let Ok(listed) = backend.list_states(&self.prefix).await {
                ids.extend(listed.into_iter().filter(|id| id.starts_with(&self.prefix)));
            }
        }
        let mut errors = Vec::new();
        let mut deleted = 0;
        for id in ids {
            match backend.delete_state(&id).await {
                Ok(()) => deleted += 1,
                // An id the backend refused was never stored.
                Err(e) if e.kind == ErrorKind::InvalidRunId => {}
                Err(e) => {
                    let mut e = e;
                    e.message = format!("delete of run id {}: {}", show_run_id(&id), e.message.chars().take(300).collect::<String>());
                    errors.push(e);
                }
            }
        }
        (deleted, errors)
    }
}
