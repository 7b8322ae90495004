//! RULES.md §4 paging: `_count`, `next` links that stay exact while registrations continue
//! (keyset paging), and query plans that use the indexes for every search shape.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use appointment_registry::registry::search;
use appointment_registry::store::sqlite::search::{count_statement, page_statement};
use serde_json::Value;

use crate::helpers::*;
use crate::search_support::*;

#[tokio::test]
async fn count_limits_the_page_and_next_continues() {
    let app = spawn_app().await;
    for day in 1..=(search::DEFAULT_COUNT + 1) {
        let start = format!("2030-01-{:02}T00:00:00Z", day % 28 + 1);
        add_at(&app, P, &start, "2019-01-01T00:00:00Z").await;
    }
    let all = search::DEFAULT_COUNT + 1;
    let first = search(&app, &format!("patient={P}")).await;
    assert_eq!(first["total"], all);
    assert_eq!(ids(&first).len(), search::DEFAULT_COUNT, "default _count");
    assert!(link(&first, "next").is_some());
    let one = search(&app, &format!("patient={P}&_count=1")).await;
    assert_eq!((ids(&one).len(), one["total"].clone()), (1, all.into()));
    let zero = search(&app, &format!("patient={P}&_count=0")).await;
    assert_eq!((ids(&zero).len(), zero["total"].clone()), (0, all.into()));
    let big = search(&app, &format!("patient={P}&_count=100000")).await;
    assert_eq!(ids(&big).len(), all);
    assert!(link(&big, "next").is_none());
    let max = format!("_count={}", search::MAX_COUNT);
    assert!(
        link(&big, "self").unwrap().contains(&max),
        "the page size used"
    );
    // A page token belongs to its sort.
    let next = link(&one, "next").unwrap();
    let token = next
        .split("_page=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let other = format!("patient={P}&_count=1&_sort=-date&_page={token}");
    refused(&app, &other, "_page").await;
}

/// Every appointment present when paging starts comes back exactly once, whatever is
/// registered meanwhile — in the background, and deliberately ahead of the reader's position
/// between pages (which would shift an OFFSET-paged result and repeat rows).
#[tokio::test]
async fn paging_is_exact_while_registrations_continue() {
    let app = Arc::new(spawn_app().await);
    let mut existing = BTreeSet::new();
    for i in 0..23u32 {
        let start = format!("2031-{:02}-{:02}T10:00:00Z", i % 12 + 1, i % 27 + 1);
        let created = format!("2019-{:02}-{:02}T10:00:00Z", (i * 5) % 12 + 1, i % 28 + 1);
        existing.insert(add_at(&app, P, &start, &created).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            // Bounded and paced, so it overlaps the paging and the paging can still end.
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && n < 80 {
                tokio::time::sleep(std::time::Duration::from_millis(15)).await;
                let start = format!("2031-{:02}-15T0{}:00:00Z", n % 12 + 1, n % 10);
                add_at(&app, P, &start, "2020-01-01T00:00:00Z").await;
                n += 1;
            }
            n
        })
    };
    for sort in ["date", "-created", "-date", "created"] {
        // An appointment that sorts before every other one in this order.
        let ahead = |_: usize| {
            let app = app.clone();
            async move {
                let (start, created) = match sort {
                    "date" => ("2030-06-01T00:00:00Z", "2019-01-01T00:00:00Z"),
                    "-date" => ("2040-01-01T00:00:00Z", "2019-01-01T00:00:00Z"),
                    "created" => ("2031-06-01T00:00:00Z", "2000-01-01T00:00:00Z"),
                    _ => ("2031-06-01T00:00:00Z", "2029-01-01T00:00:00Z"),
                };
                add_at(&app, P, start, created).await;
            }
        };
        let pages = all_pages(&app, &format!("patient={P}&_count=4&_sort={sort}"), ahead).await;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for page in &pages {
            assert!(ids(page).len() <= 4);
            for id in ids(page) {
                *seen.entry(id).or_default() += 1;
            }
        }
        let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "{sort}: returned twice: {repeated:?}");
        for id in &existing {
            assert_eq!(seen.get(id), Some(&1), "{sort}: {id} missing");
        }
        assert!(pages.len() > existing.len() / 4, "{sort}: really paged");
        // Each page is in order, and pages follow one another.
        let key = |e: &Value| {
            let field = if sort.ends_with("date") {
                "start"
            } else {
                "created"
            };
            e["resource"][field].as_str().unwrap().to_string()
        };
        let keys: Vec<String> = pages
            .iter()
            .flat_map(|p| p["entry"].as_array().cloned().unwrap_or_default())
            .map(|e| key(&e))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if sort.starts_with('-') {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "{sort}");
    }
    stop.store(true, Ordering::Relaxed);
    let registered_meanwhile = background.await.unwrap();
    assert!(registered_meanwhile > 0, "registrations ran during paging");
}

/// Every shape of search is answered from an index: no full scan of any table, and pages come
/// in index order (no temporary sort of all the patient's matches). That a page and its count
/// read no more of a patient's history when it grows is checked in search_history.rs.
#[tokio::test]
async fn every_search_shape_uses_the_indexes() {
    let app = spawn_app().await;
    if app
        .db
        .sqlite_only("SQLite's EXPLAIN QUERY PLAN; tests/postgres/plans.rs checks PostgreSQL's")
    {
        return;
    }
    let db = rusqlite::Connection::open_with_flags(
        &app.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    for (text, query) in search_shapes(time::OffsetDateTime::now_utc()) {
        for (what, statement) in [
            ("page", page_statement(&query)),
            ("count", count_statement(&query, Some(search::TOTAL_LIMIT))),
            ("exact count", count_statement(&query, None)),
        ] {
            let plan = plan(&db, &statement.sql, &statement.params);
            // The count's LIMITed subquery is read whole ("SCAN matches"): no table is.
            assert!(
                !plan
                    .iter()
                    .any(|l| l.starts_with("SCAN") && l != "SCAN matches"),
                "{what} {text}: {plan:?}"
            );
            if what == "page" {
                assert!(
                    !plan.iter().any(|l| l.contains("TEMP B-TREE")),
                    "{text}: {plan:?}"
                );
            }
        }
    }
    // The check itself sees a scan when there is one.
    let scan = plan(
        &db,
        "SELECT id FROM appointment WHERE status = ?",
        &["booked".into()],
    );
    assert!(scan.iter().any(|l| l.starts_with("SCAN")), "{scan:?}");
}

fn plan(db: &rusqlite::Connection, sql: &str, params: &[String]) -> Vec<String> {
    let mut stmt = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// A database at schema version 2, whose patient indexes held no more than the patient and a
/// date, and whose versions were keyed by (id, version), is migrated when the server opens it:
/// versions get integer rows, each appointment points at its current one, the patient indexes
/// are rebuilt to carry what a search reads (so a page reads no row of the table), and its
/// appointments are found as before.
#[tokio::test]
async fn a_version_2_database_is_migrated_and_its_searches_answer() {
    let probe = spawn_app().await;
    if probe
        .db
        .sqlite_only("SQLite's schema versions; tests/postgres has PostgreSQL's")
    {
        return;
    }
    let path = probe.dir.path().join("version2.db");
    // Version 3's schema (tests/fixtures/schema-v3.sql, as it shipped), then as version 2 left it.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(include_str!("../fixtures/schema-v3.sql"))
        .unwrap();
    let db = TestDb::Sqlite(path.clone());
    // Start order is the reverse of created order.
    let rows: Vec<Row> = (0..30).map(|i| Row::new(i, i * 60, 30 - i)).collect();
    insert_rows(&db, &rows);
    db.execute(
        "DROP INDEX appointment_patient;
         DROP INDEX appointment_patient_created;
         CREATE INDEX appointment_patient ON appointment (nhs_number, start_at);
         CREATE INDEX appointment_patient_created ON appointment (nhs_number, created_at);
         PRAGMA user_version = 2;",
    );

    let app = spawn_app_on(db, |_| {}).await;
    assert_eq!(
        app.db.count("PRAGMA user_version"),
        appointment_registry::store::schema::VERSION
    );
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let columns = |index: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
            .unwrap();
        stmt.query_map([index], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        columns("appointment_patient"),
        [
            "nhs_number",
            "start_at",
            "id",
            "current_row",
            "status",
            "created_at"
        ]
    );
    assert_eq!(
        columns("appointment_patient_created"),
        [
            "nhs_number",
            "created_at",
            "id",
            "current_row",
            "status",
            "start_at"
        ]
    );
    let query = search::parse(
        &[
            ("patient".into(), P.into()),
            ("status".into(), "booked".into()),
        ],
        time::OffsetDateTime::now_utc(),
        search::PageSizes::default(),
    )
    .unwrap();
    let statement = page_statement(&query);
    let plan = plan(&conn, &statement.sql, &statement.params);
    assert!(
        plan.iter()
            .any(|l| l.contains("USING COVERING INDEX appointment_patient ")),
        "{plan:?}"
    );

    assert_eq!(
        app.db.count(
            "SELECT count(*) FROM appointment a JOIN appointment_version v ON v.row = a.current_row \
             WHERE v.id = a.id AND v.version = a.version"
        ),
        30,
        "every appointment points at its current version"
    );
    let read = app.get(&format!("/Appointment/{}", rows[7].id)).await;
    assert_eq!(read.status(), 200);

    let ids_of = |rows: &[Row]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    for (sort, expected) in [
        ("date", ids_of(&rows)),
        ("-created", ids_of(&rows)),
        ("created", ids_of(&rows).into_iter().rev().collect()),
    ] {
        let all = pages(&app, &format!("patient={P}&_count=12&_sort={sort}")).await;
        assert_eq!(all.len(), 3, "{sort}");
        assert!(all.iter().all(|p| p["total"] == 30), "{sort}");
        assert_eq!(
            all.iter().flat_map(ids).collect::<Vec<_>>(),
            expected,
            "{sort}"
        );
    }
}
