//! Real Redis and PostgreSQL servers for the backend tests (never a mock).
//!
//! Each URL comes from, in order: the environment (`REDIS_URL`,
//! `DATABASE_URL`); a container started with testcontainers when a Docker
//! engine answers (`docker info` exits 0); else the local default server on
//! loopback. Which one was used, and why, is printed on stderr.
//!
//! A started container is kept in a static for the rest of the test process,
//! so that every test of the binary shares it. Statics are never dropped, so
//! the container outlives the process: testcontainers labels it, and
//! `docker rm -f` removes it.

use testcontainers::ContainerAsync;
use testcontainers::runners::AsyncRunner;
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::redis::{REDIS_PORT, Redis};
use tokio::sync::OnceCell;

/// The local Redis used when there is neither `REDIS_URL` nor Docker.
pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379/0";

/// The local PostgreSQL used when there is neither `DATABASE_URL` nor Docker.
pub const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The port PostgreSQL listens on inside its container.
const POSTGRES_PORT: u16 = 5432;

/// A server's URL, why it was chosen, and the container when one was started.
struct Server<I: testcontainers::Image> {
    url: String,
    reason: String,
    _container: Option<ContainerAsync<I>>,
}

static REDIS: OnceCell<Server<Redis>> = OnceCell::const_new();
static POSTGRES: OnceCell<Server<Postgres>> = OnceCell::const_new();
static DOCKER: OnceCell<bool> = OnceCell::const_new();

/// Whether a Docker engine answers `docker info`.
async fn docker_available() -> bool {
    *DOCKER
        .get_or_init(|| async {
            tokio::process::Command::new("docker")
                .arg("info")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await
                .is_ok_and(|status| status.success())
        })
        .await
}

/// Starts `image` and builds its URL from the mapped `port`.
async fn start<I: testcontainers::Image>(
    image: I,
    port: u16,
    url: impl FnOnce(String, u16) -> String,
) -> Result<(String, ContainerAsync<I>), testcontainers::TestcontainersError> {
    let container = image.start().await?;
    let host = container.get_host().await?;
    let mapped = container.get_host_port_ipv4(port).await?;
    Ok((url(host.to_string(), mapped), container))
}

/// Picks the server: the environment, else Docker, else the local default.
async fn choose<I: testcontainers::Image>(
    name: &str,
    env_var: &str,
    local: &str,
    image: impl FnOnce() -> I,
    port: u16,
    url: impl FnOnce(String, u16) -> String,
) -> Server<I> {
    if let Some(from_env) = std::env::var(env_var).ok().filter(|v| !v.is_empty()) {
        return Server { reason: format!("{name}: {env_var}={from_env}"), url: from_env, _container: None };
    }
    if docker_available().await {
        match start(image(), port, url).await {
            Ok((started, container)) => {
                return Server { reason: format!("{name}: Docker engine found, started a container at {started}"), url: started, _container: Some(container) };
            }
            Err(e) => {
                return Server {
                    reason: format!("{name}: Docker engine found but the container did not start ({e}), using the local default {local}"),
                    url: local.to_owned(),
                    _container: None,
                };
            }
        }
    }
    Server { reason: format!("{name}: no Docker engine, using the local default {local}"), url: local.to_owned(), _container: None }
}

/// The Redis server's URL (`redis://HOST:PORT/DB`), printing its origin.
pub async fn redis_url() -> String {
    let server =
        REDIS.get_or_init(|| choose("redis", "REDIS_URL", LOCAL_REDIS, Redis::default, REDIS_PORT, |host, port| format!("redis://{host}:{port}/0"))).await;
    eprintln!("{}", server.reason);
    server.url.clone()
}

/// The PostgreSQL server's URL (`postgres://USER@HOST:PORT/DB`), printing
/// its origin.
pub async fn postgres_url() -> String {
    let server = POSTGRES
        .get_or_init(|| {
            // The module's image: user, password and database `postgres`.
            choose("postgres", "DATABASE_URL", LOCAL_POSTGRES, Postgres::default, POSTGRES_PORT, |host, port| {
                format!("postgres://postgres:postgres@{host}:{port}/postgres")
            })
        })
        .await;
    eprintln!("{}", server.reason);
    server.url.clone()
}
