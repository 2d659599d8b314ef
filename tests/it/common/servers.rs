//! Real Redis and PostgreSQL servers for the backend tests (never a mock).
//!
//! Each URL comes from, in order: the environment (`REDIS_URL`,
//! `DATABASE_URL`); with `STATEHARNESS_SERVERS=containers`, a container of
//! the local image `ci/docker/build.sh` makes from this machine's packages;
//! else the local server on loopback. Which servers were used is written
//! once per process on stderr, past the test harness's capture:
//! "servers: local" / "servers: containers", and "containers: not run: WHY"
//! when containers were asked for but could not start (a failure with
//! `STATEHARNESS_REQUIRE_SERVERS=1`).
//!
//! The chosen server is probed once per process (a TCP connect with a
//! deadline). One that does not answer makes each test that needs it say
//! "not run: TEST: WHY" and pass, or fail with
//! `STATEHARNESS_REQUIRE_SERVERS=1`: `let Some(url) = servers::redis().await
//! else { return };`.
//!
//! The containers use the host's network (there is no bridge here), on a
//! free loopback port chosen below and passed as the server's port
//! argument. One container per server is shared by every test of the
//! process; statics are never dropped, so a watchdog process removes the
//! containers when the test process ends, whether it passed, panicked or
//! was killed.

use std::process::Stdio;
use std::time::Duration;

use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, Image as _, ImageExt};
use tokio::sync::OnceCell;

use super::{announce, needed, required};

/// The local Redis used without `REDIS_URL` or containers.
pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379/0";

/// The local PostgreSQL used without `DATABASE_URL` or containers.
pub const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The variable that asks for containers, and the value that does.
const SERVERS_VAR: &str = "STATEHARNESS_SERVERS";
const CONTAINERS: &str = "containers";

/// How long the probe waits for a server to accept a connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A server's URL, kept with its container (if one was started) so that the
/// container lives as long as the process.
struct Server {
    url: String,
    /// Whether it answered the probe, or why not.
    answers: Result<(), String>,
    _container: Option<ContainerAsync<GenericImage>>,
}

/// How to run one kind of server in a container of its local image.
struct Kind {
    /// The image's name for `ci/docker/build.sh`, and the server's name.
    name: &'static str,
    /// The variable naming an external server instead.
    env_var: &'static str,
    local: &'static str,
    /// The port of a URL that names none.
    default_port: u16,
    /// The server's arguments that set its port.
    port_args: fn(u16) -> Vec<String>,
    /// What the server writes once it accepts connections.
    ready: fn() -> WaitFor,
    url: fn(u16) -> String,
}

static REDIS_KIND: Kind = Kind {
    name: "redis",
    env_var: "REDIS_URL",
    local: LOCAL_REDIS,
    default_port: 6379,
    port_args: |port| vec!["--port".into(), port.to_string()],
    ready: || WaitFor::message_on_stdout("Ready to accept connections"),
    url: |port| format!("redis://127.0.0.1:{port}/0"),
};

static POSTGRES_KIND: Kind = Kind {
    name: "postgres",
    env_var: "DATABASE_URL",
    local: LOCAL_POSTGRES,
    default_port: 5432,
    port_args: |port| vec!["-p".into(), port.to_string()],
    ready: || WaitFor::message_on_stderr("database system is ready to accept connections"),
    url: |port| format!("postgres://postgres@127.0.0.1:{port}/test"),
};

static REDIS: OnceCell<Server> = OnceCell::const_new();
static POSTGRES: OnceCell<Server> = OnceCell::const_new();

/// The Redis server's URL (`redis://HOST:PORT/DB`) once it answers; `None`,
/// after saying "not run", when it does not.
pub async fn redis() -> Option<String> {
    needed(answering(&REDIS, &REDIS_KIND).await)
}

/// The PostgreSQL server's URL (`postgres://USER@HOST:PORT/DB`) once it
/// answers; `None`, after saying "not run", when it does not.
pub async fn postgres() -> Option<String> {
    needed(answering(&POSTGRES, &POSTGRES_KIND).await)
}

/// The URL of the server of `kind`, or why it cannot be used.
async fn answering(cell: &'static OnceCell<Server>, kind: &'static Kind) -> Result<String, String> {
    let server = cell.get_or_init(|| choose(kind)).await;
    server.answers.clone().map(|()| server.url.clone())
}

/// Picks the server of `kind`, says which one on stderr and probes it.
async fn choose(kind: &'static Kind) -> Server {
    if let Some(url) = std::env::var(kind.env_var).ok().filter(|v| !v.is_empty()) {
        announce(&format!("servers: {} from {}", kind.name, kind.env_var));
        let answers = probe(kind, &url, &format!("from {}", kind.env_var)).await;
        return Server { url, answers, _container: None };
    }
    if std::env::var(SERVERS_VAR).is_ok_and(|v| v == CONTAINERS) {
        // Started on a runtime of its own: the test's runtime ends with the
        // test, and the container's Docker client must outlive it.
        match runtime().spawn(start(kind)).await.map_err(|e| e.to_string()).and_then(|started| started) {
            Ok((url, container)) => {
                let image = container.image();
                announce(&format!("servers: containers ({} {}:{} at {url})", kind.name, image.name(), image.tag()));
                let answers = probe(kind, &url, "its container").await;
                return Server { url, answers, _container: Some(container) };
            }
            // CI asks for containers to run them: no falling back there.
            Err(why) if required() => return Server { url: String::new(), answers: Err(format!("containers: {}: {why}", kind.name)), _container: None },
            Err(why) => announce(&format!("containers: not run: {}: {why}", kind.name)),
        }
    }
    announce(&format!("servers: local ({} at {})", kind.name, kind.local));
    let answers = probe(kind, kind.local, &format!("the local one: ci/test.sh starts it, {} names another", kind.env_var)).await;
    Server { url: kind.local.to_owned(), answers, _container: None }
}

/// Whether the server at `url` accepts a TCP connection within
/// [`PROBE_TIMEOUT`]; else why not, naming its address (never the URL,
/// which may hold a password) and `whence` it came from.
async fn probe(kind: &Kind, url: &str, whence: &str) -> Result<(), String> {
    // A URL without a host and port of its own (a PostgreSQL key=value
    // string, a Unix socket) is left to the test to use.
    let Some(address) = address(url, kind.default_port) else { return Ok(()) };
    let failed = match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
    };
    Err(format!("{} at {address} ({whence}) does not answer: {failed}", kind.name))
}

/// `HOST:PORT` of a `SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/…]` URL.
fn address(url: &str, default_port: u16) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host_port.is_empty() || host_port.contains(',') {
        return None;
    }
    // `[::1]` or `[::1]:6379`, `host` or `host:6379`.
    let has_port = host_port.rsplit_once(']').map_or(host_port, |(_, after)| after).contains(':');
    Some(if has_port { host_port.to_owned() } else { format!("{host_port}:{default_port}") })
}

/// Builds the image if needed, starts its container on a free port and
/// waits until the server accepts connections.
async fn start(kind: &'static Kind) -> Result<(String, ContainerAsync<GenericImage>), String> {
    let image = build_image(kind.name).await?;
    let (name, tag) = image.split_once(':').ok_or_else(|| format!("ci/docker/build.sh printed '{image}', not NAME:TAG"))?;
    let port = free_port()?;
    let container = GenericImage::new(name, tag)
        .with_wait_for((kind.ready)())
        .with_network("host")
        // The label lets ci/containers.sh check that none is left behind.
        .with_label("stateharness.servers", kind.name)
        .with_cmd((kind.port_args)(port))
        .with_startup_timeout(Duration::from_secs(60))
        .start()
        .await
        .map_err(|e| e.to_string())?;
    remove_at_exit(container.id())?;
    Ok(((kind.url)(port), container))
}

/// `ci/docker/build.sh NAME`: the image's reference, built when missing.
async fn build_image(name: &str) -> Result<String, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/docker/build.sh");
    let output = tokio::process::Command::new("bash").arg(script).arg(name).output().await.map_err(|e| format!("{script}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{script} {name}: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A loopback port that nothing listens on now (the OS's pick).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts a watchdog, in its own process group so that Ctrl-C on the tests
/// does not stop it, that removes container `id` once this process is gone.
fn remove_at_exit(id: &str) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    let watch = "while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done; docker rm -f -v \"$2\" >/dev/null 2>&1";
    std::process::Command::new("sh")
        .args(["-c", watch, "watchdog", &std::process::id().to_string(), id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watchdog that removes container {id}: {e}"))
}

/// The runtime that starts the containers, alive for the whole process.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("builds the containers' runtime"))
}

#[test]
fn the_probe_finds_host_and_port_in_server_urls() {
    assert_eq!(address("redis://127.0.0.1:1/0", 6379).as_deref(), Some("127.0.0.1:1"));
    assert_eq!(address("redis://:pw@cache?db=2", 6379).as_deref(), Some("cache:6379"));
    assert_eq!(address("postgres://u:p@w@[::1]/test", 5432).as_deref(), Some("[::1]:5432"));
    assert_eq!(address("postgres://postgres@[::1]:5433/test", 5432).as_deref(), Some("[::1]:5433"));
    assert_eq!(address("postgres:///test?host=/run/postgresql", 5432), None);
    assert_eq!(address("host=db port=5432", 5432), None);
}
