//! `stateharness snapshot record|check|review`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};

use crate::backends::open_backend_with;
use crate::conformance::tracker::fresh_prefix;
use crate::format::{FlujoVersion, PythonChoice, TypeRegistry};
use crate::snapshot::{
    Change, ChangeKind, Snapshot, accept, builtin_states, capture, check_set, pending, record_set, reject, run_id_under, states_from_dir, unified_diff,
};

use super::{DeadlineArgs, Done, Fatal, PyArgs, RunResult, Signal, interruption};

/// Snapshot regression review: record what a backend stores and loads for
/// a fixed set of states, check it again after a change (flujo upgrade,
/// new backend, new custom serializer), and review every difference.
///
/// Snapshots are insta `.snap` files, one per state, named by its run id;
/// a change leaves `NAME.snap.new` beside `NAME.snap` (a removed state: a
/// `.snap.new` with `info: "removed"`), which `review` or `cargo insta
/// review` accepts or rejects.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Save the states through the backend and write one snapshot per state
    /// (replacing every snapshot and pending change in DIR).
    Record(RunArgs),
    /// Do the same again and compare: exit 0 when nothing changed; else
    /// write NAME.snap.new beside each changed snapshot, print the diffs and
    /// exit 1.
    Check(RunArgs),
    /// Walk the pending changes: show each diff, then accept, reject or skip.
    Review(ReviewArgs),
}

/// When to colour output.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorChoice {
    /// When standard output is a terminal and NO_COLOR is not set.
    Auto,
    /// Always (a CI log that renders ANSI colours).
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    pub(super) fn enabled(self) -> bool {
        match self {
            ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            ColorChoice::Always => true,
            ColorChoice::Never => false,
        }
    }
}

/// What `record` and `check` run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The backend: memory://, file:///DIR, sqlite:///PATH,
    /// redis://HOST:PORT/DB?prefix=P, postgres://...?table=T, exec:COMMAND,
    /// py:MODULE:CLASS.
    #[arg(long)]
    backend: String,
    /// The snapshot directory.
    #[arg(long, value_name = "SNAPDIR")]
    dir: PathBuf,
    /// Save these states instead of the built-in set: every *.json file in
    /// DIR is one state in typed JSON, saved under the file's name.
    #[arg(long, value_name = "DIR")]
    states: Option<PathBuf>,
    /// The flujo whose format and WorkflowState shape the states are saved
    /// with (0.4, 0.6; default 0.4). Record with 0.4 and check with 0.6 to
    /// review what the upgrade changes in stored bytes and loaded values.
    #[arg(long, value_name = "X.Y", default_value = "0.4")]
    flujo: FlujoVersion,
    #[command(flatten)]
    deadline: DeadlineArgs,
    #[command(flatten)]
    py: PyArgs,
    /// Colour the diffs.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// What `review` runs.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The snapshot directory.
    #[arg(long, value_name = "SNAPDIR")]
    dir: PathBuf,
    /// Accept every pending change without asking.
    #[arg(long, conflicts_with = "reject_all")]
    accept_all: bool,
    /// Reject every pending change without asking.
    #[arg(long)]
    reject_all: bool,
    /// Colour the diffs.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

impl SnapshotCommand {
    pub fn run(self) -> RunResult {
        match self {
            SnapshotCommand::Record(args) => args.with_py_url()?.record(),
            SnapshotCommand::Check(args) => args.with_py_url()?.check(),
            SnapshotCommand::Review(args) => args.review(),
        }
    }
}

impl RunArgs {
    fn with_py_url(mut self) -> Result<RunArgs, Fatal> {
        self.backend = self.py.backend_url(&self.backend)?;
        Ok(self)
    }

    fn record(self) -> RunResult {
        let snapshots = match self.capture()? {
            Ok(snapshots) => snapshots,
            Err(signal) => return Ok(Done::Interrupted(signal)),
        };
        record_set(&self.dir, &snapshots).map_err(|e| e.to_string())?;
        outln!("recorded {} snapshots in {}", snapshots.len(), self.dir.display());
        Ok(Done::Passed)
    }

    fn check(self) -> RunResult {
        let snapshots = match self.capture()? {
            Ok(snapshots) => snapshots,
            Err(signal) => return Ok(Done::Interrupted(signal)),
        };
        let changes = check_set(&self.dir, &snapshots).map_err(|e| e.to_string())?;
        let color = self.color.enabled();
        for change in &changes {
            out!("{}", describe(change, color));
        }
        if changes.is_empty() {
            outln!("{} snapshots unchanged", snapshots.len());
            return Ok(Done::Passed);
        }
        outln!(
            "{} of {} snapshots changed; review with: stateharness snapshot review --dir {}",
            changes.len(),
            snapshots.len() + changes.iter().filter(|c| c.kind == ChangeKind::Removed).count(),
            self.dir.display()
        );
        Ok(Done::Failed)
    }

    /// The snapshots of this run's states through the backend.
    /// The snapshots of the states through the backend, or the signal that
    /// stopped the run, after deleting every id the run may have written.
    fn capture(&self) -> Result<Result<Vec<Snapshot>, Signal>, Fatal> {
        // The Python is the oldest the target flujo supports, as in `conform`.
        let python = PythonChoice::resolve_for(self.flujo, None, None)?.version;
        let registry = Arc::new(TypeRegistry::standard().with_flujo(self.flujo).with_python(python));
        let states = match &self.states {
            Some(dir) => states_from_dir(dir, &registry),
            None => builtin_states(&registry),
        }
        .map_err(|e| e.to_string())?;
        let prefix = fresh_prefix();
        super::block_on(async {
            let backend = open_backend_with(&self.backend, registry, self.deadline.open_options()).await.map_err(|e| e.to_string())?;
            // A signal stops the capture between states, never inside one: a
            // save cancelled mid-flight could still land after the cleanup.
            let signalled = Arc::new(std::sync::OnceLock::new());
            let watcher = tokio::spawn({
                let signalled = Arc::clone(&signalled);
                async move { signalled.set(interruption().await) }
            });
            let mut captured = Ok(Vec::with_capacity(states.len()));
            for state in states.chunks(1) {
                if let Some(&signal) = signalled.get() {
                    eprintln!("{}: deleting what this run wrote under {prefix:?}", signal.name());
                    for state in &states {
                        if let Err(e) = backend.delete_state(&run_id_under(&prefix, &state.run_id)).await {
                            eprintln!("cleanup: {e}");
                        }
                    }
                    captured = Err(signal);
                    break;
                }
                if let Ok(snapshots) = &mut captured {
                    snapshots.extend(capture(backend.as_ref(), state, &prefix).await.map_err(|e| e.to_string())?);
                }
            }
            watcher.abort();
            if let Err(e) = backend.close().await {
                eprintln!("close: {e}");
            }
            Ok(captured)
        })
    }
}

pub(super) fn describe(change: &Change, color: bool) -> String {
    format!("\nrun {}: {}\n{}", change.name, change.kind.as_str(), unified_diff(change, color))
}

/// A reviewer's answer for one change.
enum Answer {
    Accept,
    Reject,
    Skip,
    Quit,
}

impl ReviewArgs {
    fn review(self) -> RunResult {
        let changes = pending(&self.dir).map_err(|e| e.to_string())?;
        if changes.is_empty() {
            outln!("no pending snapshot changes in {}", self.dir.display());
            return Ok(Done::Passed);
        }
        let color = self.color.enabled();
        let (mut accepted, mut rejected) = (0, 0);
        for (i, change) in changes.iter().enumerate() {
            let answer = if self.accept_all {
                Answer::Accept
            } else if self.reject_all {
                Answer::Reject
            } else {
                out!("{}", describe(change, color));
                ask(i + 1, changes.len()).map_err(|e| format!("reading the answer: {e}"))?
            };
            match answer {
                Answer::Accept => {
                    accept(&self.dir, change).map_err(|e| e.to_string())?;
                    accepted += 1;
                }
                Answer::Reject => {
                    reject(&self.dir, change).map_err(|e| e.to_string())?;
                    rejected += 1;
                }
                Answer::Skip => {}
                Answer::Quit => break,
            }
        }
        let skipped = changes.len() - accepted - rejected;
        outln!("{accepted} accepted, {rejected} rejected, {skipped} skipped");
        Ok(Done::Passed)
    }
}

/// Asks for change `n` of `total`: one key on a terminal, a line otherwise
/// (a script piping answers). End of input quits.
fn ask(n: usize, total: usize) -> std::io::Result<Answer> {
    let terminal = console::Term::stdout();
    loop {
        out!("[{n}/{total}] a accept, r reject, s skip, q quit: ");
        std::io::stdout().flush()?;
        let key = if std::io::stdin().is_terminal() {
            let key = terminal.read_char()?;
            outln!("{key}");
            key
        } else {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line)? == 0 {
                outln!();
                return Ok(Answer::Quit);
            }
            line.trim().chars().next().unwrap_or(' ')
        };
        match key.to_ascii_lowercase() {
            'a' => return Ok(Answer::Accept),
            'r' => return Ok(Answer::Reject),
            's' => return Ok(Answer::Skip),
            'q' | '\u{3}' | '\u{1b}' => return Ok(Answer::Quit),
            _ => {}
        }
    }
}
