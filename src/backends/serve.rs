//! `stateharness serve`: any backend served over the protocol on a pair of
//! streams (stdin/stdout), so that process-level checks (restart, SIGKILL)
//! run against built-in backends too, and any program can use them.

mod line;

use std::sync::Arc;

use line::{Line, read_line};
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::backends::{BackendError, ErrorKind, StateBackend};
use crate::format::{TypeRegistry, fields};
use crate::value::{Dict, Value};

use crate::protocol::{LIST_PREFIX, PROTOCOL_VERSION, Request, Response};

/// The longest request line served by default; a longer line is answered
/// with an error, and dropped as it is read.
pub const DEFAULT_MAX_LINE: usize = 64 << 20;

/// Serves `backend` until `shutdown` or the end of `input`. Requests run
/// concurrently when the backend is `concurrent`; answers are written whole,
/// one line each. A bad line (not JSON, not UTF-8, over `max_line` bytes, an
/// unknown op) gets an error answer and serving goes on. Every answer due
/// is written before this returns, also when reading `input` fails.
pub async fn serve<R, W>(backend: Arc<dyn StateBackend>, registry: Arc<TypeRegistry>, mut input: R, mut output: W, max_line: usize) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (answers, mut to_write) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        // Write every answer that is ready, then flush once: one system
        // call per batch rather than per answer when requests are pipelined.
        while let Some(line) = to_write.recv().await {
            let mut batch = line.into_bytes();
            batch.push(b'\n');
            while let Ok(more) = to_write.try_recv() {
                batch.extend_from_slice(more.as_bytes());
                batch.push(b'\n');
            }
            output.write_all(&batch).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let concurrent = backend.capabilities().concurrent;
    let refuse = |id: Option<u64>, kind: ErrorKind, why: String| {
        let _ = answers.send(Response { id, outcome: Err(BackendError::new(kind, format!("bad request: {why}"))) }.to_line());
    };
    let mut in_flight = tokio::task::JoinSet::new();
    let mut bytes = Vec::new();
    let read = loop {
        match read_line(&mut input, &mut bytes, max_line).await {
            Ok(Line::Read) => {}
            Ok(Line::TooLong) => {
                refuse(None, ErrorKind::Internal, format!("a line longer than {max_line} bytes"));
                continue;
            }
            Ok(Line::End) => break Ok(()),
            Err(e) => break Err(e),
        }
        let line = match std::str::from_utf8(&bytes) {
            Ok(line) => line,
            Err(e) => {
                refuse(None, ErrorKind::Internal, format!("not UTF-8 ({e})"));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let (id, request) = Request::from_line(line, &registry);
        let request = match request {
            Ok(request) => request,
            Err(why) => {
                refuse(id, refusal_kind(&why), why);
                continue;
            }
        };
        if request == Request::Shutdown {
            while in_flight.join_next().await.is_some() {}
            let outcome = backend.close().await.map(|()| Value::None);
            let _ = answers.send(Response { id, outcome }.to_line());
            break Ok(());
        }
        let (backend, answers) = (backend.clone(), answers.clone());
        let work = async move {
            let outcome = handle(&*backend, request).await;
            let _ = answers.send(Response { id, outcome }.to_line());
        };
        if concurrent {
            in_flight.spawn(work);
        } else {
            work.await;
        }
    };
    while in_flight.join_next().await.is_some() {}
    drop(answers);
    let written = writer.await.map_err(std::io::Error::other)?;
    read.and(written)
}

/// The error kind for a request `Request::from_line` refused: an op it does
/// not know is `not_supported_op` (a newer client may send one), anything
/// else a malformed request.
fn refusal_kind(why: &str) -> ErrorKind {
    if why.starts_with("unknown op") { ErrorKind::NotSupportedOp } else { ErrorKind::Internal }
}

async fn handle(backend: &dyn StateBackend, request: Request) -> Result<Value, BackendError> {
    match request {
        Request::Hello { .. } => Ok(hello(backend)),
        // A workflow state is an object; a backend would store anything.
        Request::Save { state, .. } if !matches!(state, Value::Dict(_)) => {
            Err(BackendError::new(ErrorKind::Unsupported, "bad request: `state` must be an object (a workflow state)"))
        }
        Request::Save { run_id, state } => backend.save_state(&run_id, &state).await.map(|()| Value::None),
        Request::Load { run_id, types } => Ok(backend.load_state(&run_id, &types).await?.unwrap_or(Value::None)),
        Request::Delete { run_id } => backend.delete_state(&run_id).await.map(|()| Value::None),
        // The backend filters by the prefix itself (`list_prefix`).
        Request::List { prefix } => Ok(Value::List(backend.list_states(prefix.as_deref().unwrap_or("")).await?.into_iter().map(Value::Str).collect())),
        Request::Shutdown => Ok(Value::None),
        // `serve` never announces `fork`.
        Request::Fork { .. } => Err(BackendError::new(ErrorKind::NotSupportedOp, "stateharness serve does not fork")),
    }
}

fn hello(backend: &dyn StateBackend) -> Value {
    let mut capabilities: Vec<Value> = backend.capabilities().names().into_iter().map(Value::from).collect();
    if backend.capabilities().list && backend.lists_by_prefix() {
        capabilities.push(Value::from(LIST_PREFIX));
    }
    let money = |amount: &str, currency: &str| {
        Value::Custom(Box::new(crate::value::Instance {
            type_name: "Money".into(),
            fields: fields([("amount", Value::from(amount)), ("currency", Value::from(currency))]),
        }))
    };
    let samples = Value::List(vec![money("12.50", "USD"), money("0.01", "JPY")]);
    let custom_types = Dict::from_distinct(vec![(Value::from("Money"), Value::Dict(fields([("samples", samples)])))]);
    let mut hello = vec![
        ("name", Value::Str(format!("stateharness serve {}", backend.describe()))),
        ("protocol", Value::from(PROTOCOL_VERSION)),
        ("capabilities", Value::List(capabilities)),
        ("custom_types", Value::Dict(custom_types)),
    ];
    // A path that is not UTF-8 is not sent: shown lossily it would name another.
    if let Some(root) = backend.storage_root().and_then(std::path::Path::to_str) {
        hello.push(("storage_root", Value::from(root)));
    }
    Value::Dict(fields(hello))
}

/// Serves `backend` over the protocol on this process's stdin and stdout,
/// until `shutdown` or the end of stdin: a Rust backend becomes a program
/// that `conform --backend "exec:PROGRAM"` judges with the process checks
/// too (SIGKILL during saves, data surviving a restart). `registry` must be
/// the one the backend serializes with (the standard one, plus your custom
/// types). See `examples/serve_my_backend.rs`.
pub async fn serve_stdio(backend: Arc<dyn StateBackend>, registry: Arc<TypeRegistry>) -> std::io::Result<()> {
    serve(backend, registry, tokio::io::BufReader::new(tokio::io::stdin()), tokio::io::stdout(), DEFAULT_MAX_LINE).await
}
