//! `appointment-registry backup DEST` makes a consistent copy while the server takes writes.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn backup_during_write_load_is_consistent() {
    let app = spawn_app().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let client = app.client.clone();
        let url = app.url("/Appointment");
        let token = app.token();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Content-Type", "application/fhir+json")
                    .body(valid_appointment().to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let body: Value = response.json().await.unwrap();
                acknowledged.push(body["id"].as_str().unwrap().to_string());
            }
            acknowledged
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let config = app.dir.path().join("backup.toml");
    std::fs::write(
        &config,
        format!("[database]\npath = \"{}\"\n", app.db_path.display()),
    )
    .unwrap();
    let dest = app.dir.path().join("copy.db");
    let out = tokio::task::spawn_blocking({
        let (config, dest) = (config.clone(), dest.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_appointment-registry"))
                .args(["backup", "--config"])
                .arg(&config)
                .arg(&dest)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = load.await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("integrity ok"));

    let copy = rusqlite::Connection::open(&dest).unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let in_copy: i64 = copy
        .query_row("SELECT count(*) FROM appointment", [], |r| r.get(0))
        .unwrap();
    let versions: i64 = copy
        .query_row("SELECT count(*) FROM appointment_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        in_copy, versions,
        "every appointment in the copy has its version: a consistent snapshot"
    );
    assert!(
        in_copy > 0 && (in_copy as usize) <= acknowledged.len(),
        "{in_copy} of {}",
        acknowledged.len()
    );
    // The copy is a working registry database: a server starts on it.
    let settings = app.settings_with_db(&dest);
    appointment_registry::app::Application::build(&settings).expect("a server opens the copy");
    // Refuses to overwrite.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_appointment-registry"))
        .args(["backup", "--config"])
        .arg(&config)
        .arg(&dest)
        .output()
        .unwrap();
    assert!(!again.status.success());
}
