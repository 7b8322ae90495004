//! Applies `schema.pg.sql` and guards its version (the row of `registry_schema`), under a
//! transaction-scoped advisory lock so nodes starting together migrate once.

use postgres::Client;

use crate::store::{refuse_migration, Migration, StoreError};

/// The schema version this binary writes. Up to 2 it was SQLite's (`sqlite::schema::VERSION`):
/// the same tables at the same version. SQLite's 3 changed its patient indexes only, which
/// PostgreSQL's do not follow (schema.pg.sql says why), so this stays at 2: a database here has
/// no reason to refuse a binary of before that change. As in SQLite, versions so far only add
/// tables, indexes and views, which the script creates idempotently, so applying it migrates
/// any older version.
pub const VERSION: i32 = 2;

const SCHEMA: &str = include_str!("../../../schema.pg.sql");

/// The advisory lock key of schema changes ("registry" in ASCII).
const LOCK: i64 = 0x7265_6769_7374_7279;

pub fn apply(conn: &mut Client, migration: Migration) -> Result<(), StoreError> {
    let mut tx = conn.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('registry_schema') IS NOT NULL", &[])?
        .get(0);
    let found: i32 = if exists {
        tx.query_one("SELECT coalesce(max(version), 0) FROM registry_schema", &[])?
            .get(0)
    } else {
        0
    };
    if found > VERSION {
        return Err(StoreError::Setup(format!(
            "the database has schema version {found}, newer than this binary knows ({VERSION}); \
             run a newer appointment-registry"
        )));
    }
    if found == VERSION {
        // Nothing to do: no DDL (and none of its locks) while other nodes serve.
        return Ok(tx.commit()?);
    }
    if found > 0 {
        if migration == Migration::Refuse {
            return Err(refuse_migration(found.into(), VERSION.into()));
        }
        log::info!("migrating the PostgreSQL schema from version {found} to {VERSION}");
    }
    tx.batch_execute(SCHEMA)?;
    tx.execute("DELETE FROM registry_schema", &[])?;
    tx.execute(
        "INSERT INTO registry_schema (version) VALUES ($1)",
        &[&VERSION],
    )?;
    tx.commit()?;
    Ok(())
}
