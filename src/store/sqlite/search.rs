//! Runs a search on SQLite; the SQL comes from `store::keyset`.

use rusqlite::{params_from_iter, Connection};

use crate::error::Error;
use crate::registry::search::{PageKey, SearchQuery};
pub use crate::store::keyset::Statement;
use crate::store::keyset::{self, Dialect};
use crate::store::{Found, Page};

/// The page statement in SQLite's dialect (public so a test can EXPLAIN every shape).
pub fn page_statement(q: &SearchQuery) -> Statement {
    keyset::page_statement(q, Dialect::Sqlite)
}

pub fn count_statement(q: &SearchQuery) -> Statement {
    keyset::count_statement(q, Dialect::Sqlite)
}

/// Runs the search. The count and the page read one snapshot, so `total` agrees with the page.
pub fn run(conn: &Connection, q: &SearchQuery) -> Result<Page, Error> {
    let tx = conn.unchecked_transaction().map_err(Error::from)?;
    let page = page_statement(q);
    let mut found = tx
        .prepare_cached(&page.sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(&page.params), |r| {
                Ok(Found {
                    key: PageKey {
                        id: r.get(0)?,
                        sort_value: r.get(1)?,
                    },
                    resource: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(Error::from)?;
    let more = found.len() > q.count;
    // A first page that holds every match is its own count (the usual patient search): the
    // second query is needed only when the results go on.
    let total = if q.after.is_none() && !more {
        found.len()
    } else {
        let count = count_statement(q);
        let total: i64 = tx
            .prepare_cached(&count.sql)
            .and_then(|mut s| s.query_row(params_from_iter(&count.params), |r| r.get(0)))
            .map_err(Error::from)?;
        usize::try_from(total).map_err(|e| Error::caused("counting matches", e))?
    };
    drop(tx);
    found.truncate(q.count);
    Ok(Page { total, found, more })
}
