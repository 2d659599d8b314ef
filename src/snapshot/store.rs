//! Recording snapshots in a directory, and checking new versions against
//! them: a change leaves `NAME.snap.new` beside `NAME.snap` for review.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::snap_file::{Metadata, REMOVED, SNAP, SNAP_NEW, SnapFile, names_with, new_path, snap_path};
use super::{Snapshot, SnapshotError};

/// How a snapshot changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The body differs from the recorded one.
    Changed,
    /// Nothing was recorded under the name.
    Added,
    /// A recorded snapshot whose state is no longer recorded.
    Removed,
}

impl ChangeKind {
    /// `changed`, `added` or `removed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::Changed => "changed",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
        }
    }
}

/// A pending change of one snapshot: the recorded body and the new one
/// (empty when there is none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The snapshot's name (the run id).
    pub name: String,
    /// How it changed.
    pub kind: ChangeKind,
    /// The recorded body; empty for an added snapshot.
    pub old: String,
    /// The new body; empty for a removed snapshot.
    pub new: String,
}

/// Writes `DIR/NAME.snap` (creating `DIR`), replacing what was recorded,
/// and drops a pending `NAME.snap.new`. Returns the file written.
pub fn record_snapshot(dir: &Path, snapshot: &Snapshot) -> Result<PathBuf, SnapshotError> {
    std::fs::create_dir_all(dir).map_err(|e| SnapshotError::io(dir, e))?;
    let path = snap_path(dir, &snapshot.name);
    snapshot.file.write(&path)?;
    remove_if_present(&new_path(dir, &snapshot.name))?;
    Ok(path)
}

/// Records exactly `snapshots` in `dir`: every one is written, and every
/// other `.snap` and every `.snap.new` in `dir` is deleted (the recording
/// is the new baseline). Other files are left alone.
pub fn record_set(dir: &Path, snapshots: &[Snapshot]) -> Result<(), SnapshotError> {
    for snapshot in snapshots {
        record_snapshot(dir, snapshot)?;
    }
    let recorded: BTreeSet<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
    for name in names_with(dir, SNAP)? {
        if !recorded.contains(name.as_str()) {
            remove_if_present(&snap_path(dir, &name))?;
        }
    }
    for name in names_with(dir, SNAP_NEW)? {
        remove_if_present(&new_path(dir, &name))?;
    }
    Ok(())
}

/// Compares `snapshot` with `DIR/NAME.snap`: `None` when the bodies are
/// the same (a stale `NAME.snap.new` is deleted); otherwise the change,
/// with the new version written to `NAME.snap.new`.
pub fn check_snapshot(dir: &Path, snapshot: &Snapshot) -> Result<Option<Change>, SnapshotError> {
    let recorded = read_if_present(&snap_path(dir, &snapshot.name))?;
    let pending = new_path(dir, &snapshot.name);
    let kind = match &recorded {
        Some(old) if old.body == snapshot.file.body => {
            remove_if_present(&pending)?;
            return Ok(None);
        }
        Some(_) => ChangeKind::Changed,
        None => ChangeKind::Added,
    };
    snapshot.file.write(&pending)?;
    let old = recorded.map(|file| file.body).unwrap_or_default();
    Ok(Some(Change { name: snapshot.name.clone(), kind, old, new: snapshot.file.body.clone() }))
}

/// Checks every one of `snapshots` against `dir` ([`check_snapshot`]),
/// and marks each recorded snapshot that is not among them as removed
/// (`NAME.snap.new` with `info: "removed"`). Pending versions of names
/// that are neither recorded nor checked are stale and deleted. Returns
/// the changes, sorted by name.
pub fn check_set(dir: &Path, snapshots: &[Snapshot]) -> Result<Vec<Change>, SnapshotError> {
    let recorded = names_with(dir, SNAP)?;
    let mut changes = Vec::new();
    for snapshot in snapshots {
        changes.extend(check_snapshot(dir, snapshot)?);
    }
    let checked: BTreeSet<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
    for name in recorded.iter().filter(|name| !checked.contains(name.as_str())) {
        let old = SnapFile::read(&snap_path(dir, name))?;
        let marker = Metadata { info: Some(REMOVED.to_owned()), ..old.metadata };
        SnapFile::new(marker, "").write(&new_path(dir, name))?;
        changes.push(Change { name: name.clone(), kind: ChangeKind::Removed, old: old.body, new: String::new() });
    }
    for name in names_with(dir, SNAP_NEW)? {
        if !checked.contains(name.as_str()) && !recorded.contains(&name) {
            remove_if_present(&new_path(dir, &name))?;
        }
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(changes)
}

/// The snapshot file at `path`, or `None` when there is none.
pub(super) fn read_if_present(path: &Path) -> Result<Option<SnapFile>, SnapshotError> {
    match SnapFile::read(path) {
        Err(SnapshotError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        other => other.map(Some),
    }
}

/// Deletes `path`; a file that is not there is fine.
pub(super) fn remove_if_present(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SnapshotError::io(path, e)),
        _ => Ok(()),
    }
}
