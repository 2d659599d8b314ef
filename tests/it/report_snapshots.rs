//! insta snapshots of the report forms people read: the conformance human
//! summary, JUnit XML and Markdown step summary (`fixtures/snapshots/
//! report_*.snap`), and the migration's JSON report and console output
//! (`migration_*.snap`), so that any change in what a user sees shows up
//! for review (`cargo insta review`).
//!
//! The report comes from a real run on `memory://` with a fixed seed, made
//! deterministic: the run's random prefix, wall times and operation count
//! are set to fixed values; then one failing check and a warning are added,
//! so that the failure forms (details, replay, escaping) are covered too.

use std::sync::Arc;

use stateharness::conformance::{CheckResult, Report, Status, Suite, SuiteOptions, UrlOpener};

const PREFIX: &str = "sh-0000000000000000";

async fn fixed_report() -> Report {
    let options = SuiteOptions { cases: 8, seed: 7, ..SuiteOptions::default() };
    let opener = Arc::new(UrlOpener::new("memory://"));
    let mut report = Suite::open(opener, options).await.expect("memory:// opens").run().await;
    assert!(report.passed(), "{}", report.human());
    let prefix = std::mem::replace(&mut report.prefix, PREFIX.to_owned());
    for check in &mut report.checks {
        check.seconds = 0.0;
        for detail in &mut check.details {
            *detail = detail.replace(&prefix, PREFIX);
        }
    }
    report.ops = 1000;
    report.seconds = 0.5;
    report.checks.push(CheckResult {
        group: "case".to_owned(),
        name: "values: a float the backend rounds".to_owned(),
        status: Status::Failed,
        details: vec![format!(
            "step 2 (load of run id '{PREFIX}-c7-v'): at /pipeline_context/third: corrupted\n  sent: 0.3333333333333333\n  flujo gives back: 0.3333333333333333\n  got: 0.33"
        )],
        failures: Vec::new(),
        replay: Some("--seed 7".to_owned()),
        cases: 1,
        seconds: 0.0,
        causes: Default::default(),
        same_cause_as: None,
    });
    report.warnings.push("the backend added keys <total_steps> & |error_message|".to_owned());
    report
}

macro_rules! snapshot {
    ($name:literal, $text:expr) => {
        insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[tokio::test]
async fn human_junit_and_markdown_reports() {
    let report = fixed_report().await;
    snapshot!("report_human", report.human());
    snapshot!("report_junit", report.junit());
    snapshot!("report_markdown", report.markdown());
}

/// The replay line, split as a shell splits it, gives back the arguments,
/// whatever quotes and `$` the backend string holds.
#[tokio::test]
async fn the_replay_line_pastes_into_a_shell_as_is() {
    let mut report = fixed_report().await;
    let backend = r#"exec:python3 -c "print('it''s')" --name 'a"b' $HOME"#;
    report.backend = backend.to_owned();
    report.strict = true;
    report.suites_dir = Some("/tmp/my suites".into());
    let human = report.human();
    let line = human.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("a replay line");
    let args = shell_words::split(line).expect("the line splits as a shell splits it");
    let expected = [
        "stateharness",
        "conform",
        "--backend",
        backend,
        "--profile",
        "flujo",
        "--cases",
        "8",
        "--crash-rounds",
        "24",
        "--strict",
        "--suites",
        "/tmp/my suites",
    ];
    assert_eq!(args, [&expected[..], &["--seed", "7"]].concat());
}

/// JUnit and Markdown carry every failure detail of a check, bounded, with
/// a count of what was cut.
#[tokio::test]
async fn junit_and_markdown_carry_the_failure_details() {
    let mut report = fixed_report().await;
    let details: Vec<String> = (0..25).map(|i| format!("failure number {i};")).collect();
    report.checks.push(CheckResult {
        group: "case".into(),
        name: "many failures".into(),
        status: Status::Failed,
        details,
        failures: Vec::new(),
        replay: None,
        cases: 1,
        seconds: 0.0,
        causes: Default::default(),
        same_cause_as: None,
    });
    for text in [report.junit(), report.markdown()] {
        assert!((0..20).all(|i| text.contains(&format!("failure number {i};"))), "{text}");
        assert!(!text.contains("failure number 20;"), "{text}");
        assert!(text.contains("(5 more failures not shown)"), "{text}");
    }
}

/// The migration's report and console output for `fixtures/migrate/mixed`
/// (plain, JSON5, repeated keys, BOM, renamed, broken inputs and a file
/// that is not a dump), with the machine's paths and times replaced.
#[test]
fn migration_report_and_console() {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrate/mixed");
    let scratch = crate::common::scratch_dir("report-snapshots", "migration");
    let report = scratch.join("report.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stateharness"))
        .args(["migrate", "--from", source.to_str().unwrap(), "--to", &format!("file://{}/out", scratch.display())])
        .args(["--report", report.to_str().unwrap(), "--jobs", "2", "--dry-run"])
        .output()
        .expect("runs stateharness");
    assert_eq!(output.status.code(), Some(1), "two inputs are broken");
    let redact = |text: &str| {
        let text = text.replace(source.to_str().unwrap(), "<fixtures>/migrate/mixed").replace(scratch.to_str().unwrap(), "<scratch>");
        redact_seconds(&text)
    };
    snapshot!("migration_report_json", redact(&std::fs::read_to_string(&report).expect("the report")));
    snapshot!("migration_console", redact(&String::from_utf8_lossy(&output.stdout)));
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// `in 0.03 s` → `in <t> s`: the only varying part of the console output.
fn redact_seconds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" in ") {
        let (before, after) = rest.split_at(at + 4);
        out.push_str(before);
        let number_len = after.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(after.len());
        if number_len > 0 && after[number_len..].starts_with(" s") {
            out.push_str("<t>");
            rest = &after[number_len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
