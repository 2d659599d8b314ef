//! Measuring: a contender's times over the rounds, a child process timed
//! with its peak memory, and the byte-for-byte check of an output.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

pub const GNU_TIME: &str = "/usr/bin/time";

/// One contender's times over the rounds, with what went wrong.
pub struct Series {
    pub name: String,
    pub seconds: Vec<f64>,
    pub errors: Vec<String>,
    pub note: Option<String>,
}

impl Series {
    pub fn new(name: String) -> Series {
        Series { name, seconds: Vec::new(), errors: Vec::new(), note: None }
    }

    /// Records a round's time and the check of its output, if any; a
    /// mismatch is an error of the series.
    pub fn record(&mut self, seconds: f64, check: Option<Check>) {
        self.seconds.push(seconds);
        if let Some(problem) = check.and_then(|check| check.problem()) {
            self.fail(problem);
        }
    }

    /// The round-by-round ratios of this series' times to `baseline`'s.
    pub fn paired_ratios(&self, baseline: &Series) -> Series {
        let mut ratios = Series::new(format!("{} / {}", self.name, baseline.name));
        ratios.seconds = self.seconds.iter().zip(&baseline.seconds).map(|(a, b)| a / b).collect();
        ratios
    }

    pub fn fail(&mut self, error: String) {
        eprintln!("{}: {error}", self.name);
        self.errors.push(error);
    }

    pub fn best(&self) -> Option<f64> {
        self.seconds.iter().copied().reduce(f64::min)
    }

    pub fn median(&self) -> Option<f64> {
        let mut sorted = self.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => None,
            n if n % 2 == 1 => Some(sorted[n / 2]),
            n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        }
    }

    pub fn print(&self) {
        let runs: Vec<String> = self.seconds.iter().map(|s| format!("{s:.3}")).collect();
        let seconds = |s: Option<f64>| s.map_or("--".to_owned(), |s| format!("{s:.3}"));
        let mut line = format!("{:<36} {:>8} {:>8}  {}", self.name, seconds(self.best()), seconds(self.median()), runs.join(" "));
        if !self.errors.is_empty() {
            let _ = write!(line, "  ({} failed runs or checks)", self.errors.len());
        }
        if let Some(note) = &self.note {
            let _ = write!(line, "  [{note}]");
        }
        println!("{line}");
    }
}

/// A finished child process: wall time, peak RSS (from GNU time), stdout,
/// and why it failed (its exit status and the end of its output), if it did.
pub struct Run {
    pub seconds: f64,
    pub peak_rss_kib: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub stdout: String,
    pub failure: Option<String>,
}

/// Runs `program args` under GNU time (when present) for its peak RSS; its
/// output goes to files in `scratch`. Err only when it could not be started.
pub fn run_measured(program: &str, args: &[String], scratch: &Path) -> Result<Run, String> {
    let stdout_path = scratch.join("stdout.txt");
    let stderr_path = scratch.join("stderr.txt");
    let rss_path = scratch.join("peak-rss-kib.txt");
    let _ = fs::remove_file(&rss_path);
    let gnu_time = Path::new(GNU_TIME).exists();
    let mut command = if gnu_time {
        let mut command = Command::new(GNU_TIME);
        command.arg("-f").arg("%M %U %S").arg("-o").arg(&rss_path).arg(program);
        command
    } else {
        Command::new(program)
    };
    let started = Instant::now();
    let status = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).map_err(|e| e.to_string())?)
        .stderr(File::create(&stderr_path).map_err(|e| e.to_string())?)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let failure = (!status.success()).then(|| {
        let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
        format!("{program} {} exited with {status}\n{}\n{}", args.join(" "), tail(&stdout), tail(&stderr))
    });
    // GNU time's last line is "%M %U %S" (a failure adds a line before it).
    let measures = fs::read_to_string(&rss_path).unwrap_or_default();
    let fields: Vec<&str> = measures.lines().last().unwrap_or_default().split_whitespace().collect();
    let (peak_rss_kib, cpu_seconds) = match fields[..] {
        [rss, user, sys] => (rss.parse().ok(), user.parse::<f64>().ok().zip(sys.parse::<f64>().ok()).map(|(u, s)| u + s)),
        _ => (None, None),
    };
    Ok(Run { seconds, peak_rss_kib, cpu_seconds, stdout, failure })
}

/// How an output directory compares with the expected one.
pub struct Check {
    pub expected: usize,
    pub identical: usize,
    differing: Vec<String>,
    missing: Vec<String>,
    extra: Vec<String>,
}

impl Check {
    pub fn problem(&self) -> Option<String> {
        if self.identical == self.expected && self.extra.is_empty() {
            return None;
        }
        let some = |names: &[String]| names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        Some(format!(
            "output: {}/{} identical; {} differ ({}), {} missing ({}), {} extra ({})",
            self.identical,
            self.expected,
            self.differing.len(),
            some(&self.differing),
            self.missing.len(),
            some(&self.missing),
            self.extra.len(),
            some(&self.extra)
        ))
    }
}

/// Compares `out` with `expected` byte for byte; every file in `out` that
/// is not expected (a temp file left, a stray state) counts as extra. None
/// when there is nothing to compare with.
pub fn check_output(out: &Path, expected: &Path) -> Option<Check> {
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).map(|entries| entries.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect()).unwrap_or_default();
        names.sort();
        names
    };
    let wanted = names(expected);
    if wanted.is_empty() {
        return None;
    }
    let got = names(out);
    let mut check = Check { expected: wanted.len(), identical: 0, differing: Vec::new(), missing: Vec::new(), extra: Vec::new() };
    for name in &wanted {
        match fs::read(out.join(name)) {
            Err(_) => check.missing.push(name.clone()),
            Ok(bytes) if fs::read(expected.join(name)).is_ok_and(|want| want == bytes) => check.identical += 1,
            Ok(_) => check.differing.push(name.clone()),
        }
    }
    check.extra = got.into_iter().filter(|name| wanted.binary_search(name).is_err()).collect();
    Some(check)
}

/// A field of the Python script's `RESULT k=v ...` line.
pub fn result_field(stdout: &str, key: &str) -> Option<f64> {
    let line = stdout.lines().rev().find(|line| line.starts_with("RESULT "))?;
    line.split_whitespace().find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Removes `dir` and makes it again, empty, then flushes the removal to the
/// disk so that the next timed run does not pay for the previous one's.
pub fn fresh_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let _ = Command::new("sync").status();
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
