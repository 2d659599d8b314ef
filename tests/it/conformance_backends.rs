//! All five built-in backends pass the conformance suite against the real
//! servers of this machine (Redis and PostgreSQL on loopback, or the ones
//! named by REDIS_URL / DATABASE_URL), with the flujo profile.

use stateharness::conformance::{Report, Status, SuiteOptions};

async fn conform(url: &str) -> Report {
    crate::common::conform(url, SuiteOptions { cases: 32, seed: 2026, ..SuiteOptions::default() }).await
}

fn assert_passes(report: &Report, must_run: &[&str]) {
    assert!(report.passed(), "{}", report.human());
    for group in must_run {
        assert!(report.checks.iter().any(|c| c.group == *group && c.status == Status::Passed), "the {group} check should run and pass on {}", report.backend);
    }
    assert_eq!(report.matrix.total(stateharness::conformance::Verdict::Corrupted), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_passes() {
    assert_passes(&conform("memory://").await, &["concurrency", "list"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_passes() {
    let dir = crate::common::scratch_dir("conform", "file");
    let report = conform(&format!("file://{}", dir.display())).await;
    assert_passes(&report, &["concurrency", "persistence", "list", "run ids"]);
    let shared = report.checks.iter().find(|c| c.name.starts_with("two handles on one storage")).expect("the check of two handles");
    assert_eq!(shared.status, Status::Passed, "{}", report.human());
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "the suite deletes everything it wrote: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes() {
    let db = crate::common::scratch_dir("conform", "sqlite").join("state.db");
    assert_passes(&conform(&format!("sqlite://{}", db.display())).await, &["concurrency", "persistence", "list"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes() {
    let Some(server) = crate::common::servers::redis().await else { return };
    let prefix = format!("stateharness-test-{}:", std::process::id());
    let url = format!("{server}?prefix={prefix}");
    assert_passes(&conform(&url).await, &["concurrency", "persistence", "list"]);
    // Nothing is left under the test's prefix.
    let client = redis::Client::open(server.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap();
    assert!(keys.is_empty(), "left behind: {keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes() {
    let Some(server) = crate::common::servers::postgres().await else { return };
    let table = format!("stateharness_conform_{}", std::process::id());
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}table={table}");
    assert_passes(&conform(&url).await, &["concurrency", "persistence", "list"]);
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let rows = client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap();
    assert_eq!(rows.get::<_, i64>(0), 0, "the suite deletes everything it wrote");
    client.execute(&format!("DROP TABLE {table}"), &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_rounds_0_reports_the_crash_check_as_skipped() {
    let dir = crate::common::scratch_dir("conformance_backends", "crash0");
    let script = crate::common::fixtures_dir().join("protocol/torn_file_server.py");
    let options = SuiteOptions { cases: 2, seed: 1, crash_rounds: 0, ..SuiteOptions::default() };
    let report = crate::common::conform(&format!("exec:python3 {} {}", script.display(), dir.display()), options).await;
    let crash = report.checks.iter().find(|c| c.group == "crash").expect("a crash check");
    assert_eq!(crash.status, Status::Skipped("--crash-rounds 0".into()), "{}", report.human());
}
