//! Protocol overhead: small save/load round trips per second through the
//! `exec:` protocol, beside the same work on the in-process memory backend
//! (the baseline), all in one run. Sequential round trips against a trivial
//! Python protocol server and against `stateharness serve`; pipelined ones
//! (many requests in flight) against the Python server with `concurrent`.
//!
//! Run: `cargo bench --bench protocol`. Prints ops/s and ratios.

use std::sync::Arc;
use std::time::Instant;

use stateharness::backends::MemoryBackend;
use stateharness::backends::StateBackend;
use stateharness::backends::{ExecBackend, ExecTimeouts};
use stateharness::format::{TypeHints, TypeRegistry, fields};
use stateharness::value::Value;

const ROUND_TRIPS: usize = 2_000;
const IN_FLIGHT: usize = 32;

fn small_state(i: usize) -> Value {
    Value::Dict(fields([("run_id", Value::Str(format!("bench-{i}"))), ("step", Value::from(i as i64)), ("status", Value::from("running"))]))
}

/// Sequential save+load pairs; returns operations per second.
async fn sequential(backend: &dyn StateBackend) -> f64 {
    let started = Instant::now();
    for i in 0..ROUND_TRIPS {
        let id = format!("bench-{}", i % 16);
        backend.save_state(&id, &small_state(i)).await.expect("save");
        backend.load_state(&id, &TypeHints::new()).await.expect("load");
    }
    (2 * ROUND_TRIPS) as f64 / started.elapsed().as_secs_f64()
}

/// The same pairs with `IN_FLIGHT` tasks at once; operations per second.
async fn pipelined(backend: Arc<dyn StateBackend>) -> f64 {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..IN_FLIGHT {
        let backend = backend.clone();
        tasks.spawn(async move {
            for i in (worker..ROUND_TRIPS).step_by(IN_FLIGHT) {
                let id = format!("bench-{}", i % 64);
                backend.save_state(&id, &small_state(i)).await.expect("save");
                backend.load_state(&id, &TypeHints::new()).await.expect("load");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (2 * ROUND_TRIPS) as f64 / started.elapsed().as_secs_f64()
}

async fn spawn(command: &str, registry: &Arc<TypeRegistry>) -> Arc<dyn StateBackend> {
    Arc::new(ExecBackend::spawn(command, registry.clone(), ExecTimeouts::default()).await.unwrap_or_else(|e| panic!("{command}: {e}")))
}

#[tokio::main]
async fn main() {
    let registry = Arc::new(TypeRegistry::standard());
    let dict_server = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/protocol/dict_server.py");
    let serve = format!("{} serve --backend memory://", env!("CARGO_BIN_EXE_stateharness"));

    let baseline = sequential(&MemoryBackend::new(registry.clone())).await;
    let python = spawn(&format!("python3 {dict_server}"), &registry).await;
    let python_sequential = sequential(&*python).await;
    python.close().await.expect("shutdown");
    let rust = spawn(&serve, &registry).await;
    let rust_sequential = sequential(&*rust).await;
    let rust_pipelined = pipelined(rust.clone()).await;
    rust.close().await.expect("shutdown");
    let python = spawn(&format!("python3 {dict_server} --concurrent"), &registry).await;
    let python_pipelined = pipelined(python.clone()).await;
    python.close().await.expect("shutdown");

    println!("protocol overhead, {ROUND_TRIPS} save+load round trips of a small state ({IN_FLIGHT} in flight when pipelined)");
    println!("{:<52} {:>10} {:>12}", "", "ops/s", "vs baseline");
    for (name, ops) in [
        ("in-process memory backend (baseline)", baseline),
        ("exec: Python dict_server.py, sequential", python_sequential),
        ("exec: Python dict_server.py --concurrent, pipelined", python_pipelined),
        ("exec: stateharness serve memory://, sequential", rust_sequential),
        ("exec: stateharness serve memory://, pipelined", rust_pipelined),
    ] {
        println!("{name:<52} {ops:>10.0} {:>11.4}x", ops / baseline);
    }
    println!("pipelining speed-up over sequential: Python {:.2}x, Rust serve {:.2}x", python_pipelined / python_sequential, rust_pipelined / rust_sequential);
}
