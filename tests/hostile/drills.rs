//! Issue 8, bullets 6 and 7: fault drills. kill -9 under load loses no acknowledged
//! registration; a full disk and a read-only database make the registry say it is not ready
//! (and why) instead of pretending; a stuck client harms nobody else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::process;

fn body(tag: &str) -> Value {
    let mut body = valid_appointment();
    body["identifier"] = json!([{ "system": "urn:drill", "value": tag }]);
    body
}

#[tokio::test]
async fn kill_9_under_load_loses_no_acknowledged_registration() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let (config, pki) = process::config_file(dir.path(), Some(&db));
    let client = client_for(&pki, Some(&pki));
    let secret = std::fs::read(&pki.jwt_secret).unwrap();
    let token =
        appointment_registry::auth::dev_token(&secret, AUDIENCE, None, WRITE_SCOPE, ORG, 600);
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let mut server = process::serve(dir.path(), &config, &[]);
        let url = format!("https://localhost:{}/Appointment", server.port());
        let stop = Arc::new(AtomicBool::new(false));
        // 16 clients register as fast as they can until the process dies under them.
        let workers: Vec<_> = (0..16)
            .map(|worker| {
                let (client, url, token) = (client.clone(), url.clone(), token.clone());
                let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    for n in 0..10_000 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let sent = client
                            .post(&url)
                            .bearer_auth(&token)
                            .header("Content-Type", "application/fhir+json")
                            .body(body(&format!("r{round}-w{worker}-{n}")).to_string())
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status() == 201 => {
                                let id = r.headers()["location"].to_str().unwrap();
                                let id = id.rsplit('/').next().unwrap().to_string();
                                acknowledged.lock().unwrap().push(id);
                            }
                            Ok(r) => assert!(r.status().is_server_error() || r.status() == 201),
                            Err(_) => break, // the process is gone
                        }
                    }
                })
            })
            .collect();
        // Let the load build, then kill without warning.
        let before = acknowledged.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(20);
        while acknowledged.lock().unwrap().len() < before + 50 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for worker in join_all(workers).await {
            worker.expect("a client's assertions held");
        }
    }
    // Every acknowledged id is in the file, exactly once, after the last kill.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT count(*) FROM appointment WHERE id = ?1")
        .unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| stmt.query_row([id], |r| r.get::<_, i64>(0)).unwrap() != 1)
        .collect();
    eprintln!(
        "kill -9 drill: {ROUNDS} kills, {} registrations acknowledged, {} lost",
        acknowledged.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost after kill -9: {lost:?}");
    assert!(acknowledged.len() >= ROUNDS * 50);
}

/// A small tmpfs mounted for the test and unmounted when dropped; None (with the reason)
/// where this machine does not let the test mount one (not root, or no mount permission).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with one file until the filesystem says no more.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        // The last partial block: fill byte by byte what is left.
        while file.write_all(&[0]).is_ok() {}
        path
    }
}

/// A drill that cannot run here says so; `.ci/run` sets `APPOINTMENT_REGISTRY_REQUIRE_DRILLS`
/// so that in CI (root, tmpfs available) a drill that cannot run is a failure, not a skip.
fn skip(why: &str) {
    if std::env::var_os("APPOINTMENT_REGISTRY_REQUIRE_DRILLS").is_some() {
        panic!("the drill must run here but cannot mount a small tmpfs: {why}");
    }
    eprintln!("skipped: cannot mount a small tmpfs here ({why}); run as root to drill a full disk");
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: the server of the test may still hold the database open as the test ends.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let response = app.client.get(app.url("/_ready")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_full_disk_makes_the_registry_not_ready_until_writes_succeed_again() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let disk = match SmallDisk::mount(8) {
        Ok(disk) => disk,
        Err(why) => return skip(&why),
    };
    let db = disk.path().join("registry.db");
    let app = spawn_app_with(|s| s.database.path = db.clone()).await;
    assert_eq!(app.register_json(&body("before")).await.status(), 201);
    assert_eq!(ready(&app).await.0, 200);

    let filler = disk.fill();
    // Writes now fail (a 500, safe to retry) and readiness says so, with the reason.
    let mut failed = None;
    for n in 0..50 {
        let tag = format!("full-{n}");
        let response = app.register_json(&body(&tag)).await;
        match response.status().as_u16() {
            201 => continue, // the WAL may still have room for a few pages
            status => {
                assert_outcome(response, status, "INTERNAL_SERVER_ERROR", "safe to retry").await;
                assert_eq!(status, 500);
                failed = Some(tag);
                break;
            }
        }
    }
    let failed = failed.expect("a write failed once the disk was full");
    let (status, body_of_ready) = ready(&app).await;
    assert_eq!(status, 503, "{body_of_ready}");
    let reason = body_of_ready["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("full"),
        "the reason names the cause: {reason}"
    );
    assert_eq!(
        app.status_of("/_health").await,
        200,
        "the process is alive: a full disk needs an operator, not a restart"
    );

    // Space returns: readiness recovers by itself (its probe write succeeds), and writes work.
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(&app).await.0 != 200 {
        assert!(Instant::now() < deadline, "readiness did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.register_json(&body("after")).await.status(), 201);
    // The write that failed left nothing behind: its retry is accepted.
    assert_eq!(app.register_json(&body(&failed)).await.status(), 201);
}

#[tokio::test]
async fn a_read_only_database_stops_start_up_with_a_clear_message() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let disk = match SmallDisk::mount(8) {
        Ok(disk) => disk,
        Err(why) => return skip(&why),
    };
    let work = tempfile::tempdir().unwrap();
    let db = disk.path().join("registry.db");
    let (config, _pki) = process::config_file(work.path(), Some(&db));
    // A database that exists and was cleanly shut down...
    let mut server = process::serve(work.path(), &config, &[]);
    server.port();
    sigterm(&server.child);
    server.child.wait().unwrap();
    // ...on a filesystem that turned read-only.
    let remount = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(disk.path())
        .status()
        .unwrap();
    assert!(remount.success());
    let out = Command::new(env!("CARGO_BIN_EXE_appointment-registry"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(work.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("database.path") && stderr.contains("readonly"),
        "the message names the key and the cause: {stderr}"
    );
}

fn sigterm(child: &std::process::Child) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

#[tokio::test]
async fn stuck_clients_do_not_hold_up_anyone_else() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    // Enough appointments for large search pages.
    let registered =
        join_all((0..300).map(|n| app.register_json_owned(body(&format!("s{n}"))))).await;
    assert!(registered.iter().all(|r| r.status() == 201));
    // 20 clients ask for a 300-entry page each and never read it.
    let mut stuck = Vec::new();
    for _ in 0..20 {
        let response = app
            .get("/Appointment?patient=1234554321&_count=500&_format=xml")
            .await;
        assert_eq!(response.status(), 200);
        stuck.push(response); // headers read, body never
    }
    // Everyone else is served as usual.
    let started = Instant::now();
    assert_eq!(app.register_json(&body("while-stuck")).await.status(), 201);
    assert_eq!(
        app.get("/Appointment?patient=1234554321&_count=1")
            .await
            .status(),
        200
    );
    assert_eq!(ready(&app).await.0, 200);
    eprintln!("served beside 20 stuck clients in {:?}", started.elapsed());
    drop(stuck);
}
