//! insta's `.snap` file format, so that cargo-insta's tooling reads what
//! stateharness writes and the other way round:
//!
//! ```text
//! ---
//! source: stateharness snapshot
//! expression: snap-int-big
//! ---
//! body, to the end of the file
//! ```
//!
//! The header is YAML between two `---` lines; stateharness writes
//! `source`, `expression` and, for a removed snapshot, `info`, each value
//! a JSON string (valid YAML), and reads any header insta writes (keys it
//! does not know, nested YAML and plain scalars are skipped or taken as
//! they are). Trailing whitespace at the end of the body is not part of
//! it, as in insta.

use std::path::{Path, PathBuf};

use super::SnapshotError;

/// The extension of a recorded snapshot.
pub const SNAP: &str = "snap";
/// The extension of a pending new version, beside the recorded one.
pub const SNAP_NEW: &str = "snap.new";

/// The header of a snapshot file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// What made the snapshot (`stateharness snapshot`).
    pub source: String,
    /// What was snapshotted (the snapshot's name).
    pub expression: String,
    /// Extra information; stateharness writes `REMOVED` here for a
    /// pending removal.
    pub info: Option<String>,
}

/// The `info` of a `.snap.new` that stands for a removal: the snapshot's
/// state is no longer recorded, and accepting deletes the `.snap`.
pub const REMOVED: &str = "removed";

/// A snapshot file: header and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapFile {
    /// The header.
    pub metadata: Metadata,
    /// What was seen, without trailing whitespace.
    pub body: String,
}

impl SnapFile {
    /// A snapshot file; the body's trailing whitespace is dropped.
    pub(crate) fn new(metadata: Metadata, body: &str) -> SnapFile {
        SnapFile { metadata, body: body.trim_end().to_owned() }
    }

    /// Whether this pending version stands for a removal.
    pub(crate) fn is_removal(&self) -> bool {
        self.metadata.info.as_deref() == Some(REMOVED)
    }

    /// The file's text, as insta writes it.
    pub fn render(&self) -> String {
        let quote = |text: &str| serde_json::Value::from(text).to_string();
        let mut out = String::from("---\n");
        out.push_str(&format!("source: {}\n", quote(&self.metadata.source)));
        out.push_str(&format!("expression: {}\n", quote(&self.metadata.expression)));
        if let Some(info) = &self.metadata.info {
            out.push_str(&format!("info: {}\n", quote(info)));
        }
        out.push_str("---\n");
        out.push_str(&self.body);
        out.push('\n');
        out
    }

    /// Reads a snapshot file's text; `Err` says what is wrong and on which line.
    pub fn parse(text: &str) -> Result<SnapFile, String> {
        let mut lines = text.split('\n').enumerate();
        match lines.next() {
            Some((_, first)) if first.trim_end() == "---" => {}
            _ => return Err("line 1: expected `---`, the start of the header".to_owned()),
        }
        let mut metadata = Metadata::default();
        loop {
            let Some((index, line)) = lines.next() else {
                return Err("the header has no closing `---`".to_owned());
            };
            let line = line.trim_end();
            if line == "---" {
                break;
            }
            // Nested YAML (an insta `info` mapping) and comments are skipped.
            if line.is_empty() || line.starts_with([' ', '\t', '#', '-']) {
                continue;
            }
            let (key, value) = line.split_once(':').ok_or_else(|| format!("line {}: expected `key: value` in the header", index + 1))?;
            let value = scalar(value.trim()).map_err(|e| format!("line {}: {key}: {e}", index + 1))?;
            match key {
                "source" => metadata.source = value,
                "expression" => metadata.expression = value,
                "info" if !value.is_empty() => metadata.info = Some(value),
                _ => {}
            }
        }
        let body: Vec<&str> = lines.map(|(_, line)| line.strip_suffix('\r').unwrap_or(line)).collect();
        Ok(SnapFile::new(metadata, &body.join("\n")))
    }

    /// Reads the snapshot file at `path`.
    pub(crate) fn read(path: &Path) -> Result<SnapFile, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|e| SnapshotError::io(path, e))?;
        SnapFile::parse(&text).map_err(|reason| SnapshotError::Corrupt { path: path.to_owned(), reason })
    }

    /// Writes the snapshot file at `path`.
    pub(crate) fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        std::fs::write(path, self.render()).map_err(|e| SnapshotError::io(path, e))
    }
}

/// A YAML scalar as stateharness and insta write them: a double-quoted
/// (JSON) string, a single-quoted string, or a plain one.
fn scalar(value: &str) -> Result<String, String> {
    if value.starts_with('"') {
        serde_json::from_str::<String>(value).map_err(|e| format!("bad quoted string: {e}"))
    } else if let Some(inner) = value.strip_prefix('\'') {
        inner.strip_suffix('\'').map(|s| s.replace("''", "'")).ok_or_else(|| "unterminated quoted string".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

/// `DIR/NAME.snap`.
pub fn snap_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.{SNAP}"))
}

/// `DIR/NAME.snap.new`.
pub fn new_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.{SNAP_NEW}"))
}

/// The snapshot names in `dir` with files ending in `.extension`, sorted.
pub fn names_with(dir: &Path, extension: &str) -> Result<Vec<String>, SnapshotError> {
    let suffix = format!(".{extension}");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| SnapshotError::io(dir, e))? {
        let entry = entry.map_err(|e| SnapshotError::io(dir, e))?;
        let Ok(file_name) = entry.file_name().into_string() else { continue };
        if let Some(name) = file_name.strip_suffix(&suffix) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_what_insta_writes() {
        let file = SnapFile::new(Metadata { source: "a: b".into(), expression: "x".into(), info: Some(REMOVED.into()) }, "one\n---\ntwo\n\n");
        assert_eq!(SnapFile::parse(&file.render()), Ok(file));
        let insta = "---\nsource: tests/t.rs\nassertion_line: 3\ndescription: \"d\"\nexpression: text\ninfo:\n  k: v\n---\nbody\n";
        let read = SnapFile::parse(insta).unwrap();
        assert_eq!((read.metadata.source.as_str(), read.metadata.expression.as_str(), read.body.as_str()), ("tests/t.rs", "text", "body"));
        assert_eq!(read.metadata.info, None);
    }

    #[test]
    fn corrupt_files_say_where() {
        assert_eq!(SnapFile::parse("body"), Err("line 1: expected `---`, the start of the header".to_owned()));
        assert_eq!(SnapFile::parse("---\nsource: x\n"), Err("the header has no closing `---`".to_owned()));
        assert_eq!(SnapFile::parse("---\nsource \"x\n---\n"), Err("line 2: expected `key: value` in the header".to_owned()));
        assert!(SnapFile::parse("---\nexpression: \"x\n---\n").unwrap_err().starts_with("line 2: expression: bad quoted string"));
    }
}
