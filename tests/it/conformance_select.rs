//! `conform --only/--skip/--fail-fast/--list-checks`: a check left out is
//! reported as skipped with why, never run.

use stateharness::conformance::{Report, Status, SuiteOptions};

use crate::common::{conform, fixtures_dir, run_stateharness, scratch_dir};

/// Why the report skips a check the selection leaves out, and every check
/// after the first failure under --fail-fast.
const NOT_SELECTED: &str = "not selected (--only/--skip)";
const AFTER_FAILURE: &str = "after the first failure (--fail-fast)";

fn options(only: &[&str], skip: &[&str]) -> SuiteOptions {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    SuiteOptions { cases: 2, seed: 7, only: strings(only), skip: strings(skip), ..SuiteOptions::default() }
}

fn label(group: &str, name: &str) -> String {
    format!("{group}: {name}")
}

/// Asserts that exactly the checks `selected` picks ran (and passed on
/// memory://) and every other one is skipped as not selected.
fn assert_selected(report: &Report, selected: impl Fn(&str) -> bool) {
    let human = report.human();
    assert!(report.checks.iter().any(|c| selected(&label(&c.group, &c.name))), "the selection is not empty:\n{human}");
    assert!(report.checks.iter().any(|c| !selected(&label(&c.group, &c.name))), "the selection leaves something out:\n{human}");
    for check in &report.checks {
        let expected = if selected(&label(&check.group, &check.name)) { Status::Passed } else { Status::Skipped(NOT_SELECTED.into()) };
        // memory:// is not a process, not persistent, not shared and has
        // no storage directory: those checks skip for that reason (never
        // as not selected) when selected.
        if expected == Status::Passed && matches!(&check.status, Status::Skipped(why) if why != NOT_SELECTED) {
            continue;
        }
        assert_eq!(check.status, expected, "{}: {}\n{human}", check.group, check.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_runs_exactly_the_matching_checks() {
    let report = conform("memory://", options(&["case: run_ids: *", "list: *"], &[])).await;
    assert_selected(&report, |label| label.starts_with("case: run_ids: ") || label.starts_with("list: "));
    let replay = report.replay_args("--seed 7");
    assert!(replay.windows(2).any(|w| w == ["--only", "case: run_ids: *"]) && replay.windows(2).any(|w| w == ["--only", "list: *"]), "{replay:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_leaves_out_the_matching_checks() {
    let report = conform("memory://", options(&[], &["case: *", "property: *", "custom type: *"])).await;
    assert_selected(&report, |label| !["case: ", "property: ", "custom type: "].iter().any(|p| label.starts_with(p)));
    assert!(report.replay_args("").windows(2).any(|w| w == ["--skip", "custom type: *"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_skips_everything_after_the_first_failure() {
    let dir = scratch_dir("conformance_select", "fail_fast");
    let backend = format!("exec:python3 {} {}", fixtures_dir().join("protocol/wrong_datetime.py").display(), dir.display());
    let report = conform(&backend, SuiteOptions { cases: 2, seed: 3, crash_rounds: 0, fail_fast: true, ..SuiteOptions::default() }).await;
    let human = report.human();
    let first = report.checks.iter().position(|c| c.status == Status::Failed).unwrap_or_else(|| panic!("a wrong datetime fails a check:\n{human}"));
    assert!(report.checks[..first].iter().all(|c| c.status == Status::Passed), "{human}");
    let rest = &report.checks[first + 1..];
    assert!(rest.len() > 5, "{human}");
    assert!(rest.iter().all(|c| c.status == Status::Skipped(AFTER_FAILURE.into())), "{human}");
    assert!(report.replay_args("").contains(&"--fail-fast".to_owned()));
}

#[test]
fn list_checks_prints_the_names_only_accepts() {
    let out = run_stateharness(&["conform", "--backend", "memory://", "--list-checks"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(listed.iter().any(|l| l.starts_with("case: ")) && listed.iter().any(|l| l.starts_with("list: ")), "{listed:?}");
    // That each listed name, as --only, selects exactly its check is a unit
    // test of conformance::select.

    // One of them through the binary: only it runs.
    let name = listed.iter().find(|l| l.starts_with("refusals: ")).expect("a refusals check");
    let dir = scratch_dir("conformance_select", "list_checks");
    let json = dir.join("report.json");
    let out = run_stateharness(&["conform", "--backend", "memory://", "--cases", "1", "--only", name, "--report", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), listed.len(), "the report has every listed check");
    let ran: Vec<_> =
        checks.iter().filter(|c| c["status"] != "skipped").map(|c| format!("{}: {}", c["group"].as_str().unwrap(), c["name"].as_str().unwrap())).collect();
    assert_eq!(ran, [name.as_str()]);
}

#[test]
fn a_bad_or_empty_selection_is_a_configuration_error() {
    let out = run_stateharness(&["conform", "--backend", "memory://", "--skip", "[oops"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--skip \"[oops\": not a glob pattern"), "{stderr}");

    let out = run_stateharness(&["conform", "--backend", "memory://", "--only", "no such check"]);
    assert_eq!(out.status.code(), Some(2), "a mistyped --only does not pass");
    assert!(String::from_utf8_lossy(&out.stderr).contains("select no check"));
}
