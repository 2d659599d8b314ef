//! The flujo a run targets. One format engine serves both: what differs
//! between flujo 0.4.35 and 0.6.11 is data ([`Rules`]), chosen by
//! [`FlujoVersion`] and, for 0.6, by the serializer path ([`SerializePath`]).
//! docs/format.md ("flujo 0.6") lists the differences rule by rule.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::python::{ChosenBy, PythonVersion};
use crate::value::Int;

/// A flujo release line the engine models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlujoVersion {
    /// flujo 0.4.35: `safe_serialize` / `safe_deserialize` (the default).
    #[default]
    V0_4,
    /// flujo 0.6.11: `_serialize_for_json` on two paths, orjson text in SQLite.
    V0_6,
}

impl FlujoVersion {
    /// Every modelled version, oldest first.
    pub const ALL: [FlujoVersion; 2] = [FlujoVersion::V0_4, FlujoVersion::V0_6];

    /// `"0.4"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlujoVersion::V0_4 => "0.4",
            FlujoVersion::V0_6 => "0.6",
        }
    }

    /// The release whose behaviour is modelled (`0.4.35`, `0.6.11`).
    pub fn release(self) -> &'static str {
        match self {
            FlujoVersion::V0_4 => "0.4.35",
            FlujoVersion::V0_6 => "0.6.11",
        }
    }

    /// The Python assumed when nothing names one: the oldest this flujo
    /// supports (0.4: 3.11; 0.6 needs 3.13).
    pub(crate) fn default_python(self) -> PythonVersion {
        match self {
            FlujoVersion::V0_4 => PythonVersion::V3_11,
            FlujoVersion::V0_6 => PythonVersion::V3_13,
        }
    }

    /// The serialize rules of `path` (0.4 has one path: both give the same).
    pub(crate) fn rules(self, path: SerializePath) -> Rules {
        match (self, path) {
            (FlujoVersion::V0_4, _) => Rules::V0_4,
            (FlujoVersion::V0_6, SerializePath::File) => Rules::V0_6_FILE,
            (FlujoVersion::V0_6, SerializePath::Strict) => Rules::V0_6_STRICT,
        }
    }
}

impl fmt::Display for FlujoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The flujo a run targets, and where that choice came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlujoChoice {
    /// The version whose rules, state shape and expectations apply.
    pub version: FlujoVersion,
    /// How it was chosen.
    pub source: ChosenBy,
    /// The full version the backend reported (`0.6.11`), if it did.
    pub reported: Option<String>,
    /// The backend's `PYTHONHASHSEED` (`random` when unset), if it said:
    /// flujo 0.6 writes sets in an order that follows it.
    pub hash_seed: Option<String>,
}

impl FlujoChoice {
    /// Chooses the target: an explicit `flag` must agree with the flujo the
    /// backend `reported` in `hello`; with neither, 0.4.
    pub(crate) fn resolve(flag: Option<FlujoVersion>, reported: Option<&str>) -> Result<FlujoChoice, String> {
        let Some(full) = reported else {
            return Ok(match flag {
                Some(version) => FlujoChoice { version, source: ChosenBy::Flag, reported: None, hash_seed: None },
                None => FlujoChoice::default(),
            });
        };
        let version: FlujoVersion = full.parse().map_err(|e| format!("the backend runs flujo {full}: {e}"))?;
        match flag {
            Some(wanted) if wanted != version => Err(format!("--flujo {wanted} was given, but the backend runs flujo {full}")),
            Some(_) => Ok(FlujoChoice { version, source: ChosenBy::Flag, reported: Some(full.to_owned()), hash_seed: None }),
            None => Ok(FlujoChoice { version, source: ChosenBy::Backend, reported: Some(full.to_owned()), hash_seed: None }),
        }
    }

    /// The flag that replays this choice, when a flag made it.
    pub(crate) fn replay_flag(&self) -> Option<String> {
        (self.source == ChosenBy::Flag).then(|| format!("--flujo {}", self.version))
    }
}

impl Default for FlujoChoice {
    fn default() -> FlujoChoice {
        FlujoChoice { version: FlujoVersion::V0_4, source: ChosenBy::Default, reported: None, hash_seed: None }
    }
}

impl fmt::Display for FlujoChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.source, &self.reported) {
            (ChosenBy::Default, _) => write!(f, "{} (default; set --flujo)", self.version),
            (_, Some(full)) => write!(f, "{} (the backend runs flujo {full})", self.version),
            (_, None) => write!(f, "{} (--flujo)", self.version),
        }?;
        match &self.hash_seed {
            Some(seed) => write!(f, ", PYTHONHASHSEED={seed}"),
            None => Ok(()),
        }
    }
}

/// Why a flujo version was not understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unsupported flujo version '{0}': expected 0.4 or 0.6 (X.Y or X.Y.Z)")]
pub struct UnknownFlujoVersion(pub String);

impl FromStr for FlujoVersion {
    type Err = UnknownFlujoVersion;

    /// `"0.6"` or a full `"0.6.11"`.
    fn from_str(text: &str) -> Result<FlujoVersion, UnknownFlujoVersion> {
        let text = text.trim();
        let mut parts = text.split('.');
        let line = match (parts.next(), parts.next()) {
            (Some("0"), Some(minor)) => format!("0.{minor}"),
            _ => return Err(UnknownFlujoVersion(text.to_owned())),
        };
        let patch_ok = parts.next().is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) && parts.next().is_none();
        FlujoVersion::ALL.into_iter().find(|v| v.as_str() == line && patch_ok).ok_or_else(|| UnknownFlujoVersion(text.to_owned()))
    }
}

/// flujo 0.6 serializes on two paths; 0.4 has one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SerializePath {
    /// `flujo.utils.serialization._serialize_for_json(value)` with its
    /// defaults: what FileBackend writes (bytes as base64, placeholders for
    /// what cannot be serialized below the top).
    #[default]
    File,
    /// `flujo.state.backends.base._serialize_for_json(value)`: strict, bytes
    /// as UTF-8 with U+FFFD; what InMemory and SQLite store.
    Strict,
}

/// How sets are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOrder {
    /// Sorted by `str()` of each element (0.4).
    SortedByStr,
    /// In iteration order, as given (0.6).
    Iteration,
}

/// How bytes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BytesForm {
    /// Base64 text.
    Base64,
    /// UTF-8 decoded, invalid sequences replaced by U+FFFD.
    Utf8Replace,
}

/// How a model instance becomes a dict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelForm {
    /// Its fields, as they are (0.4).
    Fields,
    /// `model_dump(mode="json")`, or its fields when that raises (0.6).
    JsonDump,
}

/// A value no rule covers (a bare object, an unregistered custom type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unserializable {
    /// Always a TypeError (0.4, and 0.6 strict).
    Refuse,
    /// A TypeError at the top; `<unserializable: T>` below it (0.6 file path).
    PlaceholderBelowTop,
}

/// The serialize rules of one flujo version and path: the data that makes
/// the one engine behave as that flujo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Which flujo these are (error texts differ).
    pub flujo: FlujoVersion,
    /// Set element order.
    pub sets: SetOrder,
    /// `bytes`.
    pub bytes: BytesForm,
    /// `bytearray` as `bytes` (0.6); refused when false (0.4).
    pub bytearray: bool,
    /// UUID and Decimal as `str()` (0.6); refused when false (0.4).
    pub uuid_decimal_as_text: bool,
    /// A plain enum's value is serialized in turn (0.6) or kept as is (0.4).
    pub enum_value_serialized: bool,
    /// Models.
    pub models: ModelForm,
    /// Values nested deeper than this (the top is depth 0) become
    /// `<max-depth-exceeded:TYPE>`, dict keys included; `None`: no limit.
    pub max_depth: Option<usize>,
    /// Values no rule covers.
    pub unserializable: Unserializable,
}

impl Rules {
    /// flujo 0.4.35's `safe_serialize`.
    pub const V0_4: Rules = Rules {
        flujo: FlujoVersion::V0_4,
        sets: SetOrder::SortedByStr,
        bytes: BytesForm::Base64,
        bytearray: false,
        uuid_decimal_as_text: false,
        enum_value_serialized: false,
        models: ModelForm::Fields,
        max_depth: None,
        unserializable: Unserializable::Refuse,
    };

    /// flujo 0.6.11's FileBackend path.
    pub const V0_6_FILE: Rules = Rules {
        flujo: FlujoVersion::V0_6,
        sets: SetOrder::Iteration,
        bytes: BytesForm::Base64,
        bytearray: true,
        uuid_decimal_as_text: true,
        enum_value_serialized: true,
        models: ModelForm::JsonDump,
        max_depth: Some(64),
        unserializable: Unserializable::PlaceholderBelowTop,
    };

    /// flujo 0.6.11's strict path (InMemory, SQLite).
    pub const V0_6_STRICT: Rules = Rules { bytes: BytesForm::Utf8Replace, unserializable: Unserializable::Refuse, ..Rules::V0_6_FILE };
}

/// The integers orjson writes: [-2^63, 2^64-1]. flujo 0.6's SQLiteBackend
/// writes its JSON columns with orjson, so a save holding any other int
/// fails (`TypeError: Integer exceeds 64-bit range`).
pub(crate) const ORJSON_INTS: RangeInclusive<i128> = i64::MIN as i128..=u64::MAX as i128;

/// Whether `n` is in [`ORJSON_INTS`].
pub(crate) fn orjson_writes(n: &Int) -> bool {
    match n {
        Int::Small(_) => true,
        Int::Big(big) => i128::try_from(&**big).is_ok_and(|n| ORJSON_INTS.contains(&n)),
    }
}

/// The JSON columns of flujo 0.6's SQLiteBackend, in the order it writes
/// them. Each is serialized on the strict path on its own, from depth 0:
/// a value one key inside a column is at depth 1, where File and InMemory,
/// which serialize the whole state, see it at depth 2 (so the cut-off
/// falls one level apart). The other columns are stored as they are.
pub(crate) const SQLITE_JSON_COLUMNS: [&str; 4] = ["pipeline_context", "last_step_output", "step_history", "metadata"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_must_agree_with_the_flujo_the_backend_runs() {
        assert_eq!(FlujoChoice::resolve(None, None), Ok(FlujoChoice::default()));
        let reported = FlujoChoice::resolve(None, Some("0.6.11")).unwrap();
        assert_eq!((reported.version, reported.source), (FlujoVersion::V0_6, ChosenBy::Backend));
        assert_eq!(reported.replay_flag(), None);
        let flagged = FlujoChoice::resolve(Some(FlujoVersion::V0_6), None).unwrap();
        assert_eq!(flagged.replay_flag().as_deref(), Some("--flujo 0.6"));
        let refused = FlujoChoice::resolve(Some(FlujoVersion::V0_4), Some("0.6.11")).unwrap_err();
        assert!(refused.contains("--flujo 0.4") && refused.contains("0.6.11"), "{refused}");
        assert!(FlujoChoice::resolve(None, Some("0.5.0")).unwrap_err().contains("0.5.0"));
    }

    #[test]
    fn parses_versions() {
        assert_eq!("0.4".parse(), Ok(FlujoVersion::V0_4));
        assert_eq!("0.6.11".parse(), Ok(FlujoVersion::V0_6));
        assert_eq!(" 0.4.35 ".parse(), Ok(FlujoVersion::V0_4));
        for bad in ["0.5", "1.0", "0.6.", "0.6.x", "0.6.1.1", "", "06"] {
            assert!(bad.parse::<FlujoVersion>().is_err(), "{bad}");
        }
        assert_eq!(FlujoVersion::default(), FlujoVersion::V0_4);
        assert_eq!(FlujoVersion::V0_6.default_python(), PythonVersion::V3_13);
    }

    #[test]
    fn one_path_for_0_4_two_for_0_6() {
        assert_eq!(FlujoVersion::V0_4.rules(SerializePath::File), FlujoVersion::V0_4.rules(SerializePath::Strict));
        let (file, strict) = (FlujoVersion::V0_6.rules(SerializePath::File), FlujoVersion::V0_6.rules(SerializePath::Strict));
        assert_eq!((file.bytes, strict.bytes), (BytesForm::Base64, BytesForm::Utf8Replace));
        assert_eq!(strict.unserializable, Unserializable::Refuse);
    }

    #[test]
    fn orjson_ints_are_64_bit_signed_or_unsigned() {
        let int = |text: &str| text.parse::<Int>().unwrap();
        for inside in ["-9223372036854775808", "0", "18446744073709551615"] {
            assert!(orjson_writes(&int(inside)), "{inside}");
        }
        for outside in ["-9223372036854775809", "18446744073709551616", "1000000000000000000000000000000000000000"] {
            assert!(!orjson_writes(&int(outside)), "{outside}");
        }
    }
}
