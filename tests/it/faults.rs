//! Network faults between the tool and the real Redis and PostgreSQL, made
//! by the fault proxy (`common::proxy`): a blip costs nothing, a lasting
//! fault is a `connection` or `timeout` error (never a verdict) within the
//! deadline, and the commands exit 2 on one. Every test has its own key
//! prefix or table, cleans up, and is bounded in time ([`bounded`]).

use std::future::Future;
use std::time::Duration;

use crate::common::proxy::{Mode, Proxy};
use crate::common::registry;
use crate::common::servers::{postgres_url, redis_url};
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
    async fn new(server: Server, test: &str) -> Target {
        let name = format!("sh_faults_{}_{test}", std::process::id());
        let (server_url, direct) = match server {
            Server::Redis => {
                let url = redis_url().await;
                (url.clone(), format!("{url}?prefix={name}-"))
            }
            Server::Postgres => {
                let url = postgres_url().await;
                (url.clone(), format!("{url}?table={name}&application_name={name}"))
            }
        };
        let target = Target { server, server_url, direct, name };
        target.clear().await;
        target
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
    let target = Target::new(server, test).await;
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
    let target = Target::new(server, test).await;
    let proxy = target.proxy();
    let backend = open(&target.through(&proxy)).await.unwrap();
    proxy.set(Mode::Reset);
    let error = backend.save_state("r", &state(1)).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
    assert!(error.message.contains("saving run \"r\""), "the error names the operation and run: {error}");
    let error = backend.load_state("r", &TypeHints::new()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
    proxy.set(Mode::Pass);
    backend.save_state("r", &state(3)).await.unwrap();
    assert_eq!(backend.load_state("r", &TypeHints::new()).await.unwrap(), Some(state(3)));
    backend.close().await.unwrap();
    target.clear().await;
}

/// A server that stops answering mid-run: `timeout` after the deadline,
/// for reads, writes and deletes; when it answers again, so does the backend.
async fn a_stall_is_a_timeout(server: Server, test: &str) {
    let target = Target::new(server, test).await;
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
    assert!(backend.load_state("r", &TypeHints::new()).await.unwrap().is_some());
    backend.close().await.unwrap();
    target.clear().await;
}

/// A server that accepts the connection and never answers: opening is a
/// `timeout`, not a hang.
async fn a_blackhole_at_connect_is_a_timeout(server: Server, test: &str) {
    let target = Target::new(server, test).await;
    let proxy = target.proxy();
    proxy.set(Mode::Blackhole);
    let error = open(&target.through(&proxy)).await.map(|_| ()).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    assert!(error.message.contains("could not connect to"), "{error}");
}

/// Nothing listens: opening is a `connection` error naming the URL.
async fn a_refused_connection_is_a_connection_error(server: Server, test: &str) {
    let target = Target::new(server, test).await;
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
        let target = Target::new(Server::Redis, "slow").await;
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
        let target = Target::new(Server::Postgres, "killed").await;
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
