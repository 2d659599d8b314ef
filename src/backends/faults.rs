//! Which client errors mean the server could not be reached (refused,
//! broken, timed out) rather than a failed operation: a caller must never
//! take them for what the server holds (a migration would call a dropped
//! connection a conflict).

use std::error::Error;

use tokio_postgres::error::SqlState;

use super::ErrorKind;

/// The kind of a PostgreSQL client error: [`ErrorKind::Connection`] for a
/// closed connection, an I/O failure or a server shutting the session down
/// (class 08, 57P01-57P03), [`ErrorKind::Timeout`] for an I/O timeout,
/// else [`ErrorKind::Internal`].
pub(crate) fn postgres_kind(error: &tokio_postgres::Error) -> ErrorKind {
    if let Some(io) = io_cause(error) {
        return io_kind(io);
    }
    let shut_down = error
        .code()
        .is_some_and(|code| code.code().starts_with("08") || [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW].contains(code));
    if error.is_closed() || shut_down { ErrorKind::Connection } else { ErrorKind::Internal }
}

/// The kind of a Redis client error, by the same rule.
pub(crate) fn redis_kind(error: &redis::RedisError) -> ErrorKind {
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connection_dropped() || error.is_connection_refusal() || error.is_io_error() {
        ErrorKind::Connection
    } else {
        ErrorKind::Internal
    }
}

/// The first I/O error among `error`'s causes.
fn io_cause<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e std::io::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = e.source();
    }
    None
}

fn io_kind(io: &std::io::Error) -> ErrorKind {
    if io.kind() == std::io::ErrorKind::TimedOut { ErrorKind::Timeout } else { ErrorKind::Connection }
}
