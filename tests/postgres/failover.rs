//! The failover drill (issue 10 point 5): a primary and a synchronous streaming standby;
//! registrations at 16 connections through a registry whose URL names both hosts with
//! `target_session_attrs=read-write`; `kill -9` of the primary's postmaster mid-load; the standby
//! promoted. Every registration that got a 201 must be readable afterwards, none twice; requests
//! in the gap get a 5xx OperationOutcome, never a hang; `/_ready` is 503 with no primary and 200
//! after; writes resume within 10 s of the promotion.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appointment_registry::config::Backend;
use serde_json::json;

use crate::cluster::PgCluster;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_killed_mid_load_loses_no_acknowledged_registration() {
    let Some(primary) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let primary = Arc::new(primary);
    let p = primary.clone();
    let standby = Arc::new(
        tokio::task::spawn_blocking(move || p.standby())
            .await
            .unwrap(),
    );
    let url = format!(
        "postgresql://registry@127.0.0.1:{},127.0.0.1:{}/registry?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    let app = Arc::new(
        spawn_app_with(move |s| {
            s.database.backend = Backend::Postgres;
            s.database.url = url;
        })
        .await,
    );

    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (app, acknowledged, failed, stop) = (
                app.clone(),
                acknowledged.clone(),
                failed.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) && n < 100_000 {
                    n += 1;
                    let mut body = valid_appointment();
                    body["identifier"] =
                        json!([{ "system": "urn:drill", "value": format!("{w}-{n}") }]);
                    let sent = app
                        .client
                        .post(app.url("/Appointment"))
                        .bearer_auth(app.token())
                        .header("Content-Type", "application/fhir+json")
                        .body(body.to_string())
                        .timeout(Duration::from_secs(20))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 201 => {
                            let location = r.headers()["location"].to_str().unwrap();
                            let id = location.rsplit('/').next().unwrap().to_string();
                            acknowledged.lock().unwrap().push(id);
                        }
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let text = r.text().await.unwrap_or_default();
                            assert!(
                                (500..=503).contains(&status) && text.contains("OperationOutcome"),
                                "in the gap: {status} {text}"
                            );
                            failed.lock().unwrap().push(format!("{status}"));
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("a request hung or broke instead of failing: {e}"),
                    }
                }
            })
        })
        .collect();
    let ready = |app: Arc<TestApp>| async move {
        app.client
            .get(app.url("/_ready"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };

    // Load for a while, then the primary dies without warning.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = acknowledged.lock().unwrap().len();
    let p = primary.clone();
    let killed_at = Instant::now();
    tokio::task::spawn_blocking(move || p.kill9())
        .await
        .unwrap();
    // No primary: not ready.
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready(app.clone()).await != 503 {
        assert!(
            Instant::now() < deadline,
            "/_ready stayed 200 with no primary"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = standby.clone();
    tokio::task::spawn_blocking(move || s.promote())
        .await
        .unwrap();
    let promoted_at = Instant::now();
    let at_promotion = acknowledged.lock().unwrap().len();
    // Writes resume by themselves (the URL's second host is the primary now).
    let deadline = promoted_at + Duration::from_secs(10);
    while acknowledged.lock().unwrap().len() <= at_promotion {
        assert!(
            Instant::now() < deadline,
            "writes did not resume within 10 s of the promotion"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = promoted_at.elapsed();
    assert_eq!(ready(app.clone()).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("a client's assertions held");
    }

    // Every 201 is readable on the new primary, exactly once.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let mut unique = acknowledged.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        acknowledged.len(),
        "an id was acknowledged twice"
    );
    let mut lost = Vec::new();
    for id in &acknowledged {
        if app.get(&format!("/Appointment/{id}")).await.status() != 200 {
            lost.push(id.clone());
        }
    }
    eprintln!(
        "failover drill: {} acknowledged ({before_kill} before the kill), {} lost, {} refused in the \
         gap (5xx), kill to promotion {:?}, writes resumed {recovered:?} after the promotion",
        acknowledged.len(),
        lost.len(),
        failed.lock().unwrap().len(),
        promoted_at - killed_at,
    );
    assert!(lost.is_empty(), "lost after failover: {lost:?}");
}
