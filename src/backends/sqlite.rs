//! `sqlite:///PATH`: flujo 0.4's SQLiteBackend. One row per run in the
//! `workflow_state` table (docs/storage.md): the scalar fields in their own
//! columns, `pipeline_context`, `last_step_output` and `step_history` as
//! `json.dumps(safe_serialize(value))` text, timestamps as isoformat text.
//!
//! Tables written before `step_history` existed (pre-0.7 databases such as
//! the oracle's `legacy.sqlite`) are read as they are, with `step_history`
//! loading as `[]`; opening never changes such a table. The first save
//! brings it to flujo 0.4's schema (adds the `step_history` column and the
//! two indexes), as flujo's own schema migration does, so that the state's
//! step history is never dropped on the way in.
//!
//! SQLite keeps a NUL inside a TEXT value faithfully (its length is stored),
//! so run ids holding NUL are accepted; only SQL string functions such as
//! `length()` stop at a NUL, which is why listing compares bytes (BLOBs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::format::{TypeHints, TypeRegistry, deserialize_with_hints, serialize};
use crate::json::{KeyOrder, read_text, to_python_json};
use crate::path::{AtPath, Segment};
use crate::value::{DateTime, Dict, EnumBase, Int, Value};

use super::{BackendError, Capabilities, ErrorKind, NewState, Raw, RawState, StateBackend, StoredForm, StoredPart};

/// flujo 0.4's table and indexes, verbatim from docs/storage.md.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS workflow_state (
    run_id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL,
    pipeline_name TEXT NOT NULL,
    pipeline_version TEXT NOT NULL,
    current_step_index INTEGER NOT NULL DEFAULT 0,
    pipeline_context TEXT NOT NULL,
    last_step_output TEXT,
    step_history TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    total_steps INTEGER DEFAULT 0,
    error_message TEXT,
    execution_time_ms INTEGER,
    memory_usage_mb REAL
);";

/// The indexes of flujo 0.4's schema.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS idx_workflow_state_status ON workflow_state(status);
CREATE INDEX IF NOT EXISTS idx_workflow_state_created_at ON workflow_state(created_at);";

/// The columns in schema order: the keys of a loaded state, in this order.
pub(crate) const COLUMNS: [&str; 15] = [
    "run_id",
    "pipeline_id",
    "pipeline_name",
    "pipeline_version",
    "current_step_index",
    "pipeline_context",
    "last_step_output",
    "step_history",
    "status",
    "created_at",
    "updated_at",
    "total_steps",
    "error_message",
    "execution_time_ms",
    "memory_usage_mb",
];

/// flujo's save: one whole row, replacing the run's previous row.
static INSERT: LazyLock<String> =
    LazyLock::new(|| format!("INSERT OR REPLACE INTO workflow_state ({}) VALUES ({})", COLUMNS.join(", "), vec!["?"; COLUMNS.len()].join(", ")));

/// The one column a pre-0.7 table lacks.
pub(crate) const STEP_HISTORY: &str = "step_history";

/// The values the table's CHECK constraint allows in `status`.
const STATUSES: [&str; 5] = ["running", "paused", "completed", "failed", "cancelled"];

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// flujo's SQLiteBackend.
pub struct SqliteBackend {
    url: String,
    registry: Arc<TypeRegistry>,
    db: Arc<Mutex<Db>>,
}

/// The connection and what is known of the table's schema.
struct Db {
    /// `None` once the backend is closed.
    conn: Option<Connection>,
    schema: Schema,
}

/// What is known of the `workflow_state` table.
struct Schema {
    /// The table has the `step_history` column.
    has_step_history: bool,
    /// The schema is flujo 0.4's (checked before the first write).
    upgraded: bool,
}

/// What an INTEGER column gets when its field is missing from the state.
#[derive(Clone, Copy)]
enum Missing {
    /// The field is required (and may not be None).
    Required,
    /// NULL (and None is NULL too).
    Null,
    /// This value (and None is NULL).
    Default(i64),
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend").field("url", &self.url).finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens (creating when missing) the database `sqlite:///PATH`, PATH
    /// absolute: WAL journal, a busy timeout, and the `workflow_state` table
    /// when there is none. The parent directory is created when missing.
    ///
    /// A URL without an absolute path, a file that is not a database, or a
    /// `workflow_state` table that lacks flujo's columns is a
    /// [`ErrorKind::Connection`] error.
    pub async fn open(url: &str, registry: Arc<TypeRegistry>) -> Result<SqliteBackend, BackendError> {
        let path = path_of(url)
            .ok_or_else(|| BackendError::new(ErrorKind::Connection, format!("could not open {url:?}: expected sqlite:///PATH with an absolute PATH")))?;
        let db = tokio::task::spawn_blocking(move || open_db(&path))
            .await
            .map_err(|e| e.to_string())
            .and_then(|opened| opened)
            .map_err(|e| BackendError::new(ErrorKind::Connection, format!("could not open {url}: {e}")))?;
        Ok(SqliteBackend { url: url.to_owned(), registry, db: Arc::new(Mutex::new(db)) })
    }

    /// The row flujo's `save_state` writes for `state`, in [`COLUMNS`] order.
    fn row_of(&self, run_id: &str, state: &Value) -> Result<Vec<SqlValue>, BackendError> {
        let Value::Dict(dict) = state else {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                format!("cannot save run {run_id:?} to {}: the state is a {}, not a dict", self.url, state.type_name()),
            ));
        };
        RowBuilder { run_id, url: &self.url, state: dict, registry: &self.registry }.row()
    }

    /// Runs `work` on the connection, on a blocking thread: rusqlite is
    /// synchronous, and a statement may wait for another process's lock.
    async fn with_db<T: Send + 'static>(
        &self,
        context: String,
        work: impl FnOnce(&mut Schema, &Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, BackendError> {
        let db = Arc::clone(&self.db);
        let result = tokio::task::spawn_blocking(move || {
            let mut guard = lock(&db);
            let Db { conn, schema } = &mut *guard;
            let Some(conn) = conn.as_ref() else { return Err("the backend is closed".to_owned()) };
            work(schema, conn).map_err(|e| e.to_string())
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(BackendError::internal(context, e)),
            Err(e) => Err(BackendError::internal(context, e)),
        }
    }
}

/// The database file named by `sqlite:///PATH` (PATH absolute).
pub(crate) fn path_of(url: &str) -> Option<PathBuf> {
    url.strip_prefix("sqlite://").filter(|path| path.starts_with('/')).map(PathBuf::from)
}

fn lock(db: &Mutex<Db>) -> MutexGuard<'_, Db> {
    // A panic while the lock was held cannot leave a half-applied write:
    // each statement is atomic in SQLite. The connection stays usable.
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens the database and creates the table when it is missing.
fn open_db(path: &Path) -> Result<Db, String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    // First of all: every later statement, opening's included, waits for
    // another connection's lock instead of failing with "database is locked".
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    set_wal(&conn).map_err(|e| e.to_string())?;
    let columns = table_columns(&conn).map_err(|e| e.to_string())?;
    if columns.is_empty() {
        // In a write transaction: another process creating it at once waits, then finds it.
        immediate(&conn, |conn| conn.execute_batch(&format!("{SCHEMA}{INDEXES}"))).map_err(|e| e.to_string())?;
        return Ok(Db { conn: Some(conn), schema: Schema { has_step_history: true, upgraded: true } });
    }
    let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| *c != STEP_HISTORY && !columns.iter().any(|have| have == c)).collect();
    if !missing.is_empty() {
        return Err(format!("its workflow_state table is not flujo's: it lacks the columns {}", missing.join(", ")));
    }
    let has_step_history = columns.iter().any(|c| c == STEP_HISTORY);
    Ok(Db { conn: Some(conn), schema: Schema { has_step_history, upgraded: false } })
}

/// The column names of `workflow_state` (none when there is no such table).
pub(crate) fn table_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info('workflow_state')")?;
    let names = statement.query_map([], |row| row.get::<_, String>(0))?;
    names.collect()
}

/// Brings an existing table to flujo 0.4's schema, once, before the first
/// write. `BEGIN IMMEDIATE` takes the write lock, so two processes doing
/// this at once cannot both add the column.
fn upgrade(schema: &mut Schema, conn: &Connection) -> rusqlite::Result<()> {
    if schema.upgraded {
        return Ok(());
    }
    immediate(conn, |conn| {
        if !table_columns(conn)?.iter().any(|c| c == STEP_HISTORY) {
            conn.execute_batch("ALTER TABLE workflow_state ADD COLUMN step_history TEXT")?;
        }
        conn.execute_batch(INDEXES)
    })?;
    schema.has_step_history = true;
    schema.upgraded = true;
    Ok(())
}

/// Switches the database to the WAL journal unless it is in it already. The
/// switch needs the database to itself, and SQLite answers "database is
/// locked" at once, without its busy handler, while another connection
/// reads it: so it is retried for the busy timeout.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode = |conn: &Connection| conn.pragma_query_value(None, "journal_mode", |row| row.get::<_, String>(0));
    let started = std::time::Instant::now();
    loop {
        if mode(conn)?.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        // The answer is the mode now in force: a file system without shared
        // memory may keep another, which SQLite's locking still makes
        // correct (only slower), so it is not insisted on.
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && started.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `work` in a transaction that takes the write lock at once (`BEGIN
/// IMMEDIATE`, under the busy timeout): a deferred one that read first
/// could not be upgraded to a write once another connection wrote, and
/// would fail with "database is locked" whatever the timeout.
fn immediate<T>(conn: &Connection, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            conn.execute_batch("COMMIT")?;
            Ok(value)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Every column of `run_id`'s row by name, in table order (`SELECT *`: a
/// column flujo's schema lacks too), or `None`.
fn read_row(conn: &Connection, run_id: &str) -> rusqlite::Result<Option<Vec<(String, SqlValue)>>> {
    let mut statement = conn.prepare_cached("SELECT * FROM workflow_state WHERE run_id = ?1")?;
    let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
    let row = statement.query_row([run_id], |row| (0..names.len()).map(|i| owned_column(row, i)).collect::<rusqlite::Result<Vec<_>>>()).optional()?;
    Ok(row.map(|values| names.into_iter().zip(values).collect()))
}

/// Writes a whole row, column by column as given, replacing the run's row.
fn write_row(conn: &Connection, row: &[(String, SqlValue)]) -> rusqlite::Result<()> {
    let names: Vec<String> = row.iter().map(|(name, _)| format!("\"{}\"", name.replace('"', "\"\""))).collect();
    let sql = format!("INSERT OR REPLACE INTO workflow_state ({}) VALUES ({})", names.join(", "), vec!["?"; names.len()].join(", "));
    conn.prepare_cached(&sql)?.execute(params_from_iter(row.iter().map(|(_, value)| value))).map(|_| ())
}

/// The SELECT list for a load: `NULL` stands in for a missing
/// `step_history` column.
fn select_list(has_step_history: bool) -> String {
    COLUMNS.iter().map(|c| if *c == STEP_HISTORY && !has_step_history { "NULL" } else { c }).collect::<Vec<_>>().join(", ")
}

/// Turns a state into the row flujo's `save_state` writes, column by column.
struct RowBuilder<'a> {
    run_id: &'a str,
    url: &'a str,
    state: &'a Dict,
    registry: &'a TypeRegistry,
}

impl RowBuilder<'_> {
    fn refuse(&self, why: impl std::fmt::Display) -> BackendError {
        BackendError::new(ErrorKind::Unsupported, format!("cannot save run {:?} to {}: {why}", self.run_id, self.url))
    }

    fn required(&self, field: &str) -> Result<&Value, BackendError> {
        self.state.get(field).ok_or_else(|| self.refuse(format!("the state has no {field:?}")))
    }

    /// `safe_serialize(value)`, with errors located from the state's root.
    fn serialized(&self, field: &str, value: &Value) -> Result<Value, BackendError> {
        serialize(value.clone(), self.registry).map_err(|e| BackendError::new(ErrorKind::Unsupported, e.under(Segment::Key(field.to_owned())).to_string()))
    }

    /// A TEXT column from a str field (after serializing, so a str enum
    /// member or a datetime's isoformat counts).
    fn text(&self, field: &str) -> Result<SqlValue, BackendError> {
        let value = self.required(field)?;
        match self.serialized(field, value)? {
            Value::Str(s) => Ok(SqlValue::Text(s)),
            _ => Err(self.refuse(format!("{field} must be a str, not {}", value.type_name()))),
        }
    }

    /// A JSON column: `json.dumps(safe_serialize(value))`; NULL for a
    /// missing field or None when `nullable`.
    fn json(&self, field: &str, nullable: bool) -> Result<SqlValue, BackendError> {
        let value = match self.state.get(field) {
            None | Some(Value::None) if nullable => return Ok(SqlValue::Null),
            None => return Err(self.refuse(format!("the state has no {field:?}"))),
            Some(value) => value,
        };
        let safe = self.serialized(field, value)?;
        let text = to_python_json(&safe, KeyOrder::Insertion)
            .map_err(|e| BackendError::internal(format!("writing {field} of run {:?}", self.run_id), e.under(Segment::Key(field.to_owned()))))?;
        Ok(SqlValue::Text(text))
    }

    /// An INTEGER column. Integers beyond 64 bits cannot be stored.
    fn integer(&self, field: &str, missing: Missing) -> Result<SqlValue, BackendError> {
        let value = match (self.state.get(field), missing) {
            (None, Missing::Required) => return Err(self.refuse(format!("the state has no {field:?}"))),
            (None, Missing::Null) | (Some(Value::None), Missing::Null | Missing::Default(_)) => return Ok(SqlValue::Null),
            (None, Missing::Default(n)) => return Ok(SqlValue::Integer(n)),
            (Some(value), _) => value,
        };
        match int_of(value) {
            Some(Int::Small(n)) => Ok(SqlValue::Integer(n)),
            Some(big @ Int::Big(_)) => Err(self.refuse(format!("{field} = {big} does not fit SQLite's 64-bit INTEGER"))),
            None => Err(self.refuse(format!("{field} must be an int, not {}", value.type_name()))),
        }
    }

    /// An optional TEXT column that holds a str or None.
    fn optional_text(&self, field: &str) -> Result<SqlValue, BackendError> {
        match self.state.get(field) {
            None | Some(Value::None) => Ok(SqlValue::Null),
            Some(Value::Str(s)) => Ok(SqlValue::Text(s.clone())),
            Some(other) => Err(self.refuse(format!("{field} must be a str or None, not {}", other.type_name()))),
        }
    }

    /// An optional REAL column. SQLite turns a NaN into NULL, so a NaN is
    /// refused rather than silently lost.
    fn optional_real(&self, field: &str) -> Result<SqlValue, BackendError> {
        let value = match self.state.get(field) {
            None | Some(Value::None) => return Ok(SqlValue::Null),
            Some(value) => value,
        };
        let x = match (value, int_of(value)) {
            (Value::Float(x), _) => *x,
            (_, Some(Int::Small(n))) => n as f64,
            _ => return Err(self.refuse(format!("{field} must be a float, an int of 64 bits or None, not {}", value.type_name()))),
        };
        if x.is_nan() {
            return Err(self.refuse(format!("{field} is NaN, which SQLite would store as NULL")));
        }
        Ok(SqlValue::Real(x))
    }

    /// The row, in [`COLUMNS`] order.
    fn row(&self) -> Result<Vec<SqlValue>, BackendError> {
        let status = self.text("status")?;
        if !matches!(&status, SqlValue::Text(s) if STATUSES.contains(&s.as_str())) {
            return Err(self.refuse(format!("status must be one of {}", STATUSES.join(", "))));
        }
        Ok(vec![
            SqlValue::Text(self.run_id.to_owned()),
            self.text("pipeline_id")?,
            self.text("pipeline_name")?,
            self.text("pipeline_version")?,
            self.integer("current_step_index", Missing::Required)?,
            self.json("pipeline_context", false)?,
            self.json("last_step_output", true)?,
            self.json("step_history", true)?,
            status,
            self.text("created_at")?,
            self.text("updated_at")?,
            self.integer("total_steps", Missing::Default(0))?,
            self.optional_text("error_message")?,
            self.integer("execution_time_ms", Missing::Null)?,
            self.optional_real("memory_usage_mb")?,
        ])
    }
}

/// The int a value is to Python's sqlite3: an int, a bool, an int enum.
fn int_of(value: &Value) -> Option<Int> {
    match value {
        Value::Int(n) => Some(n.clone()),
        Value::Bool(b) => Some(Int::Small(i64::from(*b))),
        Value::Enum(member) if member.base == EnumBase::Int => int_of(&member.value),
        _ => None,
    }
}

/// A column as Python's sqlite3 hands it back.
fn plain(column: SqlValue) -> Value {
    match column {
        SqlValue::Null => Value::None,
        SqlValue::Integer(n) => Value::from(n),
        SqlValue::Real(x) => Value::Float(x),
        SqlValue::Text(s) => Value::Str(s),
        SqlValue::Blob(b) => Value::Bytes(b),
    }
}

/// A column as a snapshot shows it: its name and storage type, its value.
fn stored_column(name: String, column: SqlValue) -> StoredPart {
    let (kind, text) = match column {
        SqlValue::Null => ("null", String::new()),
        SqlValue::Integer(n) => ("integer", n.to_string()),
        SqlValue::Real(x) => ("real", crate::json::float_repr(x)),
        SqlValue::Text(text) => ("text", text),
        SqlValue::Blob(bytes) => ("blob", bytes.escape_ascii().to_string()),
    };
    StoredPart { name: format!("{name} [{kind}]"), text }
}

/// Reads one column into an owned value; TEXT must be UTF-8.
pub(crate) fn owned_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<SqlValue> {
    Ok(match row.get_ref(index)? {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Integer(n),
        ValueRef::Real(x) => SqlValue::Real(x),
        ValueRef::Text(bytes) => SqlValue::Text(
            String::from_utf8(bytes.to_vec()).map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))?,
        ),
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
    })
}

/// The state flujo's `load_state` makes of a row, given as (column, value)
/// pairs in the table's order: the JSON columns read back (`{}` for a NULL
/// context, `[]` for a NULL step history), the timestamps as datetimes when
/// they parse, `total_steps` 0 when NULL. An error names the column.
pub(crate) fn loaded_state<'c>(columns: impl IntoIterator<Item = (&'c str, SqlValue)>) -> Result<Value, String> {
    let mut dict = Dict::with_capacity(COLUMNS.len());
    for (name, column) in columns {
        let value = match (name, column) {
            ("pipeline_context", SqlValue::Null) => Value::Dict(Dict::new()),
            ("last_step_output", SqlValue::Null) => Value::None,
            ("step_history", SqlValue::Null) => Value::List(Vec::new()),
            ("pipeline_context" | "last_step_output" | "step_history", SqlValue::Text(text)) => read_text(&text).map_err(|e| format!("column {name}: {e}"))?.0,
            ("pipeline_context" | "last_step_output" | "step_history", other) => {
                return Err(format!("column {name}: holds {:?}, not JSON text", other.data_type()));
            }
            ("created_at" | "updated_at", SqlValue::Text(text)) => DateTime::parse(&text).map_or(Value::Str(text), Value::DateTime),
            ("total_steps", SqlValue::Null) => Value::from(0),
            (_, other) => plain(other),
        };
        dict.push(Value::from(name), value);
    }
    Ok(Value::Dict(dict))
}

#[async_trait]
impl StateBackend for SqliteBackend {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: true, shared: true }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let row = self.row_of(run_id, state)?;
        self.with_db(format!("saving run {run_id:?} to {}", self.url), move |schema, conn| {
            upgrade(schema, conn)?;
            conn.prepare_cached(&INSERT)?.execute(params_from_iter(row)).map(|_| ())
        })
        .await
    }

    /// The row as flujo's `load_state` returns it: every column as a key in
    /// schema order, the JSON columns read back (`{}` for a NULL context,
    /// `[]` for a NULL or missing step history), the timestamps as
    /// datetimes when they parse, `total_steps` 0 when NULL; then the type
    /// hints applied to the whole state.
    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let id = run_id.to_owned();
        let context = format!("loading run {run_id:?} from {}", self.url);
        let columns = self
            .with_db(context.clone(), move |schema, conn| {
                if !schema.has_step_history {
                    // Another process may have upgraded the table since.
                    schema.has_step_history = table_columns(conn)?.iter().any(|c| c == STEP_HISTORY);
                }
                let sql = format!("SELECT {} FROM workflow_state WHERE run_id = ?1", select_list(schema.has_step_history));
                conn.prepare_cached(&sql)?
                    .query_row([&id], |row| (0..COLUMNS.len()).map(|i| owned_column(row, i)).collect::<rusqlite::Result<Vec<_>>>())
                    .optional()
            })
            .await?;
        let Some(columns) = columns else { return Ok(None) };
        let state = loaded_state(COLUMNS.iter().copied().zip(columns)).map_err(|e| BackendError::internal(&context, e))?;
        Ok(Some(deserialize_with_hints(state, hints, &self.registry)))
    }

    fn keys_filled_on_load(&self) -> &'static [&'static str] {
        &COLUMNS
    }

    async fn load_raw(&self, run_id: &str) -> Result<Option<RawState>, BackendError> {
        let id = run_id.to_owned();
        let row = self.with_db(format!("loading run {run_id:?} from {}", self.url), move |_, conn| read_row(conn, &id)).await?;
        Ok(row.map(|row| RawState(Raw::Row(row))))
    }

    /// The row's state as `load_state` makes it (a missing `step_history`
    /// column loads as `[]`).
    fn decode_raw(&self, run_id: &str, raw: &RawState, hints: &TypeHints) -> Result<Value, BackendError> {
        let context = format!("loading run {run_id:?} from {}", self.url);
        let RawState(Raw::Row(row)) = raw else { return Err(BackendError::internal(context, "not a row of workflow_state")) };
        let column = |name: &str| row.iter().find(|(have, _)| have == name).map_or(SqlValue::Null, |(_, value)| value.clone());
        let state = loaded_state(COLUMNS.iter().map(|name| (*name, column(name)))).map_err(|e| BackendError::internal(&context, e))?;
        Ok(deserialize_with_hints(state, hints, &self.registry))
    }

    /// In one `BEGIN IMMEDIATE` transaction: the row is read, compared and
    /// written or deleted, so no other writer comes in between.
    async fn swap_state(&self, run_id: &str, expected: Option<&RawState>, new: NewState<'_>) -> Result<bool, BackendError> {
        let context = format!("saving run {run_id:?} to {}", self.url);
        let not_a_row = || BackendError::internal(&context, "a raw state that is not a row of workflow_state");
        let expected = match expected {
            None => None,
            Some(RawState(Raw::Row(row))) => Some(row.clone()),
            Some(_) => return Err(not_a_row()),
        };
        let new = match new {
            NewState::State(state) => Some(COLUMNS.iter().map(|c| (*c).to_owned()).zip(self.row_of(run_id, state)?).collect::<Vec<_>>()),
            NewState::Raw(RawState(Raw::Row(row))) => Some(row.clone()),
            NewState::Raw(_) => return Err(not_a_row()),
            NewState::Nothing => None,
        };
        let id = run_id.to_owned();
        self.with_db(context.clone(), move |schema, conn| {
            upgrade(schema, conn)?;
            immediate(conn, |conn| {
                let held = read_row(conn, &id)?;
                if held == new {
                    return Ok(true);
                }
                if held != expected {
                    return Ok(false);
                }
                match &new {
                    Some(row) => write_row(conn, row)?,
                    None => {
                        conn.prepare_cached("DELETE FROM workflow_state WHERE run_id = ?1")?.execute([&id])?;
                    }
                }
                Ok(true)
            })
        })
        .await
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        let id = run_id.to_owned();
        self.with_db(format!("deleting run {run_id:?} from {}", self.url), move |_, conn| {
            conn.prepare_cached("DELETE FROM workflow_state WHERE run_id = ?1")?.execute([&id]).map(|_| ())
        })
        .await
    }

    /// The run ids starting with `prefix`, sorted. The match compares bytes
    /// (`substr` of BLOBs), not `LIKE` (whose `_` and `%` are wildcards)
    /// nor text `substr`/`length` (which stop at a NUL).
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let prefix = prefix.to_owned();
        let mut ids = self
            .with_db(format!("listing {}", self.url), move |_, conn| {
                let mut statement = conn
                    .prepare_cached("SELECT run_id FROM workflow_state WHERE substr(CAST(run_id AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB)")?;
                let ids = statement.query_map([&prefix], |row| row.get::<_, String>(0))?;
                ids.collect::<rusqlite::Result<Vec<String>>>()
            })
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// The row, column by column in table order, each with its storage
    /// type (`SELECT *`: a column flujo's schema lacks shows too).
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let id = run_id.to_owned();
        let parts = self
            .with_db(format!("reading the row of run {run_id:?} in {}", self.url), move |_, conn| {
                let mut statement = conn.prepare("SELECT * FROM workflow_state WHERE run_id = ?1")?;
                let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
                let row = statement.query_row([&id], |row| (0..names.len()).map(|i| owned_column(row, i)).collect::<rusqlite::Result<Vec<_>>>()).optional()?;
                Ok(row.into_iter().flatten().zip(names).map(|(column, name)| stored_column(name, column)).collect())
            })
            .await?;
        Ok(Some(StoredForm { location: format!("table workflow_state, row {run_id:?}"), parts }))
    }

    /// Closes the connection; later operations fail with `internal`.
    async fn close(&self) -> Result<(), BackendError> {
        let db = Arc::clone(&self.db);
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || match lock(&db).conn.take() {
            Some(conn) => conn.close().map_err(|(_, e)| BackendError::internal(format!("closing {url}"), e)),
            None => Ok(()),
        })
        .await
        .map_err(|e| BackendError::internal(format!("closing {}", self.url), e))?
    }
}
