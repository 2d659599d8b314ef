//! The pending changes of a snapshot directory, and accepting or rejecting
//! each (the table in [`super`] says what each does to the files).

use std::path::Path;

use super::SnapshotError;
use super::snap_file::{SNAP_NEW, SnapFile, names_with, new_path, snap_path};
use super::store::{Change, ChangeKind, read_if_present, remove_if_present};

/// Every pending change in `dir` (each `NAME.snap.new`), sorted by name.
pub fn pending(dir: &Path) -> Result<Vec<Change>, SnapshotError> {
    let mut changes = Vec::new();
    for name in names_with(dir, SNAP_NEW)? {
        let new = SnapFile::read(&new_path(dir, &name))?;
        let old = read_if_present(&snap_path(dir, &name))?;
        let kind = match &old {
            _ if new.is_removal() => ChangeKind::Removed,
            Some(_) => ChangeKind::Changed,
            None => ChangeKind::Added,
        };
        let new = if kind == ChangeKind::Removed { String::new() } else { new.body };
        changes.push(Change { name, kind, old: old.map(|file| file.body).unwrap_or_default(), new });
    }
    Ok(changes)
}

/// Makes the change the recorded state: the new version replaces the old
/// (or, for a removal, both files go).
pub fn accept(dir: &Path, change: &Change) -> Result<(), SnapshotError> {
    let (recorded, new) = (snap_path(dir, &change.name), new_path(dir, &change.name));
    if change.kind == ChangeKind::Removed {
        remove_if_present(&recorded)?;
        return remove_if_present(&new);
    }
    std::fs::rename(&new, &recorded).map_err(|e| SnapshotError::io(&new, e))
}

/// Drops the change: the recorded snapshot stays as it was.
pub fn reject(dir: &Path, change: &Change) -> Result<(), SnapshotError> {
    remove_if_present(&new_path(dir, &change.name))
}
