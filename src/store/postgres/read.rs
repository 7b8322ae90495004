//! Reads: one version, the current one, the history, and searches (SQL from `store::keyset`).

use postgres::types::ToSql;
use postgres::{Client, GenericClient, IsolationLevel, Row};

use super::db;
use crate::error::Error;
use crate::registry::search::{PageKey, SearchQuery};
use crate::store::keyset::{self, Dialect, TotalWork};
use crate::store::{Found, Page, StoredVersion};

const VERSION_COLUMNS: &str = "v.id, v.version, v.last_updated, v.resource";

fn to_version(row: &Row) -> StoredVersion {
    StoredVersion {
        id: row.get(0),
        version: row.get(1),
        last_updated: row.get(2),
        resource: row.get(3),
    }
}

/// The current version of an appointment (None when unknown or expired): its highest, as on
/// SQLite (`store::sqlite::read::current`), from the versions' primary key alone.
pub fn current(c: &mut impl GenericClient, id: &str) -> Result<Option<StoredVersion>, Error> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM appointment_version v
                 WHERE v.id = $1 ORDER BY v.version DESC LIMIT 1"
            ),
            &[&id],
        )
        .map_err(db)?;
    Ok(row.as_ref().map(to_version))
}

pub fn version(
    c: &mut impl GenericClient,
    id: &str,
    version: i64,
) -> Result<Option<StoredVersion>, Error> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM appointment_version v
                 WHERE v.id = $1 AND v.version = $2"
            ),
            &[&id, &version],
        )
        .map_err(db)?;
    Ok(row.as_ref().map(to_version))
}

/// Every version, newest first (empty when unknown or expired).
pub fn history(c: &mut impl GenericClient, id: &str) -> Result<Vec<StoredVersion>, Error> {
    let rows = c
        .query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM appointment_version v WHERE v.id = $1
                 ORDER BY v.version DESC"
            ),
            &[&id],
        )
        .map_err(db)?;
    Ok(rows.iter().map(to_version).collect())
}

/// Which of `identifiers` are registered already (for `$validate`'s duplicate warning).
pub fn registered_identifiers(
    c: &mut impl GenericClient,
    identifiers: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, Error> {
    let mut taken = Vec::new();
    for (system, value) in identifiers {
        let found = c
            .query_opt(
                "SELECT 1 FROM appointment_identifier WHERE system = $1 AND value = $2",
                &[&system, &value],
            )
            .map_err(db)?;
        if found.is_some() {
            taken.push((system, value));
        }
    }
    Ok(taken)
}

/// How many appointments an expiry pass with these cut-offs would delete (`expire --dry-run`),
/// the same predicate as SQLite's count (`sqlite::expiry::count`).
pub fn count_expired(
    c: &mut impl GenericClient,
    created_before: Option<&str>,
    start_before: Option<&str>,
) -> Result<u64, Error> {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM appointment
              WHERE ($1::text IS NOT NULL AND created_at < $1)
                 OR ($2::text IS NOT NULL AND start_at < $2)",
            &[&created_before, &start_before],
        )
        .map_err(db)?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

fn params(values: &[String]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// Runs the search. A count, when `total` needs one, reads the page's snapshot (a REPEATABLE
/// READ transaction), so `total` agrees with the page, as on SQLite.
pub fn search(c: &mut Client, q: &SearchQuery) -> Result<Page, Error> {
    let mut tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(db)?;
    let page = keyset::page_statement(q, Dialect::Postgres);
    let rows = tx.query(&page.sql, &params(&page.params)).map_err(db)?;
    let more = rows.len() > q.count;
    let read = rows.len();
    let next = match (more, q.count.checked_sub(1).and_then(|i| rows.get(i))) {
        (true, Some(last)) => Some(PageKey {
            id: last.get(0),
            sort_value: last.get(1),
        }),
        _ => None,
    };
    let found: Vec<Found> = rows
        .iter()
        .take(q.count)
        .map(|r| Found {
            id: r.get(0),
            resource: r.get(2),
        })
        .collect();
    let total = match keyset::total_work(q, read, more, Dialect::Postgres) {
        TotalWork::Known(total) => total,
        TotalWork::Count(count) => {
            let sql = &count.statement;
            let counted: i64 = tx
                .query_one(&sql.sql, &params(&sql.params))
                .map_err(db)?
                .get(0);
            count.total(counted)
        }
    };
    tx.commit().map_err(db)?;
    Ok(Page { total, found, next })
}
