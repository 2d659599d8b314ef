//! `stateharness serve --backend URL`.

use std::sync::Arc;

use clap::Args;

use crate::backends::open_backend_with;
use crate::backends::serve::{DEFAULT_MAX_LINE, serve};
use crate::format::TypeRegistry;

use super::{DeadlineArgs, Done, RunResult};

/// Serve a built-in backend over the external backend protocol (JSON lines
/// on stdin/stdout, `docs/protocol.md` v1), so that any program can
/// use it and the process-level checks (restart, SIGKILL during saves) run
/// against it: `conform --backend "exec:stateharness serve --backend file:///DIR"`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The backend to serve: memory://, file:///DIR, sqlite:///PATH,
    /// redis://HOST:PORT/DB?prefix=P, postgres://...
    #[arg(long)]
    backend: String,
    /// The longest request line, in bytes: a longer one is answered with an
    /// error (and not kept in memory), and serving goes on.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE)]
    max_line_bytes: usize,
    #[command(flatten)]
    deadline: DeadlineArgs,
}

impl ServeArgs {
    pub fn run(self) -> RunResult {
        super::block_on(async {
            let registry = Arc::new(TypeRegistry::standard());
            let backend = Arc::from(open_backend_with(&self.backend, registry.clone(), self.deadline.open_options()).await.map_err(|e| e.to_string())?);
            let input = tokio::io::BufReader::new(tokio::io::stdin());
            serve(backend, registry, input, tokio::io::stdout(), self.max_line_bytes).await.map_err(|e| format!("serving {}: {e}", self.backend))?;
            Ok(Done::Passed)
        })
    }
}
