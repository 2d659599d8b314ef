//! How a backend operation fails: the error kinds of the protocol, shared
//! by the backends, the protocol and everything that judges them. A leaf
//! module, so that the protocol need not import the backends.

use std::fmt;

use crate::value::Value;

/// The kinds of backend failure, as the protocol names them. `connection`
/// and `timeout` are faults of the way to the storage, not verdicts on it
/// (`ErrorKind::is_fault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The backend refuses this run id on purpose.
    InvalidRunId,
    /// The backend refuses a value it cannot store.
    Unsupported,
    /// The operation is not implemented.
    NotSupportedOp,
    /// Anything else that went wrong in an operation.
    Internal,
    /// The backend could not be opened or reached: refused, reset, dropped
    /// (after the backend's own retries).
    Connection,
    /// The storage did not answer within the operation's deadline (a
    /// stalled server, one that accepts connections and never answers).
    Timeout,
}

impl ErrorKind {
    /// The protocol's name for the kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::InvalidRunId => "invalid_run_id",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::NotSupportedOp => "not_supported_op",
            ErrorKind::Internal => "internal",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
        }
    }

    /// Whether the failure is a fault of the way to the storage
    /// (`connection`, `timeout`): it says nothing about what the backend
    /// stores, so it is never a verdict, a conflict or a failed check.
    pub(crate) fn is_fault(&self) -> bool {
        matches!(self, ErrorKind::Connection | ErrorKind::Timeout)
    }

    /// The kind named `name` in the protocol (unknown names are `internal`).
    #[cfg(feature = "exec")]
    pub(crate) fn from_protocol(name: &str) -> ErrorKind {
        match name {
            "invalid_run_id" => ErrorKind::InvalidRunId,
            "unsupported" => ErrorKind::Unsupported,
            "not_supported_op" => ErrorKind::NotSupportedOp,
            "connection" => ErrorKind::Connection,
            "timeout" => ErrorKind::Timeout,
            _ => ErrorKind::Internal,
        }
    }
}

impl ErrorKind {
    /// Whether the backend itself could not be reached (refused, broken,
    /// timed out): nothing is known of what it holds.
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(self, ErrorKind::Connection | ErrorKind::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct BackendError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened, naming the run id, file or server involved.
    pub message: String,
}

impl BackendError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> BackendError {
        BackendError { kind, message: message.into() }
    }

    /// `invalid_run_id`, naming the id as Python's `repr` would.
    pub fn invalid_run_id(run_id: &str, why: &str) -> BackendError {
        BackendError::new(ErrorKind::InvalidRunId, format!("Invalid run_id: {}: {why}", crate::format::py_repr(&Value::from(run_id), Default::default())))
    }

    /// `internal`, with context.
    pub fn internal(context: impl fmt::Display, error: impl fmt::Display) -> BackendError {
        BackendError::new(ErrorKind::Internal, format!("{context}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_protocol_names() {
        let kinds =
            [ErrorKind::InvalidRunId, ErrorKind::Unsupported, ErrorKind::NotSupportedOp, ErrorKind::Internal, ErrorKind::Connection, ErrorKind::Timeout];
        for kind in kinds {
            assert_eq!(ErrorKind::from_protocol(kind.as_str()), kind);
        }
        assert_eq!(ErrorKind::from_protocol("no_such_kind"), ErrorKind::Internal);
        assert_eq!(kinds.iter().filter(|k| k.is_fault()).count(), 2);
    }
}
