//! The suite's results and their forms: a human summary, JSON for
//! machines, JUnit XML for CI test results, Markdown for a CI step summary.

use std::fmt::Write;
use std::time::Instant;

use quick_xml::escape::escape;

use crate::backends::Capabilities;
use crate::format::{FlujoChoice, PythonChoice};

use super::failure::Failure;
use super::fidelity::{Causes, Matrix, Profile};
use super::options::SuiteOptions;
use super::properties::PropertyRun;

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It held.
    Passed,
    /// It did not; see the details.
    Failed,
    /// Not run, and why (a capability the backend does not declare).
    Skipped(String),
    /// The connection to the backend was lost during the check (the
    /// error): no verdict on the backend.
    Fault(String),
}

/// One check's result.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// `case`, `property`, `custom type`, `concurrency`, ...
    pub group: String,
    /// What it checks.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// Why it failed: each finding with run id, JSON path, sent and got,
    /// as a person reads it (the messages of `failures`).
    pub details: Vec<String>,
    /// Why it failed, as records (check, step, op, run id, path, sent,
    /// expected, got).
    pub failures: Vec<Failure>,
    /// How to replay it (`--seed N`), for property checks that failed.
    pub replay: Option<String>,
    /// Cases, rounds or ids it covered.
    pub cases: u64,
    /// Wall time.
    pub seconds: f64,
    /// What the failures come from.
    pub causes: Causes,
    /// The earlier failed check whose differences explain every failure
    /// of this one: not a separate defect.
    pub same_cause_as: Option<String>,
}

impl CheckResult {
    /// The same result, with what its failures come from.
    pub(crate) fn with_causes(self, causes: Causes) -> CheckResult {
        CheckResult { causes, ..self }
    }

    fn label(&self) -> String {
        format!("{}: {}", self.group, self.name)
    }

    /// Passed when `failures` is empty, else failed with them (each
    /// marked with the check's label) and their messages as details.
    pub(crate) fn from_failures(group: &str, name: String, failures: Vec<Failure>, timer: Instant, cases: u64) -> CheckResult {
        let check = format!("{group}: {name}");
        let failures: Vec<Failure> = failures.into_iter().map(|f| Failure { check: check.clone(), ..f }).collect();
        CheckResult {
            group: group.to_owned(),
            name,
            status: if failures.is_empty() { Status::Passed } else { Status::Failed },
            details: failures.iter().map(|f| f.message.clone()).collect(),
            failures,
            replay: None,
            cases,
            seconds: timer.elapsed().as_secs_f64(),
            causes: Causes::default(),
            same_cause_as: None,
        }
    }

    /// The same check, turned into a fault: its findings say nothing about
    /// the backend once the connection was lost.
    pub(crate) fn into_fault(self, error: String) -> CheckResult {
        CheckResult { status: Status::Fault(error), details: Vec::new(), failures: Vec::new(), replay: None, ..self }
    }

    /// Not run, and why.
    pub(crate) fn skipped(group: &str, name: String, why: String) -> CheckResult {
        CheckResult {
            group: group.to_owned(),
            name,
            status: Status::Skipped(why),
            details: Vec::new(),
            failures: Vec::new(),
            replay: None,
            cases: 0,
            seconds: 0.0,
            causes: Causes::default(),
            same_cause_as: None,
        }
    }
}

/// Everything a suite run found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The backend tested.
    pub backend: String,
    /// What it declared.
    pub capabilities: Capabilities,
    /// The judging profile.
    pub profile: Profile,
    /// Whether extra keys failed.
    pub strict: bool,
    /// The property seed.
    pub seed: u64,
    /// Cases per property check.
    pub cases: u32,
    /// Rounds of the crash check.
    pub crash_rounds: usize,
    /// The directory the declarative cases came from, when not built in.
    pub suites_dir: Option<std::path::PathBuf>,
    /// `--only` / `--skip` patterns and `--fail-fast`, for the replay line.
    pub only: Vec<String>,
    /// See `only`.
    pub skip: Vec<String>,
    /// See `only`.
    pub fail_fast: bool,
    /// The run's id prefix.
    pub prefix: String,
    /// The flujo whose format, state shape and expectations the run targets.
    pub flujo: FlujoChoice,
    /// The Python whose `repr` the expected values follow.
    pub python: PythonChoice,
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
    /// Verdicts of every part of every value that came back.
    pub matrix: Matrix,
    /// Warnings (extra keys, cleanup problems), each once.
    pub warnings: Vec<String>,
    /// Backend operations sent.
    pub ops: u64,
    /// Wall time of the run.
    pub seconds: f64,
    /// Run ids deleted at the end.
    pub cleanup_deleted: usize,
}

impl Report {
    pub(crate) fn new(backend: String, capabilities: Capabilities, options: &SuiteOptions, prefix: &str) -> Report {
        Report {
            backend,
            capabilities,
            profile: options.profile,
            strict: options.strict,
            seed: options.seed,
            cases: options.cases,
            crash_rounds: options.crash_rounds,
            suites_dir: options.suites_dir.clone(),
            only: options.only.clone(),
            skip: options.skip.clone(),
            fail_fast: options.fail_fast,
            prefix: prefix.to_owned(),
            flujo: FlujoChoice::default(),
            python: PythonChoice::default(),
            checks: Vec::new(),
            matrix: Matrix::default(),
            warnings: Vec::new(),
            ops: 0,
            seconds: 0.0,
            cleanup_deleted: 0,
        }
    }

    /// Adds a check; a failed one whose every failure is a difference an
    /// earlier failed check already showed is marked as of the same cause.
    pub(crate) fn push(&mut self, mut check: CheckResult) {
        if check.status == Status::Failed {
            let independent = || self.checks.iter().filter(|c| c.status == Status::Failed && c.same_cause_as.is_none());
            let known = independent().flat_map(|c| c.causes.differences.iter().cloned()).collect();
            if check.causes.only_among(&known) {
                check.same_cause_as = independent().find(|c| !c.causes.differences.is_disjoint(&check.causes.differences)).map(CheckResult::label);
            }
        }
        self.checks.push(check);
    }

    /// Failed checks that are not of the same cause as an earlier one.
    pub fn root_causes(&self) -> usize {
        self.checks.iter().filter(|c| c.status == Status::Failed && c.same_cause_as.is_none()).count()
    }

    pub(crate) fn add_warnings(&mut self, warnings: impl IntoIterator<Item = String>) {
        for warning in warnings {
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
    }

    /// The result of a property check (its verdicts and warnings go into the report).
    pub(crate) fn property_check(&mut self, group: &str, name: String, run: Result<PropertyRun, String>, timer: Instant, replay: &str) -> CheckResult {
        let run = run.unwrap_or_else(|panic| PropertyRun { failure: Some(panic), ..PropertyRun::default() });
        self.matrix.merge(&run.matrix);
        self.add_warnings(run.warnings);
        let failed = run.failure.is_some();
        // The counterexample's text, with the record of its first failure.
        let first = run.records.into_iter().next().unwrap_or_default();
        let failures = run.failure.into_iter().map(|message| Failure { message, ..first.clone() }).collect();
        let mut check = CheckResult::from_failures(group, name, failures, timer, run.cases).with_causes(run.causes);
        if failed {
            check.replay = Some(replay.to_owned());
        }
        check
    }

    /// `group: name` of the first check the connection was lost in.
    pub fn first_fault(&self) -> Option<String> {
        self.checks.iter().find(|c| matches!(c.status, Status::Fault(_))).map(|c| format!("{}: {}", c.group, c.name))
    }

    /// Checks that met a connection fault.
    pub fn faults(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.status, Status::Fault(_))).count()
    }

    /// Checks with each status: (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Status) -> bool| self.checks.iter().filter(|c| f(&c.status)).count();
        (count(|s| *s == Status::Passed), count(|s| *s == Status::Failed), count(|s| matches!(s, Status::Skipped(_))))
    }

    /// True when no check failed and the connection held.
    pub fn passed(&self) -> bool {
        self.counts().1 == 0 && self.faults() == 0
    }

    /// Operations per second over the whole run.
    pub fn ops_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.ops as f64 / self.seconds } else { 0.0 }
    }

    /// The command that replays a check, as arguments: every option that
    /// changes a verdict, then the check's own (`--seed N`).
    pub fn replay_args(&self, replay: &str) -> Vec<String> {
        let mut args: Vec<String> =
            ["stateharness", "conform", "--backend", &crate::redact::replay_url(&self.backend), "--profile", profile_name(self.profile)]
                .map(str::to_owned)
                .to_vec();
        args.extend(["--cases".to_owned(), self.cases.to_string(), "--crash-rounds".to_owned(), self.crash_rounds.to_string()]);
        if self.strict {
            args.push("--strict".to_owned());
        }
        if let Some(dir) = &self.suites_dir {
            args.extend(["--suites".to_owned(), dir.display().to_string()]);
        }
        for flag in [self.flujo.replay_flag(), self.python.replay_flag()].into_iter().flatten() {
            args.extend(flag.split_whitespace().map(str::to_owned));
        }
        for (flag, patterns) in [("--only", &self.only), ("--skip", &self.skip)] {
            args.extend(patterns.iter().flat_map(|p| [flag.to_owned(), p.clone()]));
        }
        if self.fail_fast {
            args.push("--fail-fast".to_owned());
        }
        args.extend(replay.split_whitespace().map(str::to_owned));
        args
    }

    /// [`Report::replay_args`] as a line that pastes into a shell as is,
    /// whatever quotes the backend string holds; a password in the backend
    /// URL is a reference to an environment variable the shell expands.
    pub fn replay_command(&self, replay: &str) -> String {
        self.replay_args(replay).iter().map(|arg| crate::redact::shell_word(arg)).collect::<Vec<_>>().join(" ")
    }

    /// The summary a person reads: one line per check, failures with their
    /// findings and replay command, the fidelity matrix, and a last line
    /// `N passed, M failed, K skipped`.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let capabilities = self.capabilities.names();
        let _ = writeln!(
            out,
            "stateharness conform: {} (capabilities: {}), profile {}, seed {}, run ids under {:?}",
            self.backend,
            if capabilities.is_empty() { "none".to_owned() } else { capabilities.join(", ") },
            profile_name(self.profile),
            self.seed,
            self.prefix
        );
        let _ = writeln!(out, "flujo: {}\nPython: {}", self.flujo, self.python);
        for check in &self.checks {
            self.write_check(&mut out, check, true);
        }
        out.push('\n');
        out.push_str(&self.matrix_table());
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        let (passed, failed, skipped) = self.counts();
        let _ =
            writeln!(out, "{} operations in {:.1} s ({:.0} ops/s); {} run ids cleaned up", self.ops, self.seconds, self.ops_per_second(), self.cleanup_deleted);
        let _ = write!(out, "{passed} passed, {failed} failed, {skipped} skipped");
        if self.root_causes() < failed {
            let _ = write!(out, " ({} root causes)", self.root_causes());
        }
        match self.first_fault() {
            Some(during) => {
                let _ = writeln!(out, ", {} faults (connection lost during {during})", self.faults());
            }
            None => out.push('\n'),
        }
        out
    }

    /// One check's lines of [`Report::human`]: its status and name, then
    /// its findings and, with `cli_replay`, the command line that replays it.
    fn write_check(&self, out: &mut String, check: &CheckResult, cli_replay: bool) {
        let label = match &check.status {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Skipped(_) => "SKIP",
            Status::Fault(_) => "ERROR",
        };
        let _ = write!(out, "{label}  {:<12} {}", check.group, check.name);
        match &check.status {
            Status::Skipped(why) => {
                let _ = write!(out, " ({why})");
            }
            Status::Fault(error) => {
                let _ = write!(out, "\n      connection lost during this check: {error}");
            }
            _ => {}
        }
        out.push('\n');
        if let Some(cause) = &check.same_cause_as {
            let _ = writeln!(out, "      same cause as {cause}: {}", check.causes.differences.iter().cloned().collect::<Vec<_>>().join("; "));
            return;
        }
        for detail in &check.details {
            for line in detail.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
        if let Some(replay) = check.replay.as_ref().filter(|_| cli_replay) {
            let _ = writeln!(out, "      replay: {}", self.replay_command(replay));
        }
    }

    /// Panics, for a Rust test, unless every check passed: with the failed
    /// checks (grouped by root cause, as in [`Report::human`]), the summary
    /// and how to replay the run from Rust.
    pub fn assert_passed(&self) {
        if self.passed() {
            return;
        }
        let mut out = format!("stateharness conform: {} failed\n", self.backend);
        for check in self.checks.iter().filter(|c| matches!(c.status, Status::Failed | Status::Fault(_))) {
            self.write_check(&mut out, check, false);
        }
        let (passed, failed, skipped) = self.counts();
        let _ = writeln!(out, "{passed} passed, {failed} failed ({} root causes), {skipped} skipped", self.root_causes());
        let _ =
            write!(out, "replay: SuiteOptions {{ seed: {}, .. }}, or {}={} for SuiteOptions::default()", self.seed, super::options::SEED_VARIABLE, self.seed);
        panic!("{out}");
    }

    fn matrix_table(&self) -> String {
        let mut out = String::from("fidelity (parts of the values that came back):\n");
        let _ = writeln!(out, "  {:<20} {:>8} {:>8} {:>10}", "kind", "exact", "lossy", "corrupted");
        for (kind, [exact, lossy, corrupted]) in &self.matrix.counts {
            let _ = writeln!(out, "  {kind:<20} {exact:>8} {lossy:>8} {corrupted:>10}");
        }
        out
    }

    /// Machine-readable report: checks, fidelity matrix, ops/s.
    pub fn to_json(&self) -> serde_json::Value {
        let (passed, failed, skipped) = self.counts();
        let checks: Vec<serde_json::Value> = self
            .checks
            .iter()
            .map(|c| {
                let (status, skip_reason) = match &c.status {
                    Status::Passed => ("passed", None),
                    Status::Failed => ("failed", None),
                    Status::Skipped(why) => ("skipped", Some(why.clone())),
                    Status::Fault(_) => ("fault", None),
                };
                let fault = match &c.status {
                    Status::Fault(error) => Some(error.clone()),
                    _ => None,
                };
                serde_json::json!({
                    "group": c.group, "name": c.name, "status": status, "skip_reason": skip_reason, "fault": fault,
                    "details": c.details, "failures": c.failures.iter().map(Failure::to_json).collect::<Vec<_>>(), "same_cause_as": c.same_cause_as, "replay": c.replay.as_ref().map(|r| self.replay_command(r)),
                    "cases": c.cases, "seconds": c.seconds,
                })
            })
            .collect();
        let matrix: serde_json::Map<String, serde_json::Value> = self
            .matrix
            .counts
            .iter()
            .map(|(kind, [exact, lossy, corrupted])| (kind.clone(), serde_json::json!({"exact": exact, "lossy": lossy, "corrupted": corrupted})))
            .collect();
        serde_json::json!({
            "backend": self.backend,
            "capabilities": self.capabilities.names(),
            "profile": profile_name(self.profile),
            "strict": self.strict,
            "seed": self.seed,
            "prefix": self.prefix,
            "flujo": {"version": self.flujo.version.as_str(), "reported": self.flujo.reported, "source": format!("{:?}", self.flujo.source).to_lowercase(), "hash_seed": self.flujo.hash_seed},
            "python": {"version": self.python.version.as_str(), "unicode": self.python.version.unicode_version(), "reported": self.python.reported, "source": format!("{:?}", self.python.source).to_lowercase()},
            "summary": {"passed": passed, "failed": failed, "skipped": skipped, "faults": self.faults()},
            "checks": checks,
            "fidelity": matrix,
            "warnings": self.warnings,
            "ops": self.ops,
            "seconds": self.seconds,
            "ops_per_second": self.ops_per_second(),
            "cleanup_deleted": self.cleanup_deleted,
        })
    }

    /// JUnit XML: one test case per check; a failed check is a `<failure>`,
    /// a connection fault an `<error>`.
    pub fn junit(&self) -> String {
        let (_, failed, skipped) = self.counts();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let errors = match self.faults() {
            0 => String::new(),
            n => format!(" errors=\"{n}\""),
        };
        let _ = writeln!(
            out,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\"{errors} skipped=\"{skipped}\" time=\"{:.3}\">",
            escape(format!("stateharness conform {}", self.backend)),
            self.checks.len(),
            self.seconds
        );
        for check in &self.checks {
            let _ = write!(
                out,
                "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(format!("conform.{}", check.group.replace(' ', "_"))),
                escape(&check.name),
                check.seconds
            );
            match &check.status {
                Status::Passed => out.push_str("/>\n"),
                Status::Skipped(why) => {
                    let _ = writeln!(out, ">\n    <skipped message=\"{}\"/>\n  </testcase>", escape(why));
                }
                Status::Fault(error) => {
                    let message = format!("connection lost during this check: {error}");
                    let _ = writeln!(out, ">\n    <error message=\"{}\"/>\n  </testcase>", escape(xml_safe(&message)));
                }
                Status::Failed => {
                    let first = match &check.same_cause_as {
                        Some(cause) => format!("same cause as {cause}"),
                        None => check.details.first().map(|d| d.lines().next().unwrap_or_default()).unwrap_or_default().to_owned(),
                    };
                    let mut body = shown_details(&check.details).join("\n");
                    if let Some(replay) = &check.replay {
                        let _ = write!(body, "\nreplay: {}", self.replay_command(replay));
                    }
                    let _ = writeln!(out, ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>", escape(&first), escape(xml_safe(&body)));
                }
            }
        }
        out.push_str("</testsuite>\n");
        out
    }

    /// Markdown for a CI step summary: result, failing checks, fidelity matrix.
    pub fn markdown(&self) -> String {
        let (passed, failed, skipped) = self.counts();
        let mut out = String::new();
        let verdict = match (failed, self.faults()) {
            (_, 1..) => "ERROR (connection lost)",
            (0, _) => "passed",
            _ => "FAILED",
        };
        let _ = writeln!(out, "### stateharness conform: `{}` {verdict}\n", self.backend);
        let _ = writeln!(
            out,
            "{passed} passed, {failed} failed, {skipped} skipped · profile {} · seed {} · flujo {} · Python {} · {:.0} ops/s\n",
            profile_name(self.profile),
            self.seed,
            self.flujo,
            self.python,
            self.ops_per_second()
        );
        let _ = writeln!(out, "| check | result |\n| --- | --- |");
        for check in &self.checks {
            let result = match &check.status {
                Status::Passed => "pass".to_owned(),
                Status::Failed => match &check.same_cause_as {
                    Some(cause) => format!("**FAIL**: same cause as {}", md_cell(cause)),
                    None => format!("**FAIL**: {}", md_cell(check.details.first().map_or("", |d| d.lines().next().unwrap_or_default()))),
                },
                Status::Skipped(why) => format!("skipped ({})", md_cell(why)),
                Status::Fault(error) => format!("**ERROR**: connection lost during this check: {}", md_cell(error)),
            };
            let _ = writeln!(out, "| {} | {result} |", md_cell(&format!("{}: {}", check.group, check.name)));
        }
        let _ = writeln!(out, "\n| kind | exact | lossy | corrupted |\n| --- | ---: | ---: | ---: |");
        for (kind, [exact, lossy, corrupted]) in &self.matrix.counts {
            let _ = writeln!(out, "| {} | {exact} | {lossy} | {corrupted} |", md_cell(kind));
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "\n> warning: {}", md_cell(warning));
        }
        for check in self.checks.iter().filter(|c| c.status == Status::Failed) {
            let _ = writeln!(out, "\n#### FAIL {}: {}\n\n```", check.group, check.name);
            for detail in shown_details(&check.details) {
                let _ = writeln!(out, "{}", detail.replace("```", "` ` `"));
            }
            if let Some(replay) = &check.replay {
                let _ = writeln!(out, "replay: {}", self.replay_command(replay));
            }
            out.push_str("```\n");
        }
        out
    }
}

/// How many details of a failed check the JUnit and Markdown reports carry.
const MAX_DETAILS: usize = 20;
/// How many characters of one detail they carry.
const MAX_DETAIL_CHARS: usize = 2000;

/// A failed check's details, bounded, with a count of what was cut.
pub(super) fn shown_details(details: &[String]) -> Vec<String> {
    let mut shown: Vec<String> = details
        .iter()
        .take(MAX_DETAILS)
        .map(|d| {
            let cut: String = d.chars().take(MAX_DETAIL_CHARS).collect();
            let left = d.chars().count() - cut.chars().count();
            if left > 0 { format!("{cut}… ({left} more characters)") } else { cut }
        })
        .collect();
    if details.len() > MAX_DETAILS {
        shown.push(format!("({} more failures not shown)", details.len() - MAX_DETAILS));
    }
    shown
}

pub(super) fn profile_name(profile: Profile) -> &'static str {
    match profile {
        Profile::Flujo => "flujo",
        Profile::Exact => "exact",
    }
}

fn md_cell(text: &str) -> String {
    let cut: String = text.chars().take(300).collect();
    cut.replace('|', "\\|").replace('\n', " ")
}

/// XML 1.0 cannot hold most control characters, even escaped.
fn xml_safe(text: &str) -> String {
    text.chars().map(|c| if c < ' ' && c != '\n' && c != '\t' && c != '\r' { '\u{fffd}' } else { c }).collect()
}
