//! Counting the processes an `exec:` backend starts, and checking that
//! none is left once a run is over.

use std::path::Path;
use std::time::{Duration, Instant};

/// The `exec:` URL that runs `command` through `sh`, which first appends
/// its pid to `log` (then `exec`s the command, keeping the pid): one line
/// per process started from the command line, none for a forked one.
pub fn logging_starts(log: &Path, command: &str) -> String {
    let log = shell_words::quote(log.to_str().expect("a UTF-8 log path")).into_owned();
    format!("exec:sh -c {}", shell_words::quote(&format!("echo $$ >> {log}; exec {command}")))
}

/// The pids `logging_starts` logged.
pub fn started(log: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().map(|line| line.trim().parse().unwrap_or_else(|e| panic!("{}: {line:?}: {e}", log.display()))).collect()
}

/// Waits (up to 10 s) until none of `pids` exists, not even as a zombie,
/// and no running process has `token` in its command line (a forked copy
/// has its fork source's); panics naming what is left.
pub fn assert_all_ended(pids: &[u32], token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut left: Vec<String> = pids.iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).map(|pid| format!("{pid} (started)")).collect();
        left.extend(naming(token).into_iter().map(|(pid, command)| format!("{pid}: {command}")));
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left 10 s after the run: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The processes whose command line holds `token`: (pid, command line).
fn naming(token: &str) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().into_string().ok()?;
            pid.parse::<u32>().ok()?;
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            command.contains(token).then_some((pid, command))
        })
        .collect()
}
