//! Fidelity verdicts: for every part of a value that comes back from a
//! backend, *exact* (same type and value), *lossy as documented* (what
//! flujo's own round trip gives, docs/format.md "Deserialize") or *corrupted*
//! (anything else). Dict key order never matters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::format::{FlujoVersion, SerializePath, SetOrder, TypeRegistry, deserialize, py_str, serialize, serialize_on, to_orjson};
use crate::json::{KeyOrder, read_strict, to_python_json};
use crate::path::{JsonPath, Segment};
use crate::text::cut;
use crate::typed::to_typed_text;
use crate::value::{Dict, KeyLookup, Value};

/// The verdict on one part of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Same type and value as sent.
    Exact,
    /// What flujo's own round trip gives (a datetime back as its string...).
    Lossy,
    /// Anything else: precision lost, characters dropped, a type changed...
    Corrupted,
}

impl Verdict {
    /// Lower-case name for reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Exact => "exact",
            Verdict::Lossy => "lossy",
            Verdict::Corrupted => "corrupted",
        }
    }
}

/// Which verdicts pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Profile {
    /// Exact and lossy-as-documented pass; corrupted fails.
    #[default]
    Flujo,
    /// Only exact passes.
    Exact,
}

impl Profile {
    /// Whether `verdict` passes under this profile.
    pub fn accepts(&self, verdict: Verdict) -> bool {
        match self {
            Profile::Flujo => verdict != Verdict::Corrupted,
            Profile::Exact => verdict == Verdict::Exact,
        }
    }
}

/// Counts of verdicts per value kind (`int`, `datetime`, `custom:Money`...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matrix {
    /// kind -> [exact, lossy, corrupted]
    pub counts: BTreeMap<String, [u64; 3]>,
}

impl Matrix {
    /// Counts one part of kind `kind`.
    pub(crate) fn add(&mut self, kind: String, verdict: Verdict) {
        self.counts.entry(kind).or_default()[verdict as usize] += 1;
    }

    /// Adds another matrix's counts.
    pub(crate) fn merge(&mut self, other: &Matrix) {
        for (kind, counts) in &other.counts {
            let mine = self.counts.entry(kind.clone()).or_default();
            for (m, o) in mine.iter_mut().zip(counts) {
                *m += o;
            }
        }
    }

    /// Total parts with `verdict`.
    pub fn total(&self, verdict: Verdict) -> u64 {
        self.counts.values().map(|c| c[verdict as usize]).sum()
    }
}

/// One part of a value that the profile does not accept.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Where in the state.
    pub path: JsonPath,
    /// The verdict.
    pub verdict: Verdict,
    /// What was sent (typed JSON).
    pub sent: String,
    /// What flujo's own round trip gives (typed JSON), when it serializes.
    pub expected: Option<String>,
    /// What came back (typed JSON), or `(missing)`.
    pub got: String,
    /// The difference, whatever the path and value: `datetime came back
    /// as str (corrupted)`; findings with the same cause share a root cause.
    pub cause: String,
}

/// What a check's failures come from, to group failures by root cause:
/// the differences its rejected findings show, and how many of its
/// failures had another cause.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Causes {
    /// `Finding::cause` of each rejected finding.
    pub differences: BTreeSet<String>,
    /// Failures that are not a fidelity finding (a lost state, an error...).
    pub others: usize,
}

impl Causes {
    /// Causes of `failures` failures, `from_findings` of them from findings with `differences`.
    pub(crate) fn of(differences: BTreeSet<String>, failures: usize, from_findings: usize) -> Causes {
        Causes { differences, others: failures.saturating_sub(from_findings) }
    }

    /// Whether every failure comes from one of the `known` differences.
    pub(crate) fn only_among(&self, known: &BTreeSet<String>) -> bool {
        self.others == 0 && !self.differences.is_empty() && self.differences.is_subset(known)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.to_string().is_empty() { "(the whole state)".to_owned() } else { self.path.to_string() };
        write!(f, "{} at {path}: sent {}", self.verdict.as_str(), cut(&self.sent))?;
        if let Some(expected) = &self.expected {
            write!(f, ", flujo gives {}", cut(expected))?;
        }
        write!(f, ", got {}", cut(&self.got))
    }
}

/// The judgement of one loaded value against what was sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Judgement {
    /// Verdict counts per kind.
    pub matrix: Matrix,
    /// Every part that was not exact, worst first (capped).
    pub findings: Vec<Finding>,
    /// Top-level keys the backend added (a warning, or a failure when strict).
    pub extra_keys: Vec<String>,
}

/// How many findings a judgement keeps.
const MAX_FINDINGS: usize = 20;

impl Judgement {
    /// The findings the profile rejects.
    pub fn rejected(&self, profile: Profile) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| !profile.accepts(f.verdict))
    }

    /// Whether the value passes under `profile` (extra keys fail when `strict`).
    pub fn passes(&self, profile: Profile, strict: bool) -> bool {
        self.rejected(profile).next().is_none() && (!strict || self.extra_keys.is_empty())
    }
}

/// What flujo's own round trip makes of `sent`: `safe_deserialize(
/// json.loads(json.dumps(safe_serialize(sent))))`, or `None` when flujo
/// refuses to serialize it. For flujo 0.6, FileBackend's round trip.
pub fn flujo_round_trip(sent: &Value, registry: &TypeRegistry) -> Option<Value> {
    round_trip_on(sent, registry, Trip::File)
}

/// One of flujo 0.6's own backends' round trips.
#[derive(Clone, Copy)]
enum Trip {
    /// FileBackend: the file path, `json.dumps`, complex revived on load.
    File,
    /// SQLiteBackend: the strict path, orjson text (NaN becomes null),
    /// complex revived on load.
    Sqlite,
    /// InMemoryBackend: the strict path, the dict kept, nothing revived.
    Memory,
}

/// Every round trip the target flujo's own backends give `sent`, each
/// once: for 0.4 one; for 0.6 FileBackend's, SQLiteBackend's (each
/// top-level field serialized on its own, so the depth cut-off is one level
/// lower) and InMemoryBackend's. A backend built on flujo's serializer
/// matches one of them.
pub fn flujo_round_trips(sent: &Value, registry: &TypeRegistry) -> Vec<Value> {
    let mut trips = Vec::new();
    let mut keep = |trip: Option<Value>| {
        if let Some(trip) = trip.filter(|t| !trips.contains(t)) {
            trips.push(trip);
        }
    };
    keep(flujo_round_trip(sent, registry));
    if registry.flujo() == FlujoVersion::V0_6 {
        keep(match sent {
            Value::Dict(state) => {
                state.iter().map(|(k, v)| Some((k.clone(), round_trip_on(v, registry, Trip::Sqlite)?))).collect::<Option<Dict>>().map(Value::Dict)
            }
            _ => round_trip_on(sent, registry, Trip::Sqlite),
        });
        keep(round_trip_on(sent, registry, Trip::Memory));
    }
    trips
}

fn round_trip_on(sent: &Value, registry: &TypeRegistry, trip: Trip) -> Option<Value> {
    let path = if matches!(trip, Trip::File) { SerializePath::File } else { SerializePath::Strict };
    let safe = serialize_on(sent.clone(), registry, path).ok()?;
    let text = match trip {
        Trip::Sqlite => to_orjson(&safe).ok()?,
        Trip::File | Trip::Memory => to_python_json(&safe, KeyOrder::Insertion).ok()?,
    };
    let (json, _) = read_strict(&text).ok()?;
    Some(if matches!(trip, Trip::Memory) { json } else { deserialize(json, None, registry) })
}

/// Judges the state that came back (`got`) against the one `sent`, and
/// against the closest of flujo's own round trips of it (the fewest
/// corrupted parts, then the fewest lossy ones).
pub fn judge(sent: &Value, got: &Value, registry: &TypeRegistry) -> Judgement {
    let trips = flujo_round_trips(sent, registry);
    let mut expectations: Vec<Option<&Value>> = trips.iter().map(Some).collect();
    if expectations.is_empty() {
        expectations.push(None);
    }
    expectations
        .into_iter()
        .map(|expected| judge_against(sent, expected, got, registry))
        .min_by_key(|j| (j.matrix.total(Verdict::Corrupted), j.matrix.total(Verdict::Lossy)))
        .unwrap_or_default()
}

/// Judges `got` against `sent` and one expected round trip.
fn judge_against(sent: &Value, expected: Option<&Value>, got: &Value, registry: &TypeRegistry) -> Judgement {
    let mut judge = Judge { registry, judgement: Judgement::default(), path: Vec::new() };
    if let (Value::Dict(sent_dict), Value::Dict(got_dict)) = (sent, got) {
        judge.judgement.extra_keys =
            got_dict.iter().filter(|(k, _)| !sent_dict.iter().any(|(s, _)| s == *k)).map(|(k, _)| py_str(k, registry.python())).collect();
    }
    judge.node(sent, expected, Some(got));
    judge.judgement.findings.sort_by_key(|f| std::cmp::Reverse(f.verdict));
    judge.judgement
}

struct Judge<'r> {
    registry: &'r TypeRegistry,
    judgement: Judgement,
    path: Vec<Segment>,
}

/// The same container shape: what decides a container's own verdict.
fn same_shape(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        && match (a, b) {
            (Value::Dict(x), Value::Dict(y)) => x.has_only_str_keys() == y.has_only_str_keys(),
            (Value::Dataclass(x), Value::Dataclass(y)) | (Value::Model(x), Value::Model(y)) | (Value::Custom(x), Value::Custom(y)) => {
                x.type_name == y.type_name
            }
            _ => true,
        }
}

/// Whether flujo's round trip `expected` of the container `sent` has
/// another skeleton: a leaf in its place, a dict without some of `sent`'s
/// (stringified) keys, a list of another length.
fn reshaped(sent: &Value, expected: &Value, registry: &TypeRegistry) -> bool {
    match (sent, expected) {
        (_, e) if !is_container(e) => true,
        (Value::Dict(s), Value::Dict(e)) => {
            // Keys that collide once stringified are paired as they are.
            let lookup = KeyLookup::new(e);
            s.iter().enumerate().any(|(position, (key, _))| lookup.find(&Value::Str(stringified_key(key, registry)), position).is_none())
        }
        (Value::List(s) | Value::Tuple(s), Value::List(e) | Value::Tuple(e)) => s.len() != e.len(),
        _ => false,
    }
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::FrozenSet(_) | Value::Dict(_) | Value::Dataclass(_) | Value::Model(_))
}

impl Judge<'_> {
    fn record(&mut self, sent: &Value, expected: Option<&Value>, got: Option<&Value>, verdict: Verdict) {
        self.judgement.matrix.add(sent.kind(), verdict);
        if verdict != Verdict::Exact && self.judgement.findings.len() < MAX_FINDINGS {
            self.judgement.findings.push(Finding {
                path: JsonPath::from_segments(self.path.iter().cloned()),
                verdict,
                sent: to_typed_text(sent),
                expected: expected.map(to_typed_text),
                got: got.map_or_else(|| "(missing)".to_owned(), to_typed_text),
                cause: format!("{} came back as {} ({})", sent.kind(), got.map_or_else(|| "nothing".to_owned(), Value::kind), verdict.as_str()),
            });
        }
    }

    /// Counts every part of `sent` with one verdict (a whole subtree that
    /// came back exact, or went missing).
    fn whole(&mut self, sent: &Value, verdict: Verdict) {
        self.judgement.matrix.add(sent.kind(), verdict);
        for child in children(sent) {
            self.whole(child, verdict);
        }
    }

    fn node(&mut self, sent: &Value, expected: Option<&Value>, got: Option<&Value>) {
        let Some(got) = got else {
            self.record(sent, expected, None, Verdict::Corrupted);
            for child in children(sent) {
                self.whole(child, Verdict::Corrupted);
            }
            return;
        };
        // Lists, dicts and instances are judged part by part below, each
        // part compared once, so that judging is linear in the value's size
        // however deep it is. Sets are matched by equality anyway.
        let by_parts = matches!(sent, Value::List(_) | Value::Tuple(_) | Value::Dict(_) | Value::Dataclass(_) | Value::Model(_));
        if !by_parts && got == sent {
            self.whole(sent, Verdict::Exact);
            return;
        }
        if !is_container(sent) {
            let verdict = if expected == Some(got) { Verdict::Lossy } else { Verdict::Corrupted };
            self.record(sent, expected, Some(got), verdict);
            return;
        }
        // Where flujo 0.6's round trip reshapes a container (its depth
        // cut-off turns it or its keys into markers), its parts cannot be
        // paired: the whole is lossy when it came back as flujo gives it.
        let cuts_off = self.registry.flujo().rules(SerializePath::File).max_depth.is_some();
        if let Some(reshaped) = expected.filter(|e| cuts_off && reshaped(sent, e, self.registry)) {
            if got == reshaped {
                self.record(sent, expected, Some(got), Verdict::Lossy);
                for child in children(sent) {
                    self.whole(child, Verdict::Lossy);
                }
                return;
            }
        }
        let own = if same_shape(sent, got) {
            Verdict::Exact
        } else if expected.is_some_and(|e| same_shape(e, got)) {
            Verdict::Lossy
        } else {
            Verdict::Corrupted
        };
        if own == Verdict::Exact {
            self.judgement.matrix.add(sent.kind(), own);
        } else {
            self.record(sent, expected, Some(got), own);
        }
        if own == Verdict::Corrupted && !matches!(got, Value::List(_) | Value::Tuple(_) | Value::Dict(_)) {
            for child in children(sent) {
                self.whole(child, Verdict::Corrupted);
            }
            return;
        }
        self.children(sent, expected, got);
    }

    fn children(&mut self, sent: &Value, expected: Option<&Value>, got: &Value) {
        match sent {
            Value::List(items) | Value::Tuple(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Segment::Index(i));
                    self.node(item, expected.and_then(|e| index(e, i)), index(got, i));
                    self.path.pop();
                }
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                // flujo 0.4 writes a set sorted by str(): pair the elements
                // the same way. 0.6 writes Python's iteration order, which
                // follows the hash seed: find each element wherever it is.
                let iteration = self.registry.flujo().rules(SerializePath::File).sets == SetOrder::Iteration;
                let mut ordered: Vec<&Value> = items.iter().collect();
                if !iteration {
                    ordered.sort_by_cached_key(|v| py_str(v, self.registry.python()));
                }
                for (i, item) in ordered.into_iter().enumerate() {
                    self.path.push(Segment::Index(i));
                    let expected_item = expected.and_then(|e| index(e, i));
                    let got_item = match got {
                        Value::Set(g) | Value::FrozenSet(g) => g.iter().find(|g| *g == item),
                        Value::List(g) | Value::Tuple(g) if iteration => g.iter().find(|g| *g == item || Some(*g) == expected_item).or_else(|| index(got, i)),
                        other => index(other, i),
                    };
                    self.node(item, expected_item, got_item);
                    self.path.pop();
                }
            }
            Value::Dict(dict) => self.fields(dict, expected, got),
            Value::Dataclass(inst) | Value::Model(inst) => self.fields(&inst.fields, expected, got),
            _ => {}
        }
    }

    fn fields(&mut self, sent: &Dict, expected: Option<&Value>, got: &Value) {
        let got_fields = match got {
            Value::Dict(d) => Some(d),
            Value::Dataclass(i) | Value::Model(i) | Value::Custom(i) => Some(&i.fields),
            _ => None,
        };
        let got_lookup = got_fields.map(KeyLookup::new);
        let expected_lookup = expected.and_then(Value::as_dict).map(KeyLookup::new);
        for (position, (key, item)) in sent.iter().enumerate() {
            let key_text = stringified_key(key, self.registry);
            self.path.push(Segment::Key(key_text.clone()));
            let stored_key = Value::Str(key_text.clone());
            let expected_item = expected_lookup.as_ref().and_then(|d| d.find(&stored_key, position));
            let got_item = got_lookup.as_ref().and_then(|d| d.find(key, position).or_else(|| d.find(&stored_key, position)));
            self.node(item, expected_item, got_item);
            self.path.pop();
        }
    }
}

/// `str(serialize(key))`, the key flujo stores.
fn stringified_key(key: &Value, registry: &TypeRegistry) -> String {
    match key {
        Value::Str(s) => s.clone(),
        other => serialize(other.clone(), registry).map(|safe| py_str(&safe, registry.python())).unwrap_or_else(|_| py_str(other, registry.python())),
    }
}

fn index(value: &Value, i: usize) -> Option<&Value> {
    match value {
        Value::List(items) | Value::Tuple(items) => items.get(i),
        _ => None,
    }
}

fn children(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => Box::new(items.iter()),
        Value::Dict(dict) => Box::new(dict.iter().map(|(_, v)| v)),
        Value::Dataclass(inst) | Value::Model(inst) => Box::new(inst.fields.iter().map(|(_, v)| v)),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typed::from_typed_text;

    fn verdicts(sent: &str, got: &str) -> Judgement {
        let registry = TypeRegistry::standard();
        judge(&from_typed_text(sent, &registry).unwrap(), &from_typed_text(got, &registry).unwrap(), &registry)
    }

    #[test]
    fn exact_lossy_and_corrupted() {
        let j = verdicts(r#"{"a": 1, "t": {"$tuple": [1, 2]}}"#, r#"{"t": {"$tuple": [1, 2]}, "a": 1}"#);
        assert_eq!(j.matrix.total(Verdict::Exact), 5);
        assert!(j.findings.is_empty());

        let j = verdicts(r#"{"when": {"$datetime": "2025-01-01T00:00:00"}, "t": {"$tuple": [1]}}"#, r#"{"when": "2025-01-01T00:00:00", "t": [1]}"#);
        assert_eq!(j.matrix.counts["datetime"], [0, 1, 0]);
        assert_eq!(j.matrix.counts["tuple"], [0, 1, 0]);
        assert_eq!(j.matrix.counts["int"], [1, 0, 0]);
        assert!(j.passes(Profile::Flujo, false) && !j.passes(Profile::Exact, false));

        let j = verdicts(r#"{"x": 0.1, "n": 123456789012345678901234567890}"#, r#"{"x": 0.10000000149011612, "n": 1.2345678901234568e+29}"#);
        assert_eq!(j.matrix.counts["float"], [0, 0, 1]);
        assert_eq!(j.matrix.counts["int"], [0, 0, 1]);
        assert!(!j.findings[0].path.to_string().is_empty());
        assert!(!j.passes(Profile::Flujo, false));
    }

    #[test]
    fn missing_parts_and_extra_keys() {
        let j = verdicts(r#"{"a": {"b": [1, 2]}, "e": {}}"#, r#"{"a": {"b": [1]}, "z": 1}"#);
        assert_eq!(j.extra_keys, ["z"]);
        assert!(j.findings.iter().any(|f| f.path.to_string() == "/a/b/1" && f.got == "(missing)"));
        assert!(j.findings.iter().any(|f| f.path.to_string() == "/e"));
    }

    #[test]
    fn non_string_keys_and_sets() {
        let j = verdicts(r#"{"d": {"$dict": [[1, "a"]]}, "s": {"$set": [10, 2]}}"#, r#"{"d": {"1": "a"}, "s": [10, 2]}"#);
        assert!(j.passes(Profile::Flujo, false), "{:?}", j.findings);
        assert_eq!(j.matrix.counts["set"], [0, 1, 0]);
        assert_eq!(j.matrix.counts["dict"][1], 1);
    }
}
