//! JSON paths (RFC 6901 pointers) that name where in a value something went
//! wrong, built cheaply while an error unwinds.

use std::fmt;

/// One step into a value: a dict key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A dict key (non-string keys are shown by their Python `str()`).
    Key(String),
    /// A list, tuple or set position.
    Index(usize),
}

/// A JSON pointer such as `/pipeline_context/prices/0`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonPath {
    /// Innermost segment first while an error unwinds; see [`JsonPath::fmt`].
    reversed: Vec<Segment>,
}

impl JsonPath {
    /// The root of the value.
    pub fn root() -> JsonPath {
        JsonPath::default()
    }

    /// Adds the segment that leads to the current path from its parent;
    /// called from the inside out while an error propagates.
    pub fn push_parent(&mut self, segment: Segment) {
        self.reversed.push(segment);
    }

    /// The segments from the root down.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.reversed.iter().rev()
    }

    /// Builds a path from segments listed from the root down.
    pub fn from_segments(segments: impl IntoIterator<Item = Segment>) -> JsonPath {
        let mut reversed: Vec<Segment> = segments.into_iter().collect();
        reversed.reverse();
        JsonPath { reversed }
    }
}

impl fmt::Display for JsonPath {
    /// Writes the RFC 6901 pointer (`""` for the root, `~0`/`~1` escapes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in self.segments() {
            match segment {
                Segment::Key(key) => write!(f, "/{}", key.replace('~', "~0").replace('/', "~1"))?,
                Segment::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}

/// An error that knows where in a value it happened.
pub trait AtPath: Sized {
    /// The path, for adding the parent segments while unwinding.
    fn path_mut(&mut self) -> &mut JsonPath;

    /// Adds `segment` as the parent of the current path.
    fn under(mut self, segment: Segment) -> Self {
        self.path_mut().push_parent(segment);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_text() {
        let mut path = JsonPath::root();
        path.push_parent(Segment::Index(0));
        path.push_parent(Segment::Key("a/b~c".into()));
        assert_eq!(path.to_string(), "/a~1b~0c/0");
        assert_eq!(JsonPath::root().to_string(), "");
    }
}
