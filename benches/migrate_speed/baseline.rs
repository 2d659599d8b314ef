//! The two baselines migrate is judged against: a plain durable copy of the
//! same files, and the same job in Python with flujo and pyjson5.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use crate::corpus::Corpus;
use crate::measure::{Series, check_output, fresh_dir, result_field, run_measured};
use crate::path_str;

/// Copies every file into `out` as the file backend saves a state: a new
/// temp file, write, fsync (when `durable`), rename onto the file's name,
/// fsync the directory (when `durable`). `threads` workers take files from
/// one shared list, as migrate's jobs do. Returns the seconds taken.
pub fn plain_copy(files: &[PathBuf], out: &Path, threads: usize, durable: bool) -> io::Result<f64> {
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

/// Python's times: the whole process, and its conversion loop alone.
pub struct PythonTimes {
    pub wall: Series,
    pub conversion: Series,
}

/// Runs `ci/bench/migrate_flujo.py` on the corpus `rounds` times into
/// `out` (or says why not, without `python`).
pub fn python_rounds(python: Option<&Path>, repo: &Path, corpus: &Corpus, out: &Path, scratch: &Path, rounds: usize) -> PythonTimes {
    let mut python_wall = Series::new("python flujo+pyjson5, 1 process".to_owned());
    let mut python_loop = Series::new("  of which the loop (no imports)".to_owned());
    let migrate_py = repo.join("ci/bench/migrate_flujo.py");
    match python {
        None => println!("python: SKIPPED (no flujo venv; see the messages of ci/flujo-venv.sh above)"),
        Some(py) => {
            for round in 1..=rounds {
                eprintln!("python round {round}/{rounds}");
                fresh_dir(out);
                let args = [path_str(&migrate_py), path_str(&corpus.legacy), path_str(out)].map(str::to_owned);
                // Files Python fails on or converts differently are a
                // finding to report, not a failure of the bench; a script
                // that does not finish (no RESULT line) is.
                let run = run_measured(path_str(py), &args, scratch);
                match run.as_ref().map(|run| (run, result_field(&run.stdout, "loop_s"))) {
                    Ok((run, Some(loop_seconds))) => {
                        python_wall.record(run.seconds, None);
                        python_loop.record(loop_seconds, None);
                        println!("python round {round}: {}", run.stdout.lines().last().unwrap_or_default());
                        for line in run.stdout.lines().filter(|line| line.starts_with("failed: ") || line.starts_with("... and ")) {
                            println!("  {line}");
                        }
                        if let Some(check) = check_output(out, &corpus.expected) {
                            python_wall.note = Some(format!("{}/{} files identical to legacy-expected", check.identical, check.expected));
                        }
                    }
                    Ok((run, None)) => python_wall.fail(run.failure.clone().unwrap_or_else(|| "no RESULT line".to_owned())),
                    Err(e) => python_wall.fail(e.clone()),
                }
            }
        }
    }
    PythonTimes { wall: python_wall, conversion: python_loop }
}
