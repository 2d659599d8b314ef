//! `postgres://USER@HOST:PORT/DB?table=T` (or `postgresql://`): one row per
//! run in table `T` (default `stateharness_state`), created when missing:
//! `run_id TEXT PRIMARY KEY, state TEXT NOT NULL, saved_at TIMESTAMPTZ`.
//! `state` is `json.dumps(safe_serialize(state))` (insertion order), ASCII
//! text in which U+0000 stays the escape `\u0000`: flujo's own Postgres
//! backend lost NUL characters, this one keeps them. A run id holding NUL
//! cannot be a Postgres TEXT and is refused.
//!
//! Connecting (socket and handshake) and every query run under the
//! operation deadline, on a connection that is made again when it breaks
//! ([`super::link`]).

use std::error::Error as _;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use crate::format::{TypeHints, TypeRegistry};
use crate::json::KeyOrder;
use crate::value::Value;

use super::codec::{state_to_text, text_to_state};
use super::link::{Failure, Link};
use super::url_query::take_query_param;
use super::{BackendError, Capabilities, ErrorKind, NewState, OpenOptions, Raw, RawState, StateBackend, StoredForm, StoredPart};

/// The table used when the URL names none.
pub const DEFAULT_TABLE: &str = "stateharness_state";

/// Postgres truncates longer identifiers silently (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// State as JSON text in a Postgres table.
pub struct PostgresBackend {
    url: String,
    table: String,
    registry: Arc<TypeRegistry>,
    link: Link<Session>,
}

/// One connection with the statements prepared on it.
struct Session {
    client: Client,
    connection: JoinHandle<()>,
    save: Statement,
    load: Statement,
    delete: Statement,
    list: Statement,
    /// The compare-and-set statements: each is one statement, atomic.
    swap: SwapStatements,
}

/// [`StateBackend::swap_state`]'s statements. Each also succeeds when the
/// row already holds the new state, so a retry whose first answer was lost
/// reports what happened.
struct SwapStatements {
    /// Inserts unless a row with another state is there.
    insert: Statement,
    /// Replaces the state only if it is the expected one (or already the new one).
    update: Statement,
    /// Deletes the row only if it holds the expected state.
    delete: Statement,
    /// Whether there is no row.
    absent: Statement,
}

impl Drop for Session {
    /// Ends the connection's socket task with the session.
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Session {
    /// Connects, creates the table when missing and prepares the statements.
    async fn open(config: tokio_postgres::Config, table: String) -> Result<Session, Failure> {
        let (client, connection) = config.connect(NoTls).await.map_err(|e| failure(&e))?;
        // The connection object does the socket I/O; it ends when the client
        // is dropped. Its errors reach the client's calls as "connection
        // closed", so they are not kept here.
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let prepared = async {
            create_table(&client, &table).await?;
            let quoted = format!("\"{table}\"");
            Ok::<_, tokio_postgres::Error>((
                client
                    .prepare(&format!(
                        "INSERT INTO {quoted} (run_id, state, saved_at) VALUES ($1, $2, now()) \
                         ON CONFLICT (run_id) DO UPDATE SET state = EXCLUDED.state, saved_at = EXCLUDED.saved_at"
                    ))
                    .await?,
                client.prepare(&format!("SELECT state FROM {quoted} WHERE run_id = $1")).await?,
                client.prepare(&format!("DELETE FROM {quoted} WHERE run_id = $1")).await?,
                // left() = prefix compares exactly; LIKE would treat `_` and `%` as wildcards.
                client.prepare(&format!("SELECT run_id FROM {quoted} WHERE left(run_id, char_length($1::text)) = $1::text")).await?,
                SwapStatements {
                    insert: client
                        .prepare(&format!(
                            "INSERT INTO {quoted} AS t (run_id, state, saved_at) VALUES ($1, $2, now()) \
                             ON CONFLICT (run_id) DO UPDATE SET saved_at = t.saved_at WHERE t.state = EXCLUDED.state"
                        ))
                        .await?,
                    update: client
                        .prepare(&format!("UPDATE {quoted} SET state = $2, saved_at = now() WHERE run_id = $1 AND (state = $3 OR state = $2)"))
                        .await?,
                    delete: client.prepare(&format!("DELETE FROM {quoted} WHERE run_id = $1 AND state = $2")).await?,
                    absent: client.prepare(&format!("SELECT NOT EXISTS (SELECT 1 FROM {quoted} WHERE run_id = $1)")).await?,
                },
            ))
        }
        .await;
        match prepared {
            Ok((save, load, delete, list, swap)) => Ok(Session { client, connection, save, load, delete, list, swap }),
            Err(e) => {
                connection.abort();
                Err(failure(&e))
            }
        }
    }
}

/// A Postgres error as a [`Failure`]: a closed or broken connection, or
/// the server shutting the session down (`pg_terminate_backend`, a
/// restart), is a broken connection; a socket time-out a timeout.
fn failure(error: &tokio_postgres::Error) -> Failure {
    let shutdown = [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW];
    let io = std::iter::successors(error.source(), |&cause| cause.source()).find_map(|cause| cause.downcast_ref::<std::io::Error>());
    let kind = match (error.code(), io) {
        (Some(code), _) if shutdown.contains(code) => ErrorKind::Connection,
        (Some(_), _) => ErrorKind::Internal,
        (None, Some(io)) if io.kind() == std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        (None, Some(_)) => ErrorKind::Connection,
        (None, None) if error.is_closed() => ErrorKind::Connection,
        (None, None) => ErrorKind::Internal,
    };
    Failure::new(kind, chain(error))
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend").field("url", &self.url).field("table", &self.table).finish_non_exhaustive()
    }
}

/// `error` and its causes, `: `-separated (tokio-postgres puts the server's
/// message in the cause: its own text is only "db error").
fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A table name Postgres takes as it is: `[A-Za-z_][A-Za-z0-9_]*`, at
/// most 63 bytes.
fn valid_table(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') && name.len() <= MAX_IDENTIFIER
}

impl PostgresBackend {
    /// Connects to `postgres://...?table=T` (no TLS), creates the table when
    /// missing and prepares the statements; connecting (handshake included)
    /// and every query get `options.op_timeout`. The `table` parameter is
    /// removed before the URL goes to tokio-postgres; the name is quoted, so
    /// its case is kept.
    ///
    /// A malformed URL, a bad table name or a server that refuses the
    /// connection is a [`ErrorKind::Connection`] error naming the URL
    /// (password hidden); a server that does not answer in time,
    /// [`ErrorKind::Timeout`].
    pub async fn open_with(url: &str, registry: Arc<TypeRegistry>, options: OpenOptions) -> Result<PostgresBackend, BackendError> {
        let shown = crate::redact::redact(url).into_owned();
        let connection_error = |cause: &dyn std::fmt::Display| BackendError::new(ErrorKind::Connection, format!("could not connect to {shown}: {cause}"));
        let (client_url, table) = take_query_param(url, "table").map_err(|e| connection_error(&e))?;
        let table = table.unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        if !valid_table(&table) {
            return Err(connection_error(&format!("table name {table:?} is not [A-Za-z_][A-Za-z0-9_]* of at most {MAX_IDENTIFIER} bytes")));
        }
        let mut config: tokio_postgres::Config = client_url.parse().map_err(|e| connection_error(&chain(&e)))?;
        // A password kept off the command line: libpq's variable.
        if let (None, Some(password)) = (config.get_password(), std::env::var_os("PGPASSWORD")) {
            config.password(password.as_encoded_bytes());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.op_timeout);
        }
        let session_table = table.clone();
        let link = Link::new(options.op_timeout, move || Box::pin(Session::open(config.clone(), session_table.clone())));
        let backend = PostgresBackend { url: shown.clone(), table, registry, link };
        backend.link.run(|| format!("could not connect to {shown}"), options.op_timeout, |_| async { Ok(()) }).await.map_err(|e| match e.kind {
            ErrorKind::Timeout => e,
            _ => BackendError::new(ErrorKind::Connection, e.message),
        })?;
        Ok(backend)
    }

    /// The `state` column of `run_id`'s row.
    async fn state_column(&self, run_id: &str) -> Result<Option<String>, BackendError> {
        check_run_id(run_id)?;
        let context = || self.context("loading", run_id);
        self.link
            .run(context, self.link.op_timeout(), |session| async move {
                let row = session.client.query_opt(&session.load, &[&run_id]).await.map_err(|e| failure(&e))?;
                row.map(|row| row.try_get(0).map_err(|e| failure(&e))).transpose()
            })
            .await
    }

    fn context(&self, what: &str, run_id: &str) -> String {
        format!("{what} run {run_id:?} in table {} on {}", self.table, self.url)
    }
}

/// `CREATE TABLE IF NOT EXISTS`, which two sessions racing can still make
/// fail with a duplicate in the catalog: then the other one created it.
async fn create_table(client: &Client, table: &str) -> Result<(), tokio_postgres::Error> {
    let sql = format!("CREATE TABLE IF NOT EXISTS \"{table}\" (run_id TEXT PRIMARY KEY, state TEXT NOT NULL, saved_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    match client.batch_execute(&sql).await {
        Err(e) if matches!(e.code(), Some(code) if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::DUPLICATE_TABLE) => Ok(()),
        other => other,
    }
}

/// Postgres TEXT cannot hold U+0000.
fn check_run_id(run_id: &str) -> Result<(), BackendError> {
    if run_id.contains('\0') {
        return Err(BackendError::invalid_run_id(run_id, "a Postgres TEXT cannot hold NUL"));
    }
    Ok(())
}

#[async_trait]
impl StateBackend for PostgresBackend {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: true, shared: true }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        check_run_id(run_id)?;
        let text = state_to_text(state, KeyOrder::Insertion, &self.registry)?;
        // Retried on a broken connection: the upsert of the same text is idempotent.
        let (context, text) = (|| self.context("saving", run_id), &text);
        self.link
            .run(
                context,
                self.link.op_timeout(),
                |session| async move { session.client.execute(&session.save, &[&run_id, text]).await.map_err(|e| failure(&e)) },
            )
            .await?;
        Ok(())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let Some(text) = self.state_column(run_id).await? else { return Ok(None) };
        let origin = format!("run {run_id:?} in table {} on {}", self.table, self.url);
        text_to_state(&text, hints, &self.registry, &origin).map(Some)
    }

    async fn load_raw(&self, run_id: &str) -> Result<Option<RawState>, BackendError> {
        Ok(self.state_column(run_id).await?.map(|text| RawState(Raw::Bytes(text.into_bytes()))))
    }

    fn decode_raw(&self, run_id: &str, raw: &RawState, hints: &TypeHints) -> Result<Value, BackendError> {
        let origin = format!("run {run_id:?} in table {} on {}", self.table, self.url);
        let text =
            raw.bytes().map(std::str::from_utf8).and_then(Result::ok).ok_or_else(|| BackendError::internal(format!("loading {origin}"), "not a state text"))?;
        text_to_state(text, hints, &self.registry, &origin)
    }

    /// One statement each: an insert that leaves another state alone, an
    /// update or delete conditioned on the expected state.
    async fn swap_state(&self, run_id: &str, expected: Option<&RawState>, new: NewState<'_>) -> Result<bool, BackendError> {
        check_run_id(run_id)?;
        let text = |raw: &RawState| raw.bytes().and_then(|b| std::str::from_utf8(b).ok()).map(str::to_owned);
        let not_text = || BackendError::internal(self.context("saving", run_id), "a raw state that is not a state text");
        let expected = expected.map(|raw| text(raw).ok_or_else(not_text)).transpose()?;
        let new = match new {
            NewState::State(state) => Some(state_to_text(state, KeyOrder::Insertion, &self.registry)?),
            NewState::Raw(raw) => Some(text(raw).ok_or_else(not_text)?),
            NewState::Nothing => None,
        };
        let (expected, new) = (&expected, &new);
        let context = || self.context("saving", run_id);
        self.link
            .run(context, self.link.op_timeout(), |session| async move {
                let swap = &session.swap;
                let client = &session.client;
                let changed = match (expected, new) {
                    (None, Some(new)) => client.execute(&swap.insert, &[&run_id, new]).await,
                    (Some(old), Some(new)) => client.execute(&swap.update, &[&run_id, new, old]).await,
                    (Some(old), None) => client.execute(&swap.delete, &[&run_id, old]).await,
                    (None, None) => Ok(0),
                }
                .map_err(|e| failure(&e))?;
                if changed == 1 || new.is_some() {
                    return Ok(changed == 1);
                }
                // Nothing deleted: done all the same if no row is there.
                client.query_one(&swap.absent, &[&run_id]).await.and_then(|row| row.try_get(0)).map_err(|e| failure(&e))
            })
            .await
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        check_run_id(run_id)?;
        let context = || self.context("deleting", run_id);
        self.link
            .run(
                context,
                self.link.cleanup_timeout(),
                |session| async move { session.client.execute(&session.delete, &[&run_id]).await.map_err(|e| failure(&e)) },
            )
            .await?;
        Ok(())
    }

    /// The row's `state` text (`saved_at`, the time of the save, left out).
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let parts = self.state_column(run_id).await?.map(|text| StoredPart { name: "state [text]".to_owned(), text }).into_iter().collect();
        Ok(Some(StoredForm { location: format!("table {}, row {run_id:?}", self.table), parts }))
    }

    /// The run ids starting with `prefix`, sorted by code point.
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        if prefix.contains('\0') {
            // No stored id holds NUL, and the server would refuse the text.
            return Ok(Vec::new());
        }
        let context = || format!("listing table {} on {}", self.table, self.url);
        let mut ids = self
            .link
            .run(context, self.link.op_timeout(), |session| async move {
                let rows = session.client.query(&session.list, &[&prefix]).await.map_err(|e| failure(&e))?;
                rows.iter().map(|row| row.try_get::<_, String>(0)).collect::<Result<Vec<_>, _>>().map_err(|e| failure(&e))
            })
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// Ends the connection; later operations fail with `internal`.
    async fn close(&self) -> Result<(), BackendError> {
        self.link.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for good in ["t", "_x", "State_2", &"a".repeat(63)] {
            assert!(valid_table(good), "{good}");
        }
        for bad in ["", "2t", "a-b", "a b", "\"t\"", "tä", &"a".repeat(64)] {
            assert!(!valid_table(bad), "{bad}");
        }
    }
}
