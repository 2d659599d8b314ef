//! The `exec:` protocol end to end: built-in backends served by
//! `stateharness serve` pass the suite through a child process, including
//! the process-level checks (restart, SIGKILL during saves); a backend that
//! tears its writes is caught by the crash check; a misbehaving child gives
//! a clear failure naming the op, within the timeout, never a hang.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stateharness::backends::{ErrorKind, StateBackend};
use stateharness::backends::{ExecBackend, ExecTimeouts};
use stateharness::conformance::{Report, Status, Suite, SuiteOptions, UrlOpener};
use stateharness::format::{TypeHints, TypeRegistry};
use stateharness::value::Value;

async fn conform(url: &str, cases: u32) -> Report {
    crate::common::conform(url, SuiteOptions { cases, seed: 11, ..SuiteOptions::default() }).await
}

fn check<'a>(report: &'a Report, group: &str) -> &'a stateharness::conformance::CheckResult {
    report.checks.iter().find(|c| c.group == group).unwrap_or_else(|| panic!("no {group} check"))
}

/// The check of two handles (for `exec:`, two processes) on one storage.
fn shared_check(report: &Report) -> &stateharness::conformance::CheckResult {
    report.checks.iter().find(|c| c.name.starts_with("two handles on one storage")).expect("a check of two handles on one storage")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_file_and_sqlite_backends_pass_with_crash_atomicity() {
    let bin = env!("CARGO_BIN_EXE_stateharness");
    let files = crate::common::scratch_dir("exec", "file");
    let db = crate::common::scratch_dir("exec", "sqlite").join("state.db");
    for backend in [format!("file://{}", files.display()), format!("sqlite://{}", db.display())] {
        let report = conform(&format!("exec:{bin} serve --backend {backend}"), 16).await;
        assert!(report.passed(), "{backend}:\n{}", report.human());
        assert_eq!(check(&report, "crash").status, Status::Passed, "{backend}");
        assert_eq!(check(&report, "persistence").status, Status::Passed, "{backend}");
        // `serve` declares `shared` for these, so two processes ran on one storage.
        assert_eq!(shared_check(&report).status, Status::Passed, "{backend}");
    }
    // Saves killed midway left temp files; each restart removed those of
    // the dead processes, and the suite deleted the states: nothing is left.
    let left: Vec<_> = std::fs::read_dir(&files).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Restarted by running its command again, or (announcing `fork`) forked
/// from a fork source: either way the crash check catches torn writes.
/// Forked, the command runs twice (the first process, the fork source)
/// for the 48 rounds' restarts; and no process is left after the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_tears_its_writes_fails_the_crash_check_restarted_or_forked() {
    use crate::common::processes::{assert_all_ended, logging_starts, started};
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/protocol/torn_file_server.py");
    for fork in [false, true] {
        let dir = crate::common::scratch_dir("exec", if fork { "torn-forked" } else { "torn" });
        let log = crate::common::scratch_dir("exec", if fork { "starts-forked" } else { "starts" }).join("starts");
        let mut options = SuiteOptions { cases: 4, seed: 3, crash_rounds: 48, ..SuiteOptions::default() };
        options.suites.clear();
        let command = format!("python3 {script} {}{}", dir.display(), if fork { " --fork" } else { "" });
        let opener = Arc::new(UrlOpener::new(&logging_starts(&log, &command)));
        let report = Suite::open(opener, options).await.unwrap().run().await;
        let crash = check(&report, "crash");
        assert_eq!(crash.status, Status::Failed, "fork: {fork}\n{}", report.human());
        assert!(crash.details.iter().any(|d| d.contains("after SIGKILL and restart")), "fork: {fork}: {:?}", crash.details);
        // Everything but the crash check holds: the defect is only torn writes.
        let others: Vec<_> = report.checks.iter().filter(|c| c.status == Status::Failed && c.group != "crash").collect();
        assert!(others.is_empty(), "fork: {fork}\n{}", report.human());
        let starts = started(&log);
        if fork {
            assert_eq!(starts.len(), 2, "the first process and the fork source only: {starts:?}");
        } else {
            assert!(starts.len() > 48, "a start per crash round: {starts:?}");
        }
        assert_all_ended(&starts, &dir.display().to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_tears_its_writes_across_processes_fails_the_shared_check() {
    let dir = crate::common::scratch_dir("exec", "torn-shared");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/protocol/torn_file_server.py");
    let options = || SuiteOptions { cases: 2, seed: 5, only: vec!["concurrency: two handles*".into()], ..SuiteOptions::default() };
    let timer = Instant::now();
    let report = crate::common::conform(&format!("exec:python3 {script} {} --shared", dir.display()), options()).await;
    let shared = shared_check(&report);
    assert_eq!(shared.status, Status::Failed, "{}", report.human());
    assert!(shared.details.iter().any(|d| d.contains("torn or mixed") || d.contains("ValueError")), "{:?}", shared.details);
    assert!(timer.elapsed() < Duration::from_secs(20), "took {:?}", timer.elapsed());
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the run's cleanup covers the second process's ids: {left:?}");
    // Without `shared` declared, the check is skipped and says why.
    let report = crate::common::conform(&format!("exec:python3 {script} {}", dir.display()), options()).await;
    assert_eq!(shared_check(&report).status, Status::Skipped("the backend does not declare `shared`".into()), "{}", report.human());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_is_split_like_a_shell_and_bad_commands_are_connection_errors() {
    let registry = Arc::new(TypeRegistry::standard());
    let bin = env!("CARGO_BIN_EXE_stateharness");
    let backend = ExecBackend::spawn(&format!("'{bin}' serve --backend 'memory://'"), registry.clone(), ExecTimeouts::default()).await.unwrap();
    backend.save_state("a b", &Value::Dict(Default::default())).await.unwrap();
    assert!(backend.load_state("a b", &TypeHints::new()).await.unwrap().is_some());
    backend.close().await.unwrap();
    for bad in ["", "/no/such/program", "'unbalanced"] {
        let err = ExecBackend::spawn(bad, registry.clone(), ExecTimeouts::default()).await.err().expect("fails");
        assert_eq!(err.kind, ErrorKind::Connection, "{bad}: {err}");
    }
}

/// Each misbehaving mode gives a clear error, naming the op, within the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_children_give_clear_failures_within_the_timeout() {
    let registry = Arc::new(TypeRegistry::standard());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/protocol/misbehaving.py");
    let timeouts = ExecTimeouts { hello: Duration::from_secs(3), request: Duration::from_secs(2) };
    let state = Value::Dict(Default::default());
    for (mode, op, expect) in [
        ("crash_on_save", "save", "exited"),
        ("hang_on_load", "load", "no answer within 2 s"),
        ("garbage", "save", "not a protocol response"),
        ("unknown_id", "save", "answered id 999999"),
    ] {
        let started = Instant::now();
        let backend = ExecBackend::spawn(&format!("python3 {script} {mode}"), registry.clone(), timeouts).await.unwrap();
        let result = match op {
            "save" => backend.save_state("run-1", &state).await.map(|_| ()),
            _ => backend.load_state("run-1", &TypeHints::new()).await.map(|_| ()),
        };
        let err = result.expect_err(mode);
        let message = err.to_string();
        assert!(message.contains(&format!("{op} of run id \"run-1\"")) && message.contains(expect), "{mode}: {message}");
        assert!(message.contains("stderr"), "{mode}: the stderr tail is shown: {message}");
        assert!(started.elapsed() < Duration::from_secs(8), "{mode} took {:?}", started.elapsed());
        // Later requests fail at once with the same cause.
        let again = backend.delete_state("run-1").await.expect_err("still broken");
        assert!(again.to_string().contains(expect), "{mode}: {again}");
    }
    for (mode, expect) in [("no_hello", "no answer within 3 s"), ("exit_immediately", "exited"), ("wrong_protocol", "protocol")] {
        let started = Instant::now();
        let err = ExecBackend::spawn(&format!("python3 {script} {mode}"), registry.clone(), timeouts).await.err().expect(mode);
        assert_eq!(err.kind, ErrorKind::Connection, "{mode}: {err}");
        assert!(err.to_string().contains("hello") && err.to_string().contains(expect), "{mode}: {err}");
        assert!(started.elapsed() < Duration::from_secs(8), "{mode} took {:?}", started.elapsed());
    }
}

/// `list_prefix`: the harness's prefix is sent and the backend's own answer
/// is what `list_states` gives (`_` and `%` are no wildcards), so a backend
/// that declares it but ignores the prefix shows ids outside it; without the
/// capability no prefix is sent and the harness keeps the prefix's ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_sends_the_prefix_to_a_backend_that_filters_itself() {
    let registry = Arc::new(TypeRegistry::standard());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/protocol/dict_server.py");
    let bin = env!("CARGO_BIN_EXE_stateharness");
    let ids = ["a%1", "a_1", "ab1", "b1", "é1", "éx"];
    let filtered = (vec!["a_1"], vec!["é1", "éx"]);
    for (command, by_itself, expected) in [
        (format!("python3 {script} --list-prefix"), true, filtered.clone()),
        (format!("'{bin}' serve --backend memory://"), true, filtered.clone()),
        (format!("python3 {script} --list-prefix-ignored"), true, (ids.to_vec(), ids.to_vec())),
        (format!("python3 {script}"), false, filtered.clone()),
    ] {
        let backend = ExecBackend::spawn(&command, registry.clone(), ExecTimeouts::default()).await.unwrap();
        assert_eq!(backend.lists_by_prefix(), by_itself, "{command}");
        for id in ids {
            backend.save_state(id, &Value::Dict(Default::default())).await.unwrap();
        }
        for (prefix, expected) in [("a_", expected.0), ("é", expected.1)] {
            let mut listed = backend.list_states(prefix).await.unwrap();
            listed.sort();
            assert_eq!(listed, expected, "{command}: listing {prefix:?}");
        }
        backend.close().await.unwrap();
    }
}

/// The suite's literal-prefix check judges an `exec:` backend's own
/// filtering: one that declares `list_prefix` and ignores the prefix fails,
/// one that filters passes, and one without the capability (the harness
/// filters for it) is skipped with the reason, never passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_literal_prefix_check_judges_an_exec_backends_own_filtering() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/protocol/dict_server.py");
    for (flag, passed) in [("--list-prefix", Some(true)), ("--list-prefix-ignored", Some(false)), ("", None)] {
        let options = SuiteOptions { cases: 2, seed: 5, only: vec!["list: a prefix is matched literally*".to_owned()], ..SuiteOptions::default() };
        let report = crate::common::conform(&format!("exec:python3 {script} {flag}"), options).await;
        let prefix = report.checks.iter().find(|c| c.name.starts_with("a prefix is matched literally")).expect("the check is listed");
        match passed {
            Some(true) => assert_eq!(prefix.status, Status::Passed, "{flag}: {}", report.human()),
            Some(false) => assert_eq!(prefix.status, Status::Failed, "{flag}: {}", report.human()),
            None => assert!(matches!(&prefix.status, Status::Skipped(why) if why.contains("list_prefix")), "{flag}: {}", report.human()),
        }
    }
}
