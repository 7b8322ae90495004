//! The SQL of a search. Every shape starts from `nhs_number = ?` so it is answered from the
//! patient indexes (schema.sql); pages follow the sort key plus id (keyset), never OFFSET, so a
//! registration made while a client pages cannot shift rows between pages.

use rusqlite::{params_from_iter, Connection};

use crate::error::Error;
use crate::registry::search::{DateBound, PageKey, Prefix, SearchQuery, SortKey};
use crate::store::{Found, Page};

/// One statement and its parameters (all text), public so a test can EXPLAIN every shape.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<String>,
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::Start => "appointment.start_at",
        SortKey::Created => "appointment.created_at",
    }
}

/// The WHERE clause shared by the page and the count; the keyset condition only for the page.
fn filters(q: &SearchQuery, keyset: bool) -> (String, Vec<String>) {
    let mut sql = vec!["appointment.nhs_number = ?".to_string()];
    let mut params = vec![q.nhs_number.clone()];
    // Unary + keeps SQLite from using the other column's index: the patient index of the sort
    // column then gives rows in order, and a page stops after `_count` + 1 rows instead of
    // sorting all the patient's matches (the other column is checked on each row read).
    let (start, created) = match q.sort.key {
        SortKey::Start => ("appointment.start_at", "+appointment.created_at"),
        SortKey::Created => ("+appointment.start_at", "appointment.created_at"),
    };
    for (column, bounds) in [(start, &q.start), (created, &q.created)] {
        for b in bounds {
            date_condition(column, b, &mut sql, &mut params);
        }
    }
    if let Some(t) = &q.not_before {
        sql.push(format!("{start} >= ?"));
        params.push(t.clone());
    }
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        sql.push(format!("appointment.status IN ({marks})"));
        params.extend(q.statuses.iter().cloned());
    }
    if let Some(id) = &q.identifier {
        let mut sub = "EXISTS (SELECT 1 FROM appointment_identifier i \
                       WHERE i.id = appointment.id AND i.value = ?"
            .to_string();
        params.push(id.value.clone());
        if let Some(system) = &id.system {
            sub.push_str(" AND i.system = ?");
            params.push(system.clone());
        }
        sub.push(')');
        sql.push(sub);
    }
    if let (true, Some(after)) = (keyset, &q.after) {
        let op = if q.sort.descending { "<" } else { ">" };
        sql.push(format!(
            "({}, appointment.id) {op} (?, ?)",
            sort_column(q.sort.key)
        ));
        params.push(after.sort_value.clone());
        params.push(after.id.clone());
    }
    (sql.join(" AND "), params)
}

/// The column's instant against the interval `[lo, hi)` the parameter value covers.
fn date_condition(column: &str, b: &DateBound, sql: &mut Vec<String>, params: &mut Vec<String>) {
    let lo = b.lo.clone();
    let (text, values) = match (b.prefix, &b.hi) {
        (Prefix::Eq, Some(hi)) => (
            format!("({column} >= ? AND {column} < ?)"),
            vec![lo, hi.clone()],
        ),
        (Prefix::Eq, None) | (Prefix::Ge, _) => (format!("{column} >= ?"), vec![lo]),
        (Prefix::Ne, Some(hi)) => (
            format!("({column} < ? OR {column} >= ?)"),
            vec![lo, hi.clone()],
        ),
        (Prefix::Ne, None) | (Prefix::Lt, _) => (format!("{column} < ?"), vec![lo]),
        (Prefix::Le, Some(hi)) => (format!("{column} < ?"), vec![hi.clone()]),
        // Past year 9999: every stored instant is before the end, none after it.
        (Prefix::Le, None) => ("1".into(), vec![]),
        (Prefix::Gt, Some(hi)) => (format!("{column} >= ?"), vec![hi.clone()]),
        (Prefix::Gt, None) => ("0".into(), vec![]),
    };
    sql.push(text);
    params.extend(values);
}

/// The page: one row more than `_count` tells whether another page follows.
pub fn page_statement(q: &SearchQuery) -> Statement {
    let (filter, params) = filters(q, true);
    let column = sort_column(q.sort.key);
    let dir = if q.sort.descending { "DESC" } else { "ASC" };
    // CROSS JOIN keeps appointment as the outer loop: the version is looked up by primary key.
    Statement {
        sql: format!(
            "SELECT appointment.id, {column}, v.resource FROM appointment \
             CROSS JOIN appointment_version v ON v.id = appointment.id AND v.version = appointment.version \
             WHERE {filter} ORDER BY {column} {dir}, appointment.id {dir} LIMIT {}",
            q.count + 1
        ),
        params,
    }
}

pub fn count_statement(q: &SearchQuery) -> Statement {
    let (filter, params) = filters(q, false);
    Statement {
        sql: format!("SELECT COUNT(*) FROM appointment WHERE {filter}"),
        params,
    }
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
