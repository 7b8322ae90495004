//! The SQL of a search, for both backends. Every shape starts from `nhs_number = ?` so it is
//! answered from the patient indexes (schema.sql, schema.pg.sql); pages follow the sort key plus
//! id (keyset), never OFFSET, so a registration made while a client pages cannot shift rows
//! between pages. The two dialects differ only in placeholders (`?` / `$n`), planner hints and
//! boolean literals: the conditions, their parameters and the order are the same.

use crate::registry::search::{DateBound, Prefix, SearchQuery, SortKey};

/// Which database the SQL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

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
fn filters(q: &SearchQuery, keyset: bool, dialect: Dialect) -> (String, Vec<String>) {
    let mut sql = vec!["appointment.nhs_number = ?".to_string()];
    let mut params = vec![q.nhs_number.clone()];
    // Unary + keeps SQLite from using the other column's index: the patient index of the sort
    // column then gives rows in order, and a page stops after `_count` + 1 rows instead of
    // sorting all the patient's matches (the other column is checked on each row read).
    // PostgreSQL has no unary + on text, and its planner weighs both indexes itself.
    let (start, created) = match (dialect, q.sort.key) {
        (Dialect::Postgres, _) => ("appointment.start_at", "appointment.created_at"),
        (Dialect::Sqlite, SortKey::Start) => ("appointment.start_at", "+appointment.created_at"),
        (Dialect::Sqlite, SortKey::Created) => ("+appointment.start_at", "appointment.created_at"),
    };
    for (column, bounds) in [(start, &q.start), (created, &q.created)] {
        for b in bounds {
            date_condition(column, b, dialect, &mut sql, &mut params);
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
fn date_condition(
    column: &str,
    b: &DateBound,
    dialect: Dialect,
    sql: &mut Vec<String>,
    params: &mut Vec<String>,
) {
    let (always, never) = match dialect {
        Dialect::Sqlite => ("1", "0"),
        Dialect::Postgres => ("TRUE", "FALSE"),
    };
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
        (Prefix::Le, None) => (always.into(), vec![]),
        (Prefix::Gt, Some(hi)) => (format!("{column} >= ?"), vec![hi.clone()]),
        (Prefix::Gt, None) => (never.into(), vec![]),
    };
    sql.push(text);
    params.extend(values);
}

/// The page: one row more than `_count` tells whether another page follows.
pub fn page_statement(q: &SearchQuery, dialect: Dialect) -> Statement {
    let (filter, params) = filters(q, true, dialect);
    let column = sort_column(q.sort.key);
    let dir = if q.sort.descending { "DESC" } else { "ASC" };
    // SQLite: CROSS JOIN keeps appointment as the outer loop, the version looked up by primary
    // key. PostgreSQL takes no ON after CROSS JOIN, and orders joins by cost.
    let join = match dialect {
        Dialect::Sqlite => "CROSS JOIN",
        Dialect::Postgres => "JOIN",
    };
    Statement {
        sql: format!(
            "SELECT appointment.id, {column}, v.resource FROM appointment \
             {join} appointment_version v ON v.id = appointment.id AND v.version = appointment.version \
             WHERE {filter} ORDER BY {column} {dir}, appointment.id {dir} LIMIT {}",
            q.count + 1
        ),
        params,
    }
    .placeholders(dialect)
}

pub fn count_statement(q: &SearchQuery, dialect: Dialect) -> Statement {
    let (filter, params) = filters(q, false, dialect);
    Statement {
        sql: format!("SELECT COUNT(*) FROM appointment WHERE {filter}"),
        params,
    }
    .placeholders(dialect)
}

impl Statement {
    /// PostgreSQL numbers its placeholders: the n-th `?` becomes `$n` (the SQL built here holds
    /// no `?` but placeholders: no string literals).
    fn placeholders(self, dialect: Dialect) -> Statement {
        if dialect == Dialect::Sqlite {
            return self;
        }
        let mut sql = String::with_capacity(self.sql.len() + 2 * self.params.len());
        let mut n = 0;
        for c in self.sql.chars() {
            if c == '?' {
                n += 1;
                sql.push_str(&format!("${n}"));
            } else {
                sql.push(c);
            }
        }
        debug_assert_eq!(n, self.params.len());
        Statement {
            sql,
            params: self.params,
        }
    }
}
