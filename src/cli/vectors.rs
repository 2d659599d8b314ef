//! `stateharness vectors verify FILE`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::format::{FlujoVersion, PythonVersion, TypeRegistry};
use crate::vectors::{CaseOutcome, excerpt, first_difference, verify_file_for};

use super::{Done, Fatal, RunResult};

#[derive(Debug, Subcommand)]
pub enum VectorsCommand {
    /// Compare the engine with a vectors file (one JSON case a line, as
    /// `gen_oracle.py` (flujo 0.4) or `gen_oracle06.py` (flujo 0.6) writes
    /// them): serialize, file text, plain text and load results for 0.4;
    /// both serializer paths and what InMemory, File and SQLite stored and
    /// loaded for 0.6.
    ///
    /// Prints the flujo and Python the cases are checked as, each mismatch
    /// (case, field, expected vs got, cut to a readable length), each skipped
    /// case (what it holds that is not modelled) and ends with `N passed, M
    /// failed, K skipped` and the skipped cases by kind. Exits 0 only when
    /// nothing failed.
    Verify {
        /// The vectors file, e.g. fixtures/vectors/py3.12-seed-4.jsonl.
        file: PathBuf,
        /// The flujo that made the file (0.4, 0.6); default: the one the file
        /// names in its metadata line or shows by its fields (a different one
        /// is an error).
        #[arg(long, value_name = "X.Y")]
        flujo: Option<FlujoVersion>,
        /// The Python that made the file (3.11, 3.12, 3.13); default: the
        /// one its metadata line names (a different one is an error), else
        /// the oldest the file's flujo supports (0.4: 3.11, 0.6: 3.13).
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
        let VectorsCommand::Verify { file, show, python_version, flujo } = self;
        let registry = TypeRegistry::standard();
        let mut shown = 0;
        let verified = verify_file_for(&file, &registry, flujo, python_version, |case| match &case.outcome {
            CaseOutcome::Passed => {}
            CaseOutcome::Skipped(kind) => outln!("SKIP {} (line {}): not modelled: {kind}", case.name, case.line),
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
        let (flujo, python, summary) = verified.map_err(Fatal)?;
        outln!("checked as flujo {}", flujo.release());
        outln!("checked as Python {python}");
        if shown > show {
            outln!("({} more failing cases not shown; use --show)", shown - show);
        }
        outln!("{summary}");
        Ok(Done::passed_if(summary.failed == 0))
    }
}
