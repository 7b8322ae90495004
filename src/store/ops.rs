//! The writes the writer applies, each inside its own savepoint.

use rusqlite::{params, OptionalExtension, Transaction};

use super::StoredVersion;
use crate::error::{unprocessable, Error, Problem};
use crate::registry::register::Registration;
use crate::spine::SpineCode;

/// Who made a write: recorded with it.
#[derive(Debug, Clone, Default)]
pub struct Author {
    pub org: Option<String>,
    pub asid: Option<String>,
    pub cert_subject: Option<String>,
}

/// `If-None-Exist: identifier=[system|]value`: `system` None matches any system.
#[derive(Debug, Clone)]
pub struct IdentifierQuery {
    pub system: Option<String>,
    pub value: String,
}

#[derive(Debug)]
pub struct NewAppointment {
    pub id: String,
    pub last_updated: String,
    pub registration: Registration,
    /// Canonical FHIR JSON with id and meta already set.
    pub resource: String,
    pub author: Author,
    pub if_none_exist: Option<IdentifierQuery>,
}

#[derive(Debug)]
pub enum WriteOp {
    Create(Box<NewAppointment>),
    /// A version-aware update (cancel): see `update.rs`.
    Update(Box<super::update::Update>),
    /// Readiness probe: proves the writer answers and the file takes a write transaction.
    Ping,
    /// Readiness probe after a storage failure: commits a real (same-value) write of the
    /// database header, so a success proves the disk takes writes again.
    Probe,
    /// Deletes up to `limit` expired appointments (see `store::expiry`).
    Expire(super::expiry::ExpireChunk),
    RecordExpiry(super::expiry::ExpiryRun),
}

impl WriteOp {
    /// Whether a successful run of this op changes the file (so its commit proves the disk).
    pub fn writes(&self) -> bool {
        !matches!(self, WriteOp::Ping)
    }
}

#[derive(Debug)]
pub enum WriteResult {
    Created(StoredVersion),
    /// Conditional create matched one existing appointment: nothing written.
    Existing(StoredVersion),
    /// A new version of an existing appointment.
    Updated(StoredVersion),
    Done,
    Deleted(u64),
}

pub fn apply(tx: &Transaction<'_>, op: &WriteOp) -> Result<WriteResult, Error> {
    match op {
        WriteOp::Create(new) => create(tx, new),
        WriteOp::Update(update) => super::update::apply(tx, update),
        WriteOp::Ping => tx
            .query_row("PRAGMA user_version", [], |_| Ok(WriteResult::Done))
            .map_err(Error::from),
        WriteOp::Probe => tx
            .execute_batch(&format!("PRAGMA user_version = {}", super::schema::VERSION))
            .map(|_| WriteResult::Done)
            .map_err(Error::from),
        WriteOp::Expire(chunk) => super::expiry::delete_chunk(tx, chunk).map(WriteResult::Deleted),
        WriteOp::RecordExpiry(run) => super::expiry::record(tx, run).map(|_| WriteResult::Done),
    }
}

fn create(tx: &Transaction<'_>, new: &NewAppointment) -> Result<WriteResult, Error> {
    if let Some(query) = &new.if_none_exist {
        let matches = find_by_identifier(tx, query)?;
        match matches.as_slice() {
            [] => {}
            [id] => {
                let existing = super::read::current(tx, id)?
                    .ok_or_else(|| Error::internal("identifier row without appointment"))?;
                return Ok(WriteResult::Existing(existing));
            }
            more => {
                return Err(Error::PreconditionFailed(format!(
                    "If-None-Exist matched {} appointments; it must match at most one",
                    more.len()
                )))
            }
        }
    }
    let r = &new.registration;
    for (system, value) in &r.identifiers {
        let taken: Option<String> = tx
            .prepare_cached(
                "SELECT id FROM appointment_identifier WHERE system = ?1 AND value = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![system, value], |row| row.get(0))
                    .optional()
            })
            .map_err(Error::from)?;
        if taken.is_some() {
            return Err(unprocessable(
                Problem::new(
                    "duplicate",
                    SpineCode::DuplicateRejected,
                    format!(
                        "an appointment with identifier {system}|{value} is already registered"
                    ),
                )
                .at("Appointment.identifier"),
            ));
        }
    }
    super::exec(
        tx,
        "INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, last_updated,
                                  registered_at, registered_by_org, registered_by_asid, registered_by_cert)
         VALUES (?1, 1, 'booked', ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
        params![
            new.id,
            r.nhs_number,
            r.start_at,
            r.created_at,
            new.last_updated,
            new.author.org,
            new.author.asid,
            new.author.cert_subject
        ],
    )?;
    super::exec(
        tx,
        "INSERT INTO appointment_version (id, version, last_updated, status, changed_by_org, resource)
         VALUES (?1, 1, ?2, 'booked', ?3, ?4)",
        params![new.id, new.last_updated, new.author.org, new.resource],
    )?;
    for (system, value) in &r.identifiers {
        super::exec(
            tx,
            "INSERT INTO appointment_identifier (system, value, id) VALUES (?1, ?2, ?3)",
            params![system, value, new.id],
        )?;
    }
    Ok(WriteResult::Created(StoredVersion {
        id: new.id.clone(),
        version: 1,
        last_updated: new.last_updated.clone(),
        resource: new.resource.clone(),
    }))
}

fn find_by_identifier(tx: &Transaction<'_>, q: &IdentifierQuery) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let mut push = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
        ids.push(row.get(0)?);
        Ok(())
    };
    match &q.system {
        Some(system) => {
            let mut stmt = tx
                .prepare_cached("SELECT DISTINCT id FROM appointment_identifier WHERE system = ?1 AND value = ?2")
                .map_err(Error::from)?;
            let mut rows = stmt.query(params![system, q.value]).map_err(Error::from)?;
            while let Some(row) = rows.next().map_err(Error::from)? {
                push(row).map_err(Error::from)?;
            }
        }
        None => {
            let mut stmt = tx
                .prepare_cached("SELECT DISTINCT id FROM appointment_identifier WHERE value = ?1")
                .map_err(Error::from)?;
            let mut rows = stmt.query(params![q.value]).map_err(Error::from)?;
            while let Some(row) = rows.next().map_err(Error::from)? {
                push(row).map_err(Error::from)?;
            }
        }
    }
    Ok(ids)
}
