//! The report: every series' times, the ratios the goals judge, and the
//! peak memory against its budget. Returns the goals missed.

use std::path::Path;

use crate::baseline::PythonTimes;
use crate::corpus::Corpus;
use crate::measure::{GNU_TIME, Series};
use crate::{MIB, Timed};

/// Migrate may take at most this multiple of the plain copy's time.
const COPY_RATIO_GOAL: f64 = 1.3;
/// Python must take at least this multiple of migrate's time.
const PYTHON_RATIO_GOAL: f64 = 4.0;

/// Prints the tables and returns what failed: a series' run or check, a
/// goal missed, the memory budget exceeded.
pub fn report(timed: &Timed, python: &PythonTimes, corpus: &Corpus, jobs: usize) -> Vec<String> {
    let mut failures = Vec::new();
    print_series(timed, python, corpus, &mut failures);
    print_ratios(timed, python, jobs, &mut failures);
    print_peak_rss(timed.peak_rss_kib, corpus, &mut failures);
    failures
}

fn print_series(timed: &Timed, python: &PythonTimes, corpus: &Corpus, failures: &mut Vec<String>) {
    let Timed { copy_n, copy_1, copy_unsynced, copy_converted, migrate_cpu, migrate, migrate_unverified, migrate_dry, .. } = timed;
    println!();
    println!("{:<36} {:>8} {:>8}  runs (s)", "", "best s", "median s");
    for series in [copy_n, copy_1, copy_unsynced, copy_converted, migrate, migrate_cpu, migrate_unverified, migrate_dry, &python.wall, &python.conversion] {
        series.print();
        if let Some(first) = series.errors.first() {
            let first = first.lines().next().unwrap_or_default();
            failures.push(format!("{}: {} failed runs or checks; the first: {first}", series.name, series.errors.len()));
        }
    }
    let files = corpus.files.len() as f64;
    if let (Some(copy), Some(unsynced)) = (copy_1.best(), copy_unsynced.best()) {
        println!(
            "per file, 1 job, best: {:.2} ms durable copy, {:.2} ms without fsync, so {:.2} ms in the two fsyncs",
            copy / files * 1e3,
            unsynced / files * 1e3,
            (copy - unsynced) / files * 1e3
        );
    }
}

fn print_ratios(timed: &Timed, python: &PythonTimes, jobs: usize, failures: &mut Vec<String>) {
    println!();
    println!("{:<36} {:>7} {:>8}", "ratio", "best", "median");
    let mut goal = |name: &str, value: Option<(f64, f64)>, met: fn(f64) -> bool, target: &str| match value {
        None => println!("{name:<36} -- (not measured)"),
        Some((best, median)) => {
            let verdict = if target.is_empty() {
                "info"
            } else if met(best) {
                "PASS"
            } else {
                failures.push(format!("{name}: {best:.2}x (best; median {median:.2}x), goal {target}"));
                "FAIL"
            };
            println!("{name:<36} {best:>6.2}x {median:>7.2}x  {target:<8} {verdict}");
        }
    };
    let ratio = |a: &Series, b: &Series| Some((a.best()? / b.best()?, a.median()? / b.median()?));
    let paired = timed.migrate.paired_ratios(&timed.copy_n);
    println!("{:<36} {}", "migrate / copy, round by round", paired.seconds.iter().map(|r| format!("{r:.2}x")).collect::<Vec<_>>().join(" "));
    goal(&format!("migrate / copy ({jobs} jobs), paired"), paired.median().map(|m| (m, m)), |r| r <= COPY_RATIO_GOAL, "<= 1.3x");
    goal(&format!("migrate / copy ({jobs} jobs), unpaired"), ratio(&timed.migrate, &timed.copy_n), |_| true, "");
    goal("migrate / copy (1 job)", ratio(&timed.migrate, &timed.copy_1), |_| true, "");
    goal(&format!("migrate --no-verify / copy ({jobs} jobs)"), ratio(&timed.migrate_unverified, &timed.copy_n), |_| true, "");
    goal("migrate / copy of legacy-expected", ratio(&timed.migrate, &timed.copy_converted), |_| true, "");
    // The same job is the whole process on both sides (migrate's times are
    // its process's too); Python's loop alone, imports left out, is shown.
    goal("python / migrate (whole process)", ratio(&python.wall, &timed.migrate), |r| r >= PYTHON_RATIO_GOAL, ">= 4x");
    goal("python / migrate (python's loop only)", ratio(&python.conversion, &timed.migrate), |_| true, "");
}

/// Peak RSS must stay under `largest input x 4 + 64 MiB`.
fn print_peak_rss(peak_rss_kib: Option<u64>, corpus: &Corpus, failures: &mut Vec<String>) {
    let budget = corpus.largest_bytes as f64 * 4.0 + 64.0 * MIB;
    match peak_rss_kib {
        None if !Path::new(GNU_TIME).exists() => println!("{:<36} -- (not measured: needs GNU time at {GNU_TIME})", "migrate peak RSS"),
        None => println!("{:<36} -- (not measured)", "migrate peak RSS"),
        Some(kib) => {
            let peak = kib as f64 * 1024.0;
            let verdict = if peak <= budget { "PASS" } else { "FAIL" };
            if peak > budget {
                failures.push(format!("peak RSS {:.1} MiB over the budget {:.1} MiB", peak / MIB, budget / MIB));
            }
            println!(
                "{:<36} {:>6.1} MiB  budget {:.1} MiB (largest {:.2} MiB x 4 + 64) {verdict}",
                "migrate peak RSS (max of all runs)",
                peak / MIB,
                budget / MIB,
                corpus.largest_bytes as f64 / MIB
            );
        }
    }
}
