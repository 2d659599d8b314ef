//! Helpers shared by the integration tests.

pub mod proxy;
pub mod servers;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use stateharness::conformance::{Report, Suite, SuiteOptions, UrlOpener};
use stateharness::format::TypeRegistry;

/// The built `stateharness` binary, ready for arguments.
pub fn stateharness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stateharness"))
}

/// Runs the built binary with `args` to completion.
pub fn run_stateharness(args: &[&str]) -> Output {
    stateharness().args(args).output().expect("runs stateharness")
}

/// The standard registry (Color, Level, Money), shared.
pub fn registry() -> Arc<TypeRegistry> {
    Arc::new(TypeRegistry::standard())
}

/// The suite with `options` on the backend at `url`; a backend that cannot
/// be opened fails the test, naming the URL.
pub async fn conform(url: &str, options: SuiteOptions) -> Report {
    let opener = Arc::new(UrlOpener::new(url));
    Suite::open(opener, options).await.unwrap_or_else(|e| panic!("{url}: {e}")).run().await
}

/// The legacy corpus the tests migrate, made by the real flujo 0.4.35 and
/// orjson (`fixtures/legacy/seed-2`, see fixtures/README.md): dumps in
/// `legacy/`, their reference conversions in `legacy-expected/`, a legacy
/// SQLite database and its conversions in `legacy-sqlite-expected/`.
pub fn legacy_corpus() -> PathBuf {
    fixtures_dir().join("legacy/seed-2")
}

/// How many files `legacy_corpus()`'s subdirectory `dir` holds.
pub fn legacy_count(dir: &str) -> u64 {
    std::fs::read_dir(legacy_corpus().join(dir)).expect("the legacy corpus").count() as u64
}

/// The team's shared oracle (`../shared/oracle`: the fixed and seed-0
/// vectors, 119 legacy dumps), which sits beside the checkout in the
/// project's CI but not beside a user's clone. Tests run over it as an extra
/// cross-check where it exists, and say on the terminal (past the test
/// harness's capture) which it was; the repository's fixtures cover the
/// same ground either way.
pub fn shared_oracle(test: &str) -> Option<PathBuf> {
    use std::io::Write;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle");
    let present = dir.join("values.jsonl").is_file();
    let said = if present { "checked against the shared oracle in ../shared/oracle too" } else { "../shared/oracle is absent: covered by fixtures/ only" };
    let _ = writeln!(std::io::stderr(), "{test}: {said}");
    present.then_some(dir)
}

/// `fixtures/`, the project's own test data.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fresh, empty directory for one test: `<tmp>/stateharness-<test>-<pid>/<name>`.
pub fn scratch_dir(test: &str, name: &str) -> PathBuf {
    let dir = scratch_root(test).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates a scratch directory");
    dir
}

/// The parent of a test's scratch directories (to remove or redact).
pub fn scratch_root(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("stateharness-{test}-{}", std::process::id()))
}

/// The python of the virtual environment with flujo 0.4.35, made (once) by
/// `ci/flujo-venv.sh`.
pub fn flujo_python() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/flujo-venv.sh");
    let output = Command::new("bash").arg(script).output().expect("runs ci/flujo-venv.sh");
    assert!(output.status.success(), "ci/flujo-venv.sh failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().last().expect("the venv's python").trim().to_owned()
}
