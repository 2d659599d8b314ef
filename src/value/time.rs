//! Python `date`, `time` and `datetime`, with Python's `isoformat()` text.
//!
//! Only what the safe serialized format needs: exact isoformat output
//! (microseconds only when non-zero, offsets as `+HH:MM[:SS[.ffffff]]`) and
//! a parser for that text (plus `Z`, which Python 3.11 also accepts).

use std::fmt::{self, Write};

/// Why a date or time text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} text {text:?}: {reason}")]
pub struct TimeParseError {
    /// `date`, `time` or `datetime`.
    pub what: &'static str,
    /// The text that was refused.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A calendar date, years 1 to 9999 as in Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// 1..=9999
    pub year: u16,
    /// 1..=12
    pub month: u8,
    /// 1..=31, valid for the month
    pub day: u8,
}

/// A UTC offset, as Python's `timezone(timedelta(...))` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UtcOffset {
    /// Whole seconds east of UTC, strictly between -24h and +24h.
    pub seconds: i32,
    /// Extra microseconds, with the same sign as `seconds`.
    pub micros: i32,
}

/// A time of day, naive or aware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Time {
    /// 0..=23
    pub hour: u8,
    /// 0..=59
    pub minute: u8,
    /// 0..=59
    pub second: u8,
    /// 0..=999_999
    pub micro: u32,
    /// `None` for a naive time.
    pub offset: Option<UtcOffset>,
}

/// A date and a time of day, naive or aware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The date part.
    pub date: Date,
    /// The time part, offset included.
    pub time: Time,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// A tiny cursor over ASCII text for the fixed-width isoformat fields.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn error(&self, reason: &'static str) -> TimeParseError {
        TimeParseError { what: self.what, text: self.text.to_owned(), reason }
    }

    fn digits(&mut self, n: usize) -> Result<u32, TimeParseError> {
        let field = self.text.get(self.pos..self.pos + n).filter(|f| f.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| self.error("expected digits"))?;
        self.pos += n;
        field.parse().map_err(|_| self.error("expected digits"))
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.text.as_bytes().get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), TimeParseError> {
        if self.eat(byte) { Ok(()) } else { Err(self.error(reason)) }
    }

    fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    /// `.f` to `.ffffff` (Python 3.11 accepts 1 to 6 digits), as microseconds.
    fn fraction(&mut self) -> Result<u32, TimeParseError> {
        if !self.eat(b'.') {
            return Ok(0);
        }
        let start = self.pos;
        while self.text.as_bytes().get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        if digits.is_empty() || digits.len() > 6 {
            return Err(self.error("fraction of a second must have 1 to 6 digits"));
        }
        let value: u32 = digits.parse().map_err(|_| self.error("bad fraction"))?;
        Ok(value * 10u32.pow(6 - digits.len() as u32))
    }

    fn date(&mut self) -> Result<Date, TimeParseError> {
        let year = self.digits(4)?;
        self.expect(b'-', "expected '-' after the year")?;
        let month = self.digits(2)?;
        self.expect(b'-', "expected '-' after the month")?;
        let day = self.digits(2)?;
        if year == 0 {
            return Err(self.error("year must be 1 to 9999"));
        }
        if !(1..=12).contains(&month) {
            return Err(self.error("month must be 1 to 12"));
        }
        if day == 0 || day > u32::from(days_in_month(year as u16, month as u8)) {
            return Err(self.error("day is out of range for the month"));
        }
        Ok(Date { year: year as u16, month: month as u8, day: day as u8 })
    }

    fn time(&mut self) -> Result<Time, TimeParseError> {
        let hour = self.digits(2)?;
        self.expect(b':', "expected ':' after the hour")?;
        let minute = self.digits(2)?;
        let second = if self.eat(b':') { self.digits(2)? } else { 0 };
        let micro = self.fraction()?;
        if hour > 23 || minute > 59 || second > 59 {
            return Err(self.error("hour, minute or second out of range"));
        }
        let offset = self.offset()?;
        Ok(Time { hour: hour as u8, minute: minute as u8, second: second as u8, micro, offset })
    }

    fn offset(&mut self) -> Result<Option<UtcOffset>, TimeParseError> {
        if self.eat(b'Z') {
            return Ok(Some(UtcOffset { seconds: 0, micros: 0 }));
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Ok(None);
        };
        let hours = self.digits(2)? as i32;
        self.expect(b':', "expected ':' in the UTC offset")?;
        let minutes = self.digits(2)? as i32;
        let seconds = if self.eat(b':') { self.digits(2)? as i32 } else { 0 };
        let micros = self.fraction()? as i32;
        if hours > 23 || minutes > 59 || seconds > 59 {
            return Err(self.error("UTC offset out of range"));
        }
        Ok(Some(UtcOffset { seconds: sign * (hours * 3600 + minutes * 60 + seconds), micros: sign * micros }))
    }
}

fn parse_whole<T>(text: &str, what: &'static str, part: impl FnOnce(&mut Cursor<'_>) -> Result<T, TimeParseError>) -> Result<T, TimeParseError> {
    let mut cursor = Cursor { text, pos: 0, what };
    let value = part(&mut cursor)?;
    if cursor.at_end() { Ok(value) } else { Err(cursor.error("unexpected text at the end")) }
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, TimeParseError> {
        parse_whole(text, "date", |c| c.date())
    }
}

impl Time {
    /// Parses `HH:MM[:SS[.ffffff]][+HH:MM[:SS[.ffffff]]|Z]`.
    pub fn parse(text: &str) -> Result<Time, TimeParseError> {
        parse_whole(text, "time", |c| c.time())
    }
}

impl DateTime {
    /// Parses a date, `T` or a space, then a time as [`Time::parse`] does.
    pub fn parse(text: &str) -> Result<DateTime, TimeParseError> {
        parse_whole(text, "datetime", |c| {
            let date = c.date()?;
            if !(c.eat(b'T') || c.eat(b' ')) {
                return Err(c.error("expected 'T' between date and time"));
            }
            Ok(DateTime { date, time: c.time()? })
        })
    }

    /// Python `isoformat(sep)`: `sep` is `'T'` for isoformat, `' '` for `str()`.
    pub(crate) fn write_iso(&self, sep: char, out: &mut impl Write) -> fmt::Result {
        write!(out, "{}{sep}{}", self.date, self.time)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for UtcOffset {
    /// Python's offset text: `+HH:MM`, then `:SS` and `.ffffff` when non-zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.seconds < 0 || self.micros < 0;
        let seconds = self.seconds.unsigned_abs();
        let micros = self.micros.unsigned_abs();
        let sign = if negative { '-' } else { '+' };
        write!(f, "{sign}{:02}:{:02}", seconds / 3600, seconds / 60 % 60)?;
        if seconds % 60 != 0 || micros != 0 {
            write!(f, ":{:02}", seconds % 60)?;
        }
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Time {
    /// Python `time.isoformat()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        if self.micro != 0 {
            write!(f, ".{:06}", self.micro)?;
        }
        if let Some(offset) = self.offset {
            write!(f, "{offset}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DateTime {
    /// Python `datetime.isoformat()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_iso('T', f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoformat_round_trips_python_forms() {
        for text in [
            "2025-07-01T12:00:00.120000+05:30",
            "2000-01-01T00:00:00",
            "2025-07-01T12:00:00-14:59",
            "0001-02-28T23:59:59.000001+00:00",
            "2024-02-29T01:02:03+01:02:03",
        ] {
            assert_eq!(DateTime::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Time::parse("01:02:03+00:00").unwrap().to_string(), "01:02:03+00:00");
        assert_eq!(Time::parse("23:59:59.000001").unwrap().to_string(), "23:59:59.000001");
        assert_eq!(DateTime::parse("2025-01-01T00:00:00Z").unwrap().to_string(), "2025-01-01T00:00:00+00:00");
    }

    #[test]
    fn refuses_impossible_dates() {
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("0000-01-01").is_err());
        assert!(Date::parse("2023-13-01").is_err());
        assert!(Time::parse("24:00:00").is_err());
        assert!(DateTime::parse("2023-01-01T00:00:00.1234567").is_err());
    }
}
