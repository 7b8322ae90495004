//! RULES.md §4 for a patient with a long history: `Bundle.total` is exact up to
//! `search::TOTAL_LIMIT` matches and left out past it, later pages repeat what the first said,
//! `next` links lead to the end, and neither a page nor its count reads more of the history
//! when the history grows.

use appointment_registry::registry::search;
use appointment_registry::store::keyset::Statement;
use appointment_registry::store::sqlite::search::{count_statement, page_statement};
use rusqlite::{params_from_iter, Connection, OpenFlags, StatementStatus};
use serde_json::Value;

use crate::helpers::*;
use crate::search_support::*;

#[tokio::test]
async fn past_the_limit_pages_have_no_total_and_paging_still_reaches_the_end() {
    let app = spawn_app().await;
    let limit = search::TOTAL_LIMIT;
    let n = limit + 500;
    // Starting an hour apart and created a minute apart: row i is i-th in either order.
    let rows: Vec<Row> = (0..n).map(|i| Row::new(i, i * 60, i)).collect();
    insert(&app.db, &rows);

    let first = search(&app, &format!("patient={P}&_count=10")).await;
    assert_eq!(ids(&first).len(), 10);
    assert!(first.get("total").is_none(), "past the limit: no total");
    assert!(link(&first, "next").is_some());
    let xml = search_xml(&app, &format!("patient={P}&_count=10")).await;
    assert!(xml.get("total").is_none(), "nor in XML");

    // Later pages say what the first said, and next links lead to the end: every appointment
    // once, in start order, from both ends.
    for (sort, order) in [("date", false), ("-date", true)] {
        let all = pages(&app, &format!("patient={P}&_count=250&_sort={sort}")).await;
        assert_eq!(all.len(), n.div_ceil(250), "{sort}");
        assert!(all.iter().all(|p| p.get("total").is_none()), "{sort}");
        let mut expected: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        if order {
            expected.reverse();
        }
        assert_eq!(all.iter().flat_map(ids).collect::<Vec<_>>(), expected);
    }

    // The total alone is what the client asked for: counted exactly, however many.
    for alone in ["_summary=count", "_count=0"] {
        let bundle = search(&app, &format!("patient={P}&{alone}")).await;
        assert_eq!((bundle["total"].clone(), ids(&bundle).len()), (n.into(), 0));
    }

    // At the limit the total is exact, one past it there is none; every page says the same.
    for (from, total) in [(n - limit, Some(limit)), (n - limit - 1, None)] {
        let query = format!(
            "patient={P}&date=ge{}&_count=400",
            encode(&rows[from].start)
        );
        let all = pages(&app, &query).await;
        assert_eq!(all.len(), 3, "{query}");
        for page in &all {
            assert_eq!(
                page.get("total").and_then(Value::as_u64),
                total.map(|t| t as u64)
            );
        }
        assert_eq!(all.iter().map(|p| ids(p).len()).sum::<usize>(), n - from);
    }

    // A result within the limit has its exact total on every page.
    let query = format!(
        "patient={P}&date=ge{}&date=lt{}&_count=10&_sort=-date",
        encode(&rows[100].start),
        encode(&rows[130].start)
    );
    let all = pages(&app, &query).await;
    assert_eq!(all.len(), 3);
    for page in &all {
        assert_eq!(page["total"], 30, "{page}");
    }

    // Registrations while a client pages do not change the total its pages repeat.
    let first = search(&app, &query).await;
    add_at(&app, P, &rows[110].start, "2019-01-01T00:00:00Z").await;
    let next = link(&first, "next").unwrap();
    let second = search(&app, next.split_once('?').unwrap().1).await;
    assert_eq!(second["total"], 30, "the first page's total");
    assert_eq!(
        search(&app, &query).await["total"],
        31,
        "a new search counts again"
    );
}

/// SQLite's count of virtual-machine steps to run `s` to the end: the work it did.
fn steps(db: &Connection, s: &Statement) -> i32 {
    let mut stmt = db.prepare(&s.sql).unwrap();
    let mut rows = stmt.query(params_from_iter(&s.params)).unwrap();
    while rows.next().unwrap().is_some() {}
    drop(rows);
    stmt.get_status(StatementStatus::VmStep)
}

/// Every page — the first and one from the middle of the history — and every first page's
/// count (up to the limit) does the same work when the patient's history doubles: none reads
/// the history whole, or from its start to the page. (The exact count does; the check sees it.)
#[tokio::test]
async fn a_page_and_its_count_do_the_same_work_when_the_history_doubles() {
    let app = spawn_app().await;
    if app
        .db
        .sqlite_only("SQLite's step counts; tests/postgres/plans.rs reads PostgreSQL's plans")
    {
        return;
    }
    let half = 4_000;
    insert(&app.db, &(0..half).map(Row::spread).collect::<Vec<_>>());
    let mut statements = Vec::new();
    for s in history_searches() {
        statements.push((s.what.clone(), page_statement(&s.query)));
        if s.count {
            let count = count_statement(&s.query, Some(search::TOTAL_LIMIT));
            statements.push((format!("count of {}", s.what), count));
        }
    }
    let everything = history_searches()
        .into_iter()
        .find(|s| s.what.starts_with("first page"))
        .unwrap()
        .query;
    let exact = count_statement(&everything, None);

    let db = Connection::open_with_flags(&app.db_path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let before: Vec<i32> = statements.iter().map(|(_, s)| steps(&db, s)).collect();
    let exact_before = steps(&db, &exact);
    insert(
        &app.db,
        &(half..2 * half).map(Row::spread).collect::<Vec<_>>(),
    );
    let mut grew = Vec::new();
    for ((what, s), before) in statements.iter().zip(before) {
        let after = steps(&db, s);
        if after > before + before / 4 + 100 {
            grew.push(format!("{what}: {before} -> {after} steps\n  {}", s.sql));
        }
    }
    assert!(
        grew.is_empty(),
        "work grew with the history:\n{}",
        grew.join("\n")
    );
    let exact_after = steps(&db, &exact);
    assert!(
        exact_after > exact_before * 9 / 5,
        "the check sees a count of the whole history: {exact_before} -> {exact_after}"
    );
}

/// A search whose statements run past the steps a search may take on an event-loop thread
/// (`SEARCH_STEPS`) is interrupted there and runs again on the blocking pool: it answers as any
/// other. Here the total of a long history alone, and a status that rejects all of it but the
/// last appointment. A page of the largest size and its count together fit within the steps.
#[tokio::test]
async fn searches_past_the_inline_budget_answer_in_full() {
    let app = spawn_app().await;
    let n = 10_000;
    let rows: Vec<Row> = (0..n).map(|i| Row::new(i, i * 60, i)).collect();
    insert(&app.db, &rows);
    let last = rows[n - 1].id.clone();
    app.db.execute(&format!(
        "UPDATE appointment SET status = 'cancelled' WHERE id = '{last}'"
    ));
    let alone = format!("patient={P}&_summary=count");
    let cancelled = format!("patient={P}&status=cancelled");
    let largest = format!("patient={P}&status=booked&_count={}", search::MAX_COUNT);

    let moved = "registry_reads_moved_to_blocking_pool_total{reason=\"step_budget\"}";
    let before = app.metric(moved).await;
    let bundle = search(&app, &alone).await;
    assert_eq!((bundle["total"].clone(), ids(&bundle).len()), (n.into(), 0));
    let bundle = search(&app, &cancelled).await;
    assert_eq!(
        (bundle["total"].clone(), ids(&bundle)),
        (1.into(), vec![last])
    );
    let past_budget = app.metric(moved).await;
    let bundle = search(&app, &largest).await;
    assert_eq!(
        ids(&bundle),
        rows[..search::MAX_COUNT]
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    );
    assert!(
        bundle.get("total").is_none(),
        "{} matches: past the limit",
        n - 1
    );
    // The two past the budget moved to the blocking pool (on SQLite, where searches start on
    // the event loop); the largest page and its count did not.
    let within_budget = app.metric(moved).await;
    let expected = if app.db.is_postgres() { 0.0 } else { 2.0 };
    assert_eq!(
        (past_budget - before, within_budget - past_budget),
        (expected, 0.0)
    );

    if app
        .db
        .sqlite_only("SQLite's step counts: the budget is SQLite's progress handler")
    {
        return;
    }
    let budget = appointment_registry::store::sqlite::SEARCH_STEPS;
    let now = time::OffsetDateTime::now_utc();
    let parse = |text: &str| {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        search::parse(&pairs, now, search::PageSizes::default()).unwrap()
    };
    let db = Connection::open_with_flags(&app.db_path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let exact = steps(&db, &count_statement(&parse(&alone), None));
    let rejecting = steps(&db, &page_statement(&parse(&cancelled)));
    assert!(
        exact > budget && rejecting > budget,
        "past the budget: exact count {exact}, page rejecting all but one {rejecting}"
    );
    let page = steps(&db, &page_statement(&parse(&largest)));
    let count = steps(
        &db,
        &count_statement(&parse(&largest), Some(search::TOTAL_LIMIT)),
    );
    // The budget is for the page and its count together, counted to within a thousand steps
    // a statement.
    assert!(
        page + count + 2_000 < budget,
        "within the budget: page {page}, count {count}"
    );
}
