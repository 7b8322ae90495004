//! SIGTERM drains in-flight requests, the writer finishes its queue, the WAL is checkpointed and
//! the process exits 0; every 201 sent is in the file. And the access log says who called,
//! never with what token. A reader another process holds across the stop keeps the WAL, and
//! the log says the WAL was not emptied.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use appointment_registry::auth;
use futures_util::future::join_all;
use reqwest::{Client, Response};

use crate::helpers::*;
use crate::process;

/// The binary serving a fresh database in a temp folder, and a client with the dev client
/// certificate and a write token.
struct Served {
    /// The temp folder, removed when this is dropped.
    _dir: tempfile::TempDir,
    db: PathBuf,
    server: process::Running,
    client: Client,
    url: String,
    token: String,
}

fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let (config, pki) = process::config_file(dir.path(), Some(&db));
    let mut server = process::serve(dir.path(), &config, &[]);
    let port = server.port();
    let secret = std::fs::read(&pki.jwt_secret).unwrap();
    Served {
        client: client_for(&pki, Some(&pki)),
        url: format!("https://localhost:{port}/Appointment"),
        token: auth::dev_token(&secret, AUDIENCE, None, WRITE_SCOPE, ORG, 300),
        _dir: dir,
        db,
        server,
    }
}

impl Served {
    fn register(&self) -> impl std::future::Future<Output = reqwest::Result<Response>> {
        self.client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("Content-Type", "application/fhir+json")
            .body(valid_appointment().to_string())
            .send()
    }
}

/// The size of the database's `-wal` file; 0 when there is none.
fn wal_bytes(db: &Path) -> u64 {
    std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len())
}

/// How many appointments with this id the database file holds, read by a fresh connection.
fn stored(db: &Path, id: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM appointment WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

/// Waits (up to 30 s) for the process to exit; its status and its whole log.
async fn exited(mut server: process::Running) -> (ExitStatus, Vec<String>) {
    let stopped = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        server.drain();
        (status, server.log.clone())
    });
    tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn sigterm_loses_nothing_acknowledged() {
    let served = serve();
    let send = || served.register();
    // A first wave, all answered; then a second wave with SIGTERM sent into the middle of it.
    let first = join_all((0..20).map(|_| send())).await;
    assert!(first
        .iter()
        .all(|r| r.as_ref().is_ok_and(|r| r.status() == 201)));
    let second = join_all((0..200).map(|i| {
        let request = send();
        let pid = served.server.child.id() as i32;
        async move {
            if i == 100 {
                // SAFETY: sending a signal to our own child process.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            request.await
        }
    }))
    .await;

    let mut acknowledged = Vec::new();
    for response in first.into_iter().chain(second).flatten() {
        if response.status() == 201 {
            acknowledged.push(
                response.headers()["location"]
                    .to_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    let Served {
        db, server, token, ..
    } = served;
    let (status, log) = exited(server).await;
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        log.join("\n")
    );

    for id in &acknowledged {
        assert_eq!(stored(&db, id), 1, "acknowledged {id} is in the file");
    }
    assert!(acknowledged.len() >= 20);
    assert_eq!(wal_bytes(&db), 0, "the WAL was checkpointed at shutdown");

    let log = log.join("\n");
    let access = log
        .lines()
        .find(|l| l.contains("POST /Appointment 201"))
        .expect("an access-log line");
    assert!(access.contains(&format!("org={ORG}")), "{access}");
    assert!(access.contains("asid=200000000001"), "{access}");
    assert!(
        access.contains("CN=appointment-registry-dev-client"),
        "{access}"
    );
    assert!(!log.contains(&token), "the token never reaches the log");
    assert!(log.contains("WAL checkpointed"), "{log}");
}

/// A reader in another process, held open across the stop (an admin's `sqlite3` in a
/// transaction), keeps the final checkpoint from emptying the WAL: the log says so rather than
/// claiming a checkpoint, the process still exits 0 and the registration is in the file.
#[tokio::test]
async fn a_reader_held_across_the_stop_leaves_the_wal_and_the_log_says_so() {
    let served = serve();
    let response = served.register().await.unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let id = location.rsplit('/').next().unwrap().to_string();

    // The registration's frames are still in the WAL (the automatic checkpoint waits for 1,000
    // pages), so this reader reads them and holds a read mark that a TRUNCATE checkpoint must
    // wait for. (A reader of a fully copied WAL would read the main file only and not hold it.)
    let reader = rusqlite::Connection::open(&served.db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let seen: i64 = reader
        .query_row("SELECT count(*) FROM appointment", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        seen, 1,
        "the reader's transaction has begun on the registration"
    );

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(served.server.child.id() as i32, libc::SIGTERM) };
    let Served { db, server, .. } = served;
    let (status, log) = exited(server).await;
    let log = log.join("\n");
    assert!(status.success(), "exit status {status:?}\n{log}");
    assert!(log.contains("the WAL was not emptied"), "{log}");
    assert!(!log.contains("WAL checkpointed"), "{log}");
    assert!(
        wal_bytes(&db) > 0,
        "the WAL the reader holds is still there"
    );

    drop(reader);
    assert_eq!(
        stored(&db, &id),
        1,
        "the acknowledged registration is in the file"
    );
}
