//! Speed and peak memory of `stateharness migrate` to `file://` on a corpus
//! of legacy dumps, against two baselines measured in the same run:
//!
//! - a plain copy of the same files with the file backend's per-file
//!   durability steps (temp file, write, fsync, rename, fsync the directory),
//!   with the migration's parallelism and with one thread. Goal: migrate
//!   takes at most 1.3x the copy's time (same jobs). For where the time
//!   goes, also a copy without fsync and a copy of the converted files;
//! - the same job in Python with flujo 0.4.35 and pyjson5
//!   (`ci/bench/migrate_flujo.py`). Goal: migrate is at least 4x faster.
//!
//! Peak RSS of the migrate process must stay under `largest input x 4 +
//! 64 MiB`. Every output directory is checked byte for byte against the
//! corpus's `legacy-expected/`.
//!
//! Run: `cargo bench --bench migrate_speed` (or `ci/bench-migrate.sh`).
//! The corpus is `gen_oracle.py OUT 7 0 --legacy 1500` (about 1,200 files,
//! 29 MiB of dumps), made once into `<target>/bench-corpus/legacy-7-1500/` with the
//! flujo venv of `ci/flujo-venv.sh` (orjson, json5 and pyjson5 are added to
//! it). Without Python the Python part is skipped, and without a generated
//! corpus the 119 dumps of `../shared/oracle` stand in.
//!
//! Settings (environment): `BENCH_CORPUS=DIR` (a directory holding `legacy/`
//! and `legacy-expected/`), `BENCH_JOBS=N` (default: the number of cores),
//! `BENCH_ROUNDS=N` (default 7), `BENCH_PYTHON_ROUNDS=N` (default 3).
//! Every round is printed, with the best and the median. The copy goal is
//! judged on the median of the round-by-round ratios of migrate to the copy
//! run right beside it (in turns first), because fsync latency here swings
//! several-fold with the host's load, so that a lucky copy in one round
//! says nothing of another; the ratios of the best and of the median times
//! are printed too. The Python goal is judged on the best times of the
//! whole processes on both sides (the job as an operator runs it), with
//! Python's conversion loop alone (its 1–1.5 s of imports left out)
//! printed beside it. Exit status 1 when an
//! output differs from the expected files or a goal is missed.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

const MIB: f64 = 1024.0 * 1024.0;
/// Migrate may take at most this multiple of the plain copy's time.
const COPY_RATIO_GOAL: f64 = 1.3;
/// Python must take at least this multiple of migrate's time.
const PYTHON_RATIO_GOAL: f64 = 4.0;
/// The corpus the issue names: `gen_oracle.py OUT 7 0 --legacy 1500`.
const CORPUS_NAME: &str = "legacy-7-1500";
/// Versions the corpus and the Python baseline were measured with (orjson
/// is the one ../shared/oracle was made with).
const PY_PACKAGES: [&str; 3] = ["orjson==3.13.0", "json5==0.17.3", "pyjson5==2.0.1"];
const GNU_TIME: &str = "/usr/bin/time";

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = target_dir();
    let jobs = env_number("BENCH_JOBS").unwrap_or_else(|| thread::available_parallelism().map_or(2, std::num::NonZero::get));
    let rounds = env_number("BENCH_ROUNDS").unwrap_or(7).max(1);
    let python_rounds = env_number("BENCH_PYTHON_ROUNDS").unwrap_or(3).max(1);

    let python = flujo_python(&repo, &target);
    let Some(corpus) = corpus(&repo, &target, python.as_deref()) else {
        println!("no corpus: nothing to measure");
        std::process::exit(1);
    };
    println!(
        "corpus: {} ({} files, {:.1} MB, largest {:.2} MB: {})",
        corpus.legacy.display(),
        corpus.files.len(),
        corpus.total_bytes as f64 / MIB,
        corpus.largest_bytes as f64 / MIB,
        corpus.largest_name
    );
    println!(
        "jobs {jobs} (cores {}), {rounds} rounds, {python_rounds} Python rounds; load average at start {}",
        thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load_average()
    );

    let scratch = target.join("bench-migrate");
    let out = scratch.join("out");
    fs::create_dir_all(&scratch).expect("creates the scratch directory");
    let mut failures = Vec::new();

    // Rounds interleave the contenders so that drift in the disk's speed
    // (writeback, other load) falls on all of them alike.
    let bin = env!("CARGO_BIN_EXE_stateharness");
    let to = |out: &Path| format!("file://{}", out.display());
    let jobs_arg = jobs.to_string();
    let mut copy_n = Series::new(format!("plain copy, {jobs} jobs"));
    let mut copy_1 = Series::new("plain copy, 1 job".to_owned());
    let mut copy_unsynced = Series::new("plain copy, no fsync, 1 job".to_owned());
    // The bytes migrate writes are the converted ones (larger: \u escapes,
    // spaces after separators): copying those is migrate's I/O floor.
    let mut copy_converted = Series::new(format!("copy of legacy-expected, {jobs} jobs"));
    let mut migrate_cpu = Series::new("  its CPU time, user+sys".to_owned());
    let mut migrate = Series::new(format!("migrate, {jobs} jobs"));
    let mut migrate_unverified = Series::new(format!("migrate --no-verify, {jobs} jobs"));
    let mut migrate_dry = Series::new(format!("migrate --dry-run, {jobs} jobs"));
    let mut peak_rss: Option<u64> = None;
    // The first writes into a new scratch directory run slower (block and
    // inode allocation, journal); one untimed copy takes that for everyone.
    fresh_dir(&out);
    plain_copy(&corpus.files, &out, jobs, true).unwrap_or_else(|e| panic!("plain copy: {e}"));
    let mut run_migrate = |series: &mut Series, extra: Option<&str>| {
        fresh_dir(&out);
        let mut args: Vec<String> = ["migrate", "--from", path_str(&corpus.legacy), "--to", &to(&out), "--jobs", &jobs_arg].map(str::to_owned).into();
        args.extend(extra.map(str::to_owned));
        match run_measured(bin, &args, &scratch) {
            Ok(Run { failure: Some(e), .. }) | Err(e) => series.fail(e),
            Ok(run) => {
                // A dry run writes nothing; there is no output to check.
                let check = if extra == Some("--dry-run") { None } else { check_output(&out, &corpus.expected) };
                series.record(run.seconds, check);
                peak_rss = run.peak_rss_kib.max(peak_rss);
                if let (None, Some(cpu)) = (extra, run.cpu_seconds) {
                    migrate_cpu.record(cpu, None);
                }
            }
        }
    };
    let run_copy = |series: &mut Series, files: &[PathBuf], threads: usize, durable: bool, expected: &Path| {
        fresh_dir(&out);
        let seconds = plain_copy(files, &out, threads, durable).unwrap_or_else(|e| panic!("plain copy: {e}"));
        // A copy must leave the files as they were.
        series.record(seconds, check_output(&out, expected));
    };
    for round in 1..=rounds {
        eprintln!("round {round}/{rounds}");
        // The goal's pair runs back to back, in turns first, so that the
        // disk's drift (fsync latency swings with the host's load) falls on
        // both alike; their per-round ratio is what the goal judges.
        if round % 2 == 1 {
            run_copy(&mut copy_n, &corpus.files, jobs, true, &corpus.legacy);
            run_migrate(&mut migrate, None);
        } else {
            run_migrate(&mut migrate, None);
            run_copy(&mut copy_n, &corpus.files, jobs, true, &corpus.legacy);
        }
        run_copy(&mut copy_1, &corpus.files, 1, true, &corpus.legacy);
        run_copy(&mut copy_unsynced, &corpus.files, 1, false, &corpus.legacy);
        run_copy(&mut copy_converted, &corpus.expected_files, jobs, true, &corpus.expected);
        run_migrate(&mut migrate_unverified, Some("--no-verify"));
        run_migrate(&mut migrate_dry, Some("--dry-run"));
    }

    // Python is the slow contender: fewer rounds, run after the others.
    let mut python_wall = Series::new("python flujo+pyjson5, 1 process".to_owned());
    let mut python_loop = Series::new("  of which the loop (no imports)".to_owned());
    let migrate_py = repo.join("ci/bench/migrate_flujo.py");
    match &python {
        None => println!("python: SKIPPED (no flujo venv; see the messages of ci/flujo-venv.sh above)"),
        Some(py) => {
            for round in 1..=python_rounds {
                eprintln!("python round {round}/{python_rounds}");
                fresh_dir(&out);
                let args = [path_str(&migrate_py), path_str(&corpus.legacy), path_str(&out)].map(str::to_owned);
                // Files Python fails on or converts differently are a
                // finding to report, not a failure of the bench; a script
                // that does not finish (no RESULT line) is.
                let run = run_measured(path_str(py), &args, &scratch);
                match run.as_ref().map(|run| (run, result_field(&run.stdout, "loop_s"))) {
                    Ok((run, Some(loop_seconds))) => {
                        python_wall.record(run.seconds, None);
                        python_loop.record(loop_seconds, None);
                        println!("python round {round}: {}", run.stdout.lines().last().unwrap_or_default());
                        for line in run.stdout.lines().filter(|line| line.starts_with("failed: ") || line.starts_with("... and ")) {
                            println!("  {line}");
                        }
                        if let Some(check) = check_output(&out, &corpus.expected) {
                            python_wall.note = Some(format!("{}/{} files identical to legacy-expected", check.identical, check.expected));
                        }
                    }
                    Ok((run, None)) => python_wall.fail(run.failure.clone().unwrap_or_else(|| "no RESULT line".to_owned())),
                    Err(e) => python_wall.fail(e.clone()),
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&out);

    println!();
    println!("{:<36} {:>8} {:>8}  runs (s)", "", "best s", "median s");
    for series in [&copy_n, &copy_1, &copy_unsynced, &copy_converted, &migrate, &migrate_cpu, &migrate_unverified, &migrate_dry, &python_wall, &python_loop] {
        series.print();
        if let Some(first) = series.errors.first() {
            let first = first.lines().next().unwrap_or_default();
            failures.push(format!("{}: {} failed runs or checks; the first: {first}", series.name, series.errors.len()));
        }
    }
    let files = corpus.files.len() as f64;
    if let (Some(copy), Some(unsynced)) = (copy_1.best(), copy_unsynced.best()) {
        println!(
            "per file, 1 job, best: {:.2} ms durable copy, {:.2} ms without fsync, so {:.2} ms in the two fsyncs",
            copy / files * 1e3,
            unsynced / files * 1e3,
            (copy - unsynced) / files * 1e3
        );
    }

    println!();
    println!("{:<36} {:>7} {:>8}", "ratio", "best", "median");
    let mut goal = |name: &str, value: Option<(f64, f64)>, met: fn(f64) -> bool, target: &str| match value {
        None => println!("{name:<36} -- (not measured)"),
        Some((best, median)) => {
            let verdict = if target.is_empty() {
                "info"
            } else if met(best) {
                "PASS"
            } else {
                failures.push(format!("{name}: {best:.2}x (best; median {median:.2}x), goal {target}"));
                "FAIL"
            };
            println!("{name:<36} {best:>6.2}x {median:>7.2}x  {target:<8} {verdict}");
        }
    };
    let ratio = |a: &Series, b: &Series| Some((a.best()? / b.best()?, a.median()? / b.median()?));
    let paired = migrate.paired_ratios(&copy_n);
    println!("{:<36} {}", "migrate / copy, round by round", paired.seconds.iter().map(|r| format!("{r:.2}x")).collect::<Vec<_>>().join(" "));
    goal(&format!("migrate / copy ({jobs} jobs), paired"), paired.median().map(|m| (m, m)), |r| r <= COPY_RATIO_GOAL, "<= 1.3x");
    goal(&format!("migrate / copy ({jobs} jobs), unpaired"), ratio(&migrate, &copy_n), |_| true, "");
    goal("migrate / copy (1 job)", ratio(&migrate, &copy_1), |_| true, "");
    goal(&format!("migrate --no-verify / copy ({jobs} jobs)"), ratio(&migrate_unverified, &copy_n), |_| true, "");
    goal("migrate / copy of legacy-expected", ratio(&migrate, &copy_converted), |_| true, "");
    // The same job is the whole process on both sides (migrate's times are
    // its process's too); Python's loop alone, imports left out, is shown.
    goal("python / migrate (whole process)", ratio(&python_wall, &migrate), |r| r >= PYTHON_RATIO_GOAL, ">= 4x");
    goal("python / migrate (python's loop only)", ratio(&python_loop, &migrate), |_| true, "");

    let budget = corpus.largest_bytes as f64 * 4.0 + 64.0 * MIB;
    match peak_rss {
        None if !Path::new(GNU_TIME).exists() => println!("{:<36} -- (not measured: needs GNU time at {GNU_TIME})", "migrate peak RSS"),
        None => println!("{:<36} -- (not measured)", "migrate peak RSS"),
        Some(kib) => {
            let peak = kib as f64 * 1024.0;
            let verdict = if peak <= budget { "PASS" } else { "FAIL" };
            if peak > budget {
                failures.push(format!("peak RSS {:.1} MiB over the budget {:.1} MiB", peak / MIB, budget / MIB));
            }
            println!(
                "{:<36} {:>6.1} MiB  budget {:.1} MiB (largest {:.2} MiB x 4 + 64) {verdict}",
                "migrate peak RSS (max of all runs)",
                peak / MIB,
                budget / MIB,
                corpus.largest_bytes as f64 / MIB
            );
        }
    }

    // Other work on the machine (a build) shows in every time; say so.
    println!("load average at end {}", load_average());
    println!();
    if failures.is_empty() {
        println!("all goals met, every output identical to legacy-expected");
    } else {
        println!("FAILED:");
        for failure in &failures {
            println!("  {failure}");
        }
        std::process::exit(1);
    }
}

/// One contender's times over the rounds, with what went wrong.
struct Series {
    name: String,
    seconds: Vec<f64>,
    errors: Vec<String>,
    note: Option<String>,
}

impl Series {
    fn new(name: String) -> Series {
        Series { name, seconds: Vec::new(), errors: Vec::new(), note: None }
    }

    /// Records a round's time and the check of its output, if any; a
    /// mismatch is an error of the series.
    fn record(&mut self, seconds: f64, check: Option<Check>) {
        self.seconds.push(seconds);
        if let Some(problem) = check.and_then(|check| check.problem()) {
            self.fail(problem);
        }
    }

    /// The round-by-round ratios of this series' times to `baseline`'s.
    fn paired_ratios(&self, baseline: &Series) -> Series {
        let mut ratios = Series::new(format!("{} / {}", self.name, baseline.name));
        ratios.seconds = self.seconds.iter().zip(&baseline.seconds).map(|(a, b)| a / b).collect();
        ratios
    }

    fn fail(&mut self, error: String) {
        eprintln!("{}: {error}", self.name);
        self.errors.push(error);
    }

    fn best(&self) -> Option<f64> {
        self.seconds.iter().copied().reduce(f64::min)
    }

    fn median(&self) -> Option<f64> {
        let mut sorted = self.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => None,
            n if n % 2 == 1 => Some(sorted[n / 2]),
            n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        }
    }

    fn print(&self) {
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

/// The files to migrate and what they must become.
struct Corpus {
    legacy: PathBuf,
    expected: PathBuf,
    files: Vec<PathBuf>,
    expected_files: Vec<PathBuf>,
    total_bytes: u64,
    largest_bytes: u64,
    largest_name: String,
}

impl Corpus {
    fn open(dir: &Path) -> io::Result<Corpus> {
        let legacy = dir.join("legacy");
        let mut files = json_files(&legacy)?;
        files.sort();
        let (mut total_bytes, mut largest_bytes, mut largest_name) = (0, 0, String::new());
        for file in &files {
            // Reading every file once also puts the corpus in the page cache,
            // so that no contender pays for the first, cold read.
            let len = fs::read(file)?.len() as u64;
            total_bytes += len;
            if len > largest_bytes {
                largest_bytes = len;
                largest_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            }
        }
        let expected = dir.join("legacy-expected");
        let mut expected_files = json_files(&expected)?;
        expected_files.sort();
        for file in &expected_files {
            fs::read(file)?;
        }
        Ok(Corpus { legacy, expected, files, expected_files, total_bytes, largest_bytes, largest_name })
    }
}

/// The corpus to use: `BENCH_CORPUS`, else the generated one (made now if
/// missing and Python is there), else the small oracle of ../shared.
fn corpus(repo: &Path, target: &Path, python: Option<&Path>) -> Option<Corpus> {
    let open = |dir: &Path| match Corpus::open(dir) {
        Ok(corpus) => Some(corpus),
        Err(e) => {
            println!("corpus {}: {e}", dir.display());
            None
        }
    };
    if let Some(dir) = std::env::var_os("BENCH_CORPUS") {
        return open(Path::new(&dir));
    }
    let generated = target.join("bench-corpus").join(CORPUS_NAME);
    if !generated.is_dir() {
        match python {
            Some(py) => {
                if let Err(e) = generate_corpus(repo, py, &generated) {
                    println!("generating the corpus failed: {e}");
                }
            }
            None => println!("no Python to generate the corpus with"),
        }
    }
    if generated.is_dir() {
        return open(&generated);
    }
    let oracle = repo.join("../shared/oracle");
    println!("using the small corpus {} instead: the ratios are not the issue's measure", oracle.display());
    open(&oracle)
}

/// Runs `gen_oracle.py OUT 7 0 --legacy 1500` into a side directory and
/// renames it into place, so that an interrupted generation is never taken
/// for a corpus.
fn generate_corpus(repo: &Path, python: &Path, dir: &Path) -> Result<(), String> {
    let partial = dir.with_extension("partial");
    let _ = fs::remove_dir_all(&partial);
    let generator = repo.join("../shared/oracle/gen_oracle.py");
    println!("generating the corpus into {} (once; several minutes)", dir.display());
    let started = Instant::now();
    let status = Command::new(python)
        .arg(&generator)
        .arg(&partial)
        .args(["7", "0", "--legacy", "1500"])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", generator.display()))?;
    if !status.success() {
        return Err(format!("{} exited with {status}", generator.display()));
    }
    fs::rename(&partial, dir).map_err(|e| e.to_string())?;
    println!("generated in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The flujo venv's python with orjson, json5 and pyjson5 added, or None
/// (with the reason printed) when it cannot be made.
fn flujo_python(repo: &Path, target: &Path) -> Option<PathBuf> {
    let output = Command::new("bash")
        .arg(repo.join("ci/flujo-venv.sh"))
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| println!("python: ci/flujo-venv.sh did not run: {e}"))
        .ok()?;
    if !output.status.success() {
        println!("python: ci/flujo-venv.sh failed:\n{}", String::from_utf8_lossy(&output.stderr).trim_end());
        return None;
    }
    let python = PathBuf::from(String::from_utf8_lossy(&output.stdout).lines().last()?.trim());
    let has_parsers =
        |python: &Path| Command::new(python).args(["-c", "import orjson, json5, pyjson5"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !has_parsers(&python) {
        println!("python: installing {} into the flujo venv", PY_PACKAGES.join(" "));
        let installed = Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]).args(PY_PACKAGES).status();
        if !installed.is_ok_and(|s| s.success()) || !has_parsers(&python) {
            println!("python: could not install {}", PY_PACKAGES.join(" "));
            return None;
        }
    }
    Some(python)
}

/// Copies every file into `out` as the file backend saves a state: a new
/// temp file, write, fsync (when `durable`), rename onto the file's name,
/// fsync the directory (when `durable`). `threads` workers take files from
/// one shared list, as migrate's jobs do. Returns the seconds taken.
fn plain_copy(files: &[PathBuf], out: &Path, threads: usize, durable: bool) -> io::Result<f64> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> io::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(source) = files.get(i) else { return Ok(()) };
                        let name = source.file_name().expect("a file name").to_string_lossy();
                        let text = fs::read(source)?;
                        let temp = out.join(format!(".{name}.tmp-{}-{i}", std::process::id()));
                        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
                        file.write_all(&text)?;
                        if durable {
                            file.sync_all()?;
                        }
                        drop(file);
                        fs::rename(&temp, out.join(&*name))?;
                        if durable {
                            File::open(out)?.sync_all()?;
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| worker.join().expect("copy worker panicked"))
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// A finished child process: wall time, peak RSS (from GNU time), stdout,
/// and why it failed (its exit status and the end of its output), if it did.
struct Run {
    seconds: f64,
    peak_rss_kib: Option<u64>,
    cpu_seconds: Option<f64>,
    stdout: String,
    failure: Option<String>,
}

/// Runs `program args` under GNU time (when present) for its peak RSS; its
/// output goes to files in `scratch`. Err only when it could not be started.
fn run_measured(program: &str, args: &[String], scratch: &Path) -> Result<Run, String> {
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
struct Check {
    expected: usize,
    identical: usize,
    differing: Vec<String>,
    missing: Vec<String>,
    extra: Vec<String>,
}

impl Check {
    fn problem(&self) -> Option<String> {
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
fn check_output(out: &Path, expected: &Path) -> Option<Check> {
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
fn result_field(stdout: &str, key: &str) -> Option<f64> {
    let line = stdout.lines().rev().find(|line| line.starts_with("RESULT "))?;
    line.split_whitespace().find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Removes `dir` and makes it again, empty, then flushes the removal to the
/// disk so that the next timed run does not pay for the previous one's.
fn fresh_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let _ = Command::new("sync").status();
}

fn json_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    Ok(files)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when absolute, else from
/// where the bench runs, `<target>/release/deps/NAME`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).filter(|dir| dir.is_absolute()) {
        return dir;
    }
    let exe = std::env::current_exe().expect("the bench's own path");
    exe.ancestors().nth(3).map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"), Path::to_path_buf)
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".to_owned(), |text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().parse().ok()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
