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
//! The corpus is `ci/oracle/gen_oracle.py OUT 7 0 --legacy 1500` (about 1,200 files,
//! 29 MiB of dumps), made once into `<target>/bench-corpus/legacy-7-1500/` with the
//! flujo venv of `ci/flujo-venv.sh` (orjson, json5 and pyjson5 are added to
//! it). Without Python the Python part is skipped, and without a generated
//! corpus the 37 dumps of `fixtures/legacy/seed-2` stand in.
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

mod baseline;
mod corpus;
mod goals;
mod measure;

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;

use baseline::plain_copy;
use corpus::Corpus;
use measure::{Run, Series, check_output, fresh_dir, run_measured};

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = target_dir();
    let jobs = env_number("BENCH_JOBS").unwrap_or_else(|| thread::available_parallelism().map_or(2, std::num::NonZero::get));
    let rounds = env_number("BENCH_ROUNDS").unwrap_or(7).max(1);
    let python_rounds = env_number("BENCH_PYTHON_ROUNDS").unwrap_or(3).max(1);

    let python = corpus::flujo_python(&repo, &target);
    let Some(corpus) = corpus::corpus(&repo, &target, python.as_deref()) else {
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
    let place = Place { corpus: &corpus, out: &out, scratch: &scratch, jobs };
    let timed = Timed::measure(&place, rounds);
    // Python is the slow contender: fewer rounds, run after the others.
    let python = baseline::python_rounds(python.as_deref(), &repo, &corpus, &out, &scratch, python_rounds);
    let _ = fs::remove_dir_all(&out);

    let failures = goals::report(&timed, &python, &corpus, jobs);
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

/// Where the timed runs read and write, and with how many jobs.
struct Place<'a> {
    corpus: &'a Corpus,
    out: &'a Path,
    scratch: &'a Path,
    jobs: usize,
}

/// The contenders timed in every round, with migrate's peak memory.
struct Timed {
    copy_n: Series,
    copy_1: Series,
    copy_unsynced: Series,
    /// The bytes migrate writes are the converted ones (larger: \u escapes,
    /// spaces after separators): copying those is migrate's I/O floor.
    copy_converted: Series,
    migrate_cpu: Series,
    migrate: Series,
    migrate_unverified: Series,
    migrate_dry: Series,
    peak_rss_kib: Option<u64>,
}

impl Timed {
    /// Runs `rounds` rounds. Rounds interleave the contenders so that drift
    /// in the disk's speed (writeback, other load) falls on all of them
    /// alike.
    fn measure(place: &Place, rounds: usize) -> Timed {
        let jobs = place.jobs;
        let mut timed = Timed {
            copy_n: Series::new(format!("plain copy, {jobs} jobs")),
            copy_1: Series::new("plain copy, 1 job".to_owned()),
            copy_unsynced: Series::new("plain copy, no fsync, 1 job".to_owned()),
            copy_converted: Series::new(format!("copy of legacy-expected, {jobs} jobs")),
            migrate_cpu: Series::new("  its CPU time, user+sys".to_owned()),
            migrate: Series::new(format!("migrate, {jobs} jobs")),
            migrate_unverified: Series::new(format!("migrate --no-verify, {jobs} jobs")),
            migrate_dry: Series::new(format!("migrate --dry-run, {jobs} jobs")),
            peak_rss_kib: None,
        };
        // The first writes into a new scratch directory run slower (block and
        // inode allocation, journal); one untimed copy takes that for everyone.
        fresh_dir(place.out);
        plain_copy(&place.corpus.files, place.out, jobs, true).unwrap_or_else(|e| panic!("plain copy: {e}"));
        let corpus = place.corpus;
        for round in 1..=rounds {
            eprintln!("round {round}/{rounds}");
            // The goal's pair runs back to back, in turns first, so that the
            // disk's drift (fsync latency swings with the host's load) falls on
            // both alike; their per-round ratio is what the goal judges.
            if round % 2 == 1 {
                run_copy(&mut timed.copy_n, place, &corpus.files, jobs, true, &corpus.legacy);
                timed.run_migrate(place, |t| &mut t.migrate, None);
            } else {
                timed.run_migrate(place, |t| &mut t.migrate, None);
                run_copy(&mut timed.copy_n, place, &corpus.files, jobs, true, &corpus.legacy);
            }
            run_copy(&mut timed.copy_1, place, &corpus.files, 1, true, &corpus.legacy);
            run_copy(&mut timed.copy_unsynced, place, &corpus.files, 1, false, &corpus.legacy);
            run_copy(&mut timed.copy_converted, place, &corpus.expected_files, jobs, true, &corpus.expected);
            timed.run_migrate(place, |t| &mut t.migrate_unverified, Some("--no-verify"));
            timed.run_migrate(place, |t| &mut t.migrate_dry, Some("--dry-run"));
        }
        timed
    }

    /// One `stateharness migrate` into a fresh `out`, with `extra` added to
    /// its arguments, recorded in the series `pick` selects.
    fn run_migrate(&mut self, place: &Place, pick: fn(&mut Timed) -> &mut Series, extra: Option<&str>) {
        fresh_dir(place.out);
        let to = format!("file://{}", place.out.display());
        let jobs = place.jobs.to_string();
        let mut args: Vec<String> = ["migrate", "--from", path_str(&place.corpus.legacy), "--to", &to, "--jobs", &jobs].map(str::to_owned).into();
        args.extend(extra.map(str::to_owned));
        match run_measured(env!("CARGO_BIN_EXE_stateharness"), &args, place.scratch) {
            Ok(Run { failure: Some(e), .. }) | Err(e) => pick(self).fail(e),
            Ok(run) => {
                // A dry run writes nothing; there is no output to check.
                let check = if extra == Some("--dry-run") { None } else { check_output(place.out, &place.corpus.expected) };
                pick(self).record(run.seconds, check);
                self.peak_rss_kib = run.peak_rss_kib.max(self.peak_rss_kib);
                if let (None, Some(cpu)) = (extra, run.cpu_seconds) {
                    self.migrate_cpu.record(cpu, None);
                }
            }
        }
    }
}

/// One plain copy of `files` into a fresh `out`, recorded in `series`.
fn run_copy(series: &mut Series, place: &Place, files: &[PathBuf], threads: usize, durable: bool, expected: &Path) {
    fresh_dir(place.out);
    let seconds = plain_copy(files, place.out, threads, durable).unwrap_or_else(|e| panic!("plain copy: {e}"));
    // A copy must leave the files as they were.
    series.record(seconds, check_output(place.out, expected));
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
