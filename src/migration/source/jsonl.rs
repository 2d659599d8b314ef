//! A JSON Lines file: one state a line, its run id in its `run_id` key.
//! Blank lines are not inputs. A line is read as bytes, so a line that is
//! not UTF-8 fails alone instead of stopping the file.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{Emit, Payload, SourceError};

/// The opened file.
pub struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
}

/// Opens the file.
pub fn open(path: &Path) -> Result<Lines, SourceError> {
    let file = File::open(path).map_err(|error| SourceError::Unreadable { path: path.to_owned(), error })?;
    Ok(Lines { path: path.to_owned(), reader: BufReader::new(file) })
}

impl Lines {
    pub(super) fn produce(mut self, emit: &mut Emit<'_>) {
        let mut number = 0;
        loop {
            number += 1;
            let mut line = Vec::new();
            let source = format!("{}:{number}", self.path.display());
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(_) => {
                    if !emit(source, None, Payload::Text(line)) {
                        return;
                    }
                }
                Err(e) => {
                    emit(source, None, Payload::Broken(format!("reading stopped here: {e}")));
                    return;
                }
            }
        }
    }
}
