//! Shared steps of the search tests: registering appointments with chosen times and reading
//! searchset Bundles back, in JSON or XML.

use std::collections::BTreeSet;

use appointment_registry::fhir;
use appointment_registry::registry::{instant, search};
use serde_json::{json, Value};

use crate::helpers::*;

pub const P: &str = "9000000009";
pub const OTHER: &str = "9434765919";
pub const FUTURE: &str = "2030-02-01T10:00:00Z";

/// A valid registration for `nhs` starting at `start`, created at `created`.
pub fn appointment(nhs: &str, start: &str, created: &str) -> Value {
    let mut v = valid_appointment();
    v["start"] = json!(start);
    v["created"] = json!(created);
    v["participant"][0]["actor"]["identifier"]["value"] = json!(nhs);
    v
}

/// Registers and returns the new id.
pub async fn add(app: &TestApp, resource: &Value) -> String {
    let response = app.register_json(resource).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

pub async fn add_at(app: &TestApp, nhs: &str, start: &str, created: &str) -> String {
    add(app, &appointment(nhs, start, created)).await
}

/// GET /Appointment?{query}: a 200 searchset Bundle in JSON.
pub async fn search(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/Appointment?{query}")).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{query}: {text}");
    let bundle = fhir::read_json(text.as_bytes()).expect("a FHIR Bundle");
    check_bundle(app, &bundle);
    bundle
}

/// The same in XML (`_format=xml`), which must pass the official schema.
pub async fn search_xml(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/Appointment?{query}&_format=xml")).await;
    assert_eq!(response.status(), 200, "{query}");
    assert!(
        content_type(&response).starts_with("application/fhir+xml"),
        "{}",
        content_type(&response)
    );
    let bytes = response.bytes().await.unwrap();
    crate::xmllint::assert_schema_valid("searchset", &bytes);
    let bundle = fhir::read_xml(&bytes).expect("an XML Bundle");
    check_bundle(app, &bundle);
    bundle
}

/// What every searchset carries (RULES.md §4).
fn check_bundle(app: &TestApp, bundle: &Value) {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    // `total` is left out past search::TOTAL_LIMIT matches (search_history.rs checks when).
    assert!(bundle.get("total").is_none_or(Value::is_u64), "{bundle}");
    assert!(bundle["meta"]["lastUpdated"].is_string());
    let self_link = link(bundle, "self").expect("a self link");
    assert!(self_link.starts_with(&format!("{}/Appointment?", app.base)));
    for entry in bundle["entry"].as_array().into_iter().flatten() {
        let id = entry["resource"]["id"].as_str().unwrap();
        assert_eq!(entry["fullUrl"], format!("{}/Appointment/{id}", app.base));
        assert_eq!(entry["search"]["mode"], "match");
        assert_eq!(entry["resource"]["resourceType"], "Appointment");
    }
}

pub fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .map(str::to_string)
}

/// The ids of the entries, in order.
pub fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect()
}

pub fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

pub fn id_set(bundle: &Value) -> BTreeSet<String> {
    let found = ids(bundle);
    assert_eq!(bundle["total"], found.len(), "every match fits on the page");
    found.into_iter().collect()
}

/// Asserts a 400 INVALID_PARAMETER naming `mentions`, in JSON and in XML.
pub async fn refused(app: &TestApp, query: &str, mentions: &str) {
    for extra in ["", "&_format=xml"] {
        let response = app.get(&format!("/Appointment?{query}{extra}")).await;
        assert_outcome(response, 400, "INVALID_PARAMETER", mentions).await;
    }
}

pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One appointment of patient P in a long history, written straight into a database (as
/// registering thousands through the API would take a test most of its time).
pub struct Row {
    pub id: String,
    pub start: String,
    pub created: String,
}

impl Row {
    /// Appointment `i`, starting `start_minutes` after 2030 began and created `created_minutes`
    /// after 2019 began.
    pub fn new(i: usize, start_minutes: usize, created_minutes: usize) -> Row {
        let at = |year: i32, minutes: usize| {
            let base = time::Date::from_calendar_date(year, time::Month::January, 1)
                .unwrap()
                .midnight()
                .assume_utc();
            instant::to_column(base + time::Duration::minutes(minutes as i64))
        };
        Row {
            id: format!("h-{i:06}"),
            start: at(2030, start_minutes),
            created: at(2019, created_minutes),
        }
    }

    /// Appointment `i` of a history whose starts spread over 2030 and whose created dates
    /// spread over 2019 in no particular order: doubling it doubles the density everywhere.
    pub fn spread(i: usize) -> Row {
        Row::new(i, i * 104_729 % 525_600, i * 7_919 % 525_600)
    }

    /// The Appointment as the registry stores it.
    pub fn resource(&self) -> String {
        json!({
            "resourceType": "Appointment",
            "id": self.id,
            "meta": { "versionId": "1", "lastUpdated": self.created },
            "status": "booked",
            "start": self.start,
            "created": self.created,
            "participant": [{
                "actor": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": P } },
                "status": "accepted"
            }]
        })
        .to_string()
    }
}

/// Writes `rows` straight into the database, as the registry would, in one transaction (the
/// same SQL on both backends, and SQLite's current version pointers set after).
pub fn insert(db: &TestDb, rows: &[Row]) {
    insert_rows(db, rows);
    if !db.is_postgres() {
        db.execute(CURRENT_ROWS);
    }
}

/// Points each SQLite appointment without one at its current version (schema.sql's
/// `current_row`), as the registry sets it on every write.
pub const CURRENT_ROWS: &str = "UPDATE appointment SET current_row = (SELECT v.row FROM \
     appointment_version v WHERE v.id = appointment.id AND v.version = appointment.version) \
     WHERE current_row IS NULL";

/// [`insert`] without the pointers: the SQL of a schema before `current_row` too.
pub fn insert_rows(db: &TestDb, rows: &[Row]) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let appointments: Vec<String> = rows
        .iter()
        .map(|r| {
            let created = quote(&r.created);
            format!(
                "({}, 1, 'booked', {}, {}, {created}, {created}, {created})",
                quote(&r.id),
                quote(P),
                quote(&r.start)
            )
        })
        .collect();
    let versions: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({}, 1, {}, 'booked', {})",
                quote(&r.id),
                quote(&r.created),
                quote(&r.resource())
            )
        })
        .collect();
    db.execute(&format!(
        "BEGIN;
         INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, last_updated, registered_at)
         VALUES {};
         INSERT INTO appointment_version (id, version, last_updated, status, resource) VALUES {};
         COMMIT",
        appointments.join(","),
        versions.join(",")
    ));
}

/// A search whose work must not grow with the history of [`Row::spread`]: `count` says whether
/// its count up to `search::TOTAL_LIMIT` is checked too (first pages whose matches pass the
/// limit; a count within the limit reads its matches, which grow with the history).
pub struct HistorySearch {
    pub what: String,
    pub query: search::SearchQuery,
    pub count: bool,
}

/// Every sort, with no filter, with filters on its own date (a wide range, one month, none
/// matching), a wide range of the other date, and a status; first pages and pages from the
/// middle of the history. Filters on the other date are checked row by row as the sort's index
/// is read, so they are here only where they match most of the history.
pub fn history_searches() -> Vec<HistorySearch> {
    let now = instant::parse("2025-06-01T00:00:00Z").unwrap();
    let parse = |text: &str| {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        search::parse(&pairs, now, search::PageSizes::default())
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
    };
    let mut searches = Vec::new();
    for sort in ["date", "-date", "created", "-created"] {
        let by_start = sort.ends_with("date");
        let (own_all, own_one, own_none, middle) = if by_start {
            (
                "date=ge2030-02&date=lt2030-12",
                "date=2030-07",
                "date=2035",
                "2030-07-01",
            )
        } else {
            (
                "created=ge2019-02&created=lt2019-12",
                "created=2019-07",
                "created=2035",
                "2019-07-01",
            )
        };
        let other_all = if by_start {
            "created=ge2019-02&created=lt2019-12"
        } else {
            "date=ge2030-02&date=lt2030-12"
        };
        for filter in ["", own_all, own_one, own_none, other_all, "status=booked"] {
            let mut text = format!("patient={P}&_count=10&_sort={sort}");
            if !filter.is_empty() {
                text = format!("{text}&{filter}");
            }
            let first = parse(&text);
            if filter != own_none {
                let key = search::PageKey {
                    sort_value: format!("{middle}T00:00:00.000Z"),
                    id: "h".into(),
                };
                let token = first.next_params(&key, None).last().unwrap().1.clone();
                searches.push(HistorySearch {
                    what: format!("later page {text}"),
                    query: parse(&format!("{text}&_page={token}")),
                    count: false,
                });
            }
            searches.push(HistorySearch {
                what: format!("first page {text}"),
                query: first,
                count: filter != own_one,
            });
        }
    }
    searches
}

/// The first page and every page its `next` links lead to.
pub async fn pages(app: &TestApp, first: &str) -> Vec<Value> {
    all_pages(app, first, async |_| {}).await
}

/// [`pages`], running `between(pages so far)` before each `next` is followed.
pub async fn all_pages(app: &TestApp, first: &str, between: impl AsyncFn(usize)) -> Vec<Value> {
    let mut pages = vec![search(app, first).await];
    while let Some(next) = pages.last().and_then(|p| link(p, "next")) {
        between(pages.len()).await;
        let query = next
            .strip_prefix(&format!("{}/Appointment?", app.base))
            .expect("next link on this server");
        pages.push(search(app, query).await);
        assert!(pages.len() < 100, "paging does not end");
    }
    pages
}

/// A query string's pairs, decoded.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Every shape of search the plan checks cover (tests/api/search_paging.rs on SQLite,
/// tests/postgres/plans.rs on PostgreSQL): each filter under each sort, as a first page and as
/// the page after one, each with its text.
pub fn search_shapes(now: time::OffsetDateTime) -> Vec<(String, search::SearchQuery)> {
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
    let parse = |text: &str| {
        search::parse(&pairs(text), now, search::PageSizes::default()).expect("a valid search")
    };
    let mut shapes = Vec::new();
    for sort in ["date", "-date", "created", "-created"] {
        for filter in filters {
            let base = format!("patient={P}&_sort={sort}{filter}");
            let first = parse(&base);
            let last = search::PageKey {
                sort_value: "2030-01-01T00:00:00.000Z".into(),
                id: "x".into(),
            };
            let token = first.next_params(&last, None).last().unwrap().1.clone();
            let next_text = format!("{base}&_page={token}");
            let next = parse(&next_text);
            shapes.push((base, first));
            shapes.push((next_text, next));
        }
    }
    shapes
}
