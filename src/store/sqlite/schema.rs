//! Applies `schema.sql` and guards its version (`PRAGMA user_version`).

use rusqlite::Connection;

use super::StoreError;
use crate::store::{refuse_migration, Migration};

/// The schema version this binary writes. Raise it with each change to `schema.sql`.
/// `schema.sql` creates tables, indexes and views idempotently, so applying it migrates a
/// version that lacks some; a change to an existing table or index needs its own step in
/// `apply` before the script runs (see `STEPS`).
/// 1: appointments, versions, identifiers. 2: expiry_run, appointment_summary.
/// 3: the patient indexes carry version, status and the other date (covering the search).
/// 4: `appointment_version` keyed by an integer row, `appointment.current_row` pointing at the
///    current one, the patient indexes carrying it instead of the version.
pub const VERSION: i64 = 4;

/// What migrating from below each version does before `schema.sql` runs: (version, SQL).
const STEPS: &[(i64, &str)] = &[(
    3,
    // Recreated by schema.sql with their new columns (a few seconds on millions of rows).
    "DROP INDEX IF EXISTS appointment_patient; DROP INDEX IF EXISTS appointment_patient_created;",
)];

/// The version that keyed versions by row and added `appointment.current_row`.
const ROWS: i64 = 4;

/// Version 4, versions keyed by row: the versions copied into the new table in the order they
/// were written (by time, then version). Rewrites every version: about a second per 100,000.
const VERSION_ROWS: &str = "ALTER TABLE appointment_version RENAME TO appointment_version_v3;
    CREATE TABLE appointment_version (
        row INTEGER PRIMARY KEY,
        id TEXT NOT NULL REFERENCES appointment (id) ON DELETE CASCADE,
        version INTEGER NOT NULL, last_updated TEXT NOT NULL, status TEXT NOT NULL,
        changed_by_org TEXT, resource TEXT NOT NULL);
    INSERT INTO appointment_version (id, version, last_updated, status, changed_by_org, resource)
        SELECT id, version, last_updated, status, changed_by_org, resource
        FROM appointment_version_v3 ORDER BY last_updated, id, version;
    DROP TABLE appointment_version_v3;";

/// Version 4, each appointment's pointer to its current version; the patient indexes are
/// recreated by schema.sql with it.
const CURRENT_ROW: &str = "DROP INDEX IF EXISTS appointment_patient;
    DROP INDEX IF EXISTS appointment_patient_created;
    ALTER TABLE appointment ADD COLUMN current_row INTEGER;";

/// Version 4, after schema.sql: the pointers set (the versions table and its index exist now).
const POINT_AT_CURRENT: &str = "UPDATE appointment SET current_row = (SELECT v.row
    FROM appointment_version v WHERE v.id = appointment.id AND v.version = appointment.version)
    WHERE current_row IS NULL";

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get(0),
    )
}

const SCHEMA: &str = include_str!("../../../schema.sql");

/// How long a connection waits for a lock (an admin's sqlite3 session holding one).
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connection settings every connection uses: WAL so readers never block the writer,
/// FULL sync so an acknowledged write survives power loss, and a busy timeout for admins'
/// sqlite3 sessions holding a lock.
pub fn configure(conn: &Connection, synchronous: &str) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous};"
    ))
}

pub fn apply(conn: &mut Connection, migration: Migration) -> Result<(), StoreError> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Setup(format!(
            "could not switch to WAL (journal_mode is {mode})"
        )));
    }
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::Setup(format!(
            "the database has schema version {found}, newer than this binary knows ({VERSION}); \
             run a newer appointment-registry"
        )));
    }
    if found > 0 && found < VERSION {
        if migration == Migration::Refuse {
            return Err(refuse_migration(found, VERSION));
        }
        log::info!("migrating the database schema from version {found} to {VERSION}");
    }
    let tx = conn.transaction()?;
    for (version, sql) in STEPS {
        if found < *version {
            tx.execute_batch(sql)?;
        }
    }
    // Decided by the tables' shape, not the version: a database of any earlier version may
    // lack either table.
    if found < ROWS {
        if has_column(&tx, "appointment_version", "id")?
            && !has_column(&tx, "appointment_version", "row")?
        {
            tx.execute_batch(VERSION_ROWS)?;
        }
        if has_column(&tx, "appointment", "id")? && !has_column(&tx, "appointment", "current_row")?
        {
            tx.execute_batch(CURRENT_ROW)?;
        }
    }
    tx.execute_batch(SCHEMA)?;
    if found < ROWS {
        tx.execute_batch(POINT_AT_CURRENT)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    tx.commit()?;
    Ok(())
}
