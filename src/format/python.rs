//! The Python that runs flujo: what its `repr` treats as printable depends
//! on the Unicode database it was built with, and flujo stringifies dict
//! keys with `repr`, so the same value is stored differently on 3.11 and 3.12.

use std::fmt;
use std::str::FromStr;

use super::flujo::FlujoVersion;
use super::printable_table::{PRINTABLE_3_11, TOGGLED_3_12, TOGGLED_3_13};

/// A Python minor version the format engine has tables for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PythonVersion {
    /// Python 3.11 (Unicode 14.0): the oldest flujo 0.4 supports, the default.
    #[default]
    V3_11,
    /// Python 3.12 (Unicode 15.0).
    V3_12,
    /// Python 3.13 (Unicode 15.1).
    V3_13,
}

impl PythonVersion {
    /// Every version with a table, oldest first.
    pub const ALL: [PythonVersion; 3] = [PythonVersion::V3_11, PythonVersion::V3_12, PythonVersion::V3_13];

    /// `"3.11"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PythonVersion::V3_11 => "3.11",
            PythonVersion::V3_12 => "3.12",
            PythonVersion::V3_13 => "3.13",
        }
    }

    /// The Unicode database version of this Python's `unicodedata`.
    pub fn unicode_version(self) -> &'static str {
        match self {
            PythonVersion::V3_11 => "14.0.0",
            PythonVersion::V3_12 => "15.0.0",
            PythonVersion::V3_13 => "15.1.0",
        }
    }

    /// `str.isprintable()` of one character on this Python.
    pub(crate) fn is_printable(self, c: char) -> bool {
        let toggled = match self {
            PythonVersion::V3_11 => &[][..],
            PythonVersion::V3_12 => TOGGLED_3_12,
            PythonVersion::V3_13 => TOGGLED_3_13,
        };
        in_ranges(PRINTABLE_3_11, c) != in_ranges(toggled, c)
    }
}

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a Python version was not understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unsupported Python version '{0}': expected one of 3.11, 3.12, 3.13 (X.Y or X.Y.Z)")]
pub struct UnknownPythonVersion(pub String);

impl FromStr for PythonVersion {
    type Err = UnknownPythonVersion;

    /// `"3.12"` or a full `"3.12.1"`.
    fn from_str(text: &str) -> Result<PythonVersion, UnknownPythonVersion> {
        let mut parts = text.trim().split('.');
        let minor = match (parts.next(), parts.next()) {
            (Some("3"), Some(minor)) => minor,
            _ => return Err(UnknownPythonVersion(text.to_owned())),
        };
        if parts.next().is_some_and(|patch| patch.is_empty() || !patch.bytes().all(|b| b.is_ascii_digit())) || parts.next().is_some() {
            return Err(UnknownPythonVersion(text.to_owned()));
        }
        PythonVersion::ALL.into_iter().find(|v| v.as_str()[2..] == *minor).ok_or_else(|| UnknownPythonVersion(text.to_owned()))
    }
}

/// Where a run's Python or flujo target came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChosenBy {
    /// `--python-version` or `--flujo`.
    Flag,
    /// The backend's `hello` (`python` and `unicode`, or `flujo`).
    Backend,
    /// Neither: for the Python, the oldest the target flujo supports; for
    /// flujo, 0.4.
    Default,
}

/// The Python a run models, and where that choice came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonChoice {
    /// The version whose tables the engine uses.
    pub version: PythonVersion,
    /// How it was chosen.
    pub source: ChosenBy,
    /// The full version the backend reported (`3.12.1`), if it did.
    pub reported: Option<String>,
    /// The flujo whose default Python applies when nothing names one.
    pub flujo: FlujoVersion,
}

impl PythonChoice {
    /// Chooses the Python: an explicit `flag` must agree with what the
    /// backend `reported` in `hello` (`python` X.Y.Z and `unicode`); with
    /// neither, the default for the target `flujo` (0.4: 3.11, 0.6: 3.13).
    /// A reported Python without a table, or whose Unicode database is not
    /// the one its table was made from, is an error.
    pub(crate) fn resolve_for(flujo: FlujoVersion, flag: Option<PythonVersion>, reported: Option<(&str, Option<&str>)>) -> Result<PythonChoice, String> {
        let Some((python, unicode)) = reported else {
            return Ok(match flag {
                Some(version) => PythonChoice { version, source: ChosenBy::Flag, reported: None, flujo },
                None => PythonChoice::default_for(flujo),
            });
        };
        let version: PythonVersion = python.parse().map_err(|e| format!("the backend runs Python {python}: {e}"))?;
        if let Some(unicode) = unicode.filter(|u| *u != version.unicode_version()) {
            return Err(format!(
                "the backend's Python {python} has Unicode {unicode}; this harness models Python {version} with Unicode {}",
                version.unicode_version()
            ));
        }
        match flag {
            Some(wanted) if wanted != version => Err(format!("--python-version {wanted} was given, but the backend runs Python {python}")),
            Some(_) => Ok(PythonChoice { version, source: ChosenBy::Flag, reported: Some(python.to_owned()), flujo }),
            None => Ok(PythonChoice { version, source: ChosenBy::Backend, reported: Some(python.to_owned()), flujo }),
        }
    }

    /// The default choice for a target flujo.
    pub(crate) fn default_for(flujo: FlujoVersion) -> PythonChoice {
        PythonChoice { version: flujo.default_python(), source: ChosenBy::Default, reported: None, flujo }
    }

    /// The flag that replays this choice, when a flag made it.
    pub(crate) fn replay_flag(&self) -> Option<String> {
        (self.source == ChosenBy::Flag).then(|| format!("--python-version {}", self.version))
    }
}

impl Default for PythonChoice {
    fn default() -> PythonChoice {
        PythonChoice::default_for(FlujoVersion::V0_4)
    }
}

impl fmt::Display for PythonChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.source, &self.reported) {
            (ChosenBy::Default, _) => write!(f, "{} (default: the oldest Python flujo {} supports; set --python-version)", self.version, self.flujo),
            (_, Some(full)) => write!(f, "{full} (as reported, Unicode {})", self.version.unicode_version()),
            (_, None) => write!(f, "{} (--python-version, Unicode {})", self.version, self.version.unicode_version()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_follow_each_python() {
        // Added in Unicode 15.0 (Cyrillic modifier letters): escaped by 3.11's repr, printed by 3.12's.
        assert!(!PythonVersion::V3_11.is_printable('\u{1e030}'));
        assert!(PythonVersion::V3_12.is_printable('\u{1e030}'));
        assert!(PythonVersion::V3_13.is_printable('\u{1e030}'));
        // Added in Unicode 15.1 (ideographic description characters).
        assert!(!PythonVersion::V3_12.is_printable('\u{2ffc}'));
        assert!(PythonVersion::V3_13.is_printable('\u{2ffc}'));
        for v in PythonVersion::ALL {
            assert!(v.is_printable(' ') && v.is_printable('é') && !v.is_printable('\u{10ffff}'));
            assert!(!v.is_printable('\u{a0}') && !v.is_printable('\u{2028}') && !v.is_printable('\u{e000}'));
        }
    }

    #[test]
    fn parses_versions() {
        assert_eq!("3.12".parse(), Ok(PythonVersion::V3_12));
        assert_eq!("3.13.0".parse(), Ok(PythonVersion::V3_13));
        assert_eq!(" 3.11.7 ".parse(), Ok(PythonVersion::V3_11));
        for bad in ["3.10", "3.1", "2.7", "3.12.", "3.12.x", "3.12.1.2", "", "312"] {
            assert!(bad.parse::<PythonVersion>().is_err(), "{bad}");
        }
        assert_eq!(PythonVersion::default(), PythonVersion::V3_11);
    }

    #[test]
    fn chooses_from_flag_hello_or_default() {
        let chosen = |flag, reported| PythonChoice::resolve_for(FlujoVersion::V0_4, flag, reported).map(|c| (c.version, c.source));
        assert_eq!(chosen(None, None), Ok((PythonVersion::V3_11, ChosenBy::Default)));
        assert_eq!(chosen(Some(PythonVersion::V3_13), None), Ok((PythonVersion::V3_13, ChosenBy::Flag)));
        assert_eq!(chosen(None, Some(("3.12.1", Some("15.0.0")))), Ok((PythonVersion::V3_12, ChosenBy::Backend)));
        assert_eq!(chosen(Some(PythonVersion::V3_12), Some(("3.12.1", None))), Ok((PythonVersion::V3_12, ChosenBy::Flag)));
        let mismatch = chosen(Some(PythonVersion::V3_11), Some(("3.12.1", None))).unwrap_err();
        assert!(mismatch.contains("--python-version 3.11") && mismatch.contains("3.12.1"), "{mismatch}");
        assert!(chosen(None, Some(("3.14.0", None))).unwrap_err().contains("3.14.0"));
        assert!(chosen(None, Some(("3.12.1", Some("16.0.0")))).unwrap_err().contains("Unicode 16.0.0"));
        assert_eq!(PythonChoice::resolve_for(FlujoVersion::V0_6, None, None).map(|c| (c.version, c.source)), Ok((PythonVersion::V3_13, ChosenBy::Default)));
        assert!(PythonChoice::default_for(FlujoVersion::V0_6).to_string().contains("flujo 0.6 supports"));
        let flagged = PythonChoice::resolve_for(FlujoVersion::V0_4, Some(PythonVersion::V3_12), None).unwrap();
        assert_eq!(flagged.replay_flag().as_deref(), Some("--python-version 3.12"));
        assert_eq!(PythonChoice::default().replay_flag(), None);
    }
}
