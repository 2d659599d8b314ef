//! The command line: a thin layer over the library. Every command returns
//! a [`RunResult`], mapped to the exit status in one place ([`run`]).

#[macro_use]
mod out;
mod conform;
mod migrate;
mod serve;
mod signals;
mod snapshot;
mod upgrade;
mod vectors;

use std::process::ExitCode;

use crate::backends::OpenOptions;
use clap::{Args, Parser, Subcommand};

pub(crate) use signals::{Signal, interruption};

/// stateharness keeps flujo workflow state safe across storage backends and
/// format changes.
#[derive(Debug, Parser)]
#[command(name = "stateharness", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the conformance suite against a backend.
    Conform(conform::ConformArgs),
    /// Migrate legacy state dumps and databases into the safe serialized format.
    Migrate(migrate::MigrateArgs),
    /// Serve a built-in backend over the JSON-lines protocol on stdin/stdout.
    Serve(serve::ServeArgs),
    /// Snapshot regression review: record, check and review what a backend stores and loads.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Check the format engine against reference vectors made by the real flujo.
    #[command(subcommand)]
    Vectors(vectors::VectorsCommand),
}

/// Exit status: the command did its job and everything passed.
pub const EXIT_OK: u8 = 0;
/// Exit status: a check failed, an input failed, a snapshot changed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: unusable arguments, unreadable input, an unreachable server.
pub const EXIT_USAGE: u8 = 2;

/// How a command that ran ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// Everything passed.
    Passed,
    /// A check, an input or a snapshot failed (the output says which).
    Failed,
    /// A signal stopped it after it cleaned up.
    Interrupted(Signal),
}

impl Done {
    /// [`Done::Passed`] when `passed`, else [`Done::Failed`].
    pub fn passed_if(passed: bool) -> Done {
        if passed { Done::Passed } else { Done::Failed }
    }
}

/// A command could not do its job: unusable arguments or input, a server
/// that cannot be reached. Printed once as `error: ...`, exit status 2.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<T: Into<String>> From<T> for Fatal {
    fn from(message: T) -> Fatal {
        Fatal(message.into())
    }
}

/// What a command returns.
pub type RunResult = Result<Done, Fatal>;

/// The deadline of backend operations, for every command that opens a backend.
#[derive(Debug, Args)]
pub struct DeadlineArgs {
    /// Seconds one backend operation may take (a save, a load, a query, a
    /// request to an exec: backend) before it fails as a connection fault:
    /// a stalled server never hangs the run.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = positive_seconds)]
    op_timeout: f64,
}

impl DeadlineArgs {
    /// The options to open a backend with.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions { op_timeout: std::time::Duration::from_secs_f64(self.op_timeout) }
    }
}

/// Where the backend URL comes from, and how a `py:MODULE:CLASS` backend is
/// launched, for every command that opens a backend. The py: flags become
/// the URL's query (see [`crate::backends::py`]), so reports and
/// replay lines carry them and never the constructor arguments themselves.
#[derive(Debug, Args)]
#[command(next_help_heading = "Backend")]
pub struct PyArgs {
    /// Read the backend URL (for migrate: the target's) from the
    /// environment variable VAR, keeping a password off the command line
    /// (`--backend env:VAR` / `--to env:VAR` say the same). PGPASSWORD and
    /// REDISCLI_AUTH supply a password the URL leaves out.
    #[arg(long, value_name = "VAR")]
    backend_env: Option<String>,
    /// The Python that runs a py: backend (default: the active virtual
    /// environment's, then the one beside this binary, then python3).
    #[arg(long, value_name = "PATH")]
    python: Option<String>,
    /// The py: backend's constructor arguments: a JSON object in FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "kwargs_env")]
    kwargs_json: Option<String>,
    /// The py: backend's constructor arguments: a JSON object in the
    /// environment variable VAR (for secrets such as a database URL).
    #[arg(long, value_name = "VAR")]
    kwargs_env: Option<String>,
    /// A module of your own types for a py: backend (it defines
    /// STATEHARNESS_TYPES and optionally STATEHARNESS_SAMPLES).
    #[arg(long, value_name = "MODULE")]
    types: Option<String>,
    /// What a py: backend promises: concurrent, persistent, shared (comma-separated).
    #[arg(long, value_name = "LIST")]
    capabilities: Option<String>,
}

impl PyArgs {
    /// The backend URL to open: `url` itself (or the environment variable's
    /// it names), for `py:` with these flags added to its query. The py:
    /// flags with any other URL are an error.
    pub fn backend_url(&self, url: &str) -> Result<String, Fatal> {
        let variable = self.backend_env.as_deref().or_else(|| url.strip_prefix("env:"));
        let from_env;
        let url = match variable {
            Some(variable) => {
                from_env =
                    std::env::var(variable).map_err(|_| Fatal(format!("the backend URL's environment variable {variable} is not set (or not UTF-8)")))?;
                from_env.as_str()
            }
            None => url,
        };
        let flags = [
            ("python", &self.python),
            ("kwargs-file", &self.kwargs_json),
            ("kwargs-env", &self.kwargs_env),
            ("types", &self.types),
            ("capabilities", &self.capabilities),
        ];
        let given: Vec<String> = flags.iter().filter_map(|(key, value)| Some(format!("{key}={}", value.as_deref()?))).collect();
        if given.is_empty() {
            return Ok(url.to_owned());
        }
        if !url.starts_with("py:") {
            return Err(Fatal(format!("--python, --kwargs-json, --kwargs-env, --types and --capabilities are for py: backends, not {url:?}")));
        }
        if let Some(bad) = given.iter().find(|pair| pair.contains('&')) {
            return Err(Fatal(format!("{bad:?}: a py: launch option cannot contain '&'")));
        }
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{separator}{}", given.join("&")))
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!("{text:?} is not a number of seconds in (0, 86400]")),
    }
}

/// Runs `work` to its end on a multi-threaded async runtime.
fn block_on<T>(work: impl Future<Output = Result<T, Fatal>>) -> Result<T, Fatal> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Fatal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(work)
}

/// Parses the arguments, runs the command and maps its outcome to the exit
/// status: the one place that does.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Conform(args) => args.run(),
        Command::Migrate(args) => args.run(),
        Command::Serve(args) => args.run(),
        Command::Snapshot(command) => command.run(),
        Command::Vectors(command) => command.run(),
    };
    out::flush();
    match outcome {
        Ok(Done::Passed) => ExitCode::from(EXIT_OK),
        Ok(Done::Failed) => ExitCode::from(EXIT_FAILED),
        Ok(Done::Interrupted(signal)) => ExitCode::from(signal.exit_status()),
        Err(Fatal(message)) => {
            eprintln!("error: {}", crate::redact::redact(&message));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
