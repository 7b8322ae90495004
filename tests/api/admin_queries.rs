//! README "Querying the database": every query there runs against a real database and finds
//! what it promises, so the section stays true.

use serde_json::{json, Value};

use crate::helpers::*;

fn readme_queries() -> Vec<String> {
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let section = readme
        .split("## Querying the database")
        .nth(1)
        .expect("the section exists");
    let section = section.split("\n## ").next().unwrap();
    section
        .split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_readme_query_runs_and_finds_rows() {
    let app = spawn_app().await;
    // A registration today, cancelled (its created is now today); and one from 2019 that
    // expiry removes.
    let mut resource = valid_appointment();
    resource["identifier"] =
        json!([{"system": "urn:ietf:rfc:3986", "value": "http://test.nhs.uk/admin"}]);
    let created: Value = app.register_json(&resource).await.json().await.unwrap();
    let location = format!(
        "{}/Appointment/{}",
        app.base,
        created["id"].as_str().unwrap()
    );
    let mut cancelled = created.clone();
    cancelled["status"] = json!("cancelled");
    cancelled["created"] = json!(appointment_registry::registry::instant::now_column());
    let response = app
        .client
        .put(&location)
        .bearer_auth(app.token())
        .header("Content-Type", "application/fhir+json")
        .header("If-Match", "W/\"1\"")
        .body(cancelled.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.register_json(&valid_appointment()).await.status(), 201);
    let config = app.dir.path().join("expire.toml");
    std::fs::write(
        &config,
        format!("[database]\npath = \"{}\"\n", app.db_path.display()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_appointment-registry"))
        .args(["expire", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deleted 1 "),
        "{out:?}"
    );
    // Register again after the purge so the current-state queries have rows.
    assert_eq!(app.register_json(&valid_appointment()).await.status(), 201);

    let queries = readme_queries();
    assert!(queries.len() >= 5, "{queries:?}");
    let conn = rusqlite::Connection::open_with_flags(
        &app.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    for sql in queries {
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
        let columns = stmt.column_count();
        let rows: Vec<Vec<String>> = stmt
            .query_map([], |row| {
                (0..columns)
                    .map(|i| {
                        row.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!rows.is_empty(), "no rows from\n{sql}");
    }
}
