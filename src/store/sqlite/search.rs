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
/// agrees with the page — without BEGIN and COMMIT (two more statements to run, parsed anew
/// each time): a count is needed only after a first page that found more matches than it
/// holds, and that page's statement is then left mid-result, having returned its last row
/// (`_count` + 1) but not yet finished. An implicit read transaction lasts until the last
/// statement of the connection that is active finishes (sqlite.org/lang_transaction.html), so
/// the count runs in the page's snapshot. The other pages need no count (a later page carries
/// its total, a first page holding every match is its own count) except a later page of a
/// search for the total alone (`_count=0`), which returns its count and no entries.
pub fn run(conn: &Connection, q: &SearchQuery) -> Result<Page, Error> {
    run_observed(conn, q, || {})
}

/// [`run`], calling `before_count` between the page and its count (a test writes there).
fn run_observed(
    conn: &Connection,
    q: &SearchQuery,
    before_count: impl FnOnce(),
) -> Result<Page, Error> {
    let page = page_statement(q);
    let mut statement = conn.prepare_cached(&page.sql).map_err(Error::from)?;
    let mut rows = statement
        .query(params_from_iter(&page.params))
        .map_err(Error::from)?;
    let mut found = Vec::with_capacity(q.count);
    let mut last_sort_value = None;
    let mut more = false;
    // The page's LIMIT is `_count` + 1: no row is asked for past that one, which keeps the
    // statement active (see above). That row only tells that more follow: nothing of it is read.
    while let Some(r) = rows.next().map_err(Error::from)? {
        if found.len() == q.count {
            more = true;
            break;
        }
        found.push(Found {
            id: r.get(0).map_err(Error::from)?,
            resource: r.get(2).map_err(Error::from)?,
        });
        if found.len() == q.count {
            // The page's last row: where a next page would start.
            last_sort_value = Some(r.get::<_, String>(1).map_err(Error::from)?);
        }
    }
    let rows_read = found.len() + usize::from(more);
    let total = match keyset::total_work(q, rows_read, more, Dialect::Sqlite) {
        TotalWork::Known(total) => total,
        TotalWork::Count(count) => {
            before_count();
            let sql = &count.statement;
            let counted: i64 = conn
                .prepare_cached(&sql.sql)
                .and_then(|mut s| s.query_row(params_from_iter(&sql.params), |r| r.get(0)))
                .map_err(Error::from)?;
            count.total(counted)
        }
    };
    drop(rows);
    let next = match (more, found.last(), last_sort_value) {
        (true, Some(last), Some(sort_value)) => Some(PageKey {
            id: last.id.clone(),
            sort_value,
        }),
        _ => None,
    };
    Ok(Page { total, found, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::search::{self, PageSizes};

    const PATIENT: &str = "9000000009";

    fn register(conn: &Connection, n: usize) {
        let id = format!("00000000-0000-7000-8000-{n:012}");
        let start = format!("2031-01-01T00:00:{:02}.000Z", n % 60);
        conn.execute(
            "INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, \
             last_updated, registered_at, current_row) VALUES (?1, 1, 'booked', ?2, ?3, ?4, ?4, ?4, ?5)",
            rusqlite::params![id, PATIENT, start, "2030-01-01T00:00:00.000Z", n as i64 + 1],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO appointment_version (row, id, version, last_updated, status, resource) \
             VALUES (?3, ?1, 1, '2030-01-01T00:00:00.000Z', 'booked', ?2)",
            rusqlite::params![id, format!("{{\"id\":\"{id}\"}}"), n as i64 + 1],
        )
        .unwrap();
    }

    fn query(text: &str) -> SearchQuery {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        let now = crate::registry::instant::parse("2030-06-01T00:00:00Z").unwrap();
        search::parse(&pairs, now, PageSizes::default()).unwrap()
    }

    /// A database of 12 appointments of one patient: its folder, a writer and a reader.
    fn twelve_appointments() -> (tempfile::TempDir, Connection, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let mut writer = Connection::open(&path).unwrap();
        super::super::schema::configure(&writer, "FULL").unwrap();
        super::super::schema::apply(&mut writer, crate::store::Migration::Apply).unwrap();
        for n in 0..12 {
            register(&writer, n);
        }
        let reader = Connection::open(&path).unwrap();
        (dir, writer, reader)
    }

    /// The count of a first page that does not hold every match reads the page's snapshot,
    /// with no transaction around them: registrations committed between the page and its
    /// count are not counted.
    #[test]
    fn a_first_pages_count_reads_the_pages_snapshot() {
        let (_dir, writer, reader) = twelve_appointments();
        let q = query(&format!("patient={PATIENT}&_count=5"));
        let mut registered = 12;
        let page = run_observed(&reader, &q, || {
            for _ in 0..3 {
                register(&writer, registered);
                registered += 1;
            }
        })
        .unwrap();
        assert_eq!((page.found.len(), page.next.is_some()), (5, true));
        assert_eq!(page.total, Some(12));
        // Outside the page's snapshot, the count sees them.
        let again = run(&reader, &q).unwrap();
        assert_eq!(again.total, Some(15));
        assert!(reader.is_autocommit());
    }

    /// A search well within the step budget is never interrupted, however often its cached
    /// statements have run before on the same connection (SQLite counts their steps across
    /// runs; each read's budget starts afresh, see `Inline`).
    #[test]
    fn a_cheap_search_is_never_interrupted_on_a_warm_connection() {
        let (_dir, _writer, reader) = twelve_appointments();
        // A first page of 5 (its count follows) and a page holding every match.
        let shapes = [
            query(&format!("patient={PATIENT}&_count=5")),
            query(&format!("patient={PATIENT}")),
        ];
        let mut interrupted = 0;
        for i in 0..2_000 {
            // Set up for each read, as `SqliteStore::read_here` does.
            let inline =
                super::super::Inline::set(&reader, Some(super::super::SEARCH_STEPS)).unwrap();
            match run(inline.0, &shapes[i % 2]) {
                Ok(page) => assert_eq!(page.total, Some(12)),
                Err(e) if e.is_sqlite_interrupted() => interrupted += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(interrupted, 0, "of 2,000 cheap searches");
    }
}
