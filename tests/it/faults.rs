//! Network faults between the tool and the real Redis and PostgreSQL, made
//! by the fault proxy (`common::proxy`): a blip costs nothing, a lasting
//! fault is a `connection` or `timeout` error (never a verdict) within the
//! deadline, and the commands exit 2 on one. Every test has its own key
//! prefix or table, cleans up, and is bounded in time ([`bounded`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

use crate::common::proxy::{Mode, Proxy};
use crate::common::servers;
use crate::common::{fixtures_dir, registry, scratch_dir, stateharness};
use stateharness::backends::{ErrorKind, OpenOptions, StateBackend, open_backend_with};
use stateharness::format::TypeHints;
use stateharness::json::read_strict;
use stateharness::value::Value;

/// The longest any one test may take: a hang fails the test instead of
/// blocking the suite.
const BOUND: Duration = Duration::from_secs(20);

/// The operation deadline the fault tests give the tool.
const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `test` to completion, or fails it once [`BOUND`] has passed.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, test).await.unwrap_or_else(|_| panic!("the test did not end within {} s: something hung", BOUND.as_secs()))
}

#[derive(Clone, Copy, Debug)]
enum Server {
    Redis,
    Postgres,
}

/// Where one test keeps its states: a key prefix or a table of its own,
/// removed on drop.
struct Target {
    server: Server,
    /// The server's URL, without the prefix or table.
    server_url: String,
    /// The backend URL straight to the server.
    direct: String,
    name: String,
}

impl Target {
    /// `None` (the test is not run) without the server.
    async fn new(server: Server, test: &str) -> Option<Target> {
        let name = format!("sh_faults_{}_{test}", std::process::id());
        let (server_url, direct) = match server {
            Server::Redis => {
                let url = servers::redis().await?;
                (url.clone(), format!("{url}?prefix={name}-"))
            }
            Server::Postgres => {
                let url = servers::postgres().await?;
                (url.clone(), format!("{url}?table={name}&application_name={name}"))
            }
        };
        let target = Target { server, server_url, direct, name };
        target.clear().await;
        Some(target)
    }

    /// The backend URL through `proxy`.
    fn through(&self, proxy: &Proxy) -> String {
        let (scheme, rest) = self.direct.split_once("://").unwrap();
        let (authority, path) = rest.split_at(rest.find('/').unwrap());
        let user = authority.rsplit_once('@').map_or(String::new(), |(user, _)| format!("{user}@"));
        format!("{scheme}://{user}127.0.0.1:{}{path}", proxy.port())
    }

    /// A proxy in front of the server.
    fn proxy(&self) -> Proxy {
        Proxy::in_front_of(&self.server_url).0
    }

    /// The run ids stored under the target, read straight from the server.
    async fn ids(&self) -> Vec<String> {
        let backend = open_backend_with(&self.direct, registry(), OpenOptions::default()).await.unwrap();
        let ids = backend.list_states("").await.unwrap();
        backend.close().await.unwrap();
        ids
    }

    /// The run id -> stored text of everything under the target, read
    /// straight from the server.
    async fn contents(&self) -> BTreeMap<String, String> {
        let backend = open_backend_with(&self.direct, registry(), OpenOptions::default()).await.unwrap();
        let mut contents = BTreeMap::new();
        for id in backend.list_states("").await.unwrap() {
            let form = backend.stored_form(&id).await.unwrap().unwrap();
            contents.insert(id, form.parts.into_iter().map(|part| part.text).collect());
        }
        backend.close().await.unwrap();
        contents
    }

    /// Waits until at least `n` states are stored under the target.
    async fn wait_for_states(&self, n: usize) {
        while self.ids().await.len() < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Removes every state under the target (and its table).
    async fn clear(&self) {
        match self.server {
            Server::Redis => {
                let backend = open_backend_with(&self.direct, registry(), OpenOptions::default()).await.unwrap();
                for id in backend.list_states("").await.unwrap() {
                    backend.delete_state(&id).await.unwrap();
                }
                backend.close().await.unwrap();
            }
            Server::Postgres => {
                let (client, connection) = tokio_postgres::connect(&self.server_url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP TABLE IF EXISTS \"{}\"", self.name)).await.unwrap();
            }
        }
    }

    /// Ends, from the server, the PostgreSQL sessions of this test's
    /// backends (found by their `application_name`), as a restart would.
    async fn terminate_postgres_sessions(&self) {
        let (client, connection) = tokio_postgres::connect(&self.server_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let killed = client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&self.name]).await.unwrap();
        assert!(!killed.is_empty(), "the backend's session is on the server");
    }
}

/// A small WorkflowState-shaped state.
fn state(step: i64) -> Value {
    read_strict(&format!(r#"{{"run_id": "r", "pipeline_name": "p", "current_step_index": {step}, "status": "running"}}"#)).unwrap().0
}

async fn open(url: &str) -> Result<Box<dyn StateBackend>, stateharness::backends::BackendError> {
    open_backend_with(url, registry(), OpenOptions { op_timeout: OP_TIMEOUT }).await
}

// ------------------------------------------------- the backends themselves

/// One reset of every connection, then traffic passes: the next
/// operations reconnect and succeed.
async fn a_blip_costs_nothing(server: Server, test: &str) {
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    let backend = open(&target.through(&proxy)).await.unwrap();
    backend.save_state("r", &state(1)).await.unwrap();
    proxy.reset_all();
    backend.save_state("r", &state(2)).await.unwrap();
    proxy.reset_all();
    assert_eq!(backend.load_state("r", &TypeHints::new()).await.unwrap(), Some(state(2)));
    backend.close().await.unwrap();
    target.clear().await;
}

/// Every connection reset, for good: a `connection` error, and once the
/// server is back the same backend works again.
async fn a_lasting_reset_is_a_connection_error(server: Server, test: &str) {
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    let backend = open(&target.through(&proxy)).await.unwrap();
    proxy.set(Mode::Reset);
    let error = backend.save_state("r", &state(1)).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
    assert!(error.message.contains("saving run \"r\""), "the error names the operation and run: {error}");
    let error = backend.load_state("r", &TypeHints::new()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
    proxy.set(Mode::Pass);
    // Within the hold-off after a fault the backend does not try again.
    tokio::time::sleep(OP_TIMEOUT).await;
    backend.save_state("r", &state(3)).await.unwrap();
    assert_eq!(backend.load_state("r", &TypeHints::new()).await.unwrap(), Some(state(3)));
    backend.close().await.unwrap();
    target.clear().await;
}

/// A server that stops answering mid-run: `timeout` after the deadline,
/// for reads, writes and deletes; when it answers again, so does the backend.
async fn a_stall_is_a_timeout(server: Server, test: &str) {
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    let backend = open(&target.through(&proxy)).await.unwrap();
    backend.save_state("r", &state(1)).await.unwrap();
    proxy.set(Mode::Stall);
    for error in [
        backend.load_state("r", &TypeHints::new()).await.unwrap_err(),
        backend.save_state("r", &state(2)).await.unwrap_err(),
        backend.delete_state("r").await.unwrap_err(),
    ] {
        assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    }
    proxy.set(Mode::Pass);
    tokio::time::sleep(OP_TIMEOUT).await;
    assert!(backend.load_state("r", &TypeHints::new()).await.unwrap().is_some());
    backend.close().await.unwrap();
    target.clear().await;
}

/// A server that accepts the connection and never answers: opening is a
/// `timeout`, not a hang.
async fn a_blackhole_at_connect_is_a_timeout(server: Server, test: &str) {
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    proxy.set(Mode::Blackhole);
    let error = open(&target.through(&proxy)).await.map(|_| ()).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    assert!(error.message.contains("could not connect to"), "{error}");
}

/// Nothing listens: opening is a `connection` error naming the URL.
async fn a_refused_connection_is_a_connection_error(server: Server, test: &str) {
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    proxy.set(Mode::Refuse);
    let url = target.through(&proxy);
    let error = open(&url).await.map(|_| ()).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
    assert!(error.message.contains(&format!("127.0.0.1:{}", proxy.port())), "{error}");
}

/// A slow server is only slow: every operation still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_slow_server_is_only_slow() {
    bounded(async {
        let Some(target) = Target::new(Server::Redis, "slow").await else { return };
        let proxy = target.proxy();
        proxy.set(Mode::Slow(Duration::from_millis(20)));
        let backend = open(&target.through(&proxy)).await.unwrap();
        backend.save_state("r", &state(1)).await.unwrap();
        assert_eq!(backend.load_state("r", &TypeHints::new()).await.unwrap(), Some(state(1)));
        backend.close().await.unwrap();
        target.clear().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_blip_costs_nothing() {
    bounded(a_blip_costs_nothing(Server::Redis, "blip")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_lasting_reset_is_a_connection_error() {
    bounded(a_lasting_reset_is_a_connection_error(Server::Redis, "reset")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_stall_is_a_timeout() {
    bounded(a_stall_is_a_timeout(Server::Redis, "stall")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_blackhole_at_connect_is_a_timeout() {
    bounded(a_blackhole_at_connect_is_a_timeout(Server::Redis, "blackhole")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_refused_connection_is_a_connection_error() {
    bounded(a_refused_connection_is_a_connection_error(Server::Redis, "refused")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_blip_costs_nothing() {
    bounded(a_blip_costs_nothing(Server::Postgres, "blip")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lasting_reset_is_a_connection_error() {
    bounded(a_lasting_reset_is_a_connection_error(Server::Postgres, "reset")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_stall_is_a_timeout() {
    bounded(a_stall_is_a_timeout(Server::Postgres, "stall")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_blackhole_at_connect_is_a_timeout() {
    bounded(a_blackhole_at_connect_is_a_timeout(Server::Postgres, "blackhole")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_refused_connection_is_a_connection_error() {
    bounded(a_refused_connection_is_a_connection_error(Server::Postgres, "refused")).await;
}

/// The server itself ends the session (`pg_terminate_backend`, as a
/// restart does): the next operations reconnect and succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_session_killed_by_the_server_costs_nothing() {
    bounded(async {
        let Some(target) = Target::new(Server::Postgres, "killed").await else { return };
        let backend = open(&target.direct).await.unwrap();
        backend.save_state("r", &state(1)).await.unwrap();
        target.terminate_postgres_sessions().await;
        backend.save_state("r", &state(2)).await.unwrap();
        assert_eq!(backend.load_state("r", &TypeHints::new()).await.unwrap(), Some(state(2)));
        backend.close().await.unwrap();
        target.clear().await;
    })
    .await;
}

// ------------------------------------------------------------ the commands

/// A run of the built binary whose output goes to files (a pipe nobody
/// reads could block it).
struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    /// Starts `stateharness ARGS`, logging into `dir/NAME.log`.
    fn start(dir: &Path, name: &str, args: &[&str]) -> Run {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log).unwrap();
        let child = stateharness().args(args).stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file).spawn().expect("starts stateharness");
        Run { child, log }
    }

    /// Waits for the end (polling, so that the test's own bound applies),
    /// returning the exit status and the output.
    async fn finish(mut self) -> (ExitStatus, String) {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        (status, std::fs::read_to_string(&self.log).unwrap())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // A run still going when its test fails is not left behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The legacy corpus the migration tests use (44 dumps).
fn corpus() -> String {
    fixtures_dir().join("legacy/seed-1/legacy").display().to_string()
}

/// Starts `migrate` of the corpus into `to`, one input at a time, with the
/// fault deadline, writing `dir/NAME.json`.
fn start_migrate(dir: &Path, name: &str, to: &str) -> Run {
    let report = dir.join(format!("{name}.json")).display().to_string();
    let timeout = OP_TIMEOUT.as_secs().to_string();
    Run::start(dir, name, &["migrate", "--from", &corpus(), "--to", to, "--report", &report, "--jobs", "1", "--op-timeout", &timeout])
}

/// The outcomes of a migration report, with the count of each.
fn outcomes(report: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(report).unwrap_or_else(|e| panic!("{}: {e}", report.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut counts = BTreeMap::new();
    for entry in json["entries"].as_array().expect("the report's entries") {
        *counts.entry(entry["outcome"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

/// The target as one clean migration leaves it, run id -> stored text;
/// `None` (the test is not run) without the server.
async fn clean_migration(server: Server, dir: &Path, test: &str) -> Option<BTreeMap<String, String>> {
    let clean = Target::new(server, &format!("{test}_clean")).await?;
    let (status, output) = start_migrate(dir, "clean", &clean.direct).finish().await;
    assert!(status.success(), "the clean run: {output}");
    let contents = clean.contents().await;
    clean.clear().await;
    Some(contents)
}

/// A fault in the middle of a migration (the proxy slows the run so that
/// the fault lands mid-way): the run stops with exit 2, lists what it did
/// not attempt, calls nothing a conflict; a rerun once the server is back
/// finishes the job and leaves the target as one clean run does.
async fn a_fault_mid_migration_is_not_a_conflict(server: Server, test: &str, fault: Mode) {
    let dir = scratch_dir("faults", &format!("{server:?}_{test}"));
    let Some(expected) = clean_migration(server, &dir, test).await else { return };
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    let through = target.through(&proxy);
    proxy.set(Mode::Slow(Duration::from_millis(30)));
    let run = start_migrate(&dir, "faulted", &through);
    target.wait_for_states(3).await;
    proxy.set(fault);
    let (status, output) = run.finish().await;
    assert_eq!(status.code(), Some(2), "{output}");
    let counts = outcomes(&dir.join("faulted.json"));
    assert_eq!(counts.get("conflict"), None, "a connection fault is no conflict: {counts:?}\n{output}");
    assert!(counts.get("not_attempted").is_some_and(|&n| n > 0), "the inputs left are listed as not attempted: {counts:?}\n{output}");
    proxy.set(Mode::Pass);
    let (status, output) = start_migrate(&dir, "rerun", &through).finish().await;
    assert!(status.success(), "the rerun: {output}");
    assert!(target.contents().await == expected, "after the rerun the target differs from a clean run's");
    target.clear().await;
}

/// A target that cannot be reached at the start: exit 2 naming it, and a
/// rerun once it is back finishes the job as a clean run does.
async fn an_unreachable_migration_target_exits_2(server: Server, test: &str, fault: Mode) {
    let dir = scratch_dir("faults", &format!("{server:?}_{test}"));
    let Some(expected) = clean_migration(server, &dir, test).await else { return };
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    let through = target.through(&proxy);
    proxy.set(fault);
    let (status, output) = start_migrate(&dir, "faulted", &through).finish().await;
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains(&format!("127.0.0.1:{}", proxy.port())), "the message names the target: {output}");
    assert!(target.ids().await.is_empty(), "nothing was written");
    proxy.set(Mode::Pass);
    let (status, output) = start_migrate(&dir, "rerun", &through).finish().await;
    assert!(status.success(), "the rerun: {output}");
    assert!(target.contents().await == expected, "after the rerun the target differs from a clean run's");
    target.clear().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_redis_reset_mid_run() {
    bounded(a_fault_mid_migration_is_not_a_conflict(Server::Redis, "mig_reset", Mode::Reset)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_redis_stall_mid_run() {
    bounded(a_fault_mid_migration_is_not_a_conflict(Server::Redis, "mig_stall", Mode::Stall)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_redis_blackhole_at_connect() {
    bounded(an_unreachable_migration_target_exits_2(Server::Redis, "mig_blackhole", Mode::Blackhole)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_redis_refused() {
    bounded(an_unreachable_migration_target_exits_2(Server::Redis, "mig_refused", Mode::Refuse)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_postgres_reset_mid_run() {
    bounded(a_fault_mid_migration_is_not_a_conflict(Server::Postgres, "mig_reset", Mode::Reset)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_postgres_stall_mid_run() {
    bounded(a_fault_mid_migration_is_not_a_conflict(Server::Postgres, "mig_stall", Mode::Stall)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_postgres_blackhole_at_connect() {
    bounded(an_unreachable_migration_target_exits_2(Server::Postgres, "mig_blackhole", Mode::Blackhole)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_into_postgres_refused() {
    bounded(an_unreachable_migration_target_exits_2(Server::Postgres, "mig_refused", Mode::Refuse)).await;
}

/// Starts `conform` on `backend` (few cases: the faults, not the suite,
/// are under test).
fn start_conform(dir: &Path, name: &str, backend: &str) -> Run {
    let timeout = OP_TIMEOUT.as_secs().to_string();
    Run::start(dir, name, &["conform", "--backend", backend, "--cases", "4", "--op-timeout", &timeout])
}

/// The server stalls while `conform` runs: it ends (the deadline, then a
/// bounded cleanup) with exit 2, naming the fault, not a failed check.
async fn a_stall_during_conform_exits_2(server: Server, test: &str) {
    let dir = scratch_dir("faults", &format!("{server:?}_{test}"));
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    // Slowed so that the stall lands mid-run.
    proxy.set(Mode::Slow(Duration::from_millis(5)));
    let run = start_conform(&dir, "stalled", &target.through(&proxy));
    target.wait_for_states(1).await;
    proxy.set(Mode::Stall);
    let (status, output) = run.finish().await;
    assert_eq!(status.code(), Some(2), "{output}");
    drop(proxy);
    target.clear().await;
}

/// A backend unreachable at the start: exit 2 with a line naming it.
async fn an_unreachable_conform_backend_exits_2(server: Server, test: &str) {
    let dir = scratch_dir("faults", &format!("{server:?}_{test}"));
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    proxy.set(Mode::Refuse);
    let (status, output) = start_conform(&dir, "refused", &target.through(&proxy)).finish().await;
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains(&format!("127.0.0.1:{}", proxy.port())), "the message names the backend: {output}");
}

/// One reset of every connection during `conform`: the backend
/// reconnects, and the suite passes as without it.
async fn a_blip_during_conform_costs_nothing(server: Server, test: &str) {
    let dir = scratch_dir("faults", &format!("{server:?}_{test}"));
    let Some(target) = Target::new(server, test).await else { return };
    let proxy = target.proxy();
    proxy.set(Mode::Slow(Duration::from_millis(5)));
    let run = start_conform(&dir, "blip", &target.through(&proxy));
    target.wait_for_states(1).await;
    proxy.reset_all();
    let (status, output) = run.finish().await;
    assert!(status.success(), "{output}");
    let left: BTreeSet<String> = target.ids().await.into_iter().collect();
    assert!(left.is_empty(), "conform cleaned up: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_on_redis_through_a_stall_exits_2() {
    bounded(a_stall_during_conform_exits_2(Server::Redis, "conform_stall")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_on_postgres_through_a_stall_exits_2() {
    bounded(a_stall_during_conform_exits_2(Server::Postgres, "conform_stall")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_on_unreachable_redis_exits_2() {
    bounded(an_unreachable_conform_backend_exits_2(Server::Redis, "conform_refused")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_on_unreachable_postgres_exits_2() {
    bounded(an_unreachable_conform_backend_exits_2(Server::Postgres, "conform_refused")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_on_redis_survives_a_blip() {
    bounded(a_blip_during_conform_costs_nothing(Server::Redis, "conform_blip")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_on_postgres_survives_a_blip() {
    bounded(a_blip_during_conform_costs_nothing(Server::Postgres, "conform_blip")).await;
}
