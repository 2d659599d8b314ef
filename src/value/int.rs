//! Python `int`: exact at any size, with a fast path for the 64-bit range.

use std::fmt;
use std::str::FromStr;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// An integer of any size. `Big` is used only outside the `i64` range, so
/// that two equal integers always have the same representation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Int {
    /// An integer in the `i64` range.
    Small(i64),
    /// An integer outside the `i64` range.
    Big(Box<BigInt>),
}

impl Int {
    /// Builds the canonical representation of `n`.
    pub fn from_big(n: BigInt) -> Int {
        match n.to_i64() {
            Some(small) => Int::Small(small),
            None => Int::Big(Box::new(n)),
        }
    }

    /// The value as an `i64`, when it fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Int::Small(n) => Some(*n),
            Int::Big(_) => None,
        }
    }

    /// The nearest `f64` (infinite when the integer is beyond the float range).
    pub fn to_f64(&self) -> f64 {
        match self {
            Int::Small(n) => *n as f64,
            Int::Big(n) => n.to_f64().unwrap_or(f64::NAN),
        }
    }
}

impl From<i64> for Int {
    fn from(n: i64) -> Int {
        Int::Small(n)
    }
}

impl From<BigInt> for Int {
    fn from(n: BigInt) -> Int {
        Int::from_big(n)
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int::Small(n) => write!(f, "{n}"),
            Int::Big(n) => write!(f, "{n}"),
        }
    }
}

/// The text was not a decimal integer.
#[derive(Debug, thiserror::Error)]
#[error("not a decimal integer: {0:?}")]
pub struct ParseIntError(pub String);

impl FromStr for Int {
    type Err = ParseIntError;

    /// Parses `-?[0-9]+`, exactly, at any length.
    fn from_str(text: &str) -> Result<Int, ParseIntError> {
        if let Ok(small) = text.parse::<i64>() {
            return Ok(Int::Small(small));
        }
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseIntError(text.to_owned()));
        }
        BigInt::from_str(text).map(Int::from_big).map_err(|_| ParseIntError(text.to_owned()))
    }
}
