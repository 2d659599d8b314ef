//! Snapshot regression review: see exactly what a backend, format or
//! serializer change does to stored state, and accept or reject it.
//!
//! A snapshot is a named text in insta's `.snap` format (`snap_file`),
//! one per state: what the backend stored where the harness can see it and
//! what `load` returned, as canonical typed JSON (`capture`). Recording
//! writes `DIR/NAME.snap`; checking records again and, for each snapshot
//! that differs, writes `DIR/NAME.snap.new` beside it (`store`), as insta
//! does, so that `cargo insta review` and `review` both see it:
//!
//! | change | files | accept | reject |
//! | --- | --- | --- | --- |
//! | changed | `NAME.snap`, `NAME.snap.new` | the new one replaces the old | the new one is deleted |
//! | added (no recording yet) | `NAME.snap.new` | it becomes `NAME.snap` | it is deleted |
//! | removed (no longer recorded) | `NAME.snap`, `NAME.snap.new` with `info: "removed"` and an empty body | both are deleted | the marker is deleted |
//!
//! (`cargo insta review` knows no removals: it would accept the marker as
//! an empty snapshot.)
//!
//! Other callers record their own named snapshots through the same API:
//!
//! ```no_run
//! use stateharness::snapshot::{Section, Snapshot, check_snapshot, record_snapshot};
//!
//! # fn example(source_text: &str, converted: &str) -> Result<(), stateharness::snapshot::SnapshotError> {
//! let dir = std::path::Path::new("snapshots");
//! let sections = [Section::new("source text", source_text), Section::new("converted text", converted)];
//! let snapshot = Snapshot::new("stateharness migrate", "run-000001", &sections)?;
//! record_snapshot(dir, &snapshot)?;
//! // Later: `Some(change)` when the text differs, with NAME.snap.new written.
//! let change = check_snapshot(dir, &snapshot)?;
//! # Ok(())
//! # }
//! ```

pub(crate) mod capture;
pub(crate) mod diff;
pub(crate) mod review;
pub(crate) mod snap_file;
pub(crate) mod states;
pub(crate) mod store;

use std::path::{Path, PathBuf};

pub use capture::{capture, run_id_under};
pub use diff::unified_diff;
pub use review::{accept, pending, reject};
pub use snap_file::{Metadata, SnapFile};
pub use states::{StateInput, builtin_states, states_from_dir};
pub use store::{Change, ChangeKind, check_set, check_snapshot, record_set, record_snapshot};

/// What went wrong with a snapshot directory, file or input; each names
/// the file or run id at fault.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A snapshot file is not in insta's format.
    #[error("{}: not a snapshot file: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, and on which line.
        reason: String,
    },
    /// A state given to record cannot be used (bad typed JSON, a bad name).
    #[error("{origin}: {reason}")]
    Input {
        /// The file or run id.
        origin: String,
        /// What is wrong, with the position when there is one.
        reason: String,
    },
}

impl SnapshotError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> SnapshotError {
        SnapshotError::Io { path: path.to_owned(), source }
    }
}

/// One titled part of a snapshot's body (`stored`, `loaded`, `source text`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// What the text is.
    pub title: String,
    /// The text, as it is (control characters are shown escaped).
    pub text: String,
}

impl Section {
    /// A section titled `title`.
    pub fn new(title: impl Into<String>, text: impl Into<String>) -> Section {
        Section { title: title.into(), text: text.into() }
    }
}

/// A named snapshot, ready to record or check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The file name without `.snap`: a run id or another stable name.
    pub name: String,
    /// The header and the body.
    pub file: SnapFile,
}

impl Snapshot {
    /// A snapshot named `name`, made by `source` (a command, for the
    /// header), whose body is the sections in order: each a `== title ==`
    /// line, then its text, then an empty line. Control characters other
    /// than newline and tab are escaped (`\r`, `\u{1b}`), so that the body
    /// reads the same in any terminal and in insta.
    ///
    /// The name must be a file name that is the same on every system:
    /// ASCII letters, digits, `-`, `_` and `.`, not starting with `.`.
    pub fn new(source: &str, name: &str, sections: &[Section]) -> Result<Snapshot, SnapshotError> {
        check_name(name)?;
        let mut body = String::new();
        for section in sections {
            body.push_str(&format!("== {} ==\n", printable(&section.title)));
            body.push_str(&printable(&section.text));
            body.push_str("\n\n");
        }
        let metadata = Metadata { source: source.to_owned(), expression: name.to_owned(), info: None };
        Ok(Snapshot { name: name.to_owned(), file: SnapFile::new(metadata, &body) })
    }
}

/// The longest snapshot name: with `.snap.new` it stays well within the
/// 255 bytes a file name may have.
const MAX_NAME: usize = 200;

/// Refuses names that would not be the same file everywhere.
fn check_name(name: &str) -> Result<(), SnapshotError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(SnapshotError::Input {
            origin: format!("snapshot name {name:?}"),
            reason: format!("a snapshot name is 1 to {MAX_NAME} ASCII letters, digits, '-', '_' or '.', not starting with '.'"),
        })
    }
}

/// `text` with control characters other than newline and tab escaped.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_sections_and_names_are_portable() {
        let snapshot = Snapshot::new("test", "run-1.a_b", &[Section::new("stored", "x\r\ny"), Section::new("loaded", "{}")]).unwrap();
        assert_eq!(snapshot.file.body, "== stored ==\nx\\r\ny\n\n== loaded ==\n{}");
        for bad in ["", ".hidden", "a/b", "é", &"x".repeat(201)] {
            assert!(Snapshot::new("test", bad, &[]).is_err(), "{bad}");
        }
    }
}
