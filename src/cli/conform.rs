//! `stateharness conform --backend URL`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::conformance::select::Selection;
use crate::conformance::{Profile, Report, Suite, SuiteOptions, UrlOpener};
use crate::format::{FlujoVersion, PythonVersion};

use super::{DeadlineArgs, Done, Fatal, PyArgs, RunResult, interruption};

/// Run the conformance suite against a backend and report what passes,
/// what is lossy and what is broken.
///
/// Runs the declarative cases (suites/*.json5, built in), property checks
/// (arbitrary WorkflowStates, a model-based sequence check, custom types),
/// the refusal check, and the concurrency, persistence and listing checks
/// that the backend's declared capabilities allow. Every run id written
/// carries a prefix unique to the run and is deleted at the end, also on
/// failure and on Ctrl-C.
///
/// Exit status: 0 all checks passed, 1 a check failed, 2 configuration or
/// connection error (also a connection lost during a check: a fault, not
/// a verdict).
#[derive(Debug, Args)]
pub struct ConformArgs {
    /// The backend: memory://, file:///DIR, sqlite:///PATH,
    /// redis://HOST:PORT/DB?prefix=P, postgres://USER@HOST:PORT/DB?table=T,
    /// exec:COMMAND, py:MODULE:CLASS (a Python flujo backend class).
    #[arg(long, default_value = "memory://")]
    backend: String,
    /// flujo: exact and lossy-as-flujo pass, corrupted fails; exact: only exact passes.
    #[arg(long, value_enum, default_value_t = Profile::Flujo)]
    profile: Profile,
    /// Extra keys that the backend adds to a state fail instead of warn.
    #[arg(long)]
    strict: bool,
    /// Cases per property check (more finds rarer bugs, takes longer).
    #[arg(long, default_value_t = 48)]
    cases: u32,
    /// Rounds of the crash-atomicity check (exec: backends that declare
    /// `persistent`): each kills the backend's process during a save.
    #[arg(long, default_value_t = 24)]
    crash_rounds: usize,
    /// Seed of the property checks; a failure prints the seed to replay it.
    #[arg(long)]
    seed: Option<u64>,
    /// Read the declarative cases from this directory's *.json5 files
    /// instead of the built-in suites.
    #[arg(long)]
    suites: Option<PathBuf>,
    /// Write the machine-readable report (checks, fidelity matrix, ops/s).
    #[arg(long, value_name = "PATH.json")]
    report: Option<PathBuf>,
    /// Write JUnit XML for CI test results.
    #[arg(long, value_name = "PATH.xml")]
    junit: Option<PathBuf>,
    /// Write a Markdown summary (for a CI step summary).
    #[arg(long, value_name = "PATH.md")]
    markdown: Option<PathBuf>,
    /// Write the report as one self-contained HTML page: the verdict,
    /// failures grouped by cause, the fidelity heat map, the timings.
    #[arg(long, value_name = "PATH.html")]
    html: Option<PathBuf>,
    /// The flujo to target (0.4, 0.6): its serializer's rules, its
    /// WorkflowState shape (0.6 adds six fields and stamps UTC) and what
    /// its own round trip gives, which the verdicts follow. Default: the
    /// flujo an exec: or py: backend reports in hello (a different one is
    /// an error), else 0.4. Every report names the target.
    #[arg(long, value_name = "X.Y")]
    flujo: Option<FlujoVersion>,
    /// The Python that runs flujo (3.11, 3.12, 3.13): its Unicode tables
    /// decide how repr writes dict keys. Default: the Python an exec:
    /// backend reports in hello (a different one is an error), else the
    /// oldest the target flujo supports (0.4: 3.11, 0.6: 3.13).
    #[arg(long, value_name = "X.Y")]
    python_version: Option<PythonVersion>,
    /// Run only the checks whose `group: name` matches this glob
    /// (repeatable; `--list-checks` prints the names). The others are
    /// reported as skipped.
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Do not run the checks whose `group: name` matches this glob
    /// (repeatable).
    #[arg(long, value_name = "PATTERN")]
    skip: Vec<String>,
    /// Skip every check after the first one that fails.
    #[arg(long)]
    fail_fast: bool,
    /// Print every check's `group: name`, one a line, and exit 0 without
    /// running any (the backend is opened: its custom types add checks).
    #[arg(long)]
    list_checks: bool,
    #[command(flatten)]
    deadline: DeadlineArgs,
    #[command(flatten)]
    py: PyArgs,
}

impl ConformArgs {
    pub fn run(mut self) -> RunResult {
        self.backend = self.py.backend_url(&self.backend)?;
        super::block_on(self.run_async())
    }

    async fn run_async(self) -> RunResult {
        let mut options = SuiteOptions {
            profile: self.profile,
            strict: self.strict,
            cases: self.cases,
            crash_rounds: self.crash_rounds,
            flujo: self.flujo,
            python: self.python_version,
            only: self.only.clone(),
            skip: self.skip.clone(),
            fail_fast: self.fail_fast,
            ..SuiteOptions::default()
        };
        if let Some(seed) = self.seed {
            options.seed = seed;
        }
        if let Some(dir) = &self.suites {
            options = options.with_suites_from(dir).map_err(|e| format!("cannot read the suites: {e}"))?;
        }
        // A bad pattern is reported before the backend is opened.
        let selection = Selection::new(&self.only, &self.skip, self.fail_fast).map_err(Fatal)?;
        let opener = Arc::new(UrlOpener::new(&self.backend).with_options(self.deadline.open_options()));
        let suite = Suite::open(opener, options).await.map_err(|e| Fatal(e.to_string()))?;
        let tracker = suite.tracker();
        let names = suite.check_names();
        // A mistyped --only must not pass with every check skipped.
        let none_selected = !names.iter().any(|name| selection.selects(name));
        if self.list_checks || none_selected {
            // Opening wrote nothing (a load of a missing id); only close.
            if let Err(e) = tracker.backend().close().await {
                eprintln!("close: {e}");
            }
            if none_selected && !self.list_checks {
                return Err(Fatal("--only/--skip select no check (--list-checks prints their names)".to_owned()));
            }
            for name in names {
                outln!("{name}");
            }
            return Ok(Done::passed_if(true));
        }
        let report = tokio::select! {
            report = suite.run() => report,
            signal = interruption() => {
                eprintln!("{}: deleting what this run wrote under {:?}", signal.name(), tracker.prefix());
                let (deleted, errors) = tracker.interrupt_and_cleanup().await;
                eprintln!("deleted {deleted} run ids");
                for e in errors {
                    eprintln!("cleanup: {e}");
                }
                if let Err(e) = tracker.backend().close().await {
                    eprintln!("close: {e}");
                }
                return Ok(Done::Interrupted(signal));
            }
        };
        out!("{}", report.human());
        self.write_outputs(&report)?;
        if let Some(during) = report.first_fault() {
            return Err(Fatal(format!("{}: connection lost during {during}; no verdict on the backend", self.backend)));
        }
        Ok(Done::passed_if(report.passed()))
    }

    fn write_outputs(&self, report: &Report) -> Result<(), String> {
        let write = |path: &PathBuf, text: String| std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()));
        if let Some(path) = &self.report {
            write(path, format!("{:#}\n", report.to_json()))?;
        }
        if let Some(path) = &self.junit {
            write(path, report.junit())?;
        }
        if let Some(path) = &self.markdown {
            write(path, report.markdown())?;
        }
        if let Some(path) = &self.html {
            write(path, report.html())?;
        }
        Ok(())
    }
}
