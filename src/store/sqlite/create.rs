//! `WriteOp::Create`: a registration (RULES.md §1), with conditional create (`If-None-Exist`)
//! and duplicate identifiers decided inside the writer's transaction.

use rusqlite::{params, OptionalExtension, Transaction};

use super::WriteResult;
use crate::error::Error;
use crate::registry::identifier::IdentifierToken;
use crate::store::{CreateOutcome, NewAppointment, StoredVersion};

pub fn apply(tx: &Transaction<'_>, new: &NewAppointment) -> Result<WriteResult, Error> {
    if let Some(query) = &new.if_none_exist {
        let matches = find_by_identifier(tx, query)?;
        match matches.as_slice() {
            [] => {}
            [id] => {
                let existing = super::read::current(tx, id)?
                    .ok_or_else(|| Error::internal("identifier row without appointment"))?;
                return Ok(WriteResult::Create(CreateOutcome::Existing(existing)));
            }
            more => return Ok(WriteResult::Create(CreateOutcome::Ambiguous(more.len()))),
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
            return Ok(WriteResult::Create(CreateOutcome::Duplicate {
                system: system.clone(),
                value: value.clone(),
            }));
        }
    }
    let row = super::version::next_row(tx)?;
    super::exec(
        tx,
        "INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, last_updated,
                                  registered_at, registered_by_org, registered_by_asid, registered_by_cert,
                                  current_row)
         VALUES (?1, 1, 'booked', ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)",
        params![
            new.id,
            r.nhs_number,
            r.start_at,
            r.created_at,
            new.last_updated,
            new.author.org,
            new.author.asid,
            new.author.cert_subject,
            row
        ],
    )?;
    super::version::insert(
        tx,
        &super::version::NewVersion {
            row,
            id: &new.id,
            version: 1,
            last_updated: &new.last_updated,
            status: "booked",
            changed_by_org: new.author.org.as_deref(),
            resource: &new.resource,
        },
    )?;
    for (system, value) in &r.identifiers {
        super::exec(
            tx,
            "INSERT INTO appointment_identifier (system, value, id) VALUES (?1, ?2, ?3)",
            params![system, value, new.id],
        )?;
    }
    Ok(WriteResult::Create(CreateOutcome::Created(StoredVersion {
        id: new.id.clone(),
        version: 1,
        last_updated: new.last_updated.clone(),
        resource: new.resource.clone(),
    })))
}

fn find_by_identifier(tx: &Transaction<'_>, q: &IdentifierToken) -> Result<Vec<String>, Error> {
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
