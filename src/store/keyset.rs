//! The SQL of a search, for both backends. Every shape starts from `nhs_number = ?` so it is
//! answered from the patient indexes (schema.sql, schema.pg.sql); pages follow the sort key plus
//! id (keyset), never OFFSET, so a registration made while a client pages cannot shift rows
//! between pages. The two dialects differ only in placeholders (`?` / `$n`), planner hints and
//! boolean literals: the conditions, their parameters and the order are the same.
//!
//! `Bundle.total` never costs a walk of the patient's whole history: a first page that holds
//! every match is its own count, a first page that does not counts at most
//! `TOTAL_LIMIT` + 1 matches (a LIMITed subquery), and later pages count nothing (the first
//! page's total comes back in `_page`). Only a search for the total alone counts every match.

use crate::registry::search::{DateBound, Prefix, SearchQuery, SortKey, Total};

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

/// One condition on a date column (instants as column text).
enum DateCondition {
    /// `>=`: a lower bound.
    AtLeast(String),
    /// `<`: an upper bound.
    Before(String),
    /// Before the first or at or after the second (`ne`).
    Outside(String, String),
    /// Every row, or none.
    Always(bool),
}

/// The WHERE clause shared by the page and the count. `index`: the date whose patient index
/// reads the rows; `keyset`: add the page's keyset condition.
fn filters(
    q: &SearchQuery,
    index: SortKey,
    keyset: bool,
    dialect: Dialect,
) -> (String, Vec<String>) {
    // One string, conditions appended: building each as its own String and joining them cost
    // more than SQLite's lookup of the prepared statement.
    let mut sql = String::with_capacity(256);
    sql.push_str("appointment.nhs_number = ?");
    let mut params = Vec::with_capacity(4);
    params.push(q.nhs_number.clone());
    let and = |sql: &mut String, parts: &[&str]| {
        sql.push_str(" AND ");
        parts.iter().for_each(|p| sql.push_str(p));
    };
    // Unary + keeps SQLite from using the other column's index: for a page, the patient index
    // of the sort column then gives rows in order, and a page stops after `_count` + 1 rows
    // instead of sorting all the patient's matches (the other column is checked on each row
    // read). PostgreSQL has no unary + on text, and its planner weighs both indexes itself.
    let (start, created) = match (dialect, index) {
        (Dialect::Postgres, _) => ("appointment.start_at", "appointment.created_at"),
        (Dialect::Sqlite, SortKey::Start) => ("appointment.start_at", "+appointment.created_at"),
        (Dialect::Sqlite, SortKey::Created) => ("+appointment.start_at", "appointment.created_at"),
    };
    let after = q.after.as_ref().filter(|_| keyset);
    for (column, key, bounds) in [
        (start, SortKey::Start, &q.start),
        (created, SortKey::Created, &q.created),
    ] {
        let mut conditions = Vec::new();
        for b in bounds {
            date_condition(b, &mut conditions);
        }
        if let (SortKey::Start, Some(t)) = (key, &q.not_before) {
            conditions.push(DateCondition::AtLeast(t.clone()));
        }
        if let (true, Some(after)) = (key == q.sort.key, after) {
            // A later page starts past the key where the previous one ended, and that key met
            // every bound: a bound on the sort column in the paging direction is then implied
            // by the keyset condition, and is left out. SQLite starts an index range at one
            // bound per direction: given the date bound too (the past cut-off of every search
            // without a date), it read each page from that bound, every earlier page again.
            // (PostgreSQL picks the tighter bound itself; the same SQL serves it.)
            let key = after.sort_value.as_str();
            conditions.retain(|c| match c {
                DateCondition::AtLeast(v) => q.sort.descending || v.as_str() > key,
                DateCondition::Before(v) => !q.sort.descending || v.as_str() <= key,
                _ => true,
            });
        }
        let (always, never) = match dialect {
            Dialect::Sqlite => ("1", "0"),
            Dialect::Postgres => ("TRUE", "FALSE"),
        };
        for c in conditions {
            match c {
                DateCondition::AtLeast(v) => {
                    and(&mut sql, &[column, " >= ?"]);
                    params.push(v);
                }
                DateCondition::Before(v) => {
                    and(&mut sql, &[column, " < ?"]);
                    params.push(v);
                }
                DateCondition::Outside(lo, hi) => {
                    and(&mut sql, &["(", column, " < ? OR ", column, " >= ?)"]);
                    params.extend([lo, hi]);
                }
                DateCondition::Always(true) => and(&mut sql, &[always]),
                DateCondition::Always(false) => and(&mut sql, &[never]),
            }
        }
    }
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        and(&mut sql, &["appointment.status IN (", &marks, ")"]);
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
        and(&mut sql, &[&sub]);
    }
    if let Some(after) = after {
        let op = if q.sort.descending { "<" } else { ">" };
        and(
            &mut sql,
            &[
                "(",
                sort_column(q.sort.key),
                ", appointment.id) ",
                op,
                " (?, ?)",
            ],
        );
        params.push(after.sort_value.clone());
        params.push(after.id.clone());
    }
    (sql, params)
}

/// The column's instant against the interval `[lo, hi)` the parameter value covers.
fn date_condition(b: &DateBound, conditions: &mut Vec<DateCondition>) {
    use DateCondition::{Always, AtLeast, Before, Outside};
    let lo = b.lo.clone();
    match (b.prefix, &b.hi) {
        (Prefix::Eq, Some(hi)) => conditions.extend([AtLeast(lo), Before(hi.clone())]),
        (Prefix::Eq, None) | (Prefix::Ge, _) => conditions.push(AtLeast(lo)),
        (Prefix::Ne, Some(hi)) => conditions.push(Outside(lo, hi.clone())),
        (Prefix::Ne, None) | (Prefix::Lt, _) => conditions.push(Before(lo)),
        (Prefix::Le, Some(hi)) => conditions.push(Before(hi.clone())),
        // Past year 9999: every stored instant is before the end, none after it.
        (Prefix::Le, None) => conditions.push(Always(true)),
        (Prefix::Gt, Some(hi)) => conditions.push(AtLeast(hi.clone())),
        (Prefix::Gt, None) => conditions.push(Always(false)),
    }
}

/// The page: one row more than `_count` tells whether another page follows.
pub fn page_statement(q: &SearchQuery, dialect: Dialect) -> Statement {
    let (filter, params) = filters(q, q.sort.key, true, dialect);
    let column = sort_column(q.sort.key);
    let dir = if q.sort.descending { "DESC" } else { "ASC" };
    // SQLite: CROSS JOIN keeps appointment as the outer loop, the version looked up by its
    // integer key (schema.sql). PostgreSQL takes no ON after CROSS JOIN, orders joins by cost,
    // and finds the version by its primary key (schema.pg.sql).
    let join = match dialect {
        Dialect::Sqlite => " CROSS JOIN appointment_version v ON v.row = appointment.current_row WHERE ",
        Dialect::Postgres => {
            " JOIN appointment_version v ON v.id = appointment.id AND v.version = appointment.version \
             WHERE "
        }
    };
    let limit = (q.count + 1).to_string();
    let mut sql = String::with_capacity(filter.len() + 320);
    for part in [
        "SELECT appointment.id, ",
        column,
        ", v.resource FROM appointment",
        join,
        &filter,
        " ORDER BY ",
        column,
        " ",
        dir,
        ", appointment.id ",
        dir,
        " LIMIT ",
        &limit,
    ] {
        sql.push_str(part);
    }
    Statement { sql, params }.placeholders(dialect)
}

/// The count of every match (`limit` None), or of at most `limit` + 1 of them: enough to tell
/// whether there are more than `limit`, reading no more rows than that.
pub fn count_statement(q: &SearchQuery, dialect: Dialect, limit: Option<usize>) -> Statement {
    // No order to keep: the index of the date the search bounds reads just the rows in its
    // range (the sort's date when it bounds both; `start` has at least the past cut-off).
    let index = if !q.created.is_empty() && (q.start.is_empty() || q.sort.key == SortKey::Created) {
        SortKey::Created
    } else {
        SortKey::Start
    };
    let (filter, params) = filters(q, index, false, dialect);
    let sql = match limit {
        None => format!("SELECT COUNT(*) FROM appointment WHERE {filter}"),
        Some(limit) => format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM appointment WHERE {filter} LIMIT {}) AS matches",
            limit + 1
        ),
    };
    Statement { sql, params }.placeholders(dialect)
}

/// How a page's `Bundle.total` is found, once the page (`rows` read, `more` after them) is in.
pub enum TotalWork {
    /// Known without a count (None: the page has no total).
    Known(Option<usize>),
    /// Run this count and give its result to [`Count::total`].
    Count(Count),
}

pub struct Count {
    pub statement: Statement,
    limit: Option<usize>,
}

impl Count {
    /// The total the count's result gives: none past the limit.
    pub fn total(&self, counted: i64) -> Option<usize> {
        let counted = usize::try_from(counted).ok()?;
        match self.limit {
            Some(limit) if counted > limit => None,
            _ => Some(counted),
        }
    }
}

pub fn total_work(q: &SearchQuery, rows: usize, more: bool, dialect: Dialect) -> TotalWork {
    match q.total {
        Total::Carried(total) => TotalWork::Known(total),
        // A first page that holds every match is its own count (the usual patient search).
        _ if q.after.is_none() && !more => TotalWork::Known(Some(rows)),
        Total::Exact => TotalWork::Count(Count {
            statement: count_statement(q, dialect, None),
            limit: None,
        }),
        Total::UpTo(limit) => TotalWork::Count(Count {
            statement: count_statement(q, dialect, Some(limit)),
            limit: Some(limit),
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::search::{self, PageSizes};

    fn query(text: &str) -> SearchQuery {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        let now = crate::registry::instant::parse("2025-06-01T00:00:00Z").unwrap();
        search::parse(&pairs, now, PageSizes::default()).unwrap()
    }

    /// The page after one that ended at `key`.
    fn later(text: &str, key: &str) -> SearchQuery {
        let last = search::PageKey {
            sort_value: key.into(),
            id: "a".into(),
        };
        let token = query(text).next_params(&last, None).pop().unwrap().1;
        query(&format!("{text}&_page={token}"))
    }

    #[test]
    fn a_later_page_leaves_out_the_bounds_its_key_implies() {
        let range = "patient=9000000009&date=ge2030-01&date=lt2031-01";
        let (lower, upper) = ("appointment.start_at >= ?", "appointment.start_at < ?");
        let first = page_statement(&query(&format!("{range}&_sort=date")), Dialect::Sqlite);
        assert!(first.sql.contains(lower) && first.sql.contains(upper));
        // Ascending from mid-2030: the key implies the lower bound, not the upper one.
        let up = page_statement(
            &later(&format!("{range}&_sort=date"), "2030-06-01T00:00:00.000Z"),
            Dialect::Sqlite,
        );
        assert!(
            !up.sql.contains(lower) && up.sql.contains(upper),
            "{}",
            up.sql
        );
        assert!(up
            .sql
            .contains("(appointment.start_at, appointment.id) > (?, ?)"));
        let down = page_statement(
            &later(&format!("{range}&_sort=-date"), "2030-06-01T00:00:00.000Z"),
            Dialect::Sqlite,
        );
        assert!(
            down.sql.contains(lower) && !down.sql.contains(upper),
            "{}",
            down.sql
        );
        // The past cut-off of a search without a date is such a bound too.
        let plain = "patient=9000000009&_sort=date";
        let cut = page_statement(&later(plain, "2030-06-01T00:00:00.000Z"), Dialect::Sqlite);
        assert!(!cut.sql.contains(lower), "{}", cut.sql);
        // A key outside the bounds (a token taken to another search) implies nothing.
        let odd = page_statement(
            &later(&format!("{range}&_sort=date"), "2020-01-01T00:00:00.000Z"),
            Dialect::Sqlite,
        );
        assert!(
            odd.sql.contains(lower) && odd.sql.contains(upper),
            "{}",
            odd.sql
        );
        for s in [first, up, down, cut, odd] {
            assert_eq!(s.sql.matches('?').count(), s.params.len(), "{}", s.sql);
        }
    }

    #[test]
    fn a_count_up_to_the_limit_reads_at_most_one_match_more() {
        let q = query("patient=9000000009");
        let bounded = count_statement(&q, Dialect::Postgres, Some(1000));
        assert!(
            bounded.sql.ends_with("LIMIT 1001) AS matches"),
            "{}",
            bounded.sql
        );
        assert!(!count_statement(&q, Dialect::Postgres, None)
            .sql
            .contains("LIMIT"));
        let count = Count {
            statement: bounded,
            limit: Some(1000),
        };
        assert_eq!((count.total(1000), count.total(1001)), (Some(1000), None));
    }
}
