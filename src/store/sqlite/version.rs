//! `appointment_version`: every version of every appointment, as written by a registration
//! (version 1) or a cancellation (the next version).

use rusqlite::{params, Transaction};

use crate::error::Error;

/// One row of `appointment_version`.
pub struct NewVersion<'a> {
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
        "INSERT INTO appointment_version (id, version, last_updated, status, changed_by_org, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![v.id, v.version, v.last_updated, v.status, v.changed_by_org, v.resource],
    )
    .map(|_| ())
}
