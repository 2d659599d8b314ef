//! One input's way through a migration: read, convert, compare with what
//! the target holds, write, load back and compare again.

use std::sync::Arc;

use crate::backends::{ErrorKind, StateBackend};
use crate::backends::sqlite::loaded_state;
use crate::format::{TypeHints, TypeRegistry, serialize};
use crate::json::{KeyOrder, to_python_json};
use crate::value::Value;

use super::Options;
use super::compare::difference;
use super::decode::decode;
use super::sample::leaf_diff;
use super::report::{Entry, Note, Outcome, SampleTexts};
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
        // Besides the first inputs, a sampling run keeps every input whose
        // notes say its values may change, so the sample shows such changes.
        let sampling = Sampling { first: index < self.options.sample, noted: self.options.sample > 0 };
        let read = match read(payload, sampling) {
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

    /// Compares with what the target holds, then writes and verifies.
    async fn store(&self, mut entry: Entry, run_id: &str, converted: Value) -> Entry {
        let filled = self.target.keys_filled_on_load();
        let held = match self.target.load_state(run_id, &self.no_hints).await {
            Ok(None) => None,
            Ok(Some(held)) => Some(difference(&converted, held, filled, &self.registry)),
            Err(e) if e.kind == ErrorKind::InvalidRunId => return fail(entry, format!("the target refuses the run id: {e}")),
            Err(e) => Some(Some(format!("the target holds a state for it that cannot be loaded ({e})"))),
        };
        match held {
            Some(None) => {
                entry.outcome = Outcome::Unchanged;
                return entry;
            }
            Some(Some(_)) if self.options.overwrite => entry.notes.push(Note::Overwrote),
            Some(Some(difference)) => {
                entry.outcome = Outcome::Conflict;
                entry.detail = Some(format!("the target holds a different state ({difference}); --overwrite replaces it"));
                return entry;
            }
            None => {}
        }
        if self.options.dry_run {
            return entry;
        }
        if let Err(e) = self.target.save_state(run_id, &converted).await {
            return fail(entry, format!("writing it to the target failed: {e}"));
        }
        if self.options.verify {
            let problem = match self.target.load_state(run_id, &self.no_hints).await {
                Ok(Some(loaded)) => difference(&converted, loaded, filled, &self.registry),
                Ok(None) => Some("the target has no state for it after the save".to_owned()),
                Err(e) => Some(format!("loading it back failed: {e}")),
            };
            if let Some(problem) = problem {
                return fail(entry, format!("verification failed: {problem}"));
            }
        }
        entry
    }
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

/// The state an input holds.
fn read(payload: Payload, sampling: Sampling) -> Result<Read, Unread> {
    let from_bytes = |bytes: Vec<u8>| {
        let decoded = decode(&bytes).map_err(Unread::Failed)?;
        let keep_text = sampling.first || (sampling.noted && !decoded.notes.is_empty());
        let text = keep_text.then(|| String::from_utf8_lossy(&bytes).into_owned());
        Ok(Read { state: decoded.state, notes: decoded.notes, text })
    };
    match payload {
        Payload::Skip(why) => Err(Unread::Skip(why)),
        Payload::Broken(why) => Err(Unread::Failed(why)),
        Payload::File(path) => from_bytes(std::fs::read(&path).map_err(|e| Unread::Failed(format!("cannot read it: {e}")))?),
        Payload::Text(bytes) => from_bytes(bytes),
        Payload::Row(columns) => {
            let text = sampling.first.then(|| columns.iter().map(|(name, value)| format!("{name}: {value:?}\n")).collect());
            let state = loaded_state(columns).map_err(Unread::Failed)?;
            Ok(Read { state, notes: Vec::new(), text })
        }
    }
}

fn fail(entry: Entry, error: String) -> Entry {
    Entry { outcome: Outcome::Failed, error: Some(error), ..entry }
}
