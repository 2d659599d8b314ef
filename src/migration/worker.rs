//! One input's way through a migration: read, convert, compare with what
//! the target holds, write, load back and compare again.

use std::sync::Arc;

#[cfg(feature = "sqlite")]
use crate::backends::sqlite::loaded_state;
use crate::backends::{BackendError, ErrorKind, StateBackend, TextStore};
use crate::format::{TypeHints, TypeRegistry, serialize};
use crate::json::{KeyOrder, to_python_json};
use crate::value::Value;

use super::Options;
use super::compare::difference;
use super::decode::decode;
use super::report::{Entry, Note, Outcome, SampleTexts};
use super::sample::leaf_diff;
use super::source::{Input, Payload};

/// Migrates inputs into one target.
pub(crate) struct Worker {
    target: Arc<dyn StateBackend>,
    registry: Arc<TypeRegistry>,
    options: Options,
    no_hints: TypeHints,
}

/// A state read from an input, before conversion.
struct Read {
    state: Value,
    notes: Vec<Note>,
    /// The source text, for a sampled input.
    text: Option<String>,
}

impl Worker {
    pub(crate) fn new(target: Arc<dyn StateBackend>, registry: Arc<TypeRegistry>, options: Options) -> Worker {
        Worker { target, registry, options, no_hints: TypeHints::new() }
    }

    /// The input's entry; `None` when it belongs to another shard.
    pub(crate) async fn process(&self, input: Input) -> Option<Entry> {
        let Input { index, source, run_id, payload } = input;
        if run_id.as_deref().is_some_and(|id| !self.in_shard(id)) {
            return None;
        }
        if self.options.stop.is_stopped() {
            let why = "the run stopped before this input (see the connection failure or signal above)";
            return Some(Entry { detail: Some(why.to_owned()), ..Entry::new(source, run_id, Outcome::NotAttempted) });
        }
        // Besides the first inputs, a sampling run keeps every input whose
        // notes say its values may change, so the sample shows such changes.
        let sampling = Sampling { first: index < self.options.sample, noted: self.options.sample > 0 };
        let limit = self.options.max_input_size;
        let read = match tokio::task::spawn_blocking(move || read(payload, sampling, limit)).await {
            Ok(read) => read,
            Err(e) => Err(Unread::Failed(format!("reading it stopped: {e}"))),
        };
        let read = match read {
            Ok(read) => read,
            Err(Unread::Skip(why)) => return Some(Entry { detail: Some(why), ..Entry::new(source, run_id, Outcome::Skipped) }),
            Err(Unread::Failed(why)) => return Some(Entry::failed(source, run_id, why)),
        };
        let own_id = read.state.as_dict().and_then(|d| d.get("run_id")).and_then(Value::as_str).map(str::to_owned);
        let mut notes = read.notes;
        let run_id = match (run_id, own_id) {
            (Some(id), own) => {
                if own.is_some_and(|own| own != id) {
                    notes.push(Note::RunIdMismatch);
                }
                id
            }
            (None, Some(own)) if self.in_shard(&own) => own,
            (None, Some(_)) => return None,
            (None, None) => return Some(Entry { notes, ..Entry::failed(source, None, "the state has no run_id string, so it has no run id") }),
        };
        let mut entry = Entry { notes, ..Entry::new(source, Some(run_id.clone()), Outcome::Migrated) };
        // Only a sampled input keeps its state as read, for the diff.
        let as_read = read.text.is_some().then(|| read.state.clone());
        let converted = match serialize(read.state, &self.registry) {
            Ok(converted) => converted,
            Err(e) => return Some(fail(entry, format!("cannot be converted: {e}"))),
        };
        if let (Some(source), Some(as_read)) = (read.text, as_read) {
            match to_python_json(&converted, KeyOrder::Sorted) {
                Ok(text) => entry.sample = Some(SampleTexts { source, converted: text, diff: leaf_diff(&as_read, &converted) }),
                Err(e) => return Some(fail(entry, format!("cannot be written as JSON text: {e}"))),
            }
        }
        Some(self.store(entry, &run_id, converted).await)
    }

    fn in_shard(&self, run_id: &str) -> bool {
        self.options.shard.is_none_or(|shard| shard.contains(run_id))
    }

    /// Compares with what the target holds, then writes and verifies: as
    /// bytes when the target is a [`TextStore`], else through load and save.
    async fn store(&self, entry: Entry, run_id: &str, converted: Value) -> Entry {
        match self.target.text_store() {
            Some(store) => self.store_text(store, entry, run_id, &converted),
            None => self.store_state(entry, run_id, converted).await,
        }
    }

    async fn store_state(&self, entry: Entry, run_id: &str, converted: Value) -> Entry {
        let held = match self.target.load_state(run_id, &self.no_hints).await {
            Ok(None) => Held::Nothing,
            Ok(Some(held)) => self.compare(&converted, held),
            Err(e) => Held::Unreadable(e),
        };
        let entry = match self.settle(entry, held) {
            Settled::Done(entry) => return entry,
            Settled::Write(entry) => entry,
        };
        if let Err(e) = self.target.save_state(run_id, &converted).await {
            return self.fail_with(entry, "writing it to the target failed", e);
        }
        if !self.options.verify {
            return entry;
        }
        let problem = match self.target.load_state(run_id, &self.no_hints).await {
            Ok(Some(loaded)) => difference(&converted, loaded, self.target.keys_filled_on_load(), &self.registry),
            Ok(None) => Some("the target has no state for it after the save".to_owned()),
            Err(e) if e.kind.is_unreachable() => return self.fail_with(entry, "written, but loading it back to verify it failed", e),
            Err(e) => Some(format!("loading it back failed: {e}")),
        };
        match problem {
            Some(problem) => fail(entry, format!("verification failed: {problem}")),
            None => entry,
        }
    }

    /// [`Worker::store_state`] for a target whose stored bytes are known in
    /// advance: the same bytes mean the same state, so nothing is parsed
    /// unless the target holds other bytes.
    fn store_text(&self, store: &dyn TextStore, entry: Entry, run_id: &str, converted: &Value) -> Entry {
        let text = match store.encode(converted) {
            Ok(text) => text,
            Err(e) => return fail(entry, format!("cannot be written as the target's text: {e}")),
        };
        let held = match store.read_text(run_id) {
            Ok(None) => Held::Nothing,
            Ok(Some(bytes)) if bytes == text.as_bytes() => Held::Same,
            Ok(Some(bytes)) => self.compare_text(converted, &bytes),
            Err(e) => Held::Unreadable(e),
        };
        let entry = match self.settle(entry, held) {
            Settled::Done(entry) => return entry,
            Settled::Write(entry) => entry,
        };
        if let Err(e) = store.write_text(run_id, text.as_bytes()) {
            return fail(entry, format!("writing it to the target failed: {e}"));
        }
        if !self.options.verify {
            return entry;
        }
        match store.read_text(run_id) {
            Ok(Some(bytes)) if bytes == text.as_bytes() => entry,
            Ok(Some(_)) => fail(entry, "verification failed: the stored bytes differ from those written".to_owned()),
            Ok(None) => fail(entry, "verification failed: the target has no state for it after the save".to_owned()),
            Err(e) => fail(entry, format!("verification failed: loading it back failed: {e}")),
        }
    }

    /// Whether a loaded state is the converted one.
    fn compare(&self, converted: &Value, held: Value) -> Held {
        match difference(converted, held, self.target.keys_filled_on_load(), &self.registry) {
            None => Held::Same,
            Some(difference) => Held::Different(difference),
        }
    }

    /// Whether other stored bytes still hold the converted state (written
    /// with another layout, say).
    fn compare_text(&self, converted: &Value, bytes: &[u8]) -> Held {
        match decode(bytes) {
            Ok(decoded) => self.compare(converted, decoded.state),
            Err(e) => Held::Unreadable(BackendError::internal("the stored text", e)),
        }
    }

    /// What to do given what the target holds: nothing more (unchanged, a
    /// conflict, a refused run id, a dry run) or write.
    fn settle(&self, mut entry: Entry, held: Held) -> Settled {
        match held {
            Held::Nothing => {}
            Held::Same => {
                entry.outcome = Outcome::Unchanged;
                return Settled::Done(entry);
            }
            Held::Unreadable(e) if e.kind == ErrorKind::InvalidRunId => {
                return Settled::Done(fail(entry, format!("the target refuses the run id: {e}")));
            }
            // Nothing is known of what an unreachable target holds: never a conflict.
            Held::Unreadable(e) if e.kind.is_unreachable() => {
                return Settled::Done(self.fail_with(entry, "loading what the target holds for it failed", e));
            }
            Held::Different(_) | Held::Unreadable(_) if self.options.overwrite => entry.notes.push(Note::Overwrote),
            Held::Different(difference) => {
                entry.outcome = Outcome::Conflict;
                entry.detail = Some(format!("the target holds a different state ({difference}); --overwrite replaces it"));
                return Settled::Done(entry);
            }
            Held::Unreadable(e) => {
                entry.outcome = Outcome::Conflict;
                entry.detail = Some(format!("the target holds a state for it that cannot be loaded ({e}); --overwrite replaces it"));
                return Settled::Done(entry);
            }
        }
        if self.options.dry_run { Settled::Done(entry) } else { Settled::Write(entry) }
    }
}

/// What the target holds for a run id.
enum Held {
    Nothing,
    Same,
    Different(String),
    Unreadable(BackendError),
}

/// Whether an input still needs writing.
enum Settled {
    Done(Entry),
    Write(Entry),
}

/// Why an input gave no state.
enum Unread {
    Skip(String),
    Failed(String),
}

/// Which inputs keep their source text.
#[derive(Clone, Copy)]
struct Sampling {
    /// This input, whatever it holds.
    first: bool,
    /// This input if it has notes.
    noted: bool,
}

/// The state an input holds (blocking: file reads happen here).
fn read(payload: Payload, sampling: Sampling, limit: u64) -> Result<Read, Unread> {
    let from_bytes = |bytes: Vec<u8>| {
        let decoded = decode(&bytes).map_err(Unread::Failed)?;
        let keep_text = sampling.first || (sampling.noted && !decoded.notes.is_empty());
        let text = keep_text.then(|| String::from_utf8_lossy(&bytes).into_owned());
        Ok(Read { state: decoded.state, notes: decoded.notes, text })
    };
    match payload {
        Payload::Skip(why) => Err(Unread::Skip(why)),
        Payload::Broken(why) => Err(Unread::Failed(why)),
        Payload::File(path) => from_bytes(read_at_most(&path, limit)?),
        Payload::Text(bytes) => from_bytes(bytes),
        #[cfg(feature = "sqlite")]
        Payload::Row(columns) => {
            let text = sampling.first.then(|| columns.iter().map(|(name, value)| format!("{name}: {value:?}\n")).collect());
            let state = loaded_state(columns).map_err(Unread::Failed)?;
            Ok(Read { state, notes: Vec::new(), text })
        }
    }
}

/// The bytes of the file at `path`, reading no more than `limit` and one
/// byte: a file without end (a device) cannot exhaust memory.
fn read_at_most(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, Unread> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(limit.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(|e| Unread::Failed(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(Unread::Failed(format!("it is over --max-input-size ({limit} bytes)")));
    }
    Ok(bytes)
}

impl Worker {
    /// A failed entry for `e`; when `e` says the target cannot be reached,
    /// a connection failure that stops the run.
    fn fail_with(&self, entry: Entry, what: &str, e: BackendError) -> Entry {
        if !e.kind.is_unreachable() {
            return fail(entry, format!("{what}: {e}"));
        }
        self.options.stop.stop();
        Entry { outcome: Outcome::ConnectionFailed, error: Some(format!("{what}: the target cannot be reached: {e}")), ..entry }
    }
}

fn fail(entry: Entry, error: String) -> Entry {
    Entry { outcome: Outcome::Failed, error: Some(error), ..entry }
}
