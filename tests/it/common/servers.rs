//! Real Redis and PostgreSQL servers for the backend tests (never a mock).
//!
//! Each URL comes from, in order: the environment (`REDIS_URL`,
//! `DATABASE_URL`); with `STATEHARNESS_SERVERS=containers`, a container of
//! the local image `ci/docker/build.sh` makes from this machine's packages;
//! else the local server on loopback. Which servers were used is written
//! once per process on stderr, past the test harness's capture:
//! "servers: local" / "servers: containers", and "containers: not run: WHY"
//! when containers were asked for but could not start.
//!
//! The containers use the host's network (there is no bridge here), on a
//! free loopback port chosen below and passed as the server's port
//! argument. One container per server is shared by every test of the
//! process; statics are never dropped, so a watchdog process removes the
//! containers when the test process ends, whether it passed, panicked or
//! was killed.

use std::io::Write as _;
use std::process::Stdio;

use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, Image as _, ImageExt};
use tokio::sync::OnceCell;

/// The local Redis used without `REDIS_URL` or containers.
pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379/0";

/// The local PostgreSQL used without `DATABASE_URL` or containers.
pub const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The variable that asks for containers, and the value that does.
const SERVERS_VAR: &str = "STATEHARNESS_SERVERS";
const CONTAINERS: &str = "containers";

/// A server's URL, kept with its container (if one was started) so that the
/// container lives as long as the process.
struct Server {
    url: String,
    _container: Option<ContainerAsync<GenericImage>>,
}

/// How to run one kind of server in a container of its local image.
struct Kind {
    /// The image's name for `ci/docker/build.sh`, and the server's name.
    name: &'static str,
    /// The variable naming an external server instead.
    env_var: &'static str,
    local: &'static str,
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
    port_args: |port| vec!["--port".into(), port.to_string()],
    ready: || WaitFor::message_on_stdout("Ready to accept connections"),
    url: |port| format!("redis://127.0.0.1:{port}/0"),
};

static POSTGRES_KIND: Kind = Kind {
    name: "postgres",
    env_var: "DATABASE_URL",
    local: LOCAL_POSTGRES,
    port_args: |port| vec!["-p".into(), port.to_string()],
    ready: || WaitFor::message_on_stderr("database system is ready to accept connections"),
    url: |port| format!("postgres://postgres@127.0.0.1:{port}/test"),
};

static REDIS: OnceCell<Server> = OnceCell::const_new();
static POSTGRES: OnceCell<Server> = OnceCell::const_new();

/// The Redis server's URL (`redis://HOST:PORT/DB`).
pub async fn redis_url() -> String {
    REDIS.get_or_init(|| choose(&REDIS_KIND)).await.url.clone()
}

/// The PostgreSQL server's URL (`postgres://USER@HOST:PORT/DB`).
pub async fn postgres_url() -> String {
    POSTGRES.get_or_init(|| choose(&POSTGRES_KIND)).await.url.clone()
}

/// Picks the server of `kind` and says which one on stderr.
async fn choose(kind: &'static Kind) -> Server {
    if let Some(url) = std::env::var(kind.env_var).ok().filter(|v| !v.is_empty()) {
        announce(&format!("servers: {} from {}={url}", kind.name, kind.env_var));
        return Server { url, _container: None };
    }
    if std::env::var(SERVERS_VAR).is_ok_and(|v| v == CONTAINERS) {
        // Started on a runtime of its own: the test's runtime ends with the
        // test, and the container's Docker client must outlive it.
        match runtime().spawn(start(kind)).await.map_err(|e| e.to_string()).and_then(|started| started) {
            Ok((url, container)) => {
                let image = container.image();
                announce(&format!("servers: containers ({} {}:{} at {url})", kind.name, image.name(), image.tag()));
                return Server { url, _container: Some(container) };
            }
            Err(why) => announce(&format!("containers: not run: {}: {why}", kind.name)),
        }
    }
    announce(&format!("servers: local ({} at {})", kind.name, kind.local));
    Server { url: kind.local.to_owned(), _container: None }
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
        .with_startup_timeout(std::time::Duration::from_secs(60))
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

/// Writes `line` on stderr directly: the harness captures `eprintln!` of a
/// passing test, and which servers were used must always show.
fn announce(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
