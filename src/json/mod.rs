//! JSON text as Python writes and reads it: the exact bytes of
//! `json.dumps`, and a reader for Python's grammar with a JSON5 fallback.

mod float;
mod read;
mod write;

pub use float::{float_repr, float_repr_bare, write_float_repr};
pub use read::{MAX_DEPTH, ReadError, ReadErrorKind, ReadNotes, read_json5, read_strict, read_text};
pub use write::{KeyOrder, WriteError, to_python_json, to_python_json_indented, write_ascii_string, write_json_float, write_python_json};
