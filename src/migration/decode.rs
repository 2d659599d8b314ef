//! Bytes of a legacy dump → the state it holds: a UTF-8 byte order mark is
//! allowed, the strict JSON reader is tried first and the JSON5 reader when
//! it refuses (NaN, comments, trailing commas...), and the top level must be
//! an object. Every refusal says why and, where there is one, the line and
//! column.

use crate::json::{ReadNotes, read_text};
use crate::value::Value;

use super::report::Note;

/// The UTF-8 byte order mark some editors put first.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A state read from a dump, and what was noticed on the way.
#[derive(Debug)]
pub struct Decoded {
    /// The state (a dict).
    pub state: Value,
    /// What the text needed or held (JSON5, NaN, repeated keys, a BOM).
    pub notes: Vec<Note>,
}

/// Reads a dump's bytes into its state.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let (bytes, bom) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    if let Some(encoding) = wide_encoding(bytes) {
        return Err(format!("the text is {encoding}, not UTF-8 as flujo writes it; convert it first (iconv -f {encoding} -t UTF-8)"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = std::str::from_utf8(&before[line_start..]).map_or(0, |s| s.chars().count()) + 1;
        format!("line {line}, column {column}: invalid UTF-8 (byte {at} of the file); flujo's dumps are UTF-8")
    })?;
    if text.trim().is_empty() {
        return Err("empty: there is no state in it".to_owned());
    }
    let (state, read_notes) = read_text(text).map_err(|e| e.to_string())?;
    if !matches!(state, Value::Dict(_)) {
        return Err(format!("the top level is {} {}, not an object: a state is a JSON object", article(state.type_name()), state.type_name()));
    }
    let mut notes = notes_of(read_notes);
    if bom {
        notes.push(Note::ByteOrderMark);
    }
    Ok(Decoded { state, notes })
}

/// The notes for what a reader noticed.
pub fn notes_of(read: ReadNotes) -> Vec<Note> {
    [(read.json5, Note::Json5), (read.non_finite, Note::NonFinite), (read.duplicate_keys, Note::DuplicateKeys)]
        .into_iter()
        .filter_map(|(noticed, note)| noticed.then_some(note))
        .collect()
}

/// The wide Unicode encoding `bytes` are in, by its byte order mark or by
/// the NUL bytes that ASCII text has between its characters in UTF-16.
fn wide_encoding(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xFE, 0, 0, ..] => Some("UTF-32LE"),
        [0, 0, 0xFE, 0xFF, ..] => Some("UTF-32BE"),
        [0xFF, 0xFE, ..] => Some("UTF-16LE"),
        [0xFE, 0xFF, ..] => Some("UTF-16BE"),
        [c, 0, d, 0, ..] if *c != 0 && *d != 0 => Some("UTF-16LE"),
        [0, c, 0, d, ..] if *c != 0 && *d != 0 => Some("UTF-16BE"),
        _ => None,
    }
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why_and_where() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "empty"),
            (b"  \n", "empty"),
            (b"[1, 2]", "the top level is a list"),
            (b"{\"a\": 1} x", "line 1, column 10"),
            (b"{\"a\":\n \"\xff\"}", "line 2, column 3: invalid UTF-8"),
            (b"\xFF\xFE{\x00}\x00", "UTF-16LE"),
            (b"{\x00\"\x00", "UTF-16LE"),
        ];
        for (bytes, expected) in cases {
            let error = decode(bytes).expect_err(expected);
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }

    #[test]
    fn notes_tell_what_the_text_needed() {
        let decoded = decode(b"\xEF\xBB\xBF{\"a\": NaN, \"a\": 1, // c\n}").unwrap();
        assert_eq!(decoded.notes, vec![Note::Json5, Note::NonFinite, Note::DuplicateKeys, Note::ByteOrderMark]);
        assert!(decode(b"{\"a\": 1}").unwrap().notes.is_empty());
    }
}
