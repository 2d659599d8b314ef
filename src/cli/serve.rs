//! `stateharness serve --backend URL`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use stateharness::backends::open_backend;
use stateharness::format::TypeRegistry;
use stateharness::protocol::serve;

use super::EXIT_USAGE;

/// Serve a built-in backend over the external backend protocol (JSON lines
/// on stdin/stdout, `../shared/PROTOCOL.md` v1), so that any program can
/// use it and the process-level checks (restart, SIGKILL during saves) run
/// against it: `conform --backend "exec:stateharness serve --backend file:///DIR"`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The backend to serve: memory://, file:///DIR, sqlite:///PATH,
    /// redis://HOST:PORT/DB?prefix=P, postgres://...
    #[arg(long)]
    backend: String,
}

impl ServeArgs {
    pub fn run(self) -> ExitCode {
        super::block_on(async {
            let registry = Arc::new(TypeRegistry::standard());
            let backend = match open_backend(&self.backend, registry.clone()).await {
                Ok(backend) => Arc::from(backend),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let input = tokio::io::BufReader::new(tokio::io::stdin());
            match serve(backend, registry, input, tokio::io::stdout()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: serving {}: {e}", self.backend);
                    ExitCode::from(EXIT_USAGE)
                }
            }
        })
    }
}
