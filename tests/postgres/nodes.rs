//! Several registry nodes on one PostgreSQL database (issue 10 point 4): they share the data with
//! no coordination but the database — duplicates and concurrent cancels decided across nodes,
//! and one expiry pass at a time.

use std::time::{Duration, Instant};

use appointment_registry::config::Backend;
use serde_json::{json, Value};

use crate::api::pg_app;
use crate::helpers::*;

/// A second registry node on the same database as `first`.
async fn second_node(url: String) -> TestApp {
    spawn_app_with(move |s| {
        s.database.backend = Backend::Postgres;
        s.database.url = url;
    })
    .await
}

fn cancel_of(read: &Value, status: &str) -> Value {
    let mut v = read.clone();
    v["status"] = json!(status);
    v["created"] = json!("2019-03-01T09:00:00+00:00");
    v
}

#[tokio::test]
async fn two_nodes_share_duplicates_and_cancels() {
    let Some((cluster, a)) = pg_app().await else {
        return;
    };
    let b = second_node(cluster.url()).await;

    // One identifier registered 50 times on each node at once: one 201 in all.
    let mut body = valid_appointment();
    body["identifier"] = json!([{ "system": "urn:nodes", "value": "race" }]);
    let sends = (0..100).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.register_json_owned(body.clone())
    });
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        99,
        "{statuses:?}"
    );

    // What one node registered, the other reads; a cancel raced on both nodes: one wins.
    for round in 0..5 {
        let read = a.registered().await;
        let id = read["id"].as_str().unwrap().to_string();
        assert_eq!(b.get(&format!("/Appointment/{id}")).await.status(), 200);
        let put = |node: &TestApp, status: &str| {
            node.client
                .put(node.url(&format!("/Appointment/{id}")))
                .bearer_auth(node.token())
                .header("Content-Type", "application/fhir+json")
                .header("If-Match", "W/\"1\"")
                .body(cancel_of(&read, status).to_string())
                .send()
        };
        let (x, y) = tokio::join!(put(&a, "cancelled"), put(&b, "entered-in-error"));
        let mut pair = [x.unwrap().status().as_u16(), y.unwrap().status().as_u16()];
        pair.sort_unstable();
        assert_eq!(pair, [200, 409], "round {round}");
    }
}

#[tokio::test]
async fn one_expiry_pass_at_a_time_across_nodes() {
    let Some((cluster, _a)) = pg_app().await else {
        return;
    };
    let mut settings = appointment_registry::config::Settings::default();
    settings.database.backend = Backend::Postgres;
    settings.database.url = cluster.url();
    let open = |settings: appointment_registry::config::Settings| async move {
        tokio::task::spawn_blocking(move || {
            let metrics =
                std::sync::Arc::new(appointment_registry::metrics::Metrics::new().unwrap());
            appointment_registry::store::Store::open(
                &settings.database,
                metrics,
                appointment_registry::store::Migration::Apply,
            )
            .unwrap()
        })
        .await
        .unwrap()
    };
    let (one, two) = (open(settings.clone()).await, open(settings).await);
    let lease = one.expiry_lease().await.unwrap();
    assert!(lease.is_some(), "the first node gets the pass");
    assert!(
        two.expiry_lease().await.unwrap().is_none(),
        "the second skips"
    );
    drop(lease);
    // The lock is released on a thread of its own: the second node gets it soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if two.expiry_lease().await.unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the lease was not released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn validate_warns_of_a_registered_identifier_on_postgres() {
    let Some((_cluster, app)) = pg_app().await else {
        return;
    };
    let mut body = valid_appointment();
    body["identifier"] = json!([{ "system": "urn:pg:v", "value": "1" }]);
    let validate = || {
        app.client
            .post(app.url("/Appointment/$validate"))
            .bearer_auth(app.token())
            .header("Content-Type", "application/fhir+json")
            .body(body.to_string())
            .send()
    };
    let first: Value = validate().await.unwrap().json().await.unwrap();
    assert_eq!(first["issue"][0]["severity"], "information", "{first}");
    assert_eq!(app.register_json(&body).await.status(), 201);
    let second: Value = validate().await.unwrap().json().await.unwrap();
    assert_eq!(second["issue"][0]["severity"], "warning", "{second}");
}
