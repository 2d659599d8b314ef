//! `exec:COMMAND`: any program that speaks the protocol (`docs/protocol.md`)
//! on stdin/stdout, in any language. The command line is
//! split into words as a POSIX shell would (quotes respected); no shell
//! runs it.
//!
//! A child that crashes, hangs, writes a line that is not a JSON response,
//! answers an unknown id or never answers `hello` gives a clear error that
//! names the op and shows the tail of the child's stderr, within the
//! timeout; it never hangs the harness.
//!
//! A backend that announces `fork` is restarted without starting its
//! interpreter again (the `fork` module).

mod fork;

pub(crate) use fork::Launcher;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rustix::process::{Pid, Signal, kill_process};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

use crate::format::{TypeHints, TypeRegistry};
use crate::protocol::{LIST_PREFIX, PROTOCOL_VERSION, Request, Response};
use crate::typed::decode;
use crate::value::Value;

use super::{BackendError, Capabilities, ErrorKind, OpenOptions, Runtime, StateBackend};

/// How long to wait for answers.
#[derive(Clone, Copy, Debug)]
pub struct ExecTimeouts {
    /// For the first `hello` (interpreters can be slow to start).
    pub hello: Duration,
    /// For every other request.
    pub request: Duration,
}

impl From<OpenOptions> for ExecTimeouts {
    /// The operation deadline for every request; for `hello` twice that,
    /// at least 60 s (interpreters can be slow to start).
    fn from(options: OpenOptions) -> ExecTimeouts {
        ExecTimeouts { hello: Duration::from_secs(60).max(options.op_timeout * 2), request: options.op_timeout }
    }
}

impl Default for ExecTimeouts {
    /// 60 s for `hello`, 30 s for the rest, as the protocol says.
    fn default() -> ExecTimeouts {
        ExecTimeouts::from(OpenOptions::default())
    }
}

/// The capability of a command whose process, started as a fork source,
/// forks fresh copies of itself (`docs/protocol.md`, Forking).
const FORK: &str = "fork";

/// Lines of the child's stderr kept for error messages.
const STDERR_TAIL: usize = 30;

type Pending = HashMap<u64, oneshot::Sender<Response>>;

/// The last lines a process wrote to stderr (a forked process shares its
/// fork source's).
type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// The process at the other end of a connection.
enum Process {
    /// Started by the harness from the command line.
    Spawned(Box<tokio::sync::Mutex<Child>>),
    /// Forked by a fork source, which reaps it: the harness kills it by
    /// pid and knows it ended when its connection closes.
    Forked { pid: Pid, closed: watch::Sender<bool> },
}

/// The connection to one backend process.
struct Connection {
    process: Process,
    /// The process's input; taken (closed) when the backend is dropped.
    input: tokio::sync::Mutex<Option<Box<dyn AsyncWrite + Send + Unpin>>>,
    pending: Mutex<Pending>,
    /// Set once the protocol is broken; every later request fails with it.
    broken: Mutex<Option<String>>,
    stderr: StderrTail,
    next_id: AtomicU64,
}

/// A backend run as a child process, spoken to over the protocol.
pub struct ExecBackend {
    /// The command line, secrets redacted: for messages only.
    command: String,
    process: Arc<Connection>,
    capabilities: Capabilities,
    /// `list_prefix` was declared: `list` is sent the prefix and the
    /// backend's own filtering is what `list_states` answers.
    lists_by_prefix: bool,
    /// Where the backend keeps its data, when its `hello` said.
    storage_root: Option<PathBuf>,
    name: String,
    custom_types: Vec<(String, Vec<Value>)>,
    /// The Python the backend runs on, when its `hello` said.
    runtime: Option<Runtime>,
    registry: Arc<TypeRegistry>,
    timeouts: ExecTimeouts,
    /// Held for each request when the backend is not `concurrent`.
    serial: tokio::sync::Mutex<()>,
    /// `fork` was announced: the command can serve as a fork source.
    forks: bool,
    /// The process id the `hello` answer gave, if any.
    pid: Option<i64>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Connection {
    fn new(process: Process, input: Box<dyn AsyncWrite + Send + Unpin>, stderr: StderrTail) -> Arc<Connection> {
        Arc::new(Connection {
            process,
            input: tokio::sync::Mutex::new(Some(input)),
            pending: Mutex::new(HashMap::new()),
            broken: Mutex::new(None),
            stderr,
            next_id: AtomicU64::new(1),
        })
    }

    /// Sends SIGKILL to the process (unless it is known to be gone).
    async fn kill(&self) -> std::io::Result<()> {
        match &self.process {
            Process::Spawned(child) => child.lock().await.start_kill(),
            // Once the connection closed, the pid may be reaped and reused.
            Process::Forked { closed, .. } if *closed.borrow() => Ok(()),
            Process::Forked { pid, .. } => kill_process(*pid, Signal::KILL).map_err(std::io::Error::from),
        }
    }

    /// Waits up to `within` for the process to end: true when it did.
    async fn ended(&self, within: Duration) -> bool {
        match &self.process {
            Process::Spawned(child) => tokio::time::timeout(within, child.lock().await.wait()).await.is_ok(),
            Process::Forked { closed, .. } => {
                let mut closed = closed.subscribe();
                tokio::time::timeout(within, closed.wait_for(|closed| *closed)).await.is_ok()
            }
        }
    }

    fn broken(&self) -> Option<String> {
        lock(&self.broken).clone()
    }

    /// Marks the protocol broken and fails every request in flight.
    fn break_with(&self, why: String) {
        let mut broken = lock(&self.broken);
        if broken.is_none() {
            *broken = Some(why);
        }
        // Dropping the senders wakes every waiting request.
        lock(&self.pending).clear();
    }

    fn stderr_tail(&self) -> String {
        let tail = lock(&self.stderr);
        if tail.is_empty() {
            "(the backend wrote nothing to stderr)".to_owned()
        } else {
            let lines: Vec<_> = tail.iter().map(|line| crate::redact::redact(line)).collect();
            format!("stderr (last {} lines):\n    {}", lines.len(), lines.join("\n    "))
        }
    }
}

impl ExecBackend {
    /// Opens `exec:COMMAND`.
    pub async fn open(url: &str, registry: Arc<TypeRegistry>, timeouts: ExecTimeouts) -> Result<ExecBackend, BackendError> {
        let command = url.strip_prefix("exec:").unwrap_or(url);
        ExecBackend::spawn(command, registry, timeouts).await
    }

    /// Starts `command` and says `hello`. Failing to start it, or a child
    /// that does not answer `hello` properly, is a `connection` error.
    pub async fn spawn(command: &str, registry: Arc<TypeRegistry>, timeouts: ExecTimeouts) -> Result<ExecBackend, BackendError> {
        ExecBackend::start(command, Request::Hello { fork_source: false }, registry, timeouts).await
    }

    /// Starts `command` and greets it with `hello`.
    async fn start(command: &str, hello: Request, registry: Arc<TypeRegistry>, timeouts: ExecTimeouts) -> Result<ExecBackend, BackendError> {
        // The command line may hold a secret (a DSN argument): messages,
        // reports and describe() show it redacted.
        let shown = crate::redact::redact(command).into_owned();
        let connection = |why: String| BackendError::new(ErrorKind::Connection, format!("exec backend `{shown}`: {why}"));
        let argv = shell_words::split(command).map_err(|e| connection(format!("cannot split the command line: {e}")))?;
        let (program, args) = argv.split_first().ok_or_else(|| connection("empty command".into()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| connection(format!("cannot start {program:?}: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            return Err(connection("the child's pipes are missing".into()));
        };
        let process = Connection::new(Process::Spawned(Box::new(tokio::sync::Mutex::new(child))), Box::new(stdin), Arc::new(Mutex::new(VecDeque::new())));
        let tail = process.stderr.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = lock(&tail);
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        tokio::spawn(read_responses(process.clone(), stdout));
        ExecBackend::greet(shown, process, hello, registry, timeouts).await
    }

    /// Says `hello` on a new connection and reads the answer.
    async fn greet(
        shown: String,
        process: Arc<Connection>,
        hello: Request,
        registry: Arc<TypeRegistry>,
        timeouts: ExecTimeouts,
    ) -> Result<ExecBackend, BackendError> {
        let connection = |why: String| BackendError::new(ErrorKind::Connection, format!("exec backend `{shown}`: {why}"));
        let mut backend = ExecBackend {
            command: shown.clone(),
            process,
            capabilities: Capabilities::default(),
            lists_by_prefix: false,
            storage_root: None,
            name: shown.clone(),
            custom_types: Vec::new(),
            runtime: None,
            registry,
            timeouts,
            serial: tokio::sync::Mutex::new(()),
            forks: false,
            pid: None,
        };
        let hello = backend.call(hello, timeouts.hello).await.map_err(|e| connection(format!("no valid answer to hello: {}", e.message)))?;
        backend.read_hello(hello).map_err(|why| connection(format!("bad hello answer: {why}")))?;
        Ok(backend)
    }

    fn read_hello(&mut self, hello: Value) -> Result<(), String> {
        let hello = hello.as_dict().ok_or("the result is not an object")?;
        match hello.get("protocol") {
            Some(Value::Int(n)) if n.as_i64() == Some(PROTOCOL_VERSION) => {}
            other => return Err(format!("it speaks protocol {}, this harness speaks {PROTOCOL_VERSION}", other.map_or("(none)".into(), |v| format!("{v:?}")))),
        }
        if let Some(name) = hello.get("name").and_then(Value::as_str) {
            self.name = name.to_owned();
        }
        let names: Vec<&str> = match hello.get("capabilities") {
            Some(Value::List(items)) => items.iter().filter_map(Value::as_str).collect(),
            None => Vec::new(),
            Some(_) => return Err("`capabilities` must be a list of strings".into()),
        };
        self.capabilities = Capabilities {
            concurrent: names.contains(&"concurrent"),
            persistent: names.contains(&"persistent"),
            list: names.contains(&"list"),
            shared: names.contains(&"shared"),
        };
        self.lists_by_prefix = names.contains(&LIST_PREFIX);
        self.forks = names.contains(&FORK);
        self.pid = match hello.get("pid") {
            None | Some(Value::None) => None,
            Some(Value::Int(pid)) => pid.as_i64(),
            Some(_) => return Err("`pid` must be an integer".into()),
        };
        let text = |key: &str| match hello.get(key) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        };
        if let Some(root) = text("storage_root")? {
            // Relative to what? The child may have changed directory.
            if !Path::new(&root).is_absolute() {
                return Err(format!("`storage_root` must be an absolute path, got {root:?}"));
            }
            self.storage_root = Some(PathBuf::from(root));
        }
        let (unicode, flujo, hash_seed) = (text("unicode")?, text("flujo")?, text("hash_seed")?);
        self.runtime = text("python")?.map(|python| Runtime { python, unicode, flujo, hash_seed });
        if let Some(types) = hello.get("custom_types").and_then(Value::as_dict) {
            for (name, spec) in types.iter() {
                let name = name.as_str().ok_or("custom type names are strings")?.to_owned();
                let samples = match spec.as_dict().and_then(|s| s.get("samples")) {
                    Some(Value::List(samples)) => samples
                        .iter()
                        .map(|s| decode(s.clone(), &self.registry).map_err(|e| format!("custom type {name}: sample: {e}")))
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => Vec::new(),
                };
                self.custom_types.push((name, samples));
            }
        }
        Ok(())
    }

    /// Sends a request and waits for its answer (plain JSON result).
    async fn call(&self, request: Request, timeout: Duration) -> Result<Value, BackendError> {
        let _serial = if self.capabilities.concurrent { None } else { Some(self.serial.lock().await) };
        let what = match request.run_id() {
            Some(run_id) => format!("{} of run id {run_id:?}", request.op()),
            None => request.op().to_owned(),
        };
        // A process that is gone or does not answer cannot be reached: no
        // answer says anything of what it holds.
        let fail =
            |kind: ErrorKind, why: String| BackendError::new(kind, format!("exec backend `{}`: {what}: {why}\n  {}", self.command, self.process.stderr_tail()));
        if let Some(broken) = self.process.broken() {
            return Err(fail(ErrorKind::Connection, broken));
        }
        let id = self.process.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        lock(&self.process.pending).insert(id, sender);
        let mut line = request.to_line(id);
        line.push('\n');
        let written = match self.process.input.lock().await.as_mut() {
            Some(input) => match input.write_all(line.as_bytes()).await {
                Ok(()) => input.flush().await,
                Err(e) => Err(e),
            },
            None => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the input was closed")),
        };
        if let Err(e) = written {
            lock(&self.process.pending).remove(&id);
            self.process.break_with(format!("cannot write to the backend (has it exited?): {e}"));
            return Err(fail(ErrorKind::Connection, self.process.broken().unwrap_or_default()));
        }
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(response)) => response.outcome,
            Ok(Err(_)) => Err(fail(ErrorKind::Connection, self.process.broken().unwrap_or_else(|| "the answer was lost".into()))),
            Err(_) => {
                lock(&self.process.pending).remove(&id);
                self.process.break_with(format!("no answer within {:.0} s; the backend was killed", timeout.as_secs_f64()));
                let _ = self.process.kill().await;
                Err(fail(ErrorKind::Timeout, self.process.broken().unwrap_or_default()))
            }
        }
    }

    /// The name the backend gave in `hello`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Closing the input tells the process to end (end of input, as the
/// protocol has it), as a process does when the harness exits.
impl Drop for ExecBackend {
    fn drop(&mut self) {
        if let Ok(mut input) = self.process.input.try_lock() {
            input.take();
        }
    }
}

/// Reads the process's output, handing each answer to its waiting request.
async fn read_responses(process: Arc<Connection>, output: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(output).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line.trim().is_empty() => {}
            Ok(Some(line)) => match Response::from_line(&line) {
                Ok(response) => {
                    let waiting = response.id.and_then(|id| lock(&process.pending).remove(&id));
                    match waiting {
                        Some(sender) => {
                            let _ = sender.send(response);
                        }
                        None => {
                            let id = response.id.map_or("null".to_owned(), |id| id.to_string());
                            process.break_with(format!("the backend answered id {id}, which no request in flight has"));
                        }
                    }
                }
                Err(why) => {
                    let shown: String = line.chars().take(200).collect();
                    process.break_with(format!("the backend wrote a line that is not a protocol response ({why}): {shown:?}"));
                }
            },
            Ok(None) | Err(_) => {
                let status = match &process.process {
                    // A child may close stdout and live on: do not wait for it for long.
                    Process::Spawned(child) => {
                        let mut child = child.lock().await;
                        match tokio::time::timeout(Duration::from_millis(500), child.wait()).await {
                            Ok(Ok(status)) => format!("exited ({status})"),
                            Ok(Err(e)) => format!("exited (status unknown: {e})"),
                            Err(_) => "closed its stdout".to_owned(),
                        }
                    }
                    Process::Forked { pid, .. } => format!("(forked process {}) closed its connection", pid.as_raw_nonzero()),
                };
                process.break_with(format!("the backend {status}"));
                if let Process::Forked { closed, .. } = &process.process {
                    closed.send_replace(true);
                }
                return;
            }
        }
    }
}

#[async_trait]
impl StateBackend for ExecBackend {
    fn describe(&self) -> String {
        format!("exec:{}", self.command)
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        self.call(Request::Save { run_id: run_id.to_owned(), state: state.clone() }, self.timeouts.request).await.map(|_| ())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let result = self.call(Request::Load { run_id: run_id.to_owned(), types: hints.clone() }, self.timeouts.request).await?;
        match result {
            Value::None => Ok(None),
            state => decode(state, &self.registry).map(Some).map_err(|e| {
                BackendError::new(ErrorKind::Internal, format!("exec backend `{}`: load of run id {run_id:?}: the state is not typed JSON: {e}", self.command))
            }),
        }
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        self.call(Request::Delete { run_id: run_id.to_owned() }, self.timeouts.request).await.map(|_| ())
    }

    /// With `list_prefix` the answer is the backend's own filtering, as
    /// is (ids outside the prefix included, for a listing check to see);
    /// without, every id is asked for and the harness keeps the prefix's.
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let sent = self.lists_by_prefix.then(|| prefix.to_owned());
        let bad = |why: String| BackendError::new(ErrorKind::Internal, format!("exec backend `{}`: list: {why}", self.command));
        let Value::List(items) = self.call(Request::List { prefix: sent }, self.timeouts.request).await? else {
            return Err(bad("expected an array of run ids".into()));
        };
        let mut ids = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::Str(id) if self.lists_by_prefix || id.starts_with(prefix) => ids.push(id),
                Value::Str(_) => {}
                other => return Err(bad(format!("item {i} is a {}, not a run id (a string)", other.type_name()))),
            }
        }
        Ok(ids)
    }

    fn lists_by_prefix(&self) -> bool {
        self.lists_by_prefix
    }

    fn storage_root(&self) -> Option<&Path> {
        self.storage_root.as_deref()
    }

    /// Sends `shutdown` and waits for the child to exit (killing it after 5 s).
    async fn close(&self) -> Result<(), BackendError> {
        let grace = Duration::from_secs(5);
        let answered = if self.process.broken().is_none() { self.call(Request::Shutdown, grace).await.map(|_| ()) } else { Ok(()) };
        if !self.process.ended(grace).await {
            let _ = self.process.kill().await;
            self.process.ended(grace).await;
        }
        self.process.break_with("the backend was shut down".into());
        answered
    }

    fn is_alive(&self) -> bool {
        self.process.broken().is_none()
    }

    fn has_process(&self) -> bool {
        true
    }

    async fn crash(&self) -> Result<bool, BackendError> {
        self.process.kill().await.map_err(|e| BackendError::internal(format!("exec backend `{}`: SIGKILL", self.command), e))?;
        if !self.process.ended(self.timeouts.request).await {
            return Err(BackendError::new(
                ErrorKind::Internal,
                format!("exec backend `{}`: still running {:.0} s after SIGKILL", self.command, self.timeouts.request.as_secs_f64()),
            ));
        }
        self.process.break_with("the backend was killed by the harness (crash check)".into());
        Ok(true)
    }

    fn announced_custom_types(&self) -> Vec<(String, Vec<Value>)> {
        self.custom_types.clone()
    }

    fn runtime(&self) -> Option<&Runtime> {
        self.runtime.as_ref()
    }
}
