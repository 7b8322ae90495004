//! Every search shape runs on PostgreSQL and is answered from an index: with sequential scans
//! priced out (`enable_seqscan = off`, as the test tables are tiny), no plan of a page or a count
//! scans the appointment table; and the page of a search by start needs no sort. On a long
//! history, a page and its count read a bounded number of rows (EXPLAIN ANALYZE), and `total`
//! behaves as on SQLite.

use appointment_registry::registry::search;
use appointment_registry::store::keyset::{count_statement, page_statement, Dialect, Statement};
use postgres::types::ToSql;

use crate::api::pg_app;
use crate::search_support::{self, history_searches, ids, Row, P};

#[tokio::test]
async fn every_search_shape_runs_and_uses_the_indexes() {
    let Some((cluster, _app)) = pg_app().await else {
        return;
    };
    let mut statements = Vec::new();
    for (text, q) in search_support::search_shapes(time::OffsetDateTime::now_utc()) {
        statements.push((
            format!("page {text}"),
            page_statement(&q, Dialect::Postgres),
        ));
        statements.push((
            format!("count {text}"),
            count_statement(&q, Dialect::Postgres, Some(search::TOTAL_LIMIT)),
        ));
        statements.push((
            format!("exact count {text}"),
            count_statement(&q, Dialect::Postgres, None),
        ));
    }
    let failures = cluster.query(move |c| {
        c.batch_execute("SET enable_seqscan = off").unwrap();
        let mut failures = Vec::new();
        for (what, statement) in &statements {
            let params: Vec<&(dyn ToSql + Sync)> = statement
                .params
                .iter()
                .map(|p| p as &(dyn ToSql + Sync))
                .collect();
            if let Err(e) = c.query(&statement.sql, &params) {
                failures.push(format!("{what}: {e:?}\n{}", statement.sql));
                continue;
            }
            let plan: Vec<String> = c
                .query(&format!("EXPLAIN {}", statement.sql), &params)
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let text = plan.join("\n");
            if text.contains("Seq Scan on appointment") {
                failures.push(format!("{what}: scans\n{text}"));
            }
        }
        // The check itself sees a scan when there is one.
        let scan: Vec<String> = c
            .query(
                "EXPLAIN SELECT id FROM appointment WHERE status = 'booked'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            scan.join("\n").contains("Seq Scan on appointment"),
            "{scan:?}"
        );
        failures
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn params(statement: &Statement) -> Vec<&(dyn ToSql + Sync)> {
    statement
        .params
        .iter()
        .map(|p| p as &(dyn ToSql + Sync))
        .collect()
}

/// The rows a plan read from the appointment table and its indexes, from EXPLAIN ANALYZE:
/// each scan's actual rows times its loops, and the rows filters removed.
fn rows_read(plan: &[String]) -> u64 {
    let number = |text: &str, after: &str| -> u64 {
        let rest = &text[text.find(after).unwrap() + after.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    let mut read = 0;
    for line in plan {
        if let Some(i) = line.find("Rows Removed by Filter: ") {
            read += number(&line[i..], "Filter: ");
        }
        let Some(actual) = line.find("(actual ") else {
            continue;
        };
        let node = &line[..actual];
        let on = node
            .rsplit(" on ")
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        let ours = node.contains(" Scan ")
            && node.contains(" on ")
            && on.is_some_and(|name| {
                name == "appointment"
                    || (name.starts_with("appointment_")
                        && !name.starts_with("appointment_version"))
            });
        if ours {
            let actual = &line[actual..];
            read += number(actual, " rows=") * number(actual, " loops=");
        }
    }
    read
}

#[tokio::test]
async fn a_long_history_is_read_a_page_at_a_time() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    let n = 6_000;
    let rows: Vec<Row> = (0..n).map(Row::spread).collect();
    let column = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let (id_column, starts, created, resources) = (
        column(|r| r.id.clone()),
        column(|r| r.start.clone()),
        column(|r| r.created.clone()),
        column(Row::resource),
    );
    cluster.query(move |c| {
        c.execute(
            "INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, last_updated, registered_at)
             SELECT id, 1, 'booked', $4, s, c, c, c FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, s, c)",
            &[&id_column, &starts, &created, &P],
        )
        .unwrap();
        c.execute(
            "INSERT INTO appointment_version (id, version, last_updated, status, resource)
             SELECT id, 1, c, 'booked', r FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, c, r)",
            &[&id_column, &created, &resources],
        )
        .unwrap();
        // As autovacuum leaves a table in use: statistics and the visibility map.
        for table in ["appointment", "appointment_version"] {
            c.batch_execute(&format!("VACUUM ANALYZE {table}")).unwrap();
        }
    });

    // Pages read `_count` + 1 rows and a little more; counts at most the limit + 1 and a little
    // more (rows a filter on the other date removed). The exact count reads every match.
    let page_budget = 100;
    let count_budget = (search::TOTAL_LIMIT as u64 + 1) * 3 / 2;
    let mut statements = Vec::new();
    for s in history_searches() {
        let page = page_statement(&s.query, Dialect::Postgres);
        statements.push((s.what.clone(), page, page_budget));
        if s.count {
            let count = count_statement(&s.query, Dialect::Postgres, Some(search::TOTAL_LIMIT));
            statements.push((format!("count of {}", s.what), count, count_budget));
        }
    }
    let everything = history_searches()
        .into_iter()
        .find(|s| s.what.starts_with("first page"))
        .unwrap()
        .query;
    let exact = count_statement(&everything, Dialect::Postgres, None);
    let (failures, exact_read) = cluster.query(move |c| {
        let mut explain = |statement: &Statement| -> Vec<String> {
            c.query(
                &format!("EXPLAIN ANALYZE {}", statement.sql),
                &params(statement),
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
        };
        let mut failures = Vec::new();
        for (what, statement, budget) in &statements {
            let plan = explain(statement);
            let read = rows_read(&plan);
            if read > *budget {
                failures.push(format!("{what}: {read} rows read\n{}", plan.join("\n")));
            }
        }
        (failures, rows_read(&explain(&exact)))
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        exact_read >= n as u64,
        "the check sees a count of the whole history: {exact_read}"
    );

    // What a client sees: no total past the limit, on every page; next links to the end.
    let first = search_support::search(&app, &format!("patient={P}&_count=10")).await;
    assert!(first.get("total").is_none(), "{}", first["link"]);
    let all = search_support::pages(&app, &format!("patient={P}&_count=500&_sort=-created")).await;
    assert!(all.iter().all(|p| p.get("total").is_none()));
    let seen: std::collections::BTreeSet<String> = all.iter().flat_map(ids).collect();
    assert_eq!((seen.len(), all.len()), (n, n / 500));
    let count = search_support::search(&app, &format!("patient={P}&_summary=count")).await;
    assert_eq!(count["total"], n);
    // Within the limit: exact, and repeated by later pages.
    let month = search_support::pages(&app, &format!("patient={P}&date=2030-07-01&_count=5")).await;
    let total = month[0]["total"]
        .as_u64()
        .expect("a total within the limit");
    assert!(month.len() > 1, "paged");
    assert!(month.iter().all(|p| p["total"] == total));
    assert_eq!(
        month.iter().map(|p| ids(p).len() as u64).sum::<u64>(),
        total
    );
}
