//! `conform --html`: one self-contained page with the verdict, the
//! failures grouped by cause, the fidelity heat map and the timings, with
//! everything that came from the backend escaped; rendered in headless
//! Chromium where it is installed (CI has it), to look at.

use std::process::Command;

use crate::common::{fixtures_dir, scratch_dir, stateharness};

#[test]
fn the_html_report_of_a_failing_run_shows_the_failure_and_the_matrix() {
    // The backend's storage directory carries markup into the report, as a
    // hostile backend's name or message could.
    let dir = scratch_dir("report-html", "<img src=x onerror=alert(1)>");
    let out = scratch_dir("report-html", "out");
    let page = out.join("report.html");
    let backend = format!("exec:python3 {} '{}'", fixtures_dir().join("protocol/wrong_datetime.py").display(), dir.display());
    let output = stateharness().args(["conform", "--backend", &backend, "--cases", "16", "--seed", "5", "--html", page.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    for shown in ["FAILED", "Failures, by cause", "Same cause, not separate defects", "Fidelity: value kind by verdict", "datetime", "Checks and timings"] {
        assert!(html.contains(shown), "the page lacks {shown:?}");
    }
    assert!(!html.contains("<img src=x"), "markup from the backend is escaped");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    for external in ["http://", "https://", "<script", "<link", "src=\"", "url("] {
        assert!(!html.contains(external), "the page must be self-contained, it holds {external:?}");
    }

    let Some(chromium) = crate::common::program(&["chromium", "chromium-browser"], "--version") else { return };
    let screenshot = out.join("report.png");
    let rendered = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1366,900"])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a rendered page, {} bytes", png.len());
}
