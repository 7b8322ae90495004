//! Running it like an appliance: health, readiness, metrics, expiry, backup, schema versions.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn health_ready_and_metrics_need_no_token() {
    let app = spawn_app().await;
    for path in ["/_health", "/_ready"] {
        assert_eq!(app.status_of(path).await, 200, "{path}");
    }
    assert_eq!(app.register_json(&valid_appointment()).await.status(), 201);
    let text = app.metrics().await;
    for needle in [
        "registry_registrations_total 1",
        "registry_http_requests_total{method=\"POST\",route=\"/Appointment\",status=\"201\"} 1",
        "registry_http_request_duration_seconds_bucket",
        "registry_writer_batch_size_count",
        "registry_writer_queue_depth 0",
        "registry_expired_rows_total 0",
        "registry_cancellations_total 0",
        "registry_reads_moved_to_blocking_pool_total{reason=\"busy\"} 0",
        "registry_reads_moved_to_blocking_pool_total{reason=\"step_budget\"} 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(app.metric("registry_database_size_bytes").await > 0.0);
}

/// Inserts `n` appointments straight into the database, created in 2019 and started in 2019:
/// all past both expiry rules. One SQL text for both backends.
fn seed_expired(db: &TestDb, n: usize) {
    let rows = format!(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {})",
        n - 1
    );
    db.execute(&format!(
        "{rows} INSERT INTO appointment (id, version, status, nhs_number, start_at, created_at, last_updated, registered_at)
           SELECT 'seed-' || i, 1, 'booked', '9000000009', '2019-02-01T10:00:00.000Z', '2019-01-01T10:00:00.000Z',
                  '2019-01-01T10:00:00.000Z', '2019-01-01T10:00:00.000Z' FROM s;
         {rows} INSERT INTO appointment_version (id, version, last_updated, status, resource)
           SELECT 'seed-' || i, 1, '2019-01-01T10:00:00.000Z', 'booked', '{{}}' FROM s"
    ));
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.count(sql)
}

fn recent() -> Value {
    let now = time::OffsetDateTime::now_utc();
    let mut v = valid_appointment();
    v["created"] = json!(appointment_registry::registry::instant::to_column(now));
    v
}

#[tokio::test]
async fn expiry_deletes_both_kinds_while_registrations_keep_flowing() {
    let app = spawn_app_with(|s| {
        s.expiry.enabled = true;
        s.expiry.interval_seconds = 1;
        s.expiry.chunk_rows = 500;
    })
    .await;
    seed_expired(&app.db, 100_000);

    // Old by created (2019), old by start (two months ago, created now), and a fresh one.
    let by_created: Value = app.registered().await;
    let mut past = recent();
    past["start"] = json!(appointment_registry::registry::instant::to_column(
        time::OffsetDateTime::now_utc() - time::Duration::days(60)
    ));
    let by_start: Value = app.register_json(&past).await.json().await.unwrap();

    // Register steadily while the purge runs: every one must be acknowledged and stay.
    let mut kept = Vec::new();
    for _ in 0..150 {
        let response = app.register_json(&recent()).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        kept.push(body["id"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A pass runs the created rule, then the start rule, and is recorded when both are done:
    // wait (at most 60 s) until a recorded pass has taken everything expired.
    let expired_left = format!(
        "SELECT count(*) FROM appointment WHERE id LIKE 'seed-%' OR id IN ('{}', '{}')",
        by_created["id"].as_str().unwrap(),
        by_start["id"].as_str().unwrap()
    );
    let mut waited = 0;
    while (count(&app.db, &expired_left) > 0
        || count(&app.db, "SELECT coalesce(sum(deleted), 0) FROM expiry_run") < 100_002)
        && waited < 600
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(
        count(
            &app.db,
            "SELECT count(*) FROM appointment WHERE id LIKE 'seed-%'"
        ),
        0
    );
    assert_eq!(
        count(
            &app.db,
            "SELECT count(*) FROM appointment_version WHERE id LIKE 'seed-%'"
        ),
        0
    );
    for id in [&by_created["id"], &by_start["id"]] {
        let response = app
            .get(&format!("/Appointment/{}", id.as_str().unwrap()))
            .await;
        assert_eq!(response.status(), 404, "expired {id} reads as 404");
    }
    for id in &kept {
        assert_eq!(app.get(&format!("/Appointment/{id}")).await.status(), 200);
    }
    assert!(count(&app.db, "SELECT coalesce(sum(deleted), 0) FROM expiry_run") >= 100_002);
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("registry_expired_rows_total 0\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn expiry_rules_switch_off() {
    let app = spawn_app_with(|s| {
        s.expiry.enabled = true;
        s.expiry.interval_seconds = 1;
        s.expiry.max_age_days = 0;
        s.expiry.past_start_days = 0;
    })
    .await;
    let old: Value = app.registered().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        count(&app.db, "SELECT count(*) FROM expiry_run") >= 1,
        "passes still run and are recorded"
    );
    assert_eq!(
        app.get(&format!("/Appointment/{}", old["id"].as_str().unwrap()))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn newer_schema_is_refused_and_older_is_migrated() {
    use appointment_registry::app::Application;
    let app = spawn_app().await;
    if app
        .db
        .sqlite_only("SQLite's user_version; tests/postgres has PostgreSQL's schema versions")
    {
        return;
    }
    let older = app.dir.path().join("older.db");
    {
        let conn = rusqlite::Connection::open(&older).unwrap();
        // Version 1 had no expiry_run table and no view.
        conn.execute_batch(
            "CREATE TABLE appointment (id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL,
               nhs_number TEXT NOT NULL, start_at TEXT NOT NULL, created_at TEXT NOT NULL, last_updated TEXT NOT NULL,
               registered_at TEXT NOT NULL, registered_by_org TEXT, registered_by_asid TEXT, registered_by_cert TEXT) WITHOUT ROWID;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut settings = app.settings_with_db(&older);
    let migrated = Application::build(&settings).expect("older schema migrates");
    drop(migrated);
    assert_eq!(
        count(&TestDb::Sqlite(older.clone()), "PRAGMA user_version"),
        appointment_registry::store::schema::VERSION
    );
    assert_eq!(
        count(&TestDb::Sqlite(older), "SELECT count(*) FROM expiry_run"),
        0
    );

    let newer = app.dir.path().join("newer.db");
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    settings.database.path = newer;
    let refused = Application::build(&settings);
    // The whole chain, as the binary prints it: the setting, then the store's reason.
    let message = format!("{:#}", refused.err().expect("newer schema refused"));
    assert!(
        message.contains("99") && message.contains("newer"),
        "{message}"
    );
}

#[tokio::test]
async fn expire_command_dry_run_counts_and_the_real_run_deletes() {
    let app = spawn_app().await;
    seed_expired(&app.db, 10);
    let config = app.dir.path().join("expire.toml");
    std::fs::write(&config, app.db.config_toml()).unwrap();
    let run = |dry: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_appointment-registry"));
        cmd.args(["expire", "--config"]).arg(&config);
        if dry {
            cmd.arg("--dry-run");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(true).contains("would delete 10 appointment(s)"));
    assert_eq!(count(&app.db, "SELECT count(*) FROM appointment"), 10);
    assert!(run(false).contains("deleted 10 appointment(s)"));
    assert_eq!(count(&app.db, "SELECT count(*) FROM appointment"), 0);
    assert_eq!(
        count(
            &app.db,
            "SELECT count(*) FROM expiry_run WHERE trigger = 'command' AND deleted = 10"
        ),
        1
    );
}
