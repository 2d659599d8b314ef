//! One input's way through a migration: read, convert, compare with what
//! the target holds, write, load back and compare again.

use std::sync::Arc;

#[cfg(feature = "sqlite")]
use crate::backends::sqlite::loaded_state;
use crate::backends::{BackendError, ErrorKind, NewState, RawState, StateBackend};
use crate::format::{TypeHints, TypeRegistry, serialize};
use crate::json::{KeyOrder, to_python_json};
use crate::value::Value;

use super::Options;
use super::claims::Claims;
use super::compare::difference;
use super::decode::decode;
use super::report::{Entry, Note, Outcome, SampleTexts};
use super::sample::leaf_diff;
use super::source::{Input, Payload};

/// Writes of one input that may lose a race to another writer of its run
/// id before it fails: a lost race ends with what that writer stored, so
/// more than one loss means the run id is being fought over.
const SWAP_TRIES: usize = 5;

/// Migrates inputs into one target.
pub(crate) struct Worker {
    target: Arc<dyn StateBackend>,
    registry: Arc<TypeRegistry>,
    options: Options,
    no_hints: TypeHints,
    /// For a source whose run ids come from the states (JSON Lines), which
    /// may repeat one: who came first.
    claims: Option<Arc<Claims>>,
}

/// A state read from an input, before conversion.
struct Read {
    state: Value,
    notes: Vec<Note>,
    /// The source text, for a sampled input.
    text: Option<String>,
}

impl Worker {
    /// A worker; `repeats` when the source's run ids may repeat.
    pub(crate) fn new(target: Arc<dyn StateBackend>, registry: Arc<TypeRegistry>, options: Options, repeats: bool) -> Worker {
        Worker { target, registry, options, no_hints: TypeHints::new(), claims: repeats.then(|| Arc::new(Claims::default())) }
    }

    /// The input's entry; `None` when it belongs to another shard.
    pub(crate) async fn process(&self, input: Input) -> Option<Entry> {
        let Input { index, source, run_id, payload } = input;
        // Every input passes its ticket, claimed or dropped on any return.
        let ticket = self.claims.as_ref().map(|claims| Claims::ticket(claims, index));
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
        if let Some(ticket) = ticket {
            if !ticket.claim(&run_id).await {
                let why = "an earlier input of the source has this run id: the first one is the one migrated";
                return Some(Entry { notes, detail: Some(why.to_owned()), ..Entry::new(source, Some(run_id), Outcome::Duplicate) });
            }
        }
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

    /// Compares with what the target holds, then writes and verifies. The
    /// write is a compare-and-set against what was compared with, so a
    /// state another writer stored in between is never written over: it is
    /// compared with in turn (and is then `unchanged` or a conflict). A
    /// target that keeps one text per run ([`crate::backends::TextStore`]) gets the bytes
    /// themselves, compared and verified as bytes, with no second parse.
    async fn store(&self, mut entry: Entry, run_id: &str, converted: Value) -> Entry {
        let encoded = match self.target.text_store().map(|store| store.encode(&converted)).transpose() {
            Ok(text) => text.map(|text| RawState::from_bytes(text.into_bytes())),
            Err(e) => return fail(entry, format!("cannot be written as the target's text: {e}")),
        };
        for _ in 0..SWAP_TRIES {
            let before = match self.target.load_raw(run_id).await {
                Ok(before) => before,
                Err(e) => return self.unloadable(entry, e),
            };
            let held = match &before {
                None => Held::Nothing,
                Some(raw) if encoded.as_ref() == Some(raw) => Held::Same,
                Some(raw) => match self.held_state(run_id, raw, encoded.is_some()) {
                    Ok(state) => self.compare(&converted, state),
                    Err(e) => Held::Unreadable(e),
                },
            };
            entry = match self.settle(entry, held) {
                Settled::Done(entry) => return entry,
                Settled::Write(entry) => entry,
            };
            let new = encoded.as_ref().map_or(NewState::State(&converted), NewState::Raw);
            match self.target.swap_state(run_id, before.as_ref(), new).await {
                Ok(true) => return self.verify(entry, run_id, &converted, encoded.as_ref(), before).await,
                // Another writer came in between: look again at what it left.
                Ok(false) => entry.notes.retain(|note| *note != Note::Overwrote),
                Err(e) => return self.fail_with(entry, "writing it to the target failed", e),
            }
        }
        fail(entry, format!("other writers changed the target's state for it {SWAP_TRIES} times while this run tried to write it"))
    }

    /// Loads back what was written and compares it with the converted
    /// state. A state that does not verify never stays: the target gets
    /// back what it held `before` (or nothing), and the input fails.
    async fn verify(&self, entry: Entry, run_id: &str, converted: &Value, encoded: Option<&RawState>, before: Option<RawState>) -> Entry {
        if !self.options.verify {
            return entry;
        }
        let after = match self.target.load_raw(run_id).await {
            Ok(after) => after,
            Err(e) => return self.fail_with(entry, "written, but loading it back to verify it failed", e),
        };
        let problem = match (&after, encoded) {
            (None, _) => "the target has no state for it after the save".to_owned(),
            (Some(after), Some(encoded)) if after == encoded => return entry,
            (Some(_), Some(_)) => "the stored bytes differ from those written".to_owned(),
            (Some(after), None) => match self.target.decode_raw(run_id, after, &self.no_hints) {
                Ok(loaded) => match difference(converted, loaded, self.target.keys_filled_on_load(), &self.registry) {
                    None => return entry,
                    Some(problem) => problem,
                },
                Err(e) => format!("loading it back failed: {e}"),
            },
        };
        let previous = before.as_ref().map_or(NewState::Nothing, NewState::Raw);
        let said = if before.is_some() { "the target holds its previous state again" } else { "the target holds nothing for it again" };
        match self.target.swap_state(run_id, after.as_ref(), previous).await {
            Ok(true) => fail(entry, format!("verification failed: {problem} ({said})")),
            Ok(false) => fail(entry, format!("verification failed: {problem} (another writer changed it since, so it was left as that one left it)")),
            Err(e) => self.fail_with(entry, &format!("verification failed: {problem}, and putting back what the target held before failed"), e),
        }
    }

    /// The state held in `raw`: for a text target, read as a dump is (a
    /// text written with another layout still counts), else as the target
    /// loads it.
    fn held_state(&self, run_id: &str, raw: &RawState, text_target: bool) -> Result<Value, BackendError> {
        match raw.bytes().filter(|_| text_target) {
            Some(bytes) => decode(bytes).map(|decoded| decoded.state).map_err(|e| BackendError::internal("the stored text", e)),
            None => self.target.decode_raw(run_id, raw, &self.no_hints),
        }
    }

    /// The entry of an input whose run id's stored state cannot be read at
    /// all (nothing to compare with, nothing a compare-and-set could name).
    fn unloadable(&self, entry: Entry, e: BackendError) -> Entry {
        if e.kind == ErrorKind::InvalidRunId {
            return fail(entry, format!("the target refuses the run id: {e}"));
        }
        self.fail_with(entry, "loading what the target holds for it failed", e)
    }

    /// Whether a loaded state is the converted one.
    fn compare(&self, converted: &Value, held: Value) -> Held {
        match difference(converted, held, self.target.keys_filled_on_load(), &self.registry) {
            None => Held::Same,
            Some(difference) => Held::Different(difference),
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
        Payload::File(path) => from_bytes(read_at_most(&path, limit).map_err(Unread::Failed)?),
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
pub(super) fn read_at_most(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|file| file.take(limit.saturating_add(1)).read_to_end(&mut bytes)).map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("it is over --max-input-size ({limit} bytes)"));
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
