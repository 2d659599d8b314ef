//! JSON text as Python writes and reads it: the exact bytes of
//! `json.dumps`, and a reader for Python's grammar with a JSON5 fallback.

mod float;
#[cfg(test)]
mod json5_differential;
mod read;
mod write;

pub(crate) use float::{float_repr, float_repr_bare, write_float_repr};
pub use read::{MAX_DEPTH, ReadError, ReadErrorKind, ReadNotes, read_json5, read_strict, read_text};
pub use write::{KeyOrder, WriteError, to_python_json, to_python_json_indented};
