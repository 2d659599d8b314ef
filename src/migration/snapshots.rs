//! `migrate --snapshot DIR`: the conversion of a sample of inputs as
//! snapshots (source text, converted text, what changed in the values), so
//! that a change in the migrator is reviewed like any stored-state change
//! ([`crate::snapshot`]: `.snap.new` beside each changed one,
//! `stateharness snapshot review`).
//!
//! The sample is chosen from the inputs in input order, so the same source
//! always gives the same snapshots: the first inputs, and the first whose
//! notes say their values change (NaN, JSON5, repeated keys), each small
//! enough to read (at most [`MAX_SOURCE_BYTES`]).

use crate::snapshot::{Section, Snapshot, SnapshotError};

use super::report::Entry;

/// The leading inputs that keep their texts, to choose the sample from
/// (see [`super::Options::sample`]).
pub const LEADING_INPUTS: usize = 16;
/// Snapshots of plain inputs, and as many again of inputs with notes.
pub const PER_KIND: usize = 4;
/// Inputs with a longer source text are not snapshotted.
pub const MAX_SOURCE_BYTES: usize = 32 * 1024;

/// Picks the sample from the entries, in input order.
#[derive(Debug, Default)]
pub struct SampleSnapshots {
    plain: usize,
    noted: usize,
    snapshots: Vec<Snapshot>,
}

impl SampleSnapshots {
    /// Takes `entry` into the sample if it is wanted.
    pub fn offer(&mut self, entry: &Entry) -> Result<(), SnapshotError> {
        let Some(texts) = entry.sample.as_ref().filter(|t| t.source.len() <= MAX_SOURCE_BYTES) else { return Ok(()) };
        let count = if entry.notes.is_empty() { &mut self.plain } else { &mut self.noted };
        if *count >= PER_KIND {
            return Ok(());
        }
        *count += 1;
        let notes: Vec<&str> = entry.notes.iter().map(|n| n.as_str()).collect();
        let sections = [
            Section::new("notes", if notes.is_empty() { "(none)".to_owned() } else { notes.join(", ") }),
            Section::new("source text", texts.source.trim_end()),
            Section::new("converted text (file://)", texts.converted.as_str()),
            Section::new("what changed in the values", texts.diff.trim_end()),
        ];
        let run_id = entry.run_id.as_deref().unwrap_or("unknown");
        self.snapshots.push(Snapshot::new("stateharness migrate", &snapshot_name(run_id), &sections)?);
        Ok(())
    }

    /// The snapshots taken, in input order.
    pub fn into_snapshots(self) -> Vec<Snapshot> {
        self.snapshots
    }
}

/// `migrate-RUN_ID`, with every character a snapshot name cannot hold
/// replaced by `_` (and the name cut to a safe length).
fn snapshot_name(run_id: &str) -> String {
    let safe: String = run_id.chars().take(120).map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    format!("migrate-{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::report::{Note, Outcome, SampleTexts};

    fn entry(run_id: &str, notes: Vec<Note>, source: &str) -> Entry {
        let sample = SampleTexts { source: source.to_owned(), converted: "{}".to_owned(), diff: "  (no change)\n".to_owned() };
        Entry { notes, sample: Some(sample), ..Entry::new(format!("{run_id}.json"), Some(run_id.to_owned()), Outcome::Migrated) }
    }

    #[test]
    fn takes_the_first_plain_and_noted_inputs_that_are_small() {
        let mut sample = SampleSnapshots::default();
        let big = "x".repeat(MAX_SOURCE_BYTES + 1);
        sample.offer(&entry("big", vec![], &big)).unwrap();
        for i in 0..6 {
            sample.offer(&entry(&format!("p{i}"), vec![], "{}")).unwrap();
            sample.offer(&entry(&format!("n{i} é"), vec![Note::NonFinite], "{}")).unwrap();
        }
        let names: Vec<String> = sample.into_snapshots().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["p0", "n0 é", "p1", "n1 é", "p2", "n2 é", "p3", "n3 é"].map(snapshot_name));
        assert_eq!(snapshot_name("n0 é"), "migrate-n0__");
    }
}
