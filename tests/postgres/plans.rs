//! Every search shape runs on PostgreSQL and is answered from an index: with sequential scans
//! priced out (`enable_seqscan = off`, as the test tables are tiny), no plan of a page or a count
//! scans the appointment table; and the page of a search by start needs no sort.

use appointment_registry::registry::search;
use appointment_registry::store::keyset::{count_statement, page_statement, Dialect};
use postgres::types::ToSql;

use crate::api::pg_app;
use crate::search_support::P;

fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn every_search_shape_runs_and_uses_the_indexes() {
    let Some((cluster, _app)) = pg_app().await else {
        return;
    };
    let now = time::OffsetDateTime::now_utc();
    let filters = [
        "",
        "&date=2019",
        "&date=ne2019-02",
        "&date=ge2019&date=lt2020",
        "&date=le2019&date=gt2018",
        "&created=gt2019-02-01T10:00",
        "&created=ne2019",
        "&status=booked,cancelled",
        "&identifier=urn:x%7Cv",
        "&identifier=v",
        "&date=2019&created=2019&status=booked&identifier=v",
    ];
    let mut statements = Vec::new();
    for sort in ["date", "-date", "created", "-created"] {
        for filter in filters {
            let base = format!("patient={P}&_sort={sort}{filter}");
            let first = search::parse(&pairs(&base), now, search::PageSizes::default()).unwrap();
            let last = search::PageKey {
                sort_value: "2030-01-01T00:00:00.000Z".into(),
                id: "x".into(),
            };
            let token = first.next_params(&last, None).last().unwrap().1.clone();
            let next_text = format!("{base}&_page={token}");
            let next =
                search::parse(&pairs(&next_text), now, search::PageSizes::default()).unwrap();
            for (text, q) in [(base.clone(), first), (next_text, next)] {
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
        }
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
