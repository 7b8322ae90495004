//! What is PostgreSQL's own in the API's storage: the schema version and admin view, a newer
//! schema refused without showing the password. The API suite itself runs on PostgreSQL in
//! tests/api_postgres (the same tests as on SQLite).

use appointment_registry::config::Backend;
use reqwest::Response;
use serde_json::{json, Value};

use crate::cluster::PgCluster;
use crate::helpers::*;

/// A cluster and a registry on it; None when PostgreSQL is not installed.
pub async fn pg_app() -> Option<(PgCluster, TestApp)> {
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .expect("cluster start")?;
    let url = cluster.url();
    let app = spawn_app_on(TestDb::Postgres { url }, |_| {}).await;
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

/// What an admin reads on PostgreSQL: the schema version and the `appointment_summary` view
/// (tests/api/admin_queries.rs reads SQLite's).
#[tokio::test]
async fn the_schema_version_and_the_admin_view() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    let created: Value = app
        .register_json(&with_identifier("urn:pg:1"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let cancel = put(&app, &id, &cancelled(&created, "cancelled"), "W/\"1\"").await;
    assert_eq!(cancel.status(), 200);
    assert_eq!(header(&cancel, "etag"), "W/\"2\"");

    let (version, summary) = cluster.query(move |c| {
        let version: i32 = c
            .query_one("SELECT version FROM registry_schema", &[])
            .unwrap()
            .get(0);
        let summary: Option<String> = c
            .query_one(
                "SELECT identifiers FROM appointment_summary WHERE status = 'cancelled'",
                &[],
            )
            .unwrap()
            .get(0);
        (version, summary)
    });
    assert_eq!(version, 2);
    assert_eq!(summary.as_deref(), Some("urn:ietf:rfc:3986|urn:pg:1"));
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
                appointment_registry::store::Migration::Apply,
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
