//! `postgres://USER@HOST:PORT/DB?table=T` (or `postgresql://`): one row per
//! run in table `T` (default `stateharness_state`), created when missing:
//! `run_id TEXT PRIMARY KEY, state TEXT NOT NULL, saved_at TIMESTAMPTZ`.
//! `state` is `json.dumps(safe_serialize(state))` (insertion order), ASCII
//! text in which U+0000 stays the escape `\u0000`: flujo's own Postgres
//! backend lost NUL characters, this one keeps them. A run id holding NUL
//! cannot be a Postgres TEXT and is refused.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use crate::format::{TypeHints, TypeRegistry};
use crate::json::KeyOrder;
use crate::value::Value;

use super::codec::{state_to_text, text_to_state};
use super::redis::{redact_url, take_query_param};
use super::{BackendError, Capabilities, ErrorKind, StateBackend, StoredForm, StoredPart};

/// The table used when the URL names none.
pub const DEFAULT_TABLE: &str = "stateharness_state";

/// Postgres truncates longer identifiers silently (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// How long connecting may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// State as JSON text in a Postgres table.
pub struct PostgresBackend {
    url: String,
    table: String,
    registry: Arc<TypeRegistry>,
    client: Client,
    connection: JoinHandle<()>,
    save: Statement,
    load: Statement,
    delete: Statement,
    list: Statement,
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
    /// missing and prepares the statements. The `table` parameter is removed
    /// before the URL goes to tokio-postgres; the name is quoted, so its
    /// case is kept.
    ///
    /// A malformed URL, a bad table name or a server that cannot be reached
    /// is a [`ErrorKind::Connection`] error naming the URL (password hidden).
    pub async fn open(url: &str, registry: Arc<TypeRegistry>) -> Result<PostgresBackend, BackendError> {
        let shown = redact_url(url);
        let connection_error = |cause: &dyn std::fmt::Display| BackendError::new(ErrorKind::Connection, format!("could not connect to {shown}: {cause}"));
        let (client_url, table) = take_query_param(url, "table").map_err(|e| connection_error(&e))?;
        let table = table.unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        if !valid_table(&table) {
            return Err(connection_error(&format!("table name {table:?} is not [A-Za-z_][A-Za-z0-9_]* of at most {MAX_IDENTIFIER} bytes")));
        }
        let mut config: tokio_postgres::Config = client_url.parse().map_err(|e| connection_error(&chain(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|e| connection_error(&chain(&e)))?;
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
            ))
        }
        .await;
        match prepared {
            Ok((save, load, delete, list)) => Ok(PostgresBackend { url: shown, table, registry, client, connection, save, load, delete, list }),
            Err(e) => {
                connection.abort();
                Err(connection_error(&chain(&e)))
            }
        }
    }

    /// The table the states are in.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The `state` column of `run_id`'s row.
    async fn state_column(&self, run_id: &str) -> Result<Option<String>, BackendError> {
        check_run_id(run_id)?;
        let row = self.client.query_opt(&self.load, &[&run_id]).await.map_err(|e| self.failed("loading", run_id, &e))?;
        row.map(|row| row.try_get(0).map_err(|e| self.failed("loading", run_id, &e))).transpose()
    }

    fn failed(&self, what: &str, run_id: &str, error: &tokio_postgres::Error) -> BackendError {
        let kind = super::faults::postgres_kind(error);
        BackendError::new(kind, format!("{what} run {run_id:?} in table {} on {}: {}", self.table, self.url, chain(error)))
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
        Capabilities { concurrent: true, persistent: true, list: true }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        check_run_id(run_id)?;
        let text = state_to_text(state, KeyOrder::Insertion, &self.registry)?;
        self.client.execute(&self.save, &[&run_id, &text]).await.map_err(|e| self.failed("saving", run_id, &e))?;
        Ok(())
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let Some(text) = self.state_column(run_id).await? else { return Ok(None) };
        let origin = format!("run {run_id:?} in table {} on {}", self.table, self.url);
        text_to_state(&text, hints, &self.registry, &origin).map(Some)
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        check_run_id(run_id)?;
        self.client.execute(&self.delete, &[&run_id]).await.map_err(|e| self.failed("deleting", run_id, &e))?;
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
        let rows = self
            .client
            .query(&self.list, &[&prefix])
            .await
            .map_err(|e| BackendError::internal(format!("listing table {} on {}", self.table, self.url), chain(&e)))?;
        let mut ids = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackendError::internal(format!("listing table {} on {}", self.table, self.url), chain(&e)))?;
        ids.sort();
        Ok(ids)
    }

    /// Ends the connection; later operations fail with `internal`.
    async fn close(&self) -> Result<(), BackendError> {
        self.connection.abort();
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
