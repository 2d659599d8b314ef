//! Helpers shared by the integration tests.
//!
//! What a test needs that a user's machine may lack (a Redis or PostgreSQL
//! server, the flujo virtual environment, a program such as tmux) is
//! acquired here, never checked inline: absent, the test says
//! "not run: TEST: WHY" on the terminal and passes; with
//! `STATEHARNESS_REQUIRE_SERVERS=1` (CI, `.ci/run`) absence fails it.

pub mod processes;
pub mod proxy;
pub mod servers;

use std::cell::RefCell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

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
/// It is removed when the calling test ends, passed or failed (see
/// [`Scratch`]).
pub fn scratch_dir(test: &str, name: &str) -> PathBuf {
    let dir = scratch_root(test).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    // Another test sharing the root may remove it (once empty) between
    // the two levels create_dir_all makes: try again.
    if std::fs::create_dir_all(&dir).is_err() {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creates the scratch directory {}: {e}", dir.display()));
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if !scratch.iter().any(|known| known.0 == dir) {
            scratch.push(Scratch(dir.clone()));
        }
    });
    dir
}

/// The parent of a test's scratch directories (to remove or redact).
pub fn scratch_root(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("stateharness-{test}-{}", std::process::id()))
}

thread_local! {
    /// The scratch directories the test running on this thread made. The
    /// test harness runs each test on a thread of its own and joins it, so
    /// they are dropped, and removed, when the test ends, also when it
    /// panics; call sites stay plain paths (`scratch_dir(..).join("x.db")`).
    static SCRATCH: RefCell<Vec<Scratch>> = const { RefCell::new(Vec::new()) };
}

/// One scratch directory, removed on drop with its root once that is empty
/// (several tests may share a root, each with directories of its own).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some(root) = self.0.parent() {
            let _ = std::fs::remove_dir(root);
        }
    }
}

/// The variable that turns "not run" into a failure (set by `.ci/run`).
pub const REQUIRE_VAR: &str = "STATEHARNESS_REQUIRE_SERVERS";

/// `found`'s value, or `None` once the test has said why it is not run
/// ([`not_run`]): `let Some(python) = needed(...) else { return };`.
pub fn needed<T>(found: Result<T, String>) -> Option<T> {
    found.map_err(|why| not_run(&why)).ok()
}

/// Says on the terminal that the calling test does not run and why, for
/// the test to return, passing. With `STATEHARNESS_REQUIRE_SERVERS=1` it
/// fails the test instead: CI has everything, so absence there is a fault.
pub fn not_run(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().filter(|name| *name != "main").unwrap_or("a test");
    if required() {
        panic!("{test}: {why} ({REQUIRE_VAR}=1: required here)");
    }
    announce(&format!("not run: {test}: {why}"));
}

/// Whether everything a test needs must be there (`STATEHARNESS_REQUIRE_SERVERS=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// Writes `line` on stderr directly: the harness captures `eprintln!` of a
/// passing test, and what was (not) run must always show.
pub fn announce(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The python of the virtual environment with flujo 0.4.35, made (once per
/// process) by `ci/flujo-venv.sh`; `None`, after saying "not run", when it
/// cannot be made (no python3 with venv, no PyPI).
pub fn flujo_python() -> Option<String> {
    static PYTHON: OnceLock<Result<String, String>> = OnceLock::new();
    needed(PYTHON.get_or_init(|| make_flujo_venv("0.4.35")).clone())
}

/// [`flujo_python`] for flujo 0.6.11 (on Python 3.13).
pub fn flujo06_python() -> Option<String> {
    static PYTHON: OnceLock<Result<String, String>> = OnceLock::new();
    needed(PYTHON.get_or_init(|| make_flujo_venv("0.6.11")).clone())
}

fn make_flujo_venv(version: &str) -> Result<String, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/flujo-venv.sh");
    let output =
        Command::new("bash").args([script, version]).output().map_err(|e| format!("the flujo {version} environment: cannot run bash {script}: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The script's last words say what failed (pip, venv, the import).
    let why = || stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no message").trim().to_owned();
    if !output.status.success() {
        return Err(format!("the flujo {version} environment could not be made (ci/flujo-venv.sh: {})", why()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = stdout.lines().last().map(str::trim).unwrap_or_default();
    if !Path::new(python).is_file() {
        return Err(format!("ci/flujo-venv.sh {version} printed no python ({:?}; {})", stdout.trim(), why()));
    }
    Ok(python.to_owned())
}

/// The first of `candidates` (names of one program) that is installed:
/// `NAME ARG` runs and succeeds, ARG being e.g. `--version`; `None`, after
/// saying "not run", when none is.
pub fn program(candidates: &[&'static str], arg: &str) -> Option<&'static str> {
    let found = candidates.iter().copied().find(|name| Command::new(name).arg(arg).output().is_ok_and(|output| output.status.success()));
    needed(found.ok_or_else(|| format!("{} is not installed", candidates.join(" or "))))
}
