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
pub const VERSION: i64 = 3;

/// What migrating from below each version does before `schema.sql` runs: (version, SQL).
const STEPS: &[(i64, &str)] = &[(
    3,
    // Recreated by schema.sql with their new columns (a few seconds on millions of rows).
    "DROP INDEX IF EXISTS appointment_patient; DROP INDEX IF EXISTS appointment_patient_created;",
)];

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
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    tx.commit()?;
    Ok(())
}
