//! `appointment_version`: every version of every appointment, as written by a registration
//! (version 1) or a cancellation (the next version).

use rusqlite::{params, Transaction};

use crate::error::Error;

/// The row number the next version gets: one past the highest (one seek to the B-tree's right
/// edge). The writer is the only writer, so it is still free when the version is inserted in
/// the same job.
pub fn next_row(tx: &Transaction<'_>) -> Result<i64, Error> {
    tx.prepare_cached("SELECT ifnull(max(row), 0) + 1 FROM appointment_version")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(Error::from)
}

/// One row of `appointment_version`.
pub struct NewVersion<'a> {
    /// From [`next_row`], written into `appointment.current_row` too.
    pub row: i64,
    pub id: &'a str,
    pub version: i64,
    pub last_updated: &'a str,
    pub status: &'a str,
    pub changed_by_org: Option<&'a str>,
    /// Canonical FHIR JSON.
    pub resource: &'a str,
}

pub fn insert(tx: &Transaction<'_>, v: &NewVersion<'_>) -> Result<(), Error> {
    super::exec(
        tx,
        "INSERT INTO appointment_version (row, id, version, last_updated, status, changed_by_org, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![v.row, v.id, v.version, v.last_updated, v.status, v.changed_by_org, v.resource],
    )
    .map(|_| ())
}
