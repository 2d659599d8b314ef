//! Wall time of the default conformance suite (flujo profile, default case
//! counts) on the embedded `memory://` backend and on the local Redis, in
//! one run, with the ratio between them. Goals: under 5 s on memory://,
//! under 20 s on Redis.
//!
//! Run: `cargo bench --bench conform_speed` (Redis from REDIS_URL, else
//! redis://127.0.0.1:6379/0).

use std::sync::Arc;
use std::time::Instant;

use stateharness::conformance::{Suite, SuiteOptions, UrlOpener};

async fn run(url: &str) -> (f64, stateharness::conformance::Report) {
    let options = SuiteOptions { seed: 1, ..SuiteOptions::default() };
    let opener = Arc::new(UrlOpener::new(url));
    let started = Instant::now();
    let report = Suite::open(opener, options).await.unwrap_or_else(|e| panic!("{url}: {e}")).run().await;
    (started.elapsed().as_secs_f64(), report)
}

#[tokio::main]
async fn main() {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let redis = format!("{redis}?prefix=stateharness-bench-{}:", std::process::id());
    let (memory_seconds, memory) = run("memory://").await;
    let (redis_seconds, on_redis) = run(&redis).await;
    println!("default suite (flujo profile, seed 1)");
    for (name, seconds, report, goal) in [("memory://", memory_seconds, &memory, 5.0), ("redis (local)", redis_seconds, &on_redis, 20.0)] {
        let (passed, failed, skipped) = report.counts();
        println!(
            "{name:<14} {seconds:>6.2} s  ({} ops, {:.0} ops/s; {passed} passed, {failed} failed, {skipped} skipped; goal < {goal} s: {})",
            report.ops,
            report.ops_per_second(),
            if seconds < goal { "met" } else { "NOT met" }
        );
    }
    println!("redis / memory wall time: {:.2}x", redis_seconds / memory_seconds);
}
