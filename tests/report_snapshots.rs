//! insta snapshots of the conformance report forms people read: the human
//! summary, JUnit XML and the Markdown step summary (`fixtures/snapshots/
//! report_*.snap`), so that any change in what a user sees shows up for
//! review (`cargo insta review`).
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
    let opener = Arc::new(UrlOpener::new("memory://", options.registry.clone()));
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
        replay: Some("--seed 7".to_owned()),
        cases: 1,
        seconds: 0.0,
    });
    report.warnings.push("the backend added keys <total_steps> & |error_message|".to_owned());
    report
}

macro_rules! snapshot {
    ($name:literal, $text:expr) => {
        insta::with_settings!({ snapshot_path => "../fixtures/snapshots", prepend_module_to_snapshot => false }, {
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
