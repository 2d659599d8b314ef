//! Cheap restarts: a backend process that announces `fork` is restarted
//! by forking a fresh copy of a fork source, a second process of the same
//! command started once and told in its `hello` that it only forks (it
//! never builds its backend, so each copy opens the storage afresh). A
//! Python backend then pays its interpreter start-up and imports twice per
//! run instead of once per restart.
//!
//! Each copy connects to a Unix socket the harness listens on in a private
//! directory and serves the protocol there as a new process; it is killed
//! by pid, and its end is seen when its connection closes, exactly as the
//! end of a spawned child is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustix::process::{Pid, test_kill_process};
use tokio::net::UnixListener;
use tokio::sync::watch;

use super::{Connection, ExecBackend, ExecTimeouts, Process};
use crate::backends::StateBackend as _;
use crate::backends::py;
use crate::error::{BackendError, ErrorKind};
use crate::format::TypeRegistry;
use crate::protocol::Request;
use crate::value::Value;

/// Opens the processes of one `exec:` or `py:` URL: the first by running
/// its command; when that one announced `fork`, each later one forked
/// from a fork source started once and ended when the launcher is dropped.
/// The fork source starts next to the first process when the suite will
/// reopen (the backend is `persistent` or `shared`), so that the suite
/// does not wait for its start-up; otherwise on the first reopen.
pub(crate) struct Launcher {
    url: String,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Whether the first process announced `fork`; None before it answered.
    forks: Option<bool>,
    source: Option<Source>,
}

enum Source {
    Starting(tokio::task::JoinHandle<Result<ForkSource, BackendError>>),
    Started(Box<ForkSource>),
}

impl Launcher {
    /// A launcher for `url` when it runs a process (`exec:`, `py:`).
    pub(crate) fn for_url(url: &str) -> Option<Launcher> {
        (url.starts_with("exec:") || url.starts_with("py:")).then(|| Launcher { url: url.to_owned(), state: Default::default() })
    }

    /// A new backend process.
    pub(crate) async fn open(&self, registry: Arc<TypeRegistry>, timeouts: ExecTimeouts) -> Result<ExecBackend, BackendError> {
        let mut state = self.state.lock().await;
        if state.forks != Some(true) {
            let url = self.exec_url()?;
            let backend = ExecBackend::open(&url, registry.clone(), timeouts).await?;
            if state.forks.is_none() && backend.forks && (backend.capabilities.persistent || backend.capabilities.shared) {
                state.source = Some(Source::Starting(tokio::spawn(async move { ForkSource::start(&url, registry, timeouts).await })));
            }
            state.forks.get_or_insert(backend.forks);
            return Ok(backend);
        }
        let source = match state.source.take() {
            Some(Source::Starting(start)) => {
                start.await.map_err(|e| BackendError::internal(format!("starting a fork source for {}", crate::redact::redact(&self.url)), e))??
            }
            Some(Source::Started(source)) if source.process.is_alive() => *source,
            _ => ForkSource::start(&self.exec_url()?, registry.clone(), timeouts).await?,
        };
        let forked = source.fork(registry).await;
        state.source = Some(Source::Started(Box::new(source)));
        forked
    }

    /// The `exec:` URL that runs the command (for `py:`, the bundled adapter).
    fn exec_url(&self) -> Result<String, BackendError> {
        if self.url.starts_with("py:") { py::exec_command(&self.url) } else { Ok(self.url.clone()) }
    }
}

/// A process of the command started as a fork source, and the private
/// directory its copies' sockets are made in. Dropping it closes the fork
/// source's input: it waits for its copies to end, then exits.
struct ForkSource {
    process: ExecBackend,
    sockets: tempfile::TempDir,
    forked: AtomicU64,
}

impl ForkSource {
    async fn start(url: &str, registry: Arc<TypeRegistry>, timeouts: ExecTimeouts) -> Result<ForkSource, BackendError> {
        let command = url.strip_prefix("exec:").unwrap_or(url);
        let process = ExecBackend::start(command, Request::Hello { fork_source: true }, registry, timeouts).await?;
        if !process.forks {
            return Err(process.fault(format!("started as a fork source, its `hello` did not announce `{}`", super::FORK)));
        }
        let sockets = tempfile::Builder::new()
            .prefix("stateharness-fork-")
            .tempdir()
            .map_err(|e| process.fault(format!("cannot make a directory for the fork sockets: {e}")))?;
        Ok(ForkSource { process, sockets, forked: AtomicU64::new(0) })
    }

    /// Forks a copy, waits for it to connect and says `hello` to it.
    async fn fork(&self, registry: Arc<TypeRegistry>) -> Result<ExecBackend, BackendError> {
        let source = &self.process;
        let path = self.sockets.path().join(format!("{}.sock", self.forked.fetch_add(1, Ordering::Relaxed)));
        let socket = path.to_str().ok_or_else(|| source.fault(format!("the socket path {path:?} is not UTF-8")))?.to_owned();
        let listener = UnixListener::bind(&path).map_err(|e| source.fault(format!("cannot listen on {path:?}: {e}")))?;
        let answer = source.call(Request::Fork { socket }, source.timeouts.request).await?;
        let pid = match answer.as_dict().and_then(|answer| answer.get("pid")) {
            Some(Value::Int(pid)) => pid.as_i64(),
            _ => None,
        };
        let pid = pid
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(Pid::from_raw)
            .ok_or_else(|| source.fault(format!("the answer to fork is not {{\"pid\": N}}: {answer:?}")))?;
        let accepted = tokio::select! {
            accepted = tokio::time::timeout(source.timeouts.hello, listener.accept()) => accepted,
            () = gone(pid) => return Err(source.fault(format!("the forked process {} exited before connecting to {path:?}", pid.as_raw_nonzero()))),
        };
        drop(listener);
        let _ = std::fs::remove_file(&path);
        let stream = match accepted {
            Ok(Ok((stream, _))) => stream,
            Ok(Err(e)) => return Err(source.fault(format!("accepting the forked process {}: {e}", pid.as_raw_nonzero()))),
            Err(_) => {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                return Err(source.fault(format!(
                    "the forked process {} did not connect within {:.0} s",
                    pid.as_raw_nonzero(),
                    source.timeouts.hello.as_secs_f64()
                )));
            }
        };
        let (output, input) = stream.into_split();
        let process = Process::Forked { pid, closed: watch::Sender::new(false) };
        let connection = Connection::new(process, Box::new(input), source.process.stderr.clone());
        tokio::spawn(super::read_responses(connection.clone(), output));
        let backend = ExecBackend::greet(source.command.clone(), connection, Request::Hello { fork_source: false }, registry, source.timeouts).await?;
        match backend.pid {
            Some(said) if said == i64::from(pid.as_raw_nonzero().get()) => Ok(backend),
            said => Err(source.fault(format!("the forked process {} says in `hello` it is {said:?}", pid.as_raw_nonzero()))),
        }
    }
}

/// Resolves once no process `pid` exists (a fork source reaps its copies).
async fn gone(pid: Pid) {
    while test_kill_process(pid) != Err(rustix::io::Errno::SRCH) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl ExecBackend {
    /// A `connection` error about this process (a fork source), with its stderr tail.
    fn fault(&self, why: String) -> BackendError {
        BackendError::new(ErrorKind::Connection, format!("exec backend `{}`: fork source: {why}\n  {}", self.command, self.process.stderr_tail()))
    }
}
