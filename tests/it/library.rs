//! The library as a Rust team uses it: a backend of their own, served as a
//! protocol process with `serve_stdio` (examples/serve_my_backend.rs), gets
//! the checks that need a process as well as the rest.

use crate::common::run_stateharness;

/// An example program built beside this test binary (`cargo test` builds
/// the examples): `target/<profile>/examples/NAME`.
fn example(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().expect("the test binary's path");
    let path = deps.parent().and_then(|d| d.parent()).expect("target/<profile>").join("examples").join(name);
    assert!(path.is_file(), "{} is not built: a whole `cargo test` builds the examples (`cargo build --examples` too)", path.display());
    path
}

#[test]
fn a_rust_backend_served_with_serve_stdio_passes_the_process_checks_too() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let backend = format!("exec:{} {}", example("serve_my_backend").display(), dir.path().display());
    let output = run_stateharness(&["conform", "--backend", &backend, "--cases", "16", "--crash-rounds", "8"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for check in ["persistence", "crash", "list"] {
        assert!(stdout.lines().any(|line| line.starts_with("PASS") && line[4..].trim_start().starts_with(check)), "{check} did not run and pass:\n{stdout}");
    }
    // States are `.run` files; a save the crash check killed may leave its
    // temporary file, which is the backend's to collect, not a state.
    let states =
        std::fs::read_dir(dir.path()).expect("the backend's directory").filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "run")));
    assert_eq!(states.count(), 0, "the suite left states behind");
}
