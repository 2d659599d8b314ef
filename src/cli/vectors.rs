//! `stateharness vectors verify FILE`.

use std::path::PathBuf;

use clap::Subcommand;

use stateharness::format::{PythonVersion, TypeRegistry};
use stateharness::vectors::{CaseOutcome, excerpt, first_difference, verify_file_as};

use super::{Done, Fatal, RunResult};

#[derive(Debug, Subcommand)]
pub enum VectorsCommand {
    /// Compare serialize, file text, plain text and load results with a
    /// vectors file (one JSON case a line, as `gen_oracle.py` writes them).
    ///
    /// Prints the Python the cases are checked as, each mismatch (case,
    /// field, expected vs got, cut to a readable length) and ends with
    /// `N passed, M failed, K skipped`. Exits 0 only when nothing failed.
    Verify {
        /// The vectors file, e.g. fixtures/vectors/py3.12-seed-4.jsonl.
        file: PathBuf,
        /// The Python that made the file (3.11, 3.12, 3.13); default: the
        /// one its metadata line names (a different one is an error), else 3.11.
        #[arg(long, value_name = "X.Y")]
        python_version: Option<PythonVersion>,
        /// Show at most this many failing cases in full (all are counted).
        #[arg(long, default_value_t = 50)]
        show: usize,
    },
}

const EXCERPT_WIDTH: usize = 160;

impl VectorsCommand {
    pub fn run(self) -> RunResult {
        let VectorsCommand::Verify { file, show, python_version } = self;
        let registry = TypeRegistry::standard();
        let mut shown = 0;
        let verified = verify_file_as(&file, &registry, python_version, |case| match &case.outcome {
            CaseOutcome::Passed => {}
            CaseOutcome::Skipped(reason) => outln!("SKIP {} (line {}): {reason}", case.name, case.line),
            CaseOutcome::Failed(mismatches) => {
                shown += 1;
                if shown > show {
                    return;
                }
                for m in mismatches {
                    let at = first_difference(&m.expected, &m.got);
                    outln!("FAIL {} (line {}) {}", case.name, case.line, m.field);
                    outln!("  expected: {}", excerpt(&m.expected, at, EXCERPT_WIDTH));
                    outln!("  got:      {}", excerpt(&m.got, at, EXCERPT_WIDTH));
                }
            }
        });
        let (python, summary) = verified.map_err(Fatal)?;
        outln!("checked as Python {python}");
        if shown > show {
            outln!("({} more failing cases not shown; use --show)", shown - show);
        }
        outln!("{summary}");
        Ok(Done::passed_if(summary.failed == 0))
    }
}
