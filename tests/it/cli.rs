//! The command line as a user runs it: exit statuses, the closing line,
//! signals cleaning up what a run wrote, a closed standard output.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::stateharness;

#[test]
fn conform_exit_statuses() {
    let ok = stateharness().args(["conform", "--backend", "memory://", "--cases", "8"]).output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.trim_end().lines().last().unwrap().ends_with("0 failed, 4 skipped"), "{stdout}");

    let unreachable = stateharness().args(["conform", "--backend", "redis://127.0.0.1:1/0"]).output().unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("could not connect to redis://127.0.0.1:1/0"));
}

#[test]
fn vectors_verify_closes_with_the_counts() {
    let fixed = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/fixed.jsonl");
    let output = stateharness().args(["vectors", "verify", fixed]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim_end().lines().last(), Some("90 passed, 0 failed, 0 skipped"));
    let missing = stateharness().args(["vectors", "verify", "/no/such/file.jsonl"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

/// Interrupts a `conform` run on `file://` with `signal` while the property
/// checks write, and checks the exit status and that nothing is left.
fn signal_deletes_everything_the_run_wrote(signal: &str, status: i32) {
    let dir = crate::common::scratch_dir("cli", signal);
    let child = stateharness()
        .args(["conform", "--backend", &format!("file://{}", dir.display()), "--cases", "100000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(status), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("SIG{signal}: deleting what this run wrote")));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn ctrl_c_deletes_everything_the_run_wrote() {
    signal_deletes_everything_the_run_wrote("INT", 130);
}

#[test]
fn sigterm_and_sighup_delete_everything_the_run_wrote() {
    signal_deletes_everything_the_run_wrote("TERM", 143);
    signal_deletes_everything_the_run_wrote("HUP", 129);
}

/// `stateharness conform … | true`: the reader is gone before the report is
/// printed; the run still ends with its own status, without a panic.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let mut child = stateharness().args(["conform", "--backend", "memory://", "--cases", "8"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Closing the pipe's reading end makes every write fail.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
