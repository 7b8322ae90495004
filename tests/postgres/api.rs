//! Register, read, vread, history, search with paging, cancel, duplicates, If-None-Exist and
//! stale If-Match on PostgreSQL; and what the database decides across concurrent requests.

use appointment_registry::config::Backend;
use reqwest::Response;
use serde_json::{json, Value};

use crate::cluster::PgCluster;
use crate::helpers::*;
use crate::search_support::{self, add_at, ids, link, P};

/// A cluster and a registry on it; None when PostgreSQL is not installed.
pub async fn pg_app() -> Option<(PgCluster, TestApp)> {
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .expect("cluster start")?;
    let url = cluster.url();
    let app = spawn_app_with(move |s| {
        s.database.backend = Backend::Postgres;
        s.database.url = url;
    })
    .await;
    Some((cluster, app))
}

fn with_identifier(value: &str) -> Value {
    let mut v = valid_appointment();
    v["identifier"] = json!([{"system": "urn:ietf:rfc:3986", "value": value}]);
    v
}

fn cancelled(read: &Value, status: &str) -> Value {
    let mut v = read.clone();
    v["status"] = json!(status);
    v["created"] = json!("2019-03-01T09:00:00.000+01:00");
    v
}

async fn put(app: &TestApp, id: &str, resource: &Value, if_match: &str) -> Response {
    app.client
        .put(app.url(&format!("/Appointment/{id}")))
        .bearer_auth(app.token())
        .header("Content-Type", "application/fhir+json")
        .header("If-Match", if_match)
        .body(resource.to_string())
        .send()
        .await
        .expect("request sent")
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn the_api_runs_on_postgres() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    assert_eq!(app.status_of("/_ready").await, 200);

    // Register, read, vread.
    let created = app.register_json(&with_identifier("urn:pg:1")).await;
    assert_eq!(created.status(), 201);
    let location = header(&created, "location");
    assert_eq!(header(&created, "etag"), "W/\"1\"");
    let first: Value = created.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    assert!(
        location.ends_with(&format!("/Appointment/{id}")),
        "{location}"
    );
    let read = app.get(&format!("/Appointment/{id}")).await;
    assert_eq!(read.status(), 200);
    assert_eq!(header(&read, "etag"), "W/\"1\"");
    assert_eq!(read.json::<Value>().await.unwrap(), first);
    let vread = app.get(&format!("/Appointment/{id}/_history/1")).await;
    assert_eq!(vread.json::<Value>().await.unwrap(), first);
    assert_eq!(app.get("/Appointment/no-such-id").await.status(), 404);

    // A duplicate identifier, and a conditional create that finds the first.
    let duplicate = app.register_json(&with_identifier("urn:pg:1")).await;
    assert_outcome(duplicate, 422, "DUPLICATE_REJECTED", "urn:pg:1").await;
    let found = app
        .client
        .post(app.url("/Appointment"))
        .bearer_auth(app.token())
        .header("Content-Type", "application/fhir+json")
        .header("If-None-Exist", "identifier=urn:ietf:rfc:3986|urn:pg:1")
        .body(with_identifier("urn:pg:1").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(found.json::<Value>().await.unwrap()["id"], first["id"]);

    // Cancel, then a stale If-Match; history keeps both versions.
    let cancel = put(&app, &id, &cancelled(&first, "cancelled"), "W/\"1\"").await;
    assert_eq!(cancel.status(), 200);
    assert_eq!(header(&cancel, "etag"), "W/\"2\"");
    let v2: Value = cancel.json().await.unwrap();
    assert_eq!(v2["meta"]["versionId"], "2");
    assert_eq!(v2["status"], "cancelled");
    let stale = put(&app, &id, &cancelled(&first, "entered-in-error"), "W/\"1\"").await;
    assert_outcome(stale, 409, "INVALID_REQUEST_STATE", "version 2").await;
    let history: Value = app
        .get(&format!("/Appointment/{id}/_history"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["total"], 2);
    assert_eq!(history["entry"][0]["resource"], v2);
    assert_eq!(history["entry"][1]["resource"], first);
    let other_org = app
        .client
        .put(app.url(&format!("/Appointment/{id}")))
        .bearer_auth(app.token_with(&format!("{WRITE_SCOPE} {READ_SCOPE}"), "RB2"))
        .header("Content-Type", "application/fhir+json")
        .header("If-Match", "W/\"2\"")
        .body(cancelled(&v2, "entered-in-error").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(other_org.status(), 403);

    // Search with keyset paging: every match once, in start order, the same total on each page.
    let mut starts = Vec::new();
    for day in [5, 1, 3, 2, 4] {
        let start = format!("2030-01-{day:02}T00:00:00Z");
        add_at(&app, P, &start, "2019-01-01T00:00:00Z").await;
        starts.push(start);
    }
    let mut seen = Vec::new();
    let mut page = search_support::search(&app, &format!("patient={P}&_count=2")).await;
    loop {
        assert_eq!(page["total"], 5);
        seen.extend(ids(&page));
        let Some(next) = link(&page, "next") else {
            break;
        };
        let query = next
            .strip_prefix(&format!("{}/Appointment?", app.base))
            .expect("next link on this server")
            .to_string();
        page = search_support::search(&app, &query).await;
        assert!(seen.len() <= 5, "paging does not end");
    }
    assert_eq!(seen.len(), 5);
    let all = search_support::search(&app, &format!("patient={P}")).await;
    assert_eq!(ids(&all), seen, "pages in the order of one page");
    let got_starts: Vec<String> = all["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["start"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = got_starts.clone();
    sorted.sort();
    assert_eq!(got_starts, sorted, "start order");
    let later = search_support::search(&app, &format!("patient={P}&date=ge2030-01-03")).await;
    assert_eq!(later["total"], 3);

    // What the database holds: the schema version, the rows, and the admins' view.
    let (version, appointments, summary) = cluster.query(move |c| {
        let version: i32 = c
            .query_one("SELECT version FROM registry_schema", &[])
            .unwrap()
            .get(0);
        let n: i64 = c
            .query_one("SELECT count(*) FROM appointment", &[])
            .unwrap()
            .get(0);
        let summary: Option<String> = c
            .query_one(
                "SELECT identifiers FROM appointment_summary WHERE status = 'cancelled'",
                &[],
            )
            .unwrap()
            .get(0);
        (version, n, summary)
    });
    assert_eq!(version, 2);
    assert_eq!(appointments, 6);
    assert_eq!(summary.as_deref(), Some("urn:ietf:rfc:3986|urn:pg:1"));
}

#[tokio::test]
async fn two_concurrent_cancels_with_one_version_exactly_one_wins() {
    let Some((_cluster, app)) = pg_app().await else {
        return;
    };
    for round in 0..10 {
        let read = app.registered().await;
        let id = read["id"].as_str().unwrap().to_string();
        let (first, second) = (
            cancelled(&read, "cancelled"),
            cancelled(&read, "entered-in-error"),
        );
        let (a, b) = tokio::join!(
            put(&app, &id, &first, "W/\"1\""),
            put(&app, &id, &second, "W/\"1\""),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}");
        let history: Value = app
            .get(&format!("/Appointment/{id}/_history"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(history["total"], 2, "round {round}");
    }
}

#[tokio::test]
async fn of_100_concurrent_registrations_of_one_identifier_one_is_created() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    let body = with_identifier("urn:pg:race");
    let responses =
        futures_util::future::join_all((0..100).map(|_| app.register_json_owned(body.clone())))
            .await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!((created, refused), (1, 99), "{statuses:?}");
    let rows: i64 = cluster.query(|c| {
        c.query_one("SELECT count(*) FROM appointment", &[])
            .unwrap()
            .get(0)
    });
    assert_eq!(rows, 1, "the refused registrations left nothing behind");
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_the_password_never_shows() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    drop(app);
    cluster.query(|c| {
        c.execute("UPDATE registry_schema SET version = 99", &[])
            .unwrap()
    });
    let mut settings = appointment_registry::config::Settings::default();
    settings.database.backend = Backend::Postgres;
    // The same URL with a password (trust authentication ignores it): it must never be shown.
    let url = cluster.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    settings.database.url = format!("{scheme}://{user}:s3cret@{host}");
    let error =
        tokio::task::spawn_blocking(move || {
            match appointment_registry::store::Store::open(
                &settings.database,
                std::sync::Arc::new(appointment_registry::metrics::Metrics::new().unwrap()),
            ) {
                Ok(_) => panic!("a newer schema was accepted"),
                Err(e) => (
                    format!("{e}"),
                    settings.describe(),
                    settings.database.target(),
                ),
            }
        })
        .await
        .unwrap();
    assert!(error.0.contains("schema version 99"), "{}", error.0);
    for shown in [&error.1, &error.2] {
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains(":***@127.0.0.1"), "{shown}");
    }
}
