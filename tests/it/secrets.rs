//! Credentials never leave the machine in output: a password in a backend
//! URL (or in an `exec:` command line, or in a child's stderr) appears in
//! none of the bytes conform, migrate and snapshot write. The PostgreSQL
//! server here trusts loopback, so it accepts any password: the secret is
//! sent, and must still be shown nowhere.

use std::path::Path;
use std::process::Output;

use crate::common::{scratch_dir, stateharness};

const SECRET: &str = "S3cr3t-pw-9f1c";

/// The test PostgreSQL's URL with `SECRET` as its user's password, for
/// `table`; `None` (the test is not run) without the server.
async fn url_with_password(table: &str) -> Option<String> {
    let server = crate::common::servers::postgres().await?;
    let (user, host) = server.strip_prefix("postgres://").and_then(|rest| rest.split_once('@')).expect("postgres://USER@HOST");
    Some(format!("postgres://{user}:{SECRET}@{host}?table={table}"))
}

async fn drop_table(table: &str) {
    let server = crate::common::servers::postgres().await.expect("PostgreSQL answered when the test began");
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).await.unwrap();
}

fn assert_secret_absent(what: &str, bytes: &[u8]) {
    assert!(!String::from_utf8_lossy(bytes).contains(SECRET), "{what} holds the password:\n{}", String::from_utf8_lossy(bytes));
}

fn assert_output_clean(output: &Output) {
    assert_secret_absent("stdout", &output.stdout);
    assert_secret_absent("stderr", &output.stderr);
}

fn assert_files_clean(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert_secret_absent(&path.display().to_string(), &std::fs::read(&path).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_writes_no_password_in_any_output() {
    let table = format!("sh_secret_conform_{}", std::process::id());
    let Some(url) = url_with_password(&table).await else { return };
    let out = scratch_dir("secrets-conform", "out");
    let output = stateharness()
        .args(["conform", "--backend", &url, "--cases", "8", "--strict"])
        .args(["--report", out.join("report.json").to_str().unwrap(), "--junit", out.join("junit.xml").to_str().unwrap()])
        .args(["--markdown", out.join("summary.md").to_str().unwrap(), "--html", out.join("report.html").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    assert_output_clean(&output);
    assert_files_clean(&out);
    assert!(String::from_utf8_lossy(&output.stdout).contains(":***@"), "the URL is shown, redacted");

    // The same through the environment: nothing on the command line.
    let from_env = stateharness().args(["conform", "--backend-env", "SH_TEST_BACKEND", "--cases", "8"]).env("SH_TEST_BACKEND", &url).output().unwrap();
    assert!(matches!(from_env.status.code(), Some(0 | 1)), "{from_env:?}");
    assert_output_clean(&from_env);
    drop_table(&table).await;
}

#[test]
fn errors_and_child_stderr_write_no_password() {
    let unreachable = stateharness().args(["conform", "--backend", &format!("postgres://u:{SECRET}@127.0.0.1:1/test")]).output().unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    assert_output_clean(&unreachable);
    // A child that prints a DSN on stderr and dies: its stderr tail is shown.
    let child = format!("exec:sh -c 'echo connecting to postgres://app:{SECRET}@db/prod password={SECRET} >&2; exit 3'");
    let died = stateharness().args(["conform", "--backend", &child]).output().unwrap();
    assert_eq!(died.status.code(), Some(2), "{died:?}");
    assert!(String::from_utf8_lossy(&died.stderr).contains("postgres://app:***@db/prod"), "{died:?}");
    assert_output_clean(&died);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_writes_no_password_in_console_or_report() {
    let table = format!("sh_secret_migrate_{}", std::process::id());
    let Some(url) = url_with_password(&table).await else { return };
    let out = scratch_dir("secrets-migrate", "out");
    let legacy = crate::common::legacy_corpus().join("legacy");
    let output = stateharness()
        .args(["migrate", "--from", legacy.to_str().unwrap(), "--to", &url, "--report", out.join("report.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_output_clean(&output);
    assert_files_clean(&out);
    drop_table(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_writes_no_password_in_console_or_snapshots() {
    let table = format!("sh_secret_snapshot_{}", std::process::id());
    let Some(url) = url_with_password(&table).await else { return };
    let snaps = scratch_dir("secrets-snapshot", "snaps");
    for command in ["record", "check"] {
        let output = stateharness().args(["snapshot", command, "--backend", &url, "--dir", snaps.to_str().unwrap()]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{command}: {output:?}");
        assert_output_clean(&output);
    }
    assert_files_clean(&snaps);
    drop_table(&table).await;
}

/// A private Redis that requires a password (the shared one has none, and
/// a server without one rejects AUTH): the password comes from
/// REDISCLI_AUTH, never from the command line.
#[test]
fn redis_password_from_rediscli_auth() {
    let Some(redis_server) = crate::common::program(&["redis-server"], "--version") else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(redis_server)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--requirepass", SECRET, "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server runs");
    let url = format!("redis://127.0.0.1:{port}/0?prefix=sh-secret-{}-", std::process::id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let without = stateharness().args(["conform", "--backend", &url, "--cases", "4"]).env_remove("REDISCLI_AUTH").output().unwrap();
    let with = stateharness().args(["conform", "--backend", &url, "--cases", "8"]).env("REDISCLI_AUTH", SECRET).output().unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(without.status.code(), Some(2), "no password, no access: {without:?}");
    assert_eq!(with.status.code(), Some(0), "{with:?}");
    assert_output_clean(&with);
    assert_output_clean(&without);
}
