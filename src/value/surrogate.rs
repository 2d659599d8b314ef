//! Python `str`s that a Rust string cannot hold: text with a lone surrogate
//! (`"\ud800"`). Python allows them, `json.dumps` writes them as `\ud800`,
//! and flujo's FileBackend stores them so.

use std::cmp::Ordering;

use super::Value;

/// A Python `str` holding at least one unpaired surrogate, as UTF-16 code
/// units (the form of JSON's `\uXXXX` escapes). Every other `str` is a
/// [`Value::Str`]: build one with [`SurrogateStr::value_from_units`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SurrogateStr(Vec<u16>);

impl SurrogateStr {
    /// The `str` of `units`: a [`Value::Str`] when they are valid UTF-16,
    /// a [`Value::SurrogateStr`] otherwise.
    pub fn value_from_units(units: Vec<u16>) -> Value {
        match String::from_utf16(&units) {
            Ok(text) => Value::Str(text),
            Err(_) => Value::SurrogateStr(SurrogateStr(units)),
        }
    }

    /// The UTF-16 code units, lone surrogates included.
    pub fn units(&self) -> &[u16] {
        &self.0
    }

    /// The code points, as Python sees them (a lone surrogate is one).
    pub fn code_points(&self) -> impl Iterator<Item = u32> + Clone + '_ {
        char::decode_utf16(self.0.iter().copied()).map(|unit| unit.map_or_else(|lone| u32::from(lone.unpaired_surrogate()), u32::from))
    }

    /// The text with each lone surrogate replaced by U+FFFD, for messages.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf16_lossy(&self.0)
    }
}

/// Python's order of two `str`s: by code point.
pub fn cmp_code_points(a: impl Iterator<Item = u32>, b: impl Iterator<Item = u32>) -> Ordering {
    a.cmp(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unpaired_surrogates_make_one() {
        assert_eq!(SurrogateStr::value_from_units(vec![0x61, 0xd83d, 0xde00]), Value::from("a\u{1f600}"));
        let Value::SurrogateStr(lone) = SurrogateStr::value_from_units(vec![0x61, 0xd800, 0x62]) else { panic!("a lone surrogate is kept") };
        assert_eq!(lone.code_points().collect::<Vec<_>>(), [0x61, 0xd800, 0x62]);
        assert_eq!(lone.to_string_lossy(), "a\u{fffd}b");
        // Python orders U+D800 after U+D7FF and before U+E000 and U+10000.
        assert_eq!(cmp_code_points(lone.code_points(), "a\u{e000}".chars().map(u32::from)), Ordering::Less);
        assert_eq!(cmp_code_points(lone.code_points(), "a\u{d7ff}".chars().map(u32::from)), Ordering::Greater);
    }
}
