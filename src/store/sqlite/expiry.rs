//! The SQL of expiry (RULES.md §7): chunked deletes through the writer, and the record of
//! each pass in `expiry_run`.

use rusqlite::{params, Connection, Transaction};

use crate::error::Error;
use crate::store::{ExpireChunk, ExpiryRun, Rule};

fn column(rule: Rule) -> &'static str {
    match rule {
        Rule::Created => "created_at",
        Rule::Start => "start_at",
    }
}

/// Deletes at most `limit` appointments (their versions and identifiers cascade). The inner
/// SELECT walks the rule's index, so a chunk costs the same however large the table.
pub fn delete_chunk(tx: &Transaction<'_>, chunk: &ExpireChunk) -> Result<u64, Error> {
    let col = column(chunk.rule);
    let sql = format!(
        "DELETE FROM appointment WHERE id IN (SELECT id FROM appointment WHERE {col} < ?1 ORDER BY {col} LIMIT ?2)"
    );
    let n = tx
        .prepare_cached(&sql)
        .and_then(|mut stmt| stmt.execute(params![chunk.before, chunk.limit]))
        .map_err(Error::from)?;
    Ok(n as u64)
}

/// How many appointments a pass with these cut-offs would delete (for `expire --dry-run`).
pub fn count(
    conn: &Connection,
    created_before: Option<&str>,
    start_before: Option<&str>,
) -> Result<u64, Error> {
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM appointment
              WHERE (?1 IS NOT NULL AND created_at < ?1) OR (?2 IS NOT NULL AND start_at < ?2)",
            params![created_before, start_before],
            |r| r.get(0),
        )
        .map_err(Error::from)?;
    Ok(n as u64)
}

pub fn record(tx: &Transaction<'_>, run: &ExpiryRun) -> Result<(), Error> {
    super::exec(
        tx,
        "INSERT INTO expiry_run (started_at, finished_at, created_before, start_before, deleted, duration_ms, trigger)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            run.started_at,
            run.finished_at,
            run.created_before,
            run.start_before,
            run.deleted as i64,
            run.duration_ms as i64,
            run.trigger
        ],
    )?;
    Ok(())
}
