//! The `stateharness` command; everything it does lives in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
