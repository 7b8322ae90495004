//! Writes, each one transaction committed before it returns: registration, cancel (a new
//! version), expiry chunks and the expiry record. The decisions are SQLite's (`sqlite/create.rs`,
//! `sqlite/update.rs`); what the single SQLite writer gets from running one job at a time, the
//! database gives here across any number of registry nodes: the unique index of
//! `appointment_identifier` decides duplicates, and a row lock orders two cancels.

use postgres::error::SqlState;
use postgres::{Client, Transaction};
use serde_json::Value;

use super::{db, read};
use crate::error::Error;
use crate::registry::cancel;
use crate::registry::identifier::IdentifierToken;
use crate::store::{
    CreateOutcome, ExpireChunk, ExpiryRun, NewAppointment, Rule, StoredVersion, Update,
    UpdateOutcome,
};

pub fn create(c: &mut Client, new: &NewAppointment) -> Result<CreateOutcome, Error> {
    match try_create(c, new)? {
        // A conditional create that lost a race to a registration of the identifier it asks
        // about: that one has committed now (the unique index waited for it), so the lookup
        // finds it, and the answer is the one SQLite's serial writer gives.
        Attempt::Duplicate { .. } if new.if_none_exist.is_some() => match try_create(c, new)? {
            Attempt::Done(outcome) => Ok(outcome),
            Attempt::Duplicate { system, value } => Ok(CreateOutcome::Duplicate { system, value }),
        },
        Attempt::Duplicate { system, value } => Ok(CreateOutcome::Duplicate { system, value }),
        Attempt::Done(outcome) => Ok(outcome),
    }
}

enum Attempt {
    Done(CreateOutcome),
    Duplicate { system: String, value: String },
}

fn try_create(c: &mut Client, new: &NewAppointment) -> Result<Attempt, Error> {
    let mut tx = c.transaction().map_err(db)?;
    if let Some(query) = &new.if_none_exist {
        let matches = find_by_identifier(&mut tx, query)?;
        match matches.as_slice() {
            [] => {}
            [id] => {
                let existing = read::current(&mut tx, id)?
                    .ok_or_else(|| Error::internal("identifier row without appointment"))?;
                return Ok(Attempt::Done(CreateOutcome::Existing(existing)));
            }
            more => return Ok(Attempt::Done(CreateOutcome::Ambiguous(more.len()))),
        }
    }
    let r = &new.registration;
    tx.execute(
        "INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, last_updated,
                                  registered_at, registered_by_org, registered_by_asid, registered_by_cert)
         VALUES ($1, 1, 'booked', $2, $3, $4, $5, $5, $6, $7, $8)",
        &[
            &new.id,
            &r.nhs_number,
            &r.start_at,
            &r.created_at,
            &new.last_updated,
            &new.author.org,
            &new.author.asid,
            &new.author.cert_subject,
        ],
    )
    .map_err(db)?;
    insert_version(
        &mut tx,
        &new.id,
        1,
        &new.last_updated,
        "booked",
        new.author.org.as_deref(),
        &new.resource,
    )?;
    for (system, value) in &r.identifiers {
        let inserted = tx.execute(
            "INSERT INTO appointment_identifier (system, value, id) VALUES ($1, $2, $3)",
            &[system, value, &new.id],
        );
        match inserted {
            Ok(_) => {}
            // Registered already, here or by another node: the transaction rolls back (dropped).
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Ok(Attempt::Duplicate {
                    system: system.clone(),
                    value: value.clone(),
                })
            }
            Err(e) => return Err(db(e)),
        }
    }
    tx.commit().map_err(db)?;
    Ok(Attempt::Done(CreateOutcome::Created(StoredVersion {
        id: new.id.clone(),
        version: 1,
        last_updated: new.last_updated.clone(),
        resource: new.resource.clone(),
    })))
}

fn find_by_identifier(tx: &mut Transaction<'_>, q: &IdentifierToken) -> Result<Vec<String>, Error> {
    let rows = match &q.system {
        Some(system) => tx.query(
            "SELECT DISTINCT id FROM appointment_identifier WHERE system = $1 AND value = $2",
            &[system, &q.value],
        ),
        None => tx.query(
            "SELECT DISTINCT id FROM appointment_identifier WHERE value = $1",
            &[&q.value],
        ),
    }
    .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn insert_version(
    tx: &mut Transaction<'_>,
    id: &str,
    version: i64,
    last_updated: &str,
    status: &str,
    changed_by_org: Option<&str>,
    resource: &str,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO appointment_version (id, version, last_updated, status, changed_by_org, resource)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &version, &last_updated, &status, &changed_by_org, &resource],
    )
    .map_err(db)?;
    Ok(())
}

/// A cancel: the appointment's row is locked (`FOR UPDATE`) before anything is decided, so of
/// two PUTs with the same If-Match the second waits, then reads the version the first wrote and
/// is `Stale`. The rest is `sqlite/update.rs`, decision for decision.
pub fn update(c: &mut Client, u: &Update) -> Result<UpdateOutcome, Error> {
    let mut tx = c.transaction().map_err(db)?;
    let Some(row) = tx
        .query_opt(
            "SELECT version, registered_by_org FROM appointment WHERE id = $1 FOR UPDATE",
            &[&u.id],
        )
        .map_err(db)?
    else {
        return Ok(UpdateOutcome::NotFound);
    };
    let current_version: i64 = row.get(0);
    let owner: Option<String> = row.get(1);
    // An appointment registered without an organisation has no provable owner: nobody may
    // change it, rather than anybody.
    match (&owner, &u.caller_org) {
        (Some(owner), Some(caller)) if owner == caller => {}
        _ => return Ok(UpdateOutcome::NotOwner),
    }
    if current_version != u.if_match {
        return Ok(UpdateOutcome::Stale {
            current: current_version,
        });
    }
    let current = read::version(&mut tx, &u.id, current_version)?
        .ok_or_else(|| Error::internal("appointment row without its current version"))?;
    let stored: Value = serde_json::from_str(&current.resource)
        .map_err(|e| Error::caused("reading the stored version", e))?;
    let cancellation = match cancel::check(&stored, &u.resource) {
        Ok(c) => c,
        Err(Error::Unprocessable(problems)) => return Ok(UpdateOutcome::Rejected(problems)),
        Err(other) => return Err(other),
    };
    let version = current_version + 1;
    tx.execute(
        "UPDATE appointment SET version = $2, status = $3, created_at = $4, last_updated = $5
         WHERE id = $1",
        &[
            &u.id,
            &version,
            &cancellation.status,
            &cancellation.created_at,
            &u.last_updated,
        ],
    )
    .map_err(db)?;
    insert_version(
        &mut tx,
        &u.id,
        version,
        &u.last_updated,
        &cancellation.status,
        u.caller_org.as_deref(),
        &u.json,
    )?;
    tx.commit().map_err(db)?;
    Ok(UpdateOutcome::Updated(StoredVersion {
        id: u.id.clone(),
        version,
        last_updated: u.last_updated.clone(),
        resource: u.json.clone(),
    }))
}

/// Deletes at most `limit` appointments (versions and identifiers cascade); the inner SELECT
/// walks the rule's index.
pub fn expire_chunk(c: &mut Client, chunk: &ExpireChunk) -> Result<u64, Error> {
    let col = match chunk.rule {
        Rule::Created => "created_at",
        Rule::Start => "start_at",
    };
    let sql = format!(
        "DELETE FROM appointment WHERE id IN
           (SELECT id FROM appointment WHERE {col} < $1 ORDER BY {col} LIMIT $2)"
    );
    c.execute(&sql, &[&chunk.before, &i64::from(chunk.limit)])
        .map_err(db)
}

pub fn record_expiry(c: &mut Client, run: &ExpiryRun) -> Result<(), Error> {
    let deleted = i64::try_from(run.deleted).unwrap_or(i64::MAX);
    let duration = i64::try_from(run.duration_ms).unwrap_or(i64::MAX);
    c.execute(
        "INSERT INTO expiry_run (started_at, finished_at, created_before, start_before, deleted, duration_ms, trigger)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &run.started_at,
            &run.finished_at,
            &run.created_before,
            &run.start_before,
            &deleted,
            &duration,
            &run.trigger,
        ],
    )
    .map_err(db)?;
    Ok(())
}
