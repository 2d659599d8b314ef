//! `stateharness migrate --check-upgrade SRC`: the summary and the report
//! of [`stateharness::migration::upgrade`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::migration::report::printable;
use crate::migration::upgrade::{CheckOptions, Effect, Finding, Kind, RunCheck, UpgradeCheck, UpgradeTotals};
use crate::migration::{ReportWriter, Source, would_write_into_source};

use super::{Done, Fatal, RunResult};

/// Examples shown per kind.
const EXAMPLES: usize = 3;

/// Checks the flujo 0.4 store at `store` for flujo 0.6: exit 1 when
/// anything would be lost, 0 when only changes or nothing.
pub fn check(store: &Path, report: Option<&Path>, max_input_size: u64, follow_symlinks: bool) -> RunResult {
    let source = Source::detect(store).map_err(|e| Fatal(e.to_string()))?;
    if let Some(path) = report.filter(|path| would_write_into_source(&source, path)) {
        return Err(Fatal(format!("--report {} is in the source: write it elsewhere, the source is never modified", path.display())));
    }
    let check = UpgradeCheck::open(&source, &CheckOptions { max_input_size, follow_symlinks }).map_err(|e| Fatal(e.to_string()))?;
    let head = check.head().clone();
    let mut writer = report.map(|path| ReportWriter::create(path, &head).map_err(|e| format!("cannot write {}: {e}", path.display()))).transpose()?;
    outln!("checking {} ({}) for flujo {}'s {}: nothing is written", printable(&head.source), head.source_kind, head.flujo_to, head.backend.name());
    for finding in &head.store {
        outln!("store: {} ({}): {}", finding.kind, finding.effect.as_str(), printable(&finding.detail));
    }
    let mut examples: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
    let mut report_error = None;
    let totals = check
        .run(&mut |run| {
            for finding in &run.findings {
                let shown = examples.entry(finding.kind).or_default();
                if shown.len() < EXAMPLES {
                    shown.push(example(run, finding));
                }
            }
            if let (Some(writer), None) = (&mut writer, &report_error) {
                if let Err(e) = writer.entry(run) {
                    report_error = Some(e.to_string());
                }
            }
        })
        .map_err(|e| Fatal(e.to_string()))?;
    for (kind, shown) in &examples {
        outln!("{}", kind_line(*kind, &totals));
        for line in shown {
            outln!("  {line}");
        }
    }
    outln!("{} inputs: {} unchanged, {} changed, {} lossy, {} skipped", totals.inputs, totals.unchanged, totals.changed, totals.lossy, totals.skipped);
    if let Some(path) = report {
        let finished = match (report_error, writer) {
            (Some(e), _) => Err(e),
            (None, Some(writer)) => writer.finish(&totals).map_err(|e| e.to_string()),
            (None, None) => Ok(()),
        };
        finished.map_err(|e| Fatal(format!("writing the report {}: {e}", path.display())))?;
    }
    if totals.any_loss() {
        outln!("flujo 0.6 would lose information in {} runs: see the losses above", totals.lossy);
    }
    Ok(Done::passed_if(!totals.any_loss()))
}

/// `int_range: 2 losses in 1 run`.
fn kind_line(kind: Kind, totals: &UpgradeTotals) -> String {
    let count = totals.by_kind.get(&kind).copied().unwrap_or_default();
    let mut parts = Vec::new();
    for (n, effect) in [(count.loss, Effect::Loss), (count.change, Effect::Change)] {
        if n > 0 {
            parts.push(format!(
                "{n} {}{}",
                effect.as_str(),
                if n == 1 {
                    ""
                } else if effect == Effect::Loss {
                    "es"
                } else {
                    "s"
                }
            ));
        }
    }
    format!("{kind}: {} in {} run{}", parts.join(", "), count.runs, if count.runs == 1 { "" } else { "s" })
}

/// One finding for the console: the run, the path, what 0.6 does.
fn example(run: &RunCheck, finding: &Finding) -> String {
    let run_id = run.run_id.as_deref().unwrap_or(&run.source);
    let path = if finding.path.is_empty() { String::new() } else { format!(" {}", finding.path) };
    printable(&format!("{run_id}{path} ({}): {}", finding.effect.as_str(), finding.detail))
}
