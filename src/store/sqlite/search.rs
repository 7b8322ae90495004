//! Runs a search on SQLite; the SQL comes from `store::keyset`.

use rusqlite::{params_from_iter, Connection};

use crate::error::Error;
use crate::registry::search::{PageKey, SearchQuery};
pub use crate::store::keyset::Statement;
use crate::store::keyset::{self, Dialect, TotalWork};
use crate::store::{Found, Page};

/// The page statement in SQLite's dialect (public so a test can EXPLAIN every shape).
pub fn page_statement(q: &SearchQuery) -> Statement {
    keyset::page_statement(q, Dialect::Sqlite)
}

/// The count in SQLite's dialect: of every match (`limit` None) or of at most `limit` + 1.
pub fn count_statement(q: &SearchQuery, limit: Option<usize>) -> Statement {
    keyset::count_statement(q, Dialect::Sqlite, limit)
}

/// Runs the search. A count, when `total` needs one, reads the page's snapshot, so `total`
/// agrees with the page.
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
    let total = match keyset::total_work(q, found.len(), more, Dialect::Sqlite) {
        TotalWork::Known(total) => total,
        TotalWork::Count(count) => {
            let sql = &count.statement;
            let counted: i64 = tx
                .prepare_cached(&sql.sql)
                .and_then(|mut s| s.query_row(params_from_iter(&sql.params), |r| r.get(0)))
                .map_err(Error::from)?;
            count.total(counted)
        }
    };
    drop(tx);
    found.truncate(q.count);
    Ok(Page { total, found, more })
}
