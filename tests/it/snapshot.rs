//! `stateharness snapshot` as a team uses it: record, check after a
//! change, review (scripted and in a real terminal through tmux), and what
//! the backends' stored forms look like in the snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::run_stateharness;
use stateharness::backends::open_backend;
use stateharness::format::TypeRegistry;
use stateharness::snapshot::{StateInput, capture};
use stateharness::typed::from_typed_text;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The test double: the protocol's dict server, optionally rounding floats
/// (a backend whose behaviour changed).
fn dict_server(round: Option<u32>) -> String {
    let script = crate::common::fixtures_dir().join("protocol/dict_server.py");
    match round {
        Some(digits) => format!("exec:python3 {} --round-floats {digits}", script.display()),
        None => format!("exec:python3 {}", script.display()),
    }
}

fn run(command: &str, backend: &str, dir: &Path) -> Output {
    run_stateharness(&["snapshot", command, "--backend", backend, "--dir", &dir.to_string_lossy(), "--color", "never"])
}

fn review(dir: &Path, flag: &str) -> Output {
    run_stateharness(&["snapshot", "review", "--dir", &dir.to_string_lossy(), flag])
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn record_then_check(test: &str, backend: &str) -> PathBuf {
    let dir = crate::common::scratch_dir(test, "snaps");
    let recorded = run("record", backend, &dir);
    assert_eq!(recorded.status.code(), Some(0), "{recorded:?}");
    let checked = run("check", backend, &dir);
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    assert!(stdout(&checked).ends_with("25 snapshots unchanged\n"), "{}", stdout(&checked));
    assert_eq!(files(&dir).len(), 25);
    dir
}

#[test]
fn file_backend_record_then_check_passes_and_shows_the_bytes() {
    let states = crate::common::scratch_dir("snapshot-file", "states");
    let dir = record_then_check("snapshot-file", &format!("file://{}", states.display()));
    let float = read(dir.join("snap-float-edges.snap"));
    assert!(float.starts_with("---\nsource: \"stateharness snapshot\"\nexpression: \"snap-float-edges\"\n---\n== save ==\nok\n\n== stored at snap-float-edges.json ==\n{\"created_at\": \"2025-07-01T12:00:00.120000\", "), "{float}");
    assert!(float.contains("\"nan\": \"nan\", \"neg_zero\": -0.0, \"ninf\": \"-inf\", \"price\": 19.99, \"third\": 0.3333333333333333, "), "{float}");
    assert!(float.contains("== loaded ==\n{\n  \"created_at\": \"2025-07-01T12:00:00.120000\",\n"), "{float}");
    // Refusals are recorded, with the machine's path redacted; nothing is left behind.
    let uuid = read(dir.join("snap-uuid.snap"));
    assert!(uuid.contains("== save ==\nerror: unsupported: "), "{uuid}");
    assert!(!uuid.contains(&*states.to_string_lossy()), "{uuid}");
    assert!(files(&states).is_empty(), "{:?}", files(&states));
    // The bodies insta reads back are the ones written.
    let parsed = stateharness::snapshot::SnapFile::parse(&float).unwrap();
    assert_eq!(parsed.render(), float);
}

/// Recorded as flujo 0.4 and checked as 0.6, the review shows what the
/// upgrade changes: the six fields 0.6 adds, UTC timestamps, a UUID stored
/// as its text where 0.4 refused it.
#[test]
fn snapshots_recorded_as_0_4_and_checked_as_0_6_show_the_upgrade() {
    let states = crate::common::scratch_dir("snapshot-upgrade", "states");
    let dir = crate::common::scratch_dir("snapshot-upgrade", "snaps");
    let backend = format!("file://{}", states.display());
    let recorded = run("record", &backend, &dir);
    assert_eq!(recorded.status.code(), Some(0), "{recorded:?}");
    let upgraded = run_stateharness(&["snapshot", "check", "--backend", &backend, "--dir", &dir.to_string_lossy(), "--color", "never", "--flujo", "0.6"]);
    assert_eq!(upgraded.status.code(), Some(1), "{upgraded:?}");
    let diff = stdout(&upgraded);
    assert!(diff.contains("25 of 25 snapshots changed"), "{diff}");
    assert!(diff.contains("\"is_background_task\": false") && diff.contains("+00:00"), "{diff}");
    let uuid = diff.split("\nrun snap-uuid: ").nth(1).unwrap_or_else(|| panic!("{diff}"));
    assert!(uuid.contains("-error: unsupported: ") && uuid.contains("+ok"), "{uuid}");
    // Checked again as 0.4, nothing changed.
    let same = run("check", &backend, &dir);
    assert_eq!(same.status.code(), Some(0), "{same:?}");
}

#[test]
fn insta_reads_the_snapshots() {
    let dir = crate::common::scratch_dir("snapshot-insta", "snaps");
    assert_eq!(run("record", "memory://", &dir).status.code(), Some(0));
    let recorded = stateharness::snapshot::SnapFile::parse(&read(dir.join("snap-enum.snap"))).unwrap();
    insta::with_settings!({ snapshot_path => &dir, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("snap-enum", recorded.body);
    });
}

#[test]
fn sqlite_backend_record_then_check_passes_and_shows_the_row() {
    let db = crate::common::scratch_dir("snapshot-sqlite", "db").join("state.db");
    let dir = record_then_check("snapshot-sqlite", &format!("sqlite://{}", db.display()));
    let completed = read(dir.join("snap-workflow-completed.snap"));
    assert!(
        completed.contains("== stored at table workflow_state, row \"snap-workflow-completed\" ==\nrun_id [text]: snap-workflow-completed\n"),
        "{completed}"
    );
    assert!(completed.contains("\nerror_message [null]:\nexecution_time_ms [integer]: 1234\nmemory_usage_mb [real]: 48.5\n"), "{completed}");
}

#[test]
fn a_changed_backend_fails_the_check_and_review_accepts_or_rejects() {
    let dir = crate::common::scratch_dir("snapshot-change", "snaps");
    assert_eq!(run("record", &dict_server(None), &dir).status.code(), Some(0));
    let exec = read(dir.join("snap-scalars.snap"));
    assert!(exec.contains("== stored ==\nnot visible through this backend\n"), "{exec}");

    let checked = run("check", &dict_server(Some(2)), &dir);
    assert_eq!(checked.status.code(), Some(1), "{checked:?}");
    let out = stdout(&checked);
    assert!(out.contains("\nrun snap-float-edges: changed\n--- snap-float-edges.snap\n+++ snap-float-edges.snap.new\n@@ "), "{out}");
    assert!(out.contains("\n-    \"third\": 0.3333333333333333,\n-    \"tiny\": 5e-324\n+    \"third\": 0.33,\n+    \"tiny\": 0.0\n"), "{out}");
    assert!(!out.contains("\u{1b}["), "no colour unless asked: {out}");
    assert!(out.trim_end().ends_with(&format!("snapshots changed; review with: stateharness snapshot review --dir {}", dir.display())), "{out}");
    let recorded = read(dir.join("snap-float-edges.snap"));
    assert!(dir.join("snap-float-edges.snap.new").exists());

    // Reject: the recorded snapshot stays, the check still fails.
    let rejected = review(&dir, "--reject-all");
    assert_eq!(rejected.status.code(), Some(0));
    assert!(stdout(&rejected).ends_with("0 accepted, 1 rejected, 0 skipped\n"), "{}", stdout(&rejected));
    assert_eq!(read(dir.join("snap-float-edges.snap")), recorded);
    assert!(files(&dir).iter().all(|f| f.ends_with(".snap")));
    assert_eq!(run("check", &dict_server(Some(2)), &dir).status.code(), Some(1));

    // Accept: the new behaviour is the recording, the check passes.
    assert_eq!(review(&dir, "--accept-all").status.code(), Some(0));
    assert!(read(dir.join("snap-float-edges.snap")).contains("\"third\": 0.33,"));
    let passed = run("check", &dict_server(Some(2)), &dir);
    assert_eq!(passed.status.code(), Some(0), "{passed:?}");
    let coloured = run_stateharness(&["snapshot", "check", "--backend", &dict_server(None), "--dir", &dir.to_string_lossy(), "--color", "always"]);
    assert!(stdout(&coloured).contains("\u{1b}[31m-    \"third\": 0.33,\u{1b}[0m"), "{}", stdout(&coloured));
}

#[test]
fn added_and_removed_states_are_changes_too() {
    let states = crate::common::scratch_dir("snapshot-sets", "states");
    let dir = crate::common::scratch_dir("snapshot-sets", "snaps");
    let backend = format!("file://{}", crate::common::scratch_dir("snapshot-sets", "backend").display());
    let with_states =
        |command: &str| run_stateharness(&["snapshot", command, "--backend", &backend, "--dir", &dir.to_string_lossy(), "--states", &states.to_string_lossy()]);
    std::fs::write(states.join("team-a.json"), r#"{"run_id": "team-a", "n": 1}"#).unwrap();
    std::fs::write(states.join("team-b.json"), r#"{"when": {"$date": "2025-01-02"}}"#).unwrap();
    assert_eq!(with_states("record").status.code(), Some(0));
    assert_eq!(files(&dir), ["team-a.snap", "team-b.snap"]);

    std::fs::remove_file(states.join("team-a.json")).unwrap();
    std::fs::write(states.join("team-c.json"), r#"{"x": {"$tuple": [1]}}"#).unwrap();
    let checked = with_states("check");
    assert_eq!(checked.status.code(), Some(1));
    let out = stdout(&checked);
    assert!(out.contains("run team-a: removed\n--- team-a.snap\n+++ (no longer recorded)\n"), "{out}");
    assert!(out.contains("run team-c: added\n--- (nothing recorded)\n+++ team-c.snap.new\n"), "{out}");
    assert!(read(dir.join("team-a.snap.new")).contains("info: \"removed\"\n---\n"));
    assert_eq!(files(&dir), ["team-a.snap", "team-a.snap.new", "team-b.snap", "team-c.snap.new"]);

    // Answers piped in, a line each: skip both, the files stay.
    let mut piped = Command::new(env!("CARGO_BIN_EXE_stateharness"))
        .args(["snapshot", "review", "--dir", &dir.to_string_lossy()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut piped.stdin.take().unwrap(), b"s\nq\n").unwrap();
    let skipped = piped.wait_with_output().unwrap();
    assert!(stdout(&skipped).ends_with("0 accepted, 0 rejected, 2 skipped\n"), "{}", stdout(&skipped));
    assert_eq!(files(&dir).len(), 4);

    assert_eq!(review(&dir, "--accept-all").status.code(), Some(0));
    assert_eq!(files(&dir), ["team-b.snap", "team-c.snap"]);
    assert_eq!(with_states("check").status.code(), Some(0));
}

#[test]
fn bad_input_is_reported_with_the_file_at_fault() {
    let dir = crate::common::scratch_dir("snapshot-bad", "snaps");
    let states = crate::common::scratch_dir("snapshot-bad", "states");
    std::fs::write(states.join("broken.json"), "{\"a\": [1,\n 2,,]}").unwrap();
    let bad_states =
        run_stateharness(&["snapshot", "record", "--backend", "memory://", "--dir", &dir.to_string_lossy(), "--states", &states.to_string_lossy()]);
    assert_eq!(bad_states.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_states.stderr);
    assert!(stderr.contains("broken.json: line 2, column 4: unexpected ','"), "{stderr}");

    assert_eq!(run("record", "memory://", &dir).status.code(), Some(0));
    std::fs::write(dir.join("snap-bytes.snap"), "no header").unwrap();
    let corrupt = run("check", "memory://", &dir);
    assert_eq!(corrupt.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&corrupt.stderr);
    assert!(stderr.contains("snap-bytes.snap: not a snapshot file: line 1: expected `---`"), "{stderr}");

    let missing = review(&dir.join("nowhere"), "--accept-all");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere"));
}

/// Captures one state through a server backend and returns its snapshot body.
async fn server_snapshot(url: &str) -> String {
    let registry = Arc::new(TypeRegistry::standard());
    let state = from_typed_text(r#"{"run_id": "snaptest-1", "ctx": {"when": {"$date": "2025-01-02"}, "n": 1}}"#, &registry).unwrap();
    let backend = open_backend(url, registry).await.unwrap();
    let snapshots = capture(backend.as_ref(), &[StateInput { run_id: "snaptest-1".into(), state }], "sh-0123456789abcdef-").await.unwrap();
    backend.close().await.unwrap();
    snapshots[0].file.body.clone()
}

#[tokio::test]
async fn redis_and_postgres_show_their_stored_form() {
    let prefix = format!("sh-snaptest-{}-", std::process::id());
    let (Some(redis), Some(postgres)) = (crate::common::servers::redis().await, crate::common::servers::postgres().await) else { return };
    let redis = format!("{redis}?prefix={prefix}");
    let body = server_snapshot(&redis).await;
    let stored = "{\"run_id\": \"snaptest-1\", \"ctx\": {\"when\": \"2025-01-02\", \"n\": 1}}";
    assert_eq!(
        body,
        format!(
            "== save ==\nok\n\n== stored at key \"{prefix}snaptest-1\" ==\n{stored}\n\n== loaded ==\n{{\n  \"ctx\": {{\n    \"n\": 1,\n    \"when\": \"2025-01-02\"\n  }},\n  \"run_id\": \"snaptest-1\"\n}}"
        )
    );

    let table = format!("sh_snaptest_{}", std::process::id());
    let body = server_snapshot(&format!("{postgres}?table={table}")).await;
    assert!(body.contains(&format!("== stored at table {table}, row \"snaptest-1\" ==\nstate [text]: {stored}\n")), "{body}");
    let (client, connection) = tokio_postgres::connect(&postgres, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP TABLE \"{table}\"")).await.unwrap();
}

/// Runs `tmux` with `args`; `None` when tmux is not installed.
fn tmux(args: &[&str]) -> Option<Output> {
    Command::new("tmux").args(args).output().ok()
}

/// What the tmux pane shows, once it shows `expected` (or after 20 s).
fn wait_for(session: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let screen = stdout(&tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", session]).unwrap());
        if screen.contains(expected) || Instant::now() > deadline {
            return screen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn review_works_in_a_real_terminal() {
    if crate::common::program(&["tmux"], "-V").is_none() {
        return;
    }
    let dir = crate::common::scratch_dir("snapshot-tmux", "snaps");
    let states = crate::common::scratch_dir("snapshot-tmux", "states");
    std::fs::write(states.join("run-a.json"), r#"{"ratio": 0.125}"#).unwrap();
    std::fs::write(states.join("run-b.json"), r#"{"ratio": 2.675}"#).unwrap();
    std::fs::write(states.join("run-c.json"), r#"{"ratio": 0.001}"#).unwrap();
    let with_states = |command: &str, round: Option<u32>| {
        run_stateharness(&["snapshot", command, "--backend", &dict_server(round), "--dir", &dir.to_string_lossy(), "--states", &states.to_string_lossy()])
    };
    assert_eq!(with_states("record", None).status.code(), Some(0));
    assert_eq!(with_states("check", Some(1)).status.code(), Some(1));

    let session = format!("stateharness-review-{}", std::process::id());
    let command = format!("{} snapshot review --dir {}; echo review-exit=$?; sleep 30", env!("CARGO_BIN_EXE_stateharness"), dir.display());
    let started = tmux(&["new-session", "-d", "-s", &session, "-x", "120", "-y", "50", &command]).unwrap();
    assert!(started.status.success(), "{started:?}");
    let first = wait_for(&session, "[1/3]");
    tmux(&["send-keys", "-t", &session, "a"]);
    let second = wait_for(&session, "[2/3]");
    tmux(&["send-keys", "-t", &session, "x"]); // not an answer: asked again
    tmux(&["send-keys", "-t", &session, "r"]);
    wait_for(&session, "[3/3]");
    tmux(&["send-keys", "-t", &session, "s"]);
    let screen = wait_for(&session, "review-exit=");
    tmux(&["kill-session", "-t", &session]);

    assert!(first.contains("run run-a: changed\n--- run-a.snap\n+++ run-a.snap.new\n"), "{first}");
    assert!(first.contains("-  \"ratio\": 0.125\n+  \"ratio\": 0.1\n"), "{first}");
    assert!(second.contains("[1/3] a accept, r reject, s skip, q quit: a\n"), "{second}");
    assert!(screen.contains("[2/3] a accept, r reject, s skip, q quit: x\n[2/3] a accept, r reject, s skip, q quit: r\n"), "{screen}");
    assert!(screen.contains("1 accepted, 1 rejected, 1 skipped\nreview-exit=0"), "{screen}");
    assert_eq!(files(&dir), ["run-a.snap", "run-b.snap", "run-c.snap", "run-c.snap.new"]);
    assert!(read(dir.join("run-a.snap")).contains("\"ratio\": 0.1\n"));
    assert!(read(dir.join("run-b.snap")).contains("\"ratio\": 2.675\n"));
}

#[test]
fn ci_script_leaves_the_diff_and_pending_snapshots_as_files() {
    let dir = crate::common::scratch_dir("snapshot-ci", "snaps");
    let out = crate::common::scratch_dir("snapshot-ci", "out");
    assert_eq!(run("record", &dict_server(None), &dir).status.code(), Some(0));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/snapshot-check.sh");
    let checked = Command::new("bash")
        .args([script, &dict_server(Some(2)), &dir.to_string_lossy(), &out.to_string_lossy()])
        .env("STATEHARNESS", env!("CARGO_BIN_EXE_stateharness"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(1), "{checked:?}");
    let diff = read(out.join("snapshot.diff"));
    assert!(diff.contains("\n+    \"third\": 0.33,\n"), "{diff}");
    assert_eq!(stdout(&checked), diff);
    assert!(out.join("pending/snap-float-edges.snap.new").exists());
}

/// A store's own state named like a built-in snapshot state, saved before
/// the run (`file://STORE`).
const PRODUCTION: &str = r#"{"run_id": "snap-custom-money", "owner": "production"}"#;

async fn load_production(store: &str) -> Option<stateharness::value::Value> {
    let backend = open_backend(store, Arc::new(TypeRegistry::standard())).await.unwrap();
    let state = backend.load_state("snap-custom-money", &Default::default()).await.unwrap();
    backend.close().await.unwrap();
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_id_with_the_same_name_survives_record_and_check() {
    let store_dir = crate::common::scratch_dir("snapshot-production", "store");
    let store = format!("file://{}", store_dir.display());
    let registry = Arc::new(TypeRegistry::standard());
    let production = from_typed_text(PRODUCTION, &registry).unwrap();
    let backend = open_backend(&store, registry).await.unwrap();
    backend.save_state("snap-custom-money", &production).await.unwrap();
    backend.close().await.unwrap();

    let snaps = record_then_check("snapshot-production", &store);
    assert_eq!(load_production(&store).await, Some(production), "the production state is untouched");
    assert_eq!(files(&store_dir).len(), 1, "only the production state is left: {:?}", files(&store_dir));
    // The snapshot shows the state's name, not the run's prefix.
    let money = read(snaps.join("snap-custom-money.snap"));
    assert!(!money.contains("sh-"), "{money}");
}

#[test]
fn records_at_once_on_one_store_never_mix() {
    let store_dir = crate::common::scratch_dir("snapshot-concurrent", "store");
    let store = format!("file://{}", store_dir.display());
    let runs: Vec<_> = (0..3)
        .map(|n| {
            let (store, dir) = (store.clone(), crate::common::scratch_dir("snapshot-concurrent", &format!("snaps-{n}")));
            std::thread::spawn(move || (run("record", &store, &dir), dir))
        })
        .collect();
    let runs: Vec<(Output, PathBuf)> = runs.into_iter().map(|run| run.join().unwrap()).collect();
    for (output, _) in &runs {
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
    for name in files(&runs[0].1) {
        let first = read(runs[0].1.join(&name));
        for (_, dir) in &runs[1..] {
            assert_eq!(read(dir.join(&name)), first, "{name}: the runs saw each other's states");
        }
    }
    assert_eq!(files(&store_dir), Vec::<String>::new(), "every run deleted what it wrote");
}

/// Interrupts `snapshot record` with `signal` while it saves many states
/// into `file://`, and checks the exit status and that nothing is left.
fn signal_during_record_deletes_what_it_wrote(signal: &str, status: i32) {
    let states = crate::common::scratch_dir("snapshot-signal", &format!("states-{signal}"));
    for n in 0..20_000 {
        std::fs::write(states.join(format!("s-{n:04}.json")), format!(r#"{{"run_id": "s-{n:04}", "n": {n}}}"#)).unwrap();
    }
    let store = crate::common::scratch_dir("snapshot-signal", &format!("store-{signal}"));
    let snaps = crate::common::scratch_dir("snapshot-signal", &format!("snaps-{signal}"));
    let child = crate::common::stateharness()
        .args(["snapshot", "record", "--backend", &format!("file://{}", store.display()), "--dir", &snaps.to_string_lossy(), "--states"])
        .arg(&states)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signalled as soon as it has saved something: on an idle machine the
    // whole record takes about a second, so a fixed delay could come late.
    let deadline = Instant::now() + Duration::from_secs(60);
    while files(&store).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(status), "{stderr}");
    assert!(stderr.contains(&format!("SIG{signal}: deleting what this run wrote")), "{stderr}");
    assert_eq!(files(&store), Vec::<String>::new(), "left behind");
    assert_eq!(files(&snaps), Vec::<String>::new(), "an interrupted record writes no snapshot");
}

#[test]
fn sigterm_and_ctrl_c_during_record_delete_what_it_wrote() {
    signal_during_record_deletes_what_it_wrote("TERM", 143);
    signal_during_record_deletes_what_it_wrote("INT", 130);
}
