//! `stateharness migrate --from SRC --to BACKEND_URL`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::format::{ChosenBy, FlujoVersion, PythonChoice, PythonVersion, TypeRegistry};
use crate::migration::report::{RunInfo, SCHEMA_VERSION, printable};
use crate::migration::{
    DEFAULT_MAX_INPUT_SIZE, Entry, Observer, Options, Outcome, ReportWriter, Shard, Source, check_target_writable, migrate, open_target, target_is_absent,
    target_is_source, would_write_into_source,
};

use crate::migration::snapshots::{LEADING_INPUTS, SampleSnapshots};
use crate::snapshot::check_set;

use super::snapshot::{ColorChoice, describe};
use super::{DeadlineArgs, Done, Fatal, PyArgs, RunResult, interruption};

/// Inputs whose diff a dry run shows.
const DRY_RUN_SAMPLE: usize = 3;

/// Migrate legacy flujo state (orjson-era dumps, pre-0.7 SQLite databases,
/// JSON Lines) into the safe serialized format, into any backend.
///
/// SRC is detected by content: a directory of RUN_ID.json dumps (other
/// entries are skipped and listed), a flujo SQLite database (its
/// workflow_state table, read-only), or a JSON Lines file (one state a
/// line, run id from its run_id key). Dumps are read as strict JSON, or as
/// JSON5 when they need it (NaN, comments, trailing commas...).
///
/// The source is never modified; every write is atomic. A run id the target
/// already holds with the same state is `unchanged` (so a rerun is a no-op);
/// with a different state it is a `conflict`, left alone unless
/// --overwrite. Each written state is loaded back and compared (unless
/// --no-verify). Killed at any point, a rerun finishes the job.
///
/// Exit status: 0 every input migrated, unchanged or skipped; 1 an input
/// failed, is a conflict (unless --accept-conflicts) or repeats a run id of
/// the source; 2 unusable arguments, source or target, or a target that
/// could not be reached midway (the inputs left are `not_attempted`).
///
/// `--check-upgrade SRC` instead reads a flujo 0.4 store and lists what
/// flujo 0.6.11 would break or change in it (see that flag).
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The legacy state: a directory of dumps, a SQLite database or a JSON Lines file.
    #[arg(long, value_name = "SRC", required_unless_present = "check_upgrade")]
    from: Option<PathBuf>,
    /// Where the states go: file:///DIR (flujo FileBackend bytes),
    /// sqlite:///PATH, redis://HOST:PORT/DB?prefix=P, postgres://...?table=T,
    /// memory://, exec:COMMAND, py:MODULE:CLASS.
    #[arg(long, value_name = "BACKEND_URL", required_unless_present = "check_upgrade")]
    to: Option<String>,
    /// Migrate nothing: read the flujo 0.4 store SRC (a directory of run
    /// files or a SQLite database) without writing anything and list, per
    /// run id and JSON path, what flujo 0.6.11 would break or change on
    /// load or on the next save (ints outside orjson's range, lone
    /// surrogates, {"real", "imag"} dicts, nesting past the cut-off, text
    /// that is not UTF-8 or not JSON, timestamps, NaN, a status CHECK).
    /// Exit status: 1 when anything would be lost, 0 when only changed.
    #[arg(
        long,
        value_name = "SRC",
        conflicts_with_all = ["from", "to", "dry_run", "jobs", "overwrite", "accept_conflicts", "no_verify", "shard", "snapshot", "python_version"]
    )]
    check_upgrade: Option<PathBuf>,
    /// Write one entry per input (source, run_id, outcome, error, notes;
    /// with --check-upgrade: run_id, verdict, findings) and the totals as JSON.
    #[arg(long, value_name = "PATH.json")]
    report: Option<PathBuf>,
    /// Write nothing; show what would happen, with a diff for a sample.
    #[arg(long)]
    dry_run: bool,
    /// Inputs processed at once (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Replace the states of run ids the target holds differently.
    #[arg(long)]
    overwrite: bool,
    /// Exit 0 even when the target holds other states for some run ids
    /// (conflicts are still listed and left alone).
    #[arg(long)]
    accept_conflicts: bool,
    /// Input files over this size fail (each alone; the rest migrate).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_SIZE)]
    max_input_size: u64,
    /// Follow symbolic links in a source directory that lead outside it
    /// (without this they are skipped and listed).
    #[arg(long)]
    follow_symlinks: bool,
    /// Do not load each written state back to compare it.
    #[arg(long)]
    no_verify: bool,
    /// Take only the inputs whose run id hashes to shard K of N (1-based),
    /// so that several machines can split one migration.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Snapshot the conversion of a sample of inputs (source text,
    /// converted text, changed values) into SNAPDIR and compare with what
    /// is recorded there: a changed or new one is written as NAME.snap.new
    /// for `stateharness snapshot review`, and makes the exit status 1.
    #[arg(long, value_name = "SNAPDIR")]
    snapshot: Option<PathBuf>,
    /// The Python that runs flujo (3.11, 3.12, 3.13): its Unicode tables
    /// decide how repr writes dict keys. Default: the Python an exec:
    /// target reports in hello (a different one is an error), else 3.11.
    #[arg(long, value_name = "X.Y")]
    python_version: Option<PythonVersion>,
    #[command(flatten)]
    deadline: DeadlineArgs,
    #[command(flatten)]
    py: PyArgs,
    /// Colour the snapshot diffs.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

impl MigrateArgs {
    pub fn run(self) -> RunResult {
        if let Some(store) = &self.check_upgrade {
            return super::upgrade::check(store, self.report.as_deref(), self.max_input_size, self.follow_symlinks);
        }
        let (Some(from), Some(to)) = (self.from.clone(), self.to.as_deref()) else {
            return Err(Fatal("migrate needs --from SRC and --to BACKEND_URL (or --check-upgrade SRC)".to_owned()));
        };
        let to = self.py.backend_url(to)?;
        super::block_on(self.run_async(from, to))
    }

    async fn run_async(self, from: PathBuf, to: String) -> RunResult {
        let source = Source::detect(&from).map_err(|e| Fatal(e.to_string()))?;
        if target_is_source(&source, &to) {
            return Err(Fatal(format!("{to} is the source itself: migrate into another place, the source is never modified")));
        }
        for (flag, path) in [("--report", &self.report), ("--snapshot", &self.snapshot)] {
            if let Some(path) = path.as_deref().filter(|path| would_write_into_source(&source, path)) {
                return Err(Fatal(format!("{flag} {} is in the source: write it elsewhere, the source is never modified", path.display())));
            }
        }
        let registry = Arc::new(TypeRegistry::standard().with_python(self.python_version.unwrap_or_default()));
        check_target_writable(&to)?;
        let absent = self.dry_run && target_is_absent(&to);
        let target: Arc<dyn crate::backends::StateBackend> = Arc::from(
            open_target(&to, Arc::clone(&registry), self.deadline.open_options(), self.dry_run).await.map_err(|e| format!("cannot open the target: {e}"))?,
        );
        // Only an exec: target reports its Python, and it formats states itself.
        let python = PythonChoice::resolve_for(FlujoVersion::V0_4, self.python_version, target.runtime().map(|r| r.python_and_unicode()))
            .map_err(|e| Fatal(format!("{to}: {e}")))?;
        let registry = Arc::new(TypeRegistry::standard().with_python(python.version));
        let mut options = Options {
            dry_run: self.dry_run,
            overwrite: self.overwrite,
            verify: !self.no_verify,
            shard: self.shard,
            max_input_size: self.max_input_size,
            follow_symlinks: self.follow_symlinks,
            ..Options::default()
        };
        if let Some(jobs) = self.jobs {
            options.jobs = usize::from(jobs);
        }
        if self.snapshot.is_some() {
            options.sample = LEADING_INPUTS;
        } else if self.dry_run {
            options.sample = 1;
        }
        let run = RunInfo {
            schema_version: SCHEMA_VERSION,
            source: source.path().display().to_string(),
            source_kind: source.kind().to_owned(),
            target: if absent { format!("{to} (does not exist yet)") } else { target.describe() },
            dry_run: options.dry_run,
            verify: options.verify && !options.dry_run,
            shard: options.shard.map(|s| s.to_string()),
        };
        let report =
            self.report.as_deref().map(|path| ReportWriter::create(path, &run).map_err(|e| format!("cannot write {}: {e}", path.display()))).transpose()?;
        outln!(
            "migrating {} ({}) into {}{} with {} job{}{}{}",
            printable(&run.source),
            run.source_kind,
            run.target,
            // The default Python goes unsaid; a chosen one is named.
            if python.source == ChosenBy::Default { String::new() } else { format!(" as Python {}", python.version) },
            options.jobs,
            if options.jobs == 1 { "" } else { "s" },
            if options.dry_run { ", dry run: nothing is written" } else { "" },
            options.shard.map(|s| format!(", shard {s}")).unwrap_or_default()
        );
        let mut console = Console::new(report);
        // A signal stops the run like a lost target does: the inputs in
        // flight finish, the rest are listed, the report is complete.
        let stop = options.stop.clone();
        let watcher = tokio::spawn(async move {
            let signal = interruption().await;
            eprintln!("{}: finishing the inputs in flight, then writing the report", signal.name());
            stop.stop();
            signal
        });
        let totals = migrate(&source, Arc::clone(&target), registry, &options, &mut console).await;
        let signal = if watcher.is_finished() { watcher.await.ok() } else { None };
        if let Err(e) = target.close().await {
            eprintln!("warning: closing the target: {e}");
        }
        let totals = totals.map_err(|e| Fatal(e.to_string()))?;
        let Console { bar, report, report_error, samples, started, snapshots, .. } = console;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        for (source, diff) in &samples {
            outln!("sample {source}: what conversion changes\n{diff}");
        }
        let seconds = started.elapsed().as_secs_f64();
        let verb = if options.dry_run { "would be" } else { "were" };
        outln!("{} inputs in {seconds:.2} s ({} {verb} written): {}", totals.inputs, totals.migrated, totals.line());
        if totals.conflict > 0 {
            let accepted = if self.accept_conflicts { ", accepted (--accept-conflicts)" } else { "; --accept-conflicts exits 0 all the same" };
            outln!("{} conflicts left alone: the target holds other states for those run ids (--overwrite replaces them){accepted}", totals.conflict);
        }
        let report_error = report_error.or_else(|| report.and_then(|writer| writer.finish(&totals).err().map(|e| e.to_string())));
        if let Some(e) = report_error {
            return Err(Fatal(format!("writing the report {}: {e}", self.report.as_deref().map_or(String::new(), |p| p.display().to_string()))));
        }
        let snapshots_changed = match (&self.snapshot, snapshots) {
            (Some(dir), snapshots) => self.check_snapshots(dir, snapshots)?,
            (None, _) => false,
        };
        if let Some(signal) = signal {
            return Ok(Done::Interrupted(signal));
        }
        if totals.connection_failed > 0 {
            return Err(Fatal(format!(
                "the target {} could not be reached; {} inputs were not attempted (a rerun finishes the job)",
                run.target, totals.not_attempted
            )));
        }
        let conflicts_ok = totals.conflict == 0 || self.accept_conflicts;
        let all_done = totals.failed == 0 && totals.duplicate == 0 && totals.not_attempted == 0;
        Ok(Done::passed_if(all_done && conflicts_ok && !snapshots_changed))
    }

    /// Compares the sample's snapshots with `dir`; true when any changed.
    fn check_snapshots(&self, dir: &std::path::Path, sample: Result<SampleSnapshots, String>) -> Result<bool, String> {
        let snapshots = sample?.into_snapshots();
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let changes = check_set(dir, &snapshots).map_err(|e| e.to_string())?;
        for change in &changes {
            out!("{}", describe(change, self.color.enabled()));
        }
        if changes.is_empty() {
            outln!("{} conversion snapshots unchanged in {}", snapshots.len(), dir.display());
        } else {
            outln!("{} conversion snapshots changed; review with: stateharness snapshot review --dir {}", changes.len(), dir.display());
        }
        Ok(!changes.is_empty())
    }
}

/// Shows progress (a bar on a terminal, a line now and then otherwise),
/// prints every input that did not simply migrate, and feeds the report.
struct Console {
    bar: Option<ProgressBar>,
    report: Option<ReportWriter>,
    report_error: Option<String>,
    samples: Vec<(String, String)>,
    /// The sample for `--snapshot`, or why it could not be taken.
    snapshots: Result<SampleSnapshots, String>,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_line: Instant,
}

/// How often plain progress lines come.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl Console {
    fn new(report: Option<ReportWriter>) -> Console {
        let now = Instant::now();
        Console {
            bar: None,
            report,
            report_error: None,
            samples: Vec::new(),
            snapshots: Ok(SampleSnapshots::default()),
            total: None,
            done: 0,
            started: now,
            last_line: now,
        }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => outln!("{line}"),
        }
    }
}

impl Observer for Console {
    fn start(&mut self, total: Option<u64>) {
        self.total = total;
        if std::io::stderr().is_terminal() {
            let (bar, template) = match total {
                Some(total) => (ProgressBar::new(total), "{bar:40} {pos}/{len} inputs, {elapsed} elapsed, eta {eta}"),
                None => (ProgressBar::new_spinner(), "{spinner} {pos} inputs, {elapsed} elapsed"),
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
    }

    fn entry(&mut self, entry: &Entry) {
        self.done += 1;
        if !matches!(entry.outcome, Outcome::Migrated | Outcome::Unchanged) {
            self.say(&entry.line());
        }
        if let Ok(sample) = &mut self.snapshots {
            if let Err(e) = sample.offer(entry) {
                self.snapshots = Err(e.to_string());
            }
        }
        // The first input shows what conversion does to a plain dump, the
        // next ones with notes what it does to values.
        if let Some(texts) = entry.sample.as_ref().filter(|_| self.samples.len() < DRY_RUN_SAMPLE) {
            if self.samples.is_empty() || !entry.notes.is_empty() {
                let notes: Vec<&str> = entry.notes.iter().map(|n| n.as_str()).collect();
                let source = printable(&entry.source);
                let title = if notes.is_empty() { source } else { format!("{source} ({})", notes.join(", ")) };
                self.samples.push((title, texts.diff.clone()));
            }
        }
        if let (Some(writer), None) = (&mut self.report, &self.report_error) {
            if let Err(e) = writer.entry(entry) {
                self.report_error = Some(e.to_string());
            }
        }
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY => {
                self.last_line = Instant::now();
                let of = self.total.map(|t| format!("/{t}")).unwrap_or_default();
                eprintln!("progress: {}{of} inputs, {:.0} s", self.done, self.started.elapsed().as_secs_f64());
            }
            None => {}
        }
    }
}
