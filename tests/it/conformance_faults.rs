//! Faults are not verdicts: a backend that cannot be reached, or whose
//! connection is lost during a check, ends `conform` with exit status 2 and
//! one line naming it, never with failed checks.

use crate::common::{fixtures_dir, run_stateharness, scratch_dir};

fn lost_connection(after: usize) -> String {
    format!("exec:python3 {} --lose-after {after}", fixtures_dir().join("protocol/lost_connection.py").display())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_unreachable_backend_is_one_line_and_exit_2() {
    for (backend, named) in [
        ("redis://127.0.0.1:1".to_owned(), "127.0.0.1:1".to_owned()),
        ("postgres://postgres@127.0.0.1:1/test".to_owned(), "127.0.0.1:1".to_owned()),
        (lost_connection(0), "lost_connection.py".to_owned()),
    ] {
        let output = run_stateharness(&["conform", "--backend", &backend, "--cases", "2", "--crash-rounds", "1"]);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(2), "{backend}:\n{stdout}\n{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{backend}: one line, naming it:\n{stderr}");
        assert!(stderr.contains(&named) && stderr.contains("connect"), "{backend}:\n{stderr}");
        assert!(!stdout.contains("FAIL"), "{backend}: no check is judged:\n{stdout}");
    }
}

#[test]
fn a_connection_lost_during_a_check_is_a_fault_not_a_failure() {
    let dir = scratch_dir("conformance_faults", "lost");
    let (junit, markdown) = (dir.join("report.xml"), dir.join("report.md"));
    let backend = lost_connection(40);
    let output =
        run_stateharness(&["conform", "--backend", &backend, "--cases", "2", "--junit", junit.to_str().unwrap(), "--markdown", markdown.to_str().unwrap()]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one check met the fault:\n{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("FAIL")), "no check is failed by the fault:\n{stdout}");
    assert!(stdout.contains("connection lost during this check: connection: ConnectionError"), "{stdout}");
    assert!(stdout.contains("not run: the connection was lost during"), "{stdout}");
    assert!(stderr.contains("connection lost during") && stderr.lines().count() == 1, "{stderr}");
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(junit.matches("<error ").count(), 1, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(std::fs::read_to_string(&markdown).unwrap().contains("**ERROR**"));
}

/// One wrong datetime format is one root cause: the checks after the first
/// that fail only on that difference say "same cause as ...", and the
/// concurrency, persistence and crash checks judge only what the backend
/// stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wrong_datetime_format_is_one_root_cause() {
    use stateharness::conformance::{Status, SuiteOptions};
    let dir = scratch_dir("conformance_faults", "datetime");
    let backend = format!("exec:python3 {} {}", fixtures_dir().join("protocol/wrong_datetime.py").display(), dir.display());
    let report = crate::common::conform(&backend, SuiteOptions { cases: 8, seed: 3, crash_rounds: 4, ..SuiteOptions::default() }).await;
    let human = report.human();
    let failed: Vec<_> = report.checks.iter().filter(|c| c.status == Status::Failed).collect();
    assert!(failed.len() > 5, "the defect shows in many checks:\n{human}");
    assert_eq!(report.root_causes(), 1, "{human}");
    assert_eq!(failed[0].causes.differences.iter().collect::<Vec<_>>(), ["datetime came back as str (corrupted)"], "{human}");
    for check in report.checks.iter().filter(|c| ["concurrency", "persistence", "crash"].contains(&c.group.as_str())) {
        let no_defect = matches!(check.status, Status::Passed | Status::Skipped(_)) || check.same_cause_as.is_some();
        assert!(no_defect, "{}: {} is not an independent defect:\n{human}", check.group, check.name);
    }
    assert!(human.contains("same cause as case: "), "{human}");
}
