//! Reads, on any connection (the writer's transaction or a pooled reader).

use rusqlite::{params, Connection, OptionalExtension};

use super::StoredVersion;
use crate::error::Error;

/// The columns `row_to_version` reads; a macro so that each statement is one literal (a
/// `format!` per read cost about a thousand instructions before the statement cache was asked).
macro_rules! version_columns {
    () => {
        "v.id, v.version, v.last_updated, v.resource"
    };
}

fn row_to_version(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredVersion> {
    Ok(StoredVersion {
        id: row.get(0)?,
        version: row.get(1)?,
        last_updated: row.get(2)?,
        resource: row.get(3)?,
    })
}

/// The current version of an appointment (None when unknown or expired): its highest, which
/// is `appointment.version` (a write adds the next version and moves the appointment to it in
/// one transaction; expiry deletes both). One descent of the versions' primary key, where
/// joining from `appointment` sought two B-trees by the 36-character id.
pub fn current(conn: &Connection, id: &str) -> Result<Option<StoredVersion>, Error> {
    conn.prepare_cached(concat!(
        "SELECT ",
        version_columns!(),
        " FROM appointment_version v WHERE v.id = ?1 ORDER BY v.version DESC LIMIT 1"
    ))
    .and_then(|mut stmt| stmt.query_row(params![id], row_to_version).optional())
    .map_err(Error::from)
}

/// One version of an appointment.
pub fn version(conn: &Connection, id: &str, version: i64) -> Result<Option<StoredVersion>, Error> {
    conn.prepare_cached(concat!(
        "SELECT ",
        version_columns!(),
        " FROM appointment_version v WHERE v.id = ?1 AND v.version = ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_row(params![id, version], row_to_version)
            .optional()
    })
    .map_err(Error::from)
}

/// Every version of an appointment, newest first (empty when unknown or expired).
pub fn history(conn: &Connection, id: &str) -> Result<Vec<StoredVersion>, Error> {
    let mut stmt = conn
        .prepare_cached(concat!(
            "SELECT ",
            version_columns!(),
            " FROM appointment_version v WHERE v.id = ?1 ORDER BY v.version DESC"
        ))
        .map_err(Error::from)?;
    let rows = stmt
        .query_map(params![id], row_to_version)
        .map_err(Error::from)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(Error::from)
}

/// Which of `identifiers` are registered already (for `$validate`'s duplicate warning).
pub fn registered_identifiers(
    conn: &Connection,
    identifiers: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, Error> {
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM appointment_identifier WHERE system = ?1 AND value = ?2")
        .map_err(Error::from)?;
    let mut taken = Vec::new();
    for (system, value) in identifiers {
        if stmt.exists(params![system, value]).map_err(Error::from)? {
            taken.push((system, value));
        }
    }
    Ok(taken)
}
