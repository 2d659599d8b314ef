//! The conformance report as one self-contained HTML page (`conform --html
//! PATH`): the verdict, the failures grouped by cause with their details,
//! the fidelity matrix as a heat map of value kind by verdict, and the
//! timings. No script, no network, no external asset: the page is a CI
//! artifact a reviewer opens anywhere. Everything that came from the backend
//! (names, messages, values) is escaped.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::report::{CheckResult, Report, Status, profile_name, shown_details};

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 4px;word-break:break-all}h2{font-size:17px;margin:28px 0 10px}
.meta{color:#57606a;font-size:13px}.badge{display:inline-block;padding:3px 12px;border-radius:12px;color:#fff;font-weight:600;margin-right:10px}
.passed{background:#1a7f37}.failed{background:#cf222e}.error{background:#bc4c00}
.counts{display:flex;gap:12px;margin:16px 0}.count{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 16px;min-width:90px}
.count b{display:block;font-size:22px}
.cause{background:#fff;border:1px solid #d0d7de;border-left:5px solid #cf222e;border-radius:8px;padding:12px 16px;margin:12px 0}
.cause.fault{border-left-color:#bc4c00}.cause h3{font-size:15px;margin:0 0 6px}
pre{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:8px 10px;overflow-x:auto;font-size:12.5px;white-space:pre-wrap;word-break:break-word;margin:6px 0}
.same{color:#57606a;font-size:13px;margin:6px 0 0}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de;border-radius:8px;font-size:13.5px}
th,td{padding:5px 12px;border-bottom:1px solid #eaeef2;text-align:left}th{background:#f6f8fa}
td.n{text-align:right;font-variant-numeric:tabular-nums;min-width:70px}
.pill{border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.layout{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:24px;align-items:start}
@media (max-width:900px){.layout{grid-template-columns:1fr}}
";

impl Report {
    /// The report as a self-contained HTML page.
    pub fn html(&self) -> String {
        let (passed, failed, skipped) = self.counts();
        let (badge, class) = match (failed, self.faults()) {
            (_, 1..) => ("ERROR: connection lost", "error"),
            (0, _) => ("PASSED", "passed"),
            _ => ("FAILED", "failed"),
        };
        let mut page = String::new();
        let _ = write!(
            page,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>stateharness conform: {backend}</title><style>{STYLE}</style></head><body><main>\
             <h1><span class=\"badge {class}\">{badge}</span>{backend}</h1>\
             <div class=\"meta\">profile {profile} · seed {seed} · {cases} cases per property · flujo {flujo} · Python {python} · run ids under {prefix} · \
             {ops} operations in {seconds:.1} s ({rate:.0}/s)</div>",
            backend = text(&self.backend),
            profile = profile_name(self.profile),
            seed = self.seed,
            cases = self.cases,
            flujo = text(&self.flujo.to_string()),
            python = text(&self.python.to_string()),
            prefix = text(&self.prefix),
            ops = self.ops,
            seconds = self.seconds,
            rate = self.ops_per_second(),
        );
        let _ = write!(
            page,
            "<div class=\"counts\"><div class=\"count\"><b>{passed}</b>passed</div><div class=\"count\"><b>{failed}</b>failed</div>\
             <div class=\"count\"><b>{}</b>root causes</div><div class=\"count\"><b>{skipped}</b>skipped</div><div class=\"count\"><b>{}</b>faults</div></div>",
            self.checks.iter().filter(|c| c.status == Status::Failed && c.same_cause_as.is_none()).count(),
            self.faults(),
        );
        self.write_causes(&mut page);
        page.push_str("<div class=\"layout\"><section><h2>Fidelity: value kind by verdict</h2>");
        self.write_matrix(&mut page);
        page.push_str("</section><section><h2>Checks and timings</h2>");
        self.write_checks(&mut page);
        page.push_str("</section></div>");
        if !self.warnings.is_empty() {
            page.push_str("<h2>Warnings</h2>");
            for warning in &self.warnings {
                let _ = write!(page, "<pre>{}</pre>", text(warning));
            }
        }
        page.push_str("</main></body></html>\n");
        page
    }

    /// Each root cause once, with its details and the checks it explains.
    fn write_causes(&self, page: &mut String) {
        let roots: Vec<&CheckResult> =
            self.checks.iter().filter(|c| matches!(c.status, Status::Fault(_)) || (c.status == Status::Failed && c.same_cause_as.is_none())).collect();
        if roots.is_empty() {
            return;
        }
        page.push_str("<h2>Failures, by cause</h2>");
        for root in roots {
            let title = format!("{}: {}", root.group, root.name);
            let fault = matches!(root.status, Status::Fault(_));
            let _ = write!(
                page,
                "<div class=\"cause{}\"><h3>{}{}</h3>",
                if fault { " fault" } else { "" },
                if fault { "connection lost during " } else { "" },
                text(&title)
            );
            if let Status::Fault(error) = &root.status {
                let _ = write!(page, "<pre>{}</pre>", text(error));
            }
            for detail in shown_details(&root.details) {
                let _ = write!(page, "<pre>{}</pre>", text(&detail));
            }
            if let Some(replay) = &root.replay {
                let _ = write!(page, "<div class=\"same\">replay:</div><pre>{}</pre>", text(&self.replay_command(replay)));
            }
            let same: Vec<String> =
                self.checks.iter().filter(|c| c.same_cause_as.as_deref() == Some(title.as_str())).map(|c| text(&format!("{}: {}", c.group, c.name))).collect();
            if !same.is_empty() {
                let _ =
                    write!(page, "<details class=\"same\"><summary>Same cause, not separate defects ({})</summary>{}</details>", same.len(), same.join(" · "));
            }
            page.push_str("</div>");
        }
    }

    /// Kind x verdict, each cell shaded by its share of the kind's values.
    fn write_matrix(&self, page: &mut String) {
        page.push_str("<table><tr><th>kind</th><th>exact</th><th>lossy</th><th>corrupted</th></tr>");
        for (kind, counts) in &self.matrix.counts {
            let total = counts.iter().sum::<u64>().max(1) as f64;
            let _ = write!(page, "<tr><td>{}</td>", text(kind));
            for (count, hue) in counts.iter().zip([(26, 127, 55), (191, 135, 0), (207, 34, 46)]) {
                let alpha = if *count == 0 { 0.0 } else { 0.15 + 0.75 * (*count as f64 / total) };
                let ink = if alpha > 0.55 { "#fff" } else { "#1f2328" };
                let _ = write!(page, "<td class=\"n\" style=\"background:rgba({},{},{},{alpha:.2});color:{ink}\">{count}</td>", hue.0, hue.1, hue.2);
            }
            page.push_str("</tr>");
        }
        page.push_str("</table>");
    }

    fn write_checks(&self, page: &mut String) {
        page.push_str("<table><tr><th>check</th><th>result</th><th>time</th></tr>");
        for check in &self.checks {
            let (label, colour) = match (&check.status, &check.same_cause_as) {
                (Status::Passed, _) => ("pass".to_owned(), "#1a7f37"),
                (Status::Failed, None) => ("FAIL".to_owned(), "#cf222e"),
                (Status::Failed, Some(_)) => ("FAIL (same cause)".to_owned(), "#e16f76"),
                (Status::Skipped(why), _) => (format!("skipped: {}", text(why)), "#8c959f"),
                (Status::Fault(_), _) => ("ERROR".to_owned(), "#bc4c00"),
            };
            let _ = write!(
                page,
                "<tr><td>{}</td><td><span class=\"pill\" style=\"background:{colour}\">{label}</span></td><td class=\"n\">{:.2} s</td></tr>",
                text(&format!("{}: {}", check.group, check.name)),
                check.seconds
            );
        }
        page.push_str("</table>");
    }
}

/// `value` escaped for HTML text and attribute values.
fn text(value: &str) -> String {
    escape(value).into_owned()
}
