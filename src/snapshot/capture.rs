//! Saving states through a backend and seeing what happened: one snapshot
//! per state, whose body has three sections:
//!
//! - `save`: `ok`, or the refusal or error;
//! - `stored at LOCATION`: what the backend stored, from the storage itself
//!   ([`StateBackend::stored_form`]): the file's bytes, the Redis value,
//!   the row column by column; or that the storage is not visible;
//! - `loaded`: what `load_state` returned, as canonical typed JSON (sorted
//!   keys, one item a line), loaded with every custom type's hint.
//!
//! Each state is saved under its stable name behind a prefix unique to the
//! run (as `conform` does), so that a store's own states with the same
//! names are never read, overwritten or deleted, and two runs on one store
//! never mix. The prefix is left out of everything captured (the run id
//! inside a state, a key, a file name), and the backend's URL and directory
//! are replaced by `<backend>` in messages, so that recording twice, on any
//! machine, gives the same bytes. Each run id is deleted after it is
//! captured.

use crate::backends::{BackendError, StateBackend, StoredForm};
use crate::typed::to_canonical_typed_text;
use crate::value::Value;

use super::states::{StateInput, custom_type_hints};
use super::{Section, Snapshot, SnapshotError};

/// What the snapshots' headers name as their source.
pub const SOURCE: &str = "stateharness snapshot";

/// The run id a state named `name` is saved under in the run of `prefix`.
pub fn run_id_under(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// Saves, inspects, loads and deletes each state through `backend`, in
/// order, under `prefix` (see [`run_id_under`]), and returns its snapshot.
/// Backend errors are part of what is captured (a backend that starts
/// refusing a value is a change); only a state whose name cannot name a
/// snapshot is an error.
pub async fn capture(backend: &dyn StateBackend, states: &[StateInput], prefix: &str) -> Result<Vec<Snapshot>, SnapshotError> {
    let redactions = redactions(&backend.describe());
    // The prefix goes first: a backend's URL may hold it (a key prefix).
    let unprefix = |text: String| if prefix.is_empty() { text } else { text.replace(prefix, "") };
    let redact = |error: &BackendError| redactions.iter().fold(unprefix(format!("error: {error}")), |text, secret| text.replace(secret.as_str(), "<backend>"));
    let mut snapshots = Vec::with_capacity(states.len());
    for input in states {
        let run_id = run_id_under(prefix, &input.run_id);
        let state = with_run_id(&input.state, &input.run_id, &run_id);
        let saved = match backend.save_state(&run_id, &state).await {
            Ok(()) => "ok".to_owned(),
            Err(e) => redact(&e),
        };
        let stored = match backend.stored_form(&run_id).await {
            Ok(Some(form)) => Section::new(unprefix(format!("stored at {}", form.location)), unprefix(stored_text(&form))),
            Ok(None) => Section::new("stored", "not visible through this backend"),
            Err(e) => Section::new("stored", redact(&e)),
        };
        let loaded = match backend.load_state(&run_id, &custom_type_hints(&state)).await {
            Ok(Some(value)) => unprefix(to_canonical_typed_text(&value)),
            Ok(None) => "nothing (None)".to_owned(),
            Err(e) => redact(&e),
        };
        let mut sections = vec![Section::new("save", saved), stored, Section::new("loaded", loaded)];
        if let Err(e) = backend.delete_state(&run_id).await {
            sections.push(Section::new("delete", redact(&e)));
        }
        snapshots.push(Snapshot::new(SOURCE, &input.run_id, &sections)?);
    }
    Ok(snapshots)
}

/// `state` with its own `run_id` field, when it names the state (`name`),
/// set to the id it is saved under: a state agrees with its key.
fn with_run_id(state: &Value, name: &str, run_id: &str) -> Value {
    let mut state = state.clone();
    if let Value::Dict(fields) = &mut state
        && let Some(own) = fields.get_mut("run_id").filter(|own| own.as_str() == Some(name))
    {
        *own = Value::from(run_id);
    }
    state
}

/// A stored form as text: a single blob as it is, columns one per line
/// (`name: value`).
fn stored_text(form: &StoredForm) -> String {
    match form.parts.as_slice() {
        [] => "nothing".to_owned(),
        [single] if single.name.is_empty() => single.text.clone(),
        parts => parts
            .iter()
            .map(|part| if part.text.is_empty() { format!("{}:", part.name) } else { format!("{}: {}", part.name, part.text) })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// What differs between machines in a backend's messages: its URL, and
/// the path of a `file:///DIR` or `sqlite:///PATH` backend.
fn redactions(url: &str) -> Vec<String> {
    let mut secrets = vec![url.to_owned()];
    if let Some((_, path)) = url.split_once("://").filter(|(_, path)| path.starts_with('/') && path.len() > 1) {
        secrets.push(path.to_owned());
    }
    secrets
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backends::memory::MemoryBackend;
    use crate::format::TypeRegistry;
    use crate::snapshot::states::builtin_states;

    #[tokio::test]
    async fn the_same_states_give_the_same_snapshots() {
        let registry = Arc::new(TypeRegistry::standard());
        let states = builtin_states(&registry).unwrap();
        let backend = MemoryBackend::new(registry);
        let first = capture(&backend, &states, "sh-0123456789abcdef-").await.unwrap();
        assert_eq!(first, capture(&backend, &states, "sh-fedcba9876543210-").await.unwrap(), "the prefix never shows");
        let money = first.iter().find(|s| s.name == "snap-custom-money").unwrap();
        assert!(money.file.body.contains("\"$custom\": {"), "{}", money.file.body);
        let uuid = first.iter().find(|s| s.name == "snap-uuid").unwrap();
        assert!(uuid.file.body.starts_with("== save ==\nerror: unsupported: "), "{}", uuid.file.body);
    }

    #[test]
    fn paths_of_file_backends_are_redacted() {
        assert_eq!(redactions("file:///tmp/s"), ["file:///tmp/s", "/tmp/s"]);
        assert_eq!(redactions("memory://"), ["memory://"]);
    }
}
