//! The reader of state text, into [`Value`]: a strict fast path with exactly
//! the grammar of Python's `json.loads` (JSON plus the `NaN`, `Infinity` and
//! `-Infinity` literals), and a JSON5 mode taken only when the strict one
//! fails (comments, trailing commas, single quotes, unquoted keys, hex,
//! `+` signs, leading or trailing decimal points, JSON5 white space and
//! escapes).
//!
//! The JSON5 mode is ours rather than the `json5` crate's because that crate
//! turns integers beyond 64 bits into floats without a word (silent loss)
//! and recurses without a depth limit; the crate is kept as a differential
//! oracle in the tests.
//!
//! Integers stay exact at any size, a float too large for `f64` reads as an
//! infinity (as Python's `float()` does), a repeated key keeps its first
//! position and its last value (as a Python dict does), and nesting deeper
//! than [`MAX_DEPTH`] is refused instead of overflowing the stack.

use crate::value::{Dict, Int, SurrogateStr, Value};

/// Deepest nesting of arrays and objects accepted. Python's own recursion
/// limit (1,000) makes deeper states impossible to dump from flujo.
pub const MAX_DEPTH: usize = 1024;

/// What a reader noticed about a text that was read successfully.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadNotes {
    /// The text needed the JSON5 reader (comments, trailing commas...).
    pub json5: bool,
    /// The text held NaN, an infinity, or a number too large for a float.
    pub non_finite: bool,
    /// An object repeated a key; the last value won, at the first position.
    pub duplicate_keys: bool,
}

/// What is wrong with a text, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ReadError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: ReadErrorKind,
}

/// The kinds of [`ReadError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadErrorKind {
    /// The text ended inside a value.
    #[error("unexpected end of text, expected {0}")]
    UnexpectedEnd(&'static str),
    /// A character that cannot stand here.
    #[error("unexpected {found:?}, expected {expected}")]
    Unexpected {
        /// The character found.
        found: char,
        /// What would have been valid.
        expected: &'static str,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    /// A `\uD800`-style escape with no partner. The reader then reads the
    /// string again into a [`SurrogateStr`], so it never returns this.
    #[error("lone surrogate \\u{0:04x} in a string")]
    LoneSurrogate(u16),
    /// A backslash escape JSON does not have.
    #[error("invalid escape in a string")]
    InvalidEscape,
    /// A raw control character inside a string.
    #[error("raw control character U+{0:04X} in a string (JSON needs it escaped)")]
    ControlCharacter(u32),
    /// A malformed number.
    #[error("malformed number")]
    InvalidNumber,
    /// More text after the value.
    #[error("unexpected text after the value")]
    TrailingCharacters,
    /// The JSON5 reader refused the text.
    #[error("{0}")]
    Json5(String),
}

impl ReadError {
    /// An error at byte `offset` of `text`, located by line and column.
    pub(crate) fn at(text: &str, offset: usize, kind: ReadErrorKind) -> ReadError {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ReadError { line, column, kind }
    }
}

/// Reads `text` with Python's `json.loads` grammar.
pub fn read_strict(text: &str) -> Result<(Value, ReadNotes), ReadError> {
    Parser::new(text, false).document()
}

/// Reads `text` with the JSON5 grammar (a superset of the strict one).
pub fn read_json5(text: &str) -> Result<(Value, ReadNotes), ReadError> {
    let (value, mut notes) = Parser::new(text, true).document()?;
    notes.json5 = true;
    Ok((value, notes))
}

/// Reads `text` strictly, and as JSON5 only when the strict grammar refuses
/// it. An error is the JSON5 reader's (the most lenient grammar's) error.
pub fn read_text(text: &str) -> Result<(Value, ReadNotes), ReadError> {
    match read_strict(text) {
        Ok(read) => Ok(read),
        Err(strict) if matches!(strict.kind, ReadErrorKind::TooDeep(_)) => Err(strict),
        Err(_) => read_json5(text),
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    notes: ReadNotes,
    json5: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, json5: bool) -> Parser<'a> {
        Parser { text, bytes: text.as_bytes(), pos: 0, depth: 0, notes: ReadNotes::default(), json5 }
    }

    fn document(mut self) -> Result<(Value, ReadNotes), ReadError> {
        self.skip_whitespace()?;
        let value = self.value()?;
        self.skip_whitespace()?;
        if self.pos != self.bytes.len() {
            return Err(self.error(ReadErrorKind::TrailingCharacters));
        }
        Ok((value, self.notes))
    }

    fn current_char(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    fn error(&self, kind: ReadErrorKind) -> ReadError {
        ReadError::at(self.text, self.pos, kind)
    }

    fn unexpected(&self, expected: &'static str) -> ReadError {
        match self.current_char() {
            Some(found) => self.error(ReadErrorKind::Unexpected { found, expected }),
            None => self.error(ReadErrorKind::UnexpectedEnd(expected)),
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) -> Result<(), ReadError> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
        if self.json5 { self.skip_json5_space() } else { Ok(()) }
    }

    fn skip_json5_space(&mut self) -> Result<(), ReadError> {
        loop {
            let Some(c) = self.current_char() else { return Ok(()) };
            if is_json5_space(c) {
                self.pos += c.len_utf8();
            } else if self.bytes[self.pos..].starts_with(b"//") {
                let rest = &self.text[self.pos..];
                self.pos += rest.find(is_line_terminator).unwrap_or(rest.len());
            } else if self.bytes[self.pos..].starts_with(b"/*") {
                match self.text[self.pos + 2..].find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => return Err(self.error(ReadErrorKind::UnexpectedEnd("'*/' closing the comment"))),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, ReadError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn value(&mut self) -> Result<Value, ReadError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.str_value(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::None),
            Some(b'N') => {
                self.notes.non_finite = true;
                self.literal("NaN", Value::Float(f64::NAN))
            }
            Some(b'I') => {
                self.notes.non_finite = true;
                self.literal("Infinity", Value::Float(f64::INFINITY))
            }
            Some(b'-') if self.bytes[self.pos..].starts_with(b"-Infinity") => {
                self.notes.non_finite = true;
                self.literal("-Infinity", Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'\'') if self.json5 => self.str_value(),
            Some(b'+' | b'.') if self.json5 => self.number(),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    fn enter(&mut self) -> Result<(), ReadError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(ReadErrorKind::TooDeep(MAX_DEPTH)));
        }
        self.pos += 1;
        self.skip_whitespace()
    }

    /// After a ',': true when a JSON5 trailing comma closes the container.
    fn closes_after_comma(&mut self, close: u8) -> Result<bool, ReadError> {
        self.pos += 1;
        self.skip_whitespace()?;
        if self.json5 && self.peek() == Some(close) {
            return Ok(true);
        }
        Ok(false)
    }

    fn array(&mut self) -> Result<Value, ReadError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_whitespace()?;
            match self.peek() {
                Some(b',') if !self.closes_after_comma(b']')? => {}
                Some(b',' | b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::List(items));
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, ReadError> {
        self.enter()?;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Dict(Dict::from_distinct(entries)));
        }
        loop {
            let key = self.key()?;
            self.skip_whitespace()?;
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':'"));
            }
            self.pos += 1;
            self.skip_whitespace()?;
            let value = self.value()?;
            entries.push((key, value));
            self.skip_whitespace()?;
            match self.peek() {
                Some(b',') if !self.closes_after_comma(b'}')? => {}
                Some(b',' | b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Dict(self.finish_object(entries)));
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    fn key(&mut self) -> Result<Value, ReadError> {
        match self.peek() {
            Some(b'"') => self.str_value(),
            Some(b'\'') if self.json5 => self.str_value(),
            Some(_) if self.json5 => self.identifier().map(Value::Str),
            _ => Err(self.unexpected("a string key")),
        }
    }

    /// An ECMAScript 5.1 IdentifierName, `\uXXXX` escapes included.
    fn identifier(&mut self) -> Result<String, ReadError> {
        let mut name = String::new();
        loop {
            let c = if self.bytes[self.pos..].starts_with(b"\\u") {
                self.pos += 2;
                let unit = self.hex(4)?;
                char::from_u32(unit).ok_or_else(|| self.error(ReadErrorKind::InvalidEscape))?
            } else {
                match self.current_char() {
                    Some(c) if is_identifier_start(c) || (!name.is_empty() && is_identifier_part(c)) => {
                        self.pos += c.len_utf8();
                        c
                    }
                    _ if name.is_empty() => return Err(self.unexpected("a key")),
                    _ => return Ok(name),
                }
            };
            name.push(c);
        }
    }

    fn finish_object(&mut self, entries: Vec<(Value, Value)>) -> Dict {
        let (dict, had_duplicates) = dict_from_str_entries(entries);
        self.notes.duplicate_keys |= had_duplicates;
        dict
    }

    /// A string value; one holding a lone surrogate (`"\ud800"`, as
    /// Python's `json.dumps` writes it) is read again as UTF-16 units.
    fn str_value(&mut self) -> Result<Value, ReadError> {
        let start = self.pos;
        match self.string() {
            Ok(text) => Ok(Value::Str(text)),
            Err(e) if matches!(e.kind, ReadErrorKind::LoneSurrogate(_)) => {
                self.pos = start;
                self.string_units()
            }
            Err(e) => Err(e),
        }
    }

    /// The slow path of [`Parser::str_value`]: the string as UTF-16 units.
    fn string_units(&mut self) -> Result<Value, ReadError> {
        let quote = self.bytes[self.pos];
        self.pos += 1;
        let mut units = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error(ReadErrorKind::UnexpectedEnd("the closing quote"))),
                Some(b) if b == quote => {
                    self.pos += 1;
                    return Ok(SurrogateStr::value_from_units(units));
                }
                Some(b'\\') if self.bytes[self.pos..].starts_with(b"\\u") => {
                    self.pos += 2;
                    units.push(self.hex(4)? as u16);
                }
                Some(b'\\') => {
                    let mut escaped = String::new();
                    self.escape(&mut escaped)?;
                    units.extend(escaped.encode_utf16());
                }
                Some(control) if control < 0x20 && !(self.json5 && control != b'\n' && control != b'\r') => {
                    return Err(self.error(ReadErrorKind::ControlCharacter(u32::from(control))));
                }
                Some(_) => {
                    let c = self.current_char().ok_or_else(|| self.error(ReadErrorKind::UnexpectedEnd("the closing quote")))?;
                    units.extend(c.encode_utf16(&mut [0; 2]).iter());
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, ReadError> {
        let quote = self.bytes[self.pos];
        self.pos += 1;
        let start = self.pos;
        // Fast path: the closing quote comes before any escape and there is
        // no control character in between.
        if let Some(end) = memchr::memchr2(quote, b'\\', &self.bytes[start..]) {
            let run = &self.bytes[start..start + end];
            if self.bytes[start + end] == quote && !run.iter().any(|&b| b < 0x20) {
                self.pos = start + end + 1;
                return Ok(self.text[start..start + end].to_owned());
            }
        }
        let mut out = self.text[start..self.pos].to_owned();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == quote || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.error(ReadErrorKind::UnexpectedEnd("the closing quote"))),
                Some(b) if b == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                // JSON5 strings may hold raw control characters, but not line breaks.
                Some(control) if self.json5 && control != b'\n' && control != b'\r' => {
                    out.push(char::from(control));
                    self.pos += 1;
                }
                Some(control) => return Err(self.error(ReadErrorKind::ControlCharacter(u32::from(control)))),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ReadError> {
        let escape_start = self.pos;
        self.pos += 1;
        let Some(b) = self.peek() else {
            return Err(self.error(ReadErrorKind::UnexpectedEnd("an escape")));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex(4)? as u16;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = if self.bytes[self.pos..].starts_with(b"\\u") {
                            let save = self.pos;
                            self.pos += 2;
                            let low = self.hex(4)? as u16;
                            if (0xDC00..=0xDFFF).contains(&low) {
                                Some(low)
                            } else {
                                self.pos = save;
                                None
                            }
                        } else {
                            None
                        };
                        let Some(low) = low else {
                            self.pos = escape_start;
                            return Err(self.error(ReadErrorKind::LoneSurrogate(unit)));
                        };
                        let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        char::from_u32(code).ok_or_else(|| self.error(ReadErrorKind::InvalidEscape))?
                    }
                    0xDC00..=0xDFFF => {
                        self.pos = escape_start;
                        return Err(self.error(ReadErrorKind::LoneSurrogate(unit)));
                    }
                    _ => char::from_u32(u32::from(unit)).ok_or_else(|| self.error(ReadErrorKind::InvalidEscape))?,
                }
            }
            _ if self.json5 => match self.json5_escape(b)? {
                Some(c) => c,
                None => return Ok(()),
            },
            _ => {
                self.pos = escape_start;
                return Err(self.error(ReadErrorKind::InvalidEscape));
            }
        };
        out.push(c);
        Ok(())
    }

    /// The escapes JSON5 adds (ECMAScript 5.1): `\'`, `\v`, `\0`, `\xHH`,
    /// line continuations (`None`) and any other character standing for itself.
    fn json5_escape(&mut self, first: u8) -> Result<Option<char>, ReadError> {
        self.pos -= 1;
        let c = self.current_char().ok_or_else(|| self.error(ReadErrorKind::InvalidEscape))?;
        self.pos += c.len_utf8();
        Ok(match c {
            'v' => Some('\u{b}'),
            '0' if !self.peek().is_some_and(|b| b.is_ascii_digit()) => Some('\0'),
            'x' => Some(char::from(self.hex(2)? as u8)),
            '\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                None
            }
            '\n' | '\u{2028}' | '\u{2029}' => None,
            '1'..='9' | '0' => {
                self.pos -= 1;
                return Err(self.error(ReadErrorKind::InvalidEscape));
            }
            other => {
                debug_assert!(first != b'u');
                Some(other)
            }
        })
    }

    fn hex(&mut self, len: usize) -> Result<u32, ReadError> {
        let digits = self.bytes.get(self.pos..self.pos + len).ok_or_else(|| self.error(ReadErrorKind::InvalidEscape))?;
        let mut unit = 0u32;
        for &d in digits {
            let v = char::from(d).to_digit(16).ok_or_else(|| self.error(ReadErrorKind::InvalidEscape))?;
            unit = unit * 16 + v;
        }
        self.pos += len;
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, ReadError> {
        if self.json5 {
            return self.json5_number();
        }
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(ReadErrorKind::InvalidNumber)),
        }
        let mut is_float = false;
        // Python's scanner, like JSON, needs digits after '.' and after 'e';
        // without them the number ends before the '.' or 'e'.
        if self.peek() == Some(b'.') && self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        self.number_value(&self.text[start..self.pos], is_float)
    }

    /// The value of a scanned number literal: an exact int, or a float
    /// (an infinity when too large, as Python's `float()` gives).
    fn number_value(&mut self, literal: &str, is_float: bool) -> Result<Value, ReadError> {
        if is_float {
            let x: f64 = literal.parse().map_err(|_| self.error(ReadErrorKind::InvalidNumber))?;
            if x.is_infinite() {
                self.notes.non_finite = true;
            }
            Ok(Value::Float(x))
        } else {
            literal.parse::<Int>().map(Value::Int).map_err(|_| self.error(ReadErrorKind::InvalidNumber))
        }
    }
}

impl Parser<'_> {
    /// `[+-]? (Infinity | NaN | 0x HEX | DIGITS [. DIGITS*] | . DIGITS) [e [+-] DIGITS]`
    fn json5_number(&mut self) -> Result<Value, ReadError> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let rest = &self.bytes[self.pos..];
        let special = if rest.starts_with(b"Infinity") {
            Some(("Infinity", f64::INFINITY))
        } else if rest.starts_with(b"NaN") {
            Some(("NaN", f64::NAN))
        } else {
            None
        };
        if let Some((word, x)) = special {
            self.pos += word.len();
            self.notes.non_finite = true;
            return Ok(Value::Float(if negative { -x } else { x }));
        }
        if rest.starts_with(b"0x") || rest.starts_with(b"0X") {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let digits = &self.text[digits_start..self.pos];
            let magnitude = num_bigint::BigInt::parse_bytes(digits.as_bytes(), 16).ok_or_else(|| self.error(ReadErrorKind::InvalidNumber))?;
            return Ok(Value::Int(Int::from_big(if negative { -magnitude } else { magnitude })));
        }
        let int_digits = self.digits();
        if int_digits > 1 && self.bytes[self.pos - int_digits] == b'0' {
            self.pos = start;
            return Err(self.error(ReadErrorKind::InvalidNumber));
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            if self.digits() == 0 && int_digits == 0 {
                self.pos = start;
                return Err(self.error(ReadErrorKind::InvalidNumber));
            }
        } else if int_digits == 0 {
            self.pos = start;
            return Err(self.error(ReadErrorKind::InvalidNumber));
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(ReadErrorKind::InvalidNumber));
            }
            is_float = true;
        }
        // Rust's parsers take `5.` and `.5` but not a '+' sign.
        let text = self.text;
        self.number_value(text[start..self.pos].trim_start_matches('+'), is_float)
    }
}

/// JSON5 white space: ECMAScript's WhiteSpace and LineTerminator.
fn is_json5_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
        || unicode_general_category::get_general_category(c) == unicode_general_category::GeneralCategory::SpaceSeparator
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

fn is_identifier_start(c: char) -> bool {
    use unicode_general_category::GeneralCategory::*;
    c == '$'
        || c == '_'
        || matches!(
            unicode_general_category::get_general_category(c),
            UppercaseLetter | LowercaseLetter | TitlecaseLetter | ModifierLetter | OtherLetter | LetterNumber
        )
}

fn is_identifier_part(c: char) -> bool {
    use unicode_general_category::GeneralCategory::*;
    is_identifier_start(c)
        || c == '\u{200c}'
        || c == '\u{200d}'
        || matches!(unicode_general_category::get_general_category(c), NonspacingMark | SpacingMark | DecimalNumber | ConnectorPunctuation)
}

/// Entries with string keys -> a dict with Python semantics for repeated
/// keys. Returns whether there were any.
pub(crate) fn dict_from_str_entries(entries: Vec<(Value, Value)>) -> (Dict, bool) {
    if !has_duplicate_str_keys(&entries) {
        return (Dict::from_distinct(entries), false);
    }
    (entries.into_iter().collect(), true)
}

fn has_duplicate_str_keys(entries: &[(Value, Value)]) -> bool {
    // A key with a lone surrogate (rare) is compared as a value.
    if entries.len() <= 8 || entries.iter().any(|(k, _)| matches!(k, Value::SurrogateStr(_))) {
        return (0..entries.len()).any(|i| (0..i).any(|j| entries[i].0 == entries[j].0));
    }
    let key = |i: usize| entries[i].0.as_str().unwrap_or_default();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    order.windows(2).any(|w| key(w[0]) == key(w[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Value {
        read_strict(text).unwrap().0
    }

    #[test]
    fn python_literals_and_exact_integers() {
        assert_eq!(read("NaN"), Value::Float(f64::NAN));
        assert_eq!(read("-Infinity"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(read("1e400"), Value::Float(f64::INFINITY));
        assert_eq!(read("-0.0"), Value::Float(-0.0));
        let big = "100000000000000000000000000000000000000000";
        assert!(matches!(read(big), Value::Int(n) if n.to_string() == big));
    }

    #[test]
    fn json5_only_when_needed() {
        let (_, notes) = read_text(r#"{"a": [1, 2]}"#).unwrap();
        assert!(!notes.json5);
        let text = "// c\n{a: 'x\\'y', \"b\": [+1, .5, 5., 0x1F, -Infinity, NaN,], /* c */ c: 1e400,}";
        let (value, notes) = read_text(text).unwrap();
        assert!(notes.json5 && notes.non_finite);
        let dict = value.as_dict().unwrap();
        assert_eq!(dict.get("a"), Some(&Value::from("x'y")));
        assert_eq!(
            dict.get("b"),
            Some(&Value::List(vec![
                Value::from(1),
                Value::from(0.5),
                Value::from(5.0),
                Value::from(31),
                Value::from(f64::NEG_INFINITY),
                Value::from(f64::NAN)
            ]))
        );
        assert_eq!(dict.get("c"), Some(&Value::from(f64::INFINITY)));
        let big = read_text("[123456789012345678901234567890,]").unwrap().0;
        assert!(matches!(&big, Value::List(items) if matches!(&items[0], Value::Int(n) if n.to_string() == "123456789012345678901234567890")));
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        let (value, notes) = read_strict(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert!(notes.duplicate_keys);
        let dict = value.as_dict().unwrap();
        let keys: Vec<_> = dict.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(dict.get("a"), Some(&Value::from(3)));
    }

    #[test]
    fn lone_surrogates_are_read_and_written_back_as_python_does() {
        for text in [r#""\ud800""#, r#""a\udc00\u00e9\ud83d\ude00\n""#, r#"{"\ud800": "\udfff", "b": ["x\udbff"]}"#] {
            let (value, _) = read_strict(text).unwrap();
            assert_eq!(crate::json::to_python_json(&value, crate::json::KeyOrder::Insertion).unwrap(), text);
        }
        let Value::SurrogateStr(s) = read_strict(r#""a\ud800\u00e9""#).unwrap().0 else { panic!("a SurrogateStr") };
        assert_eq!(s.units(), [0x61, 0xd800, 0xe9]);
        // json.dumps(sort_keys=True) orders by code point: U+D7FF < U+D800 < U+E000 < U+10000.
        let (value, _) = read_strict(r#"{"\ud83d\ude00": 1, "\ue000": 2, "\ud800": 3, "\ud7ff": 4}"#).unwrap();
        assert_eq!(
            crate::json::to_python_json(&value, crate::json::KeyOrder::Sorted).unwrap(),
            r#"{"\ud7ff": 4, "\ud800": 3, "\ue000": 2, "\ud83d\ude00": 1}"#
        );
        // JSON5 too, and an error after the surrogate is still an error.
        assert!(matches!(read_json5("['\\ud800',]").unwrap().0, Value::List(items) if matches!(items[0], Value::SurrogateStr(_))));
        assert_eq!(read_strict("\"\\ud800\u{1}\"").unwrap_err().kind, ReadErrorKind::ControlCharacter(1));
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = read_strict("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((err.line, err.column), (2, 8));
        assert_eq!(read_strict("[1] x").unwrap_err().kind, ReadErrorKind::TrailingCharacters);
    }

    #[test]
    fn depth_is_limited_not_a_stack_overflow() {
        let ok = "[".repeat(1000) + &"]".repeat(1000);
        assert!(read_strict(&ok).is_ok());
        let deep = "[".repeat(100_000);
        assert_eq!(read_strict(&deep).unwrap_err().kind, ReadErrorKind::TooDeep(MAX_DEPTH));
    }
}
