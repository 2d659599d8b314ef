//! Checks gated by capabilities: concurrency, persistence and listing; and
//! the judging of refusals.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backends::{BackendError, ErrorKind, StateBackend};
use crate::format::{TypeHints, TypeRegistry, fields};
use crate::text::{cut, show_run_id};
use crate::typed::to_typed_text;
use crate::value::{Dict, Value};

use super::failure::Failure;
use super::fidelity::{Causes, Matrix, judge};
use super::judging::Judging;
use super::opener::Opener;
use super::report::CheckResult;
use super::state::base_state;
use super::tracker::Tracked;

/// What a check found: failures (empty when it passed) and verdicts.
#[derive(Clone, Debug, Default)]
pub struct CheckRun {
    /// Why the check failed.
    pub failures: Vec<Failure>,
    /// Verdicts of everything loaded.
    pub matrix: Matrix,
    /// Differences of the failures that are fidelity findings.
    differences: BTreeSet<String>,
    /// How many failures are fidelity findings.
    from_findings: usize,
}

fn writer_state(backend: &Tracked, local: &str, writer: usize) -> Value {
    // Payloads of different sizes make a torn write visible as a mix.
    let context = fields([
        ("writer", Value::from(writer as i64)),
        ("payload", Value::Str(format!("{writer:03}-").repeat(200 + 150 * writer))),
        ("items", Value::List((0..20).map(|i| Value::from((writer * 100 + i) as i64)).collect())),
    ]);
    backend.state(local, context, Value::from(writer as i64))
}

impl CheckRun {
    /// Judges a state that came back against the one sent: its verdicts go
    /// into the matrix, its first rejected finding (all findings, when
    /// `any_finding`) becomes a failure introduced by `context`.
    fn judge_loaded(&mut self, context: &str, sent: &Value, got: &Value, judging: Judging<'_>, any_finding: bool) {
        let judgement = judge(sent, got, judging.registry);
        self.matrix.merge(&judgement.matrix);
        let finding = if any_finding { judgement.findings.first() } else { judgement.rejected(judging.profile).next() };
        if let Some(finding) = finding {
            self.failures.push(Failure::new(format!("{context}: {finding}")).finding(finding));
            self.differences.insert(finding.cause.clone());
            self.from_findings += 1;
        }
    }

    /// Adds a failure.
    fn fail(&mut self, failure: impl Into<Failure>) {
        self.failures.push(failure.into());
    }

    /// The check's result: passed when nothing failed.
    pub fn into_check(self, group: &str, name: String, timer: std::time::Instant, cases: u64) -> CheckResult {
        let causes = Causes::of(self.differences, self.failures.len(), self.from_findings);
        CheckResult::from_failures(group, name, self.failures, timer, cases).with_causes(causes)
    }
}

/// What the backend gives back for each of `states` saved alone under
/// `local`: the states it can store, against which a concurrent load is
/// judged (a fidelity defect is the cases' verdict, not a mix).
async fn stored_alone(backend: &Tracked, local: &str, states: &[Value]) -> Result<Vec<Value>, String> {
    let mut stored = Vec::with_capacity(states.len());
    for state in states {
        backend.save(local, state).await.map_err(|e| format!("saving a state alone: {e}"))?;
        match backend.load(local, &TypeHints::new()).await {
            Ok(Some(got)) => stored.push(got),
            Ok(None) => return Err(format!("a state saved alone under run id {:?} is gone", backend.run_id(local))),
            Err(e) => return Err(format!("loading a state saved alone: {e}")),
        }
    }
    backend.delete(local).await.map_err(|e| format!("delete failed: {e}"))?;
    Ok(stored)
}

/// Which of `candidates` `got` is, judged under the profile.
fn matching(got: &Value, candidates: &[Value], judging: Judging<'_>) -> Option<usize> {
    candidates.iter().position(|sent| judge(sent, got, judging.registry).passes(judging.profile, false))
}

/// Concurrent saves of different states to one id, with loads between:
/// every load gives one of the written states or None, never a mix.
pub async fn concurrent_one_id(backend: &Arc<Tracked>, judging: Judging<'_>, rounds: usize) -> CheckRun {
    one_id_race(&[backend], Race { tag: "c1", writers: 6, readers: 6 }, judging, rounds).await
}

/// Two handles on one storage (for an `exec:` backend, two processes)
/// save different states to one id at once and load it from both: every
/// load gives one of the states saved, never a torn or mixed one or an
/// error, and once the saves are done both handles see the same state.
/// `second` is the other handle, opened afresh on the same storage.
pub async fn shared_one_id(backend: &Arc<Tracked>, second: Result<Arc<dyn StateBackend>, BackendError>, judging: Judging<'_>, rounds: usize) -> CheckRun {
    let second = match backend.watch(second) {
        Ok(second) => second,
        Err(e) => {
            let mut run = CheckRun::default();
            run.fail(format!("opening a second handle on the storage: {e}"));
            return run;
        }
    };
    // The run's prefix: the ids are the run's, and its cleanup covers them.
    let other = Arc::new(Tracked::new(second, backend.prefix().to_owned(), backend.flujo()));
    let mut run = one_id_race(&[backend, &other], Race { tag: "s", writers: 4, readers: 3 }, judging, rounds).await;
    // A fault met by the second handle is the run's fault, not a verdict.
    if let Some(fault) = other.fault() {
        let _ = backend.watch(Err::<(), _>(fault));
    }
    if let Err(e) = other.backend().close().await {
        run.fail(format!("closing the second handle: {e}"));
    }
    run
}

/// The shape of a race on one id: writers and readers per handle.
struct Race {
    tag: &'static str,
    writers: usize,
    readers: usize,
}

/// Races `race.writers` saves of distinct states and `race.readers`
/// loaders per handle on one id, `rounds` times. With several handles (one
/// storage), a bad load is "torn or mixed" and, once the saves are done,
/// every handle must see the same state.
async fn one_id_race(handles: &[&Arc<Tracked>], race: Race, judging: Judging<'_>, rounds: usize) -> CheckRun {
    let first = handles[0];
    let shared = handles.len() > 1;
    let mut run = CheckRun::default();
    for round in 0..rounds {
        let local = format!("{}-{round}", race.tag);
        // Writer w saves through handle w % handles; every state is distinct.
        let sent: Vec<Value> = (0..handles.len() * race.writers).map(|w| writer_state(first, &local, w)).collect();
        let states = match stored_alone(first, &local, &sent).await {
            Ok(stored) => stored,
            Err(e) => {
                run.fail(format!("round {round}: {e}"));
                continue;
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (w, state) in sent.into_iter().enumerate() {
            let (handle, local) = (Arc::clone(handles[w % handles.len()]), local.clone());
            tasks.spawn(async move { handle.save(&local, &state).await.map(|()| Vec::new()) });
        }
        for r in 0..handles.len() * race.readers {
            let (handle, local) = (Arc::clone(handles[r % handles.len()]), local.clone());
            tasks.spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..8 {
                    seen.push(handle.load(&local, &TypeHints::new()).await?);
                    tokio::task::yield_now().await;
                }
                Ok(seen)
            });
        }
        let run_id = first.run_id(&local);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(loads)) => {
                    for got in loads.into_iter().flatten() {
                        if matching(&got, &states, judging).is_none() {
                            let what = if shared { "with two handles on one storage, a load" } else { "a load" };
                            let mix = if shared { "torn or mixed" } else { "a mix?" };
                            run.fail(format!(
                                "round {round}: {what} of run id {run_id:?} returned none of the states being written ({mix}): {}",
                                cut(&to_typed_text(&got))
                            ));
                        }
                    }
                }
                Ok(Err(e)) if shared => run.fail(format!("round {round}: with two handles on one storage, run id {run_id:?}: {e}")),
                Ok(Err(e)) => run.fail(format!("round {round}: {e}")),
                Err(e) => run.fail(format!("round {round}: a task panicked: {e}")),
            }
        }
        let mut last = Vec::new();
        for (which, handle) in ["first ", "second "].into_iter().zip(handles) {
            let which = if shared { which } else { "" };
            match handle.load(&local, &TypeHints::new()).await {
                Ok(Some(got)) => match matching(&got, &states, judging) {
                    Some(index) => last.push(index),
                    None => {
                        run.fail(format!("round {round}: after all saves, the {which}handle loads none of the states written: {}", cut(&to_typed_text(&got))))
                    }
                },
                Ok(None) => run.fail(format!("round {round}: after all saves, the {which}handle finds nothing under run id {run_id:?}")),
                Err(e) => run.fail(format!("round {round}: after all saves, the {which}handle: {e}")),
            }
        }
        if let [first, second] = last[..] {
            if first != second {
                run.fail(format!(
                    "round {round}: after all saves, the two handles see different states of run id {run_id:?} (writer {first} and writer {second})"
                ));
            }
        }
        if let Err(e) = first.delete(&local).await {
            run.fail(format!("round {round}: delete failed: {e}"));
        }
        run.failures.truncate(10);
    }
    run
}

/// Concurrent work on many ids loses nothing.
pub async fn concurrent_many_ids(backend: &Arc<Tracked>, judging: Judging<'_>, ids: usize) -> CheckRun {
    let mut run = CheckRun::default();
    let states: Vec<(String, Value)> = (0..ids)
        .map(|i| {
            let local = format!("cm-{i}");
            let state = writer_state(backend, &local, i % 7);
            (local, state)
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (local, state) in states.clone() {
        let backend = backend.clone();
        tasks.spawn(async move { backend.save(&local, &state).await.map_err(|e| format!("save of {local:?}: {e}")) });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Some(e) = joined.map_err(|e| e.to_string()).and_then(|r| r).err() {
            run.fail(e);
        }
    }
    let mut loads = tokio::task::JoinSet::new();
    for (local, state) in states.clone() {
        let backend = backend.clone();
        loads.spawn(async move { (backend.load(&local, &TypeHints::new()).await, local, state) });
    }
    while let Some(joined) = loads.join_next().await {
        match joined {
            Ok((Ok(Some(got)), local, sent)) => {
                run.judge_loaded(&format!("run id {:?}", backend.run_id(&local)), &sent, &got, judging, false);
            }
            Ok((Ok(None), local, _)) => run.fail(format!("run id {:?}: lost (load gave None)", backend.run_id(&local))),
            Ok((Err(e), local, _)) => run.fail(format!("run id {:?}: {e}", backend.run_id(&local))),
            Err(e) => run.fail(format!("a task panicked: {e}")),
        }
    }
    for (local, _) in &states {
        if let Err(e) = backend.delete(local).await {
            run.fail(format!("delete of {local:?}: {e}"));
        }
    }
    run.failures.truncate(10);
    run
}

/// Data survives closing and reopening the backend.
pub async fn persistence(backend: &Tracked, judging: Judging<'_>, reopen: impl Future<Output = Result<Arc<dyn StateBackend>, BackendError>>) -> CheckRun {
    let mut run = CheckRun::default();
    let states: Vec<(String, Value)> = (0..3)
        .map(|i| {
            let local = format!("p-{i}");
            let context = fields([("survives", Value::from(i as i64)), ("text", Value::from("\u{e9}\u{0}\u{1F600}"))]);
            let state = backend.state(&local, context, Value::None);
            (local, state)
        })
        .collect();
    let mut stored = Vec::new();
    for (local, state) in states {
        match backend.save(&local, &state).await {
            Ok(()) => stored.push((local, state)),
            Err(e) => run.fail(format!("save of {:?}: {e}", backend.run_id(&local))),
        }
    }
    if let Err(e) = backend.backend().close().await {
        run.fail(format!("close failed: {e}"));
    }
    match backend.watch(reopen.await) {
        Ok(fresh) => {
            backend.replace(fresh);
        }
        Err(e) => {
            run.fail(format!("reopening failed: {e}"));
            return run;
        }
    }
    // Only the states the backend could store say whether data survives.
    for (local, sent) in &stored {
        match backend.load(local, &TypeHints::new()).await {
            Ok(Some(got)) => {
                run.judge_loaded(&format!("after reopening, run id {:?}", backend.run_id(local)), sent, &got, judging, false);
            }
            Ok(None) => run.fail(format!("after reopening, run id {:?} is gone", backend.run_id(local))),
            Err(e) => run.fail(format!("after reopening, load of {:?}: {e}", backend.run_id(local))),
        }
        let _ = backend.delete(local).await;
    }
    run
}

/// Listing agrees with what is stored.
pub async fn listing(backend: &Tracked) -> CheckRun {
    let mut run = CheckRun::default();
    let locals: Vec<String> = (0..5).map(|i| format!("l-{i}")).collect();
    for local in &locals {
        let state = backend.state(local, Dict::new(), Value::None);
        if let Err(e) = backend.save(local, &state).await {
            run.fail(format!("save of {:?}: {e}", backend.run_id(local)));
        }
    }
    if let Err(e) = backend.delete(&locals[1]).await {
        run.fail(format!("delete: {e}"));
    }
    let expected: BTreeSet<String> = locals.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| l.clone()).collect();
    match backend.list().await {
        Ok(listed) => {
            let listed: BTreeSet<String> = listed.into_iter().filter(|l| l.starts_with("l-")).collect();
            if listed != expected {
                run.fail(format!("list gave {listed:?}, expected {expected:?}"));
            }
        }
        Err(e) => run.fail(format!("list failed: {e}")),
    }
    for local in &locals {
        let _ = backend.delete(local).await;
    }
    run
}

/// The ids of [`listing_prefixes`], and what each prefix must list.
const LISTED: [&str; 8] = ["w-a", "w-c_d", "w-c%d", "w-cxd", "w-\u{e9}\u{1F600}", "w-\u{1F600}\u{e9}", "w-*?[x]", "w-[a]b"];
const PREFIXES: [(&str, &[&str]); 11] = [
    ("w-", &LISTED),
    // `_` and `%` are SQL LIKE's wildcards, `*`, `?` and `[]` a glob's
    // (Redis SCAN MATCH): here they are text.
    ("w-c_", &["w-c_d"]),
    ("w-c%", &["w-c%d"]),
    ("w-_", &[]),
    ("w-%", &[]),
    ("w-*", &["w-*?[x]"]),
    ("w-[a]", &["w-[a]b"]),
    ("w-?", &[]),
    // Ends in a multi-byte character.
    ("w-\u{e9}", &["w-\u{e9}\u{1F600}"]),
    ("w-\u{1F600}", &["w-\u{1F600}\u{e9}"]),
    // As long in bytes as `w-` and part of the 😀 of `w-😀é`: a backend
    // that compares byte slices of that length cuts the character.
    ("w-x", &[]),
];

/// `list_states` filters by its prefix literally, as Python's
/// `str.startswith` does: `_` and `%` are not wildcards, and a prefix may
/// end in a multi-byte character, or where an id's character is cut in
/// bytes. The backend's own answer is judged (not filtered here).
pub async fn listing_prefixes(backend: &Tracked) -> CheckRun {
    let mut run = CheckRun::default();
    let mut stored = BTreeSet::new();
    for local in LISTED {
        let state = backend.state(local, Dict::new(), Value::None);
        match backend.save(local, &state).await {
            Ok(()) => {
                stored.insert(local.to_owned());
            }
            // An id the backend refuses is not listed: the others still tell.
            Err(e) if e.kind == ErrorKind::InvalidRunId => {}
            Err(e) => run.fail(format!("save of run id {}: {e}", show_run_id(&backend.run_id(local)))),
        }
    }
    if run.failures.is_empty() {
        for (prefix, expected) in PREFIXES {
            let expected: BTreeSet<String> = expected.iter().map(|l| (*l).to_owned()).filter(|l| stored.contains(l)).collect();
            match backend.list_under(prefix).await {
                Ok(listed) => {
                    let listed: BTreeSet<String> = listed.into_iter().collect();
                    if listed != expected {
                        run.fail(format!(
                            "list_states({}) gave {listed:?} (after the run prefix), expected {expected:?}",
                            show_run_id(&backend.run_id(prefix))
                        ));
                    }
                }
                Err(e) => run.fail(format!("list_states({}) failed: {e}", show_run_id(&backend.run_id(prefix)))),
            }
        }
    }
    for local in &stored {
        let _ = backend.delete(local).await;
    }
    run
}

/// The directory a backend keeps its states in, when the suite can see it:
/// a `file://` backend's, or the one an `exec:` backend's `hello` names.
pub fn storage_root(backend: &dyn StateBackend) -> Option<PathBuf> {
    if let Some(root) = backend.storage_root() {
        return Some(root.to_owned());
    }
    let url = backend.describe();
    if url.starts_with("file://") { crate::backends::file::dir_of(&url).ok() } else { None }
}

/// What ids that lead out of a directory start with, when a backend makes
/// a path of the id as is: the parent, the file system's root, the parent
/// with Windows' separator, two levels up.
const ESCAPES: [&str; 4] = ["../", "/", "..\\", "../../"];

/// Files and directories named with the run's prefix in the places an id
/// of [`ESCAPES`] can lead to from `root` (its parents, `/`, the working
/// and temp directories), outside `root`.
fn escaped(root: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut places: Vec<PathBuf> = root.ancestors().skip(1).take(2).map(Path::to_path_buf).collect();
    places.extend([PathBuf::from("/"), std::env::temp_dir()]);
    places.extend(std::env::current_dir().ok());
    places.sort();
    places.dedup();
    places
        .iter()
        .filter(|place| !place.starts_with(root))
        .filter_map(|place| std::fs::read_dir(place).ok())
        .flat_map(|entries| entries.filter_map(Result::ok).map(|e| e.path()))
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().contains(prefix)))
        .collect()
}

/// Ids that start with `../`, `/` or `..\\` (the run prefix inside the name)
/// are refused as `invalid_run_id` or stored inside the backend's storage
/// directory `root`: a save that creates a file anywhere else fails. What
/// escaped is removed (it carries the run's prefix).
pub async fn path_traversal(backend: &Tracked, root: &Path) -> CheckRun {
    let mut run = CheckRun::default();
    let before = escaped(root, backend.prefix());
    for (i, lead) in ESCAPES.iter().enumerate() {
        let run_id = format!("{lead}{}pt{i}", backend.prefix());
        let state = Value::Dict(base_state(backend.flujo(), &run_id, Dict::new(), Value::None));
        match backend.save_id(&run_id, &state).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::InvalidRunId => {}
            Err(e) => run.fail(format!("save of run id {}: {e}", show_run_id(&run_id))),
        }
        for path in escaped(root, backend.prefix()).into_iter().filter(|p| !before.contains(p)) {
            run.fail(format!("saving run id {} created {} outside the storage directory {}", show_run_id(&run_id), path.display(), root.display()));
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            if let Err(e) = removed {
                run.fail(format!("could not remove {}: {e}", path.display()));
            }
        }
        match backend.delete_id(&run_id).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::InvalidRunId => {}
            Err(e) => run.fail(format!("delete of run id {}: {e}", show_run_id(&run_id))),
        }
    }
    run
}

/// Values flujo refuses (UUID, Decimal, bytearray): an `unsupported`
/// refusal is right; storing them faithfully is acceptable too; anything
/// else (another error, or a value that comes back changed) is a failure.
pub async fn refusals(backend: &Tracked, judging: Judging<'_>) -> CheckRun {
    let mut run = CheckRun::default();
    let refused = [("uuid", Value::Uuid(uuid::Uuid::from_u128(7))), ("decimal", Value::Decimal("1.10".into())), ("bytearray", Value::ByteArray(vec![0, 1]))];
    for (name, value) in refused {
        let local = format!("r-{name}");
        let sent = backend.state(&local, fields([(name, value)]), Value::None);
        match backend.save(&local, &sent).await {
            Err(e) if e.kind == ErrorKind::Unsupported => {}
            Err(e) => run.fail(format!("saving a {name} (flujo refuses it with TypeError): expected an `unsupported` refusal, got {e}")),
            Ok(()) => match backend.load(&local, &TypeHints::new()).await {
                Ok(Some(got)) => {
                    run.judge_loaded(&format!("a {name} was stored but did not come back as sent"), &sent, &got, judging, true);
                }
                Ok(None) => run.fail(format!("a {name} was stored (no refusal) but is gone")),
                Err(e) => run.fail(format!("a {name} was stored, then load failed: {e}")),
            },
        }
        let _ = backend.delete(&local).await;
    }
    run
}

/// Crash atomicity: SIGKILL the backend's process at random moments during
/// saves of states from a few KB to several MB, restart it, load: the state
/// must be the old one or the new one, never an error or a mix.
pub async fn crash_atomicity(backend: &Tracked, judging: Judging<'_>, reopen: (&dyn Opener, Arc<TypeRegistry>), rounds: usize, seed: u64) -> CheckRun {
    let (opener, registry) = reopen;
    const SIZES: [usize; 4] = [4 << 10, 256 << 10, 1 << 20, 4 << 20];
    let mut run = CheckRun::default();
    let offset = (seed % 1000) as f64 / 1000.0;
    for round in 0..rounds {
        let size = SIZES[round % SIZES.len()];
        let local = format!("x-{round}");
        let state = |tag: &str| {
            let context = fields([("tag", Value::from(tag)), ("payload", Value::Str(tag.repeat(size / tag.len().max(1))))]);
            backend.state(&local, context, Value::from(tag))
        };
        let (old, new) = (state(&format!("old-{round}-")), state(&format!("new-{round}-")));
        // What the backend stores for each, saved alone first (under the
        // same id: a backend may store the id it is given): a fidelity
        // defect is the cases' verdict, not a torn write.
        let stored = match stored_alone(backend, &local, &[old.clone(), new.clone()]).await {
            Ok(stored) => stored,
            Err(e) => {
                run.fail(format!("round {round}: {e}"));
                continue;
            }
        };
        let started = std::time::Instant::now();
        if let Err(e) = backend.save(&local, &old).await {
            run.fail(format!("round {round}: saving the old state of run id {:?}: {e}", backend.run_id(&local)));
            continue;
        }
        // Aim the kill inside the next save, which takes about as long as
        // this one. The moments sweep 50% to 110% of that time evenly (a
        // golden-ratio sequence, shifted by the seed), so that the write
        // phase, late in a save, is hit whatever its share of the time.
        let took = started.elapsed().as_secs_f64().max(0.0002);
        let phase = (offset + round as f64 * 0.618_033_988_749_895).fract();
        let delay = std::time::Duration::from_secs_f64(took * (0.5 + 0.6 * phase));
        let process = backend.backend();
        let saving = {
            let (process, run_id, new) = (process.clone(), backend.run_id(&local), new.clone());
            tokio::spawn(async move { process.save_state(&run_id, &new).await })
        };
        tokio::time::sleep(delay).await;
        match process.crash().await {
            Ok(true) => {}
            Ok(false) => {
                run.fail(Failure::new("the backend has no process to kill"));
                return run;
            }
            Err(e) => run.fail(format!("round {round}: SIGKILL failed: {e}")),
        }
        let _ = saving.await;
        match backend.watch(opener.open(registry.clone()).await) {
            Ok(fresh) => {
                backend.replace(fresh);
            }
            Err(e) => {
                run.fail(format!("round {round}: restarting after SIGKILL failed: {e}"));
                return run;
            }
        }
        match backend.load(&local, &TypeHints::new()).await {
            Ok(Some(got)) => {
                if matching(&got, &stored, judging).is_none() {
                    run.fail(format!(
                        "round {round} ({} KB, SIGKILL after {} µs): run id {:?} holds neither the old nor the new state: {}",
                        size >> 10,
                        delay.as_micros(),
                        backend.run_id(&local),
                        cut(&to_typed_text(&got))
                    ));
                }
            }
            Ok(None) => run.fail(format!(
                "round {round} ({} KB): after SIGKILL and restart, run id {:?} is gone (the old state was lost)",
                size >> 10,
                backend.run_id(&local)
            )),
            Err(e) => run.fail(format!("round {round} ({} KB): after SIGKILL and restart, load of {:?} failed: {e}", size >> 10, backend.run_id(&local))),
        }
        let _ = backend.delete(&local).await;
    }
    run
}
