//! The command line: a thin layer over the library.

mod conform;
mod migrate;
mod serve;
mod snapshot;
mod vectors;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

/// Exit status for "a check failed".
pub const EXIT_FAILED: u8 = 1;
/// Exit status for unusable arguments, unreadable input or an unreachable server.
pub const EXIT_USAGE: u8 = 2;

/// A multi-threaded async runtime for the commands that talk to backends;
/// failing to build one is a usage-level error.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Runs a command's async work to its exit status on a [`runtime`].
fn block_on(work: impl Future<Output = ExitCode>) -> ExitCode {
    match runtime() {
        Ok(runtime) => runtime.block_on(work),
        Err(code) => code,
    }
}

/// Parses the arguments and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Conform(args) => args.run(),
        Command::Migrate(args) => args.run(),
        Command::Serve(args) => args.run(),
        Command::Snapshot(command) => command.run(),
        Command::Vectors(command) => command.run(),
    }
}
