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
                    sql.push(format!("{column} >= ?"));
                    params.push(v);
                }
                DateCondition::Before(v) => {
                    sql.push(format!("{column} < ?"));
                    params.push(v);
                }
                DateCondition::Outside(lo, hi) => {
                    sql.push(format!("({column} < ? OR {column} >= ?)"));
                    params.extend([lo, hi]);
                }
                DateCondition::Always(true) => sql.push(always.into()),
                DateCondition::Always(false) => sql.push(never.into()),
            }
        }
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
    if let Some(after) = after {
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
        let token = query(text).next_params(&last).pop().unwrap().1;
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
}
