//! `WriteOp::Update`: a new version of an appointment (RULES.md §3, cancel), applied by the
//! single writer.
//!
//! Everything that depends on the stored row — 404, ownership (403), the If-Match version (409)
//! and the cancellation rules against the current resource (422) — is decided here, inside the
//! writer's transaction, on one read of the row. The writer applies jobs one at a time, so two
//! PUTs with the same If-Match cannot both see the same current version: the second finds the
//! version the first wrote and gets 409. Checking the rules here rather than before submitting
//! spares a second read and any re-validation; they are pure and take microseconds.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;

use super::WriteResult;
use crate::error::Error;
use crate::registry::cancel;
use crate::store::{StoredVersion, Update, UpdateOutcome};

struct Current {
    version: i64,
    registered_by_org: Option<String>,
    resource: String,
}

pub fn apply(tx: &Transaction<'_>, u: &Update) -> Result<WriteResult, Error> {
    // By (id, version), not `current_row`: a cancel is no hot path, and this finds the
    // current version even where SQL written by hand left the pointer unset.
    let current = tx
        .query_row(
            "SELECT a.version, a.registered_by_org, v.resource FROM appointment a
             JOIN appointment_version v ON v.id = a.id AND v.version = a.version
             WHERE a.id = ?1",
            params![u.id],
            |row| {
                Ok(Current {
                    version: row.get(0)?,
                    registered_by_org: row.get(1)?,
                    resource: row.get(2)?,
                })
            },
        )
        .optional()
        .map_err(Error::from)?;
    let Some(current) = current else {
        return Ok(WriteResult::Update(UpdateOutcome::NotFound));
    };

    // An appointment registered without an organisation has no provable owner: nobody may
    // change it, rather than anybody.
    match (&current.registered_by_org, &u.caller_org) {
        (Some(owner), Some(caller)) if owner == caller => {}
        _ => return Ok(WriteResult::Update(UpdateOutcome::NotOwner)),
    }
    if current.version != u.if_match {
        return Ok(WriteResult::Update(UpdateOutcome::Stale {
            current: current.version,
        }));
    }
    let stored: Value = serde_json::from_str(&current.resource)
        .map_err(|e| Error::caused("reading the stored version", e))?;
    let cancellation = match cancel::check(&stored, &u.resource) {
        Ok(c) => c,
        Err(Error::Unprocessable(problems)) => {
            return Ok(WriteResult::Update(UpdateOutcome::Rejected(problems)))
        }
        Err(other) => return Err(other),
    };

    let version = current.version + 1;
    let row = super::version::next_row(tx)?;
    super::exec(
        tx,
        "UPDATE appointment SET version = ?2, status = ?3, created_at = ?4, last_updated = ?5,
                                current_row = ?6
         WHERE id = ?1",
        params![
            u.id,
            version,
            cancellation.status,
            cancellation.created_at,
            u.last_updated,
            row
        ],
    )?;
    super::version::insert(
        tx,
        &super::version::NewVersion {
            row,
            id: &u.id,
            version,
            last_updated: &u.last_updated,
            status: &cancellation.status,
            changed_by_org: u.caller_org.as_deref(),
            resource: &u.json,
        },
    )?;
    Ok(WriteResult::Update(UpdateOutcome::Updated(StoredVersion {
        id: u.id.clone(),
        version,
        last_updated: u.last_updated.clone(),
        resource: u.json.clone(),
    })))
}
