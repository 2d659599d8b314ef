//! A legacy flujo SQLite database: the rows of `workflow_state`, in run id
//! order, each becoming the state the old backend's `load_state` returned
//! (every column of the table as a key).
//!
//! The database is opened read-only. A WAL database whose write-ahead log is
//! gone (closed cleanly: everything is in the main file) is opened as
//! immutable, because even a read-only connection would otherwise create
//! `-wal` and `-shm` files beside the source; the database must then not be
//! written while the migration runs.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::backends::sqlite::{COLUMNS, owned_column, table_columns};

use super::{Emit, Payload, SourceError};

/// The table, opened read-only.
pub struct Table {
    path: PathBuf,
    conn: Connection,
    columns: Vec<&'static str>,
    rows: u64,
}

impl Table {
    /// Opens the database and checks that it holds flujo's table.
    pub fn open(path: &Path) -> Result<Table, SourceError> {
        let not_flujo = |why: String| SourceError::NotFlujo { path: path.to_owned(), why };
        let conn = connect(path).map_err(|e| not_flujo(format!("cannot open it read-only: {e}")))?;
        let present = table_columns(&conn).map_err(|e| not_flujo(format!("cannot read its schema: {e}")))?;
        if present.is_empty() {
            return Err(not_flujo("it has no workflow_state table, so it is not a flujo state database".to_owned()));
        }
        let columns: Vec<&'static str> = COLUMNS.iter().copied().filter(|c| present.iter().any(|p| p == c)).collect();
        let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| *c != "step_history" && !columns.contains(c)).collect();
        if !missing.is_empty() {
            return Err(not_flujo(format!("its workflow_state table lacks flujo's columns {}", missing.join(", "))));
        }
        let rows = conn
            .query_row("SELECT count(*) FROM workflow_state", [], |row| row.get::<_, i64>(0))
            .map_err(|e| not_flujo(format!("cannot count its rows: {e}")))?;
        Ok(Table { path: path.to_owned(), conn, columns, rows: u64::try_from(rows).unwrap_or(0) })
    }

    /// The number of rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The `CREATE TABLE` statement of `workflow_state`, as SQLite keeps it.
    pub fn table_sql(&self) -> Result<String, SourceError> {
        self.conn
            .query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'workflow_state'", [], |row| row.get::<_, String>(0))
            .map_err(|e| SourceError::NotFlujo { path: self.path.clone(), why: format!("cannot read the schema of its workflow_state table: {e}") })
    }

    pub(super) fn produce(self, emit: &mut Emit<'_>) {
        let db = self.path.display().to_string();
        let sql = format!("SELECT {} FROM workflow_state ORDER BY run_id", self.columns.join(", "));
        let mut rows = match self.conn.prepare(&sql) {
            Ok(statement) => statement,
            Err(e) => {
                emit(db, None, Payload::Broken(format!("cannot read workflow_state: {e}")));
                return;
            }
        };
        let mut rows = match rows.query([]) {
            Ok(rows) => rows,
            Err(e) => {
                emit(db, None, Payload::Broken(format!("cannot read workflow_state: {e}")));
                return;
            }
        };
        let mut number = 0;
        loop {
            number += 1;
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => return,
                Err(e) => {
                    emit(format!("{db}: row {number}"), None, Payload::Broken(format!("reading stopped here: {e}")));
                    return;
                }
            };
            let run_id = row.get::<_, String>(0);
            let source = match &run_id {
                Ok(id) => format!("{db}: run_id {id:?}"),
                Err(_) => format!("{db}: row {number}"),
            };
            let columns = self.columns.iter().enumerate().map(|(i, name)| owned_column(row, i).map(|value| (*name, value))).collect();
            let (run_id, payload) = match (run_id, columns) {
                (Ok(id), Ok(columns)) => (Some(id), Payload::Row(columns)),
                (Err(e), _) => (None, Payload::Broken(format!("its run_id is not text: {e}"))),
                (Ok(id), Err(e)) => (Some(id), Payload::Broken(format!("a column cannot be read: {e}"))),
            };
            if !emit(source, run_id, payload) {
                return;
            }
        }
    }
}

/// Opens the database without writing anything beside it (see the module).
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut wal_log = path.as_os_str().to_owned();
    wal_log.push("-wal");
    let immutable = if in_wal_mode(path) && !Path::new(&wal_log).exists() { "&immutable=1" } else { "" };
    Connection::open_with_flags(format!("file:{}?mode=ro{immutable}", uri_path(path)), flags)
}

/// Whether the database file's header says WAL journal (bytes 18 and 19
/// are the read and write format versions, 2 for WAL).
fn in_wal_mode(path: &Path) -> bool {
    let mut header = [0u8; 20];
    std::fs::File::open(path).and_then(|mut file| std::io::Read::read_exact(&mut file, &mut header)).is_ok() && header[18..20] == [2, 2]
}

/// `path` escaped for an SQLite URI (`%`, `?` and `#` would end or change it).
fn uri_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | '?' | '#' => escaped.push_str(&format!("%{:02X}", c as u32)),
            c => escaped.push(c),
        }
    }
    escaped
}
