//! The writer's read pin (src/store/sqlite/read_pin.rs): while the writer waits, it holds a read
//! transaction that readers share. Reads must still see every write acknowledged before them,
//! the WAL must still be checkpointed and restarted under the registry's own writes, and another
//! connection's commits must reach the database file while the registry is idle.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::helpers::*;
use crate::search_support::*;

/// (busy, frames in the WAL, frames copied into the database file) of a passive checkpoint run
/// by a connection of the test's own.
fn passive_checkpoint(app: &TestApp) -> (i64, i64, i64) {
    let row = app.db.row("PRAGMA wal_checkpoint(PASSIVE)");
    let n = |i: usize| row[i].as_deref().unwrap().parse::<i64>().unwrap();
    (n(0), n(1), n(2))
}

#[tokio::test]
async fn a_read_after_a_registration_sees_it() {
    let app = spawn_app().await;
    // Each registration is committed while the pin is released and answered before it is
    // taken again, or after: either way the read that follows must find it.
    for n in 1..=40 {
        let id = add_at(&app, P, FUTURE, "2019-02-01T10:00:00Z").await;
        let read = app.get(&format!("/Appointment/{id}")).await;
        assert_eq!(read.status(), 200, "registration {n}");
        let bundle = search(&app, &format!("patient={P}&_count=100")).await;
        assert_eq!(bundle["total"], n, "registration {n}");
        assert!(ids(&bundle).contains(&id), "registration {n}");
    }
}

#[tokio::test]
async fn after_a_registration_a_checkpoint_copies_every_frame() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.registered().await;
        // The writer released its pin for the write and, if it has taken it again since, took
        // it at the WAL's end: nothing is held back. A pin kept across the write would hold
        // back the registration's frames until its next refresh.
        let (busy, wal, copied) = passive_checkpoint(&app);
        assert_eq!((busy, copied), (0, wal), "{copied} of {wal} frames copied");
    }
}

#[tokio::test]
async fn the_registrys_own_writes_still_checkpoint_and_restart_the_wal() {
    let app = spawn_app().await;
    // Waves of concurrent registrations with pauses between them, in which the writer waits
    // with its pin held: a pin kept across the next write would stop every checkpoint from
    // copying past it and the WAL from starting again, and the file would keep growing.
    let body = valid_appointment();
    for _ in 0..12 {
        let wave = (0..200).map(|_| app.register_json(&body));
        assert!(join_all(wave).await.iter().all(|r| r.status() == 201));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.stored_appointments(), 2_400);
    // SQLite checkpoints at 1,000 pages of WAL and then starts it again from its beginning:
    // 2,400 registrations write several times that many pages, so a WAL that never restarted
    // would be far larger than 1,000 pages plus a batch.
    let wal = std::fs::metadata(app.db_path.with_extension("db-wal"))
        .unwrap()
        .len();
    let pages = wal / 4096;
    assert!(pages < 1_600, "the WAL holds {pages} pages");
}

#[tokio::test]
async fn another_connections_commit_reaches_the_file_while_the_registry_is_idle() {
    let app = spawn_app().await;
    app.registered().await;
    // The writer is idle now, its pin held. An admin's commit goes past the pin's mark.
    app.db.execute(
        "INSERT INTO expiry_run (started_at, finished_at, deleted, duration_ms, trigger)
         VALUES ('2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z', 0, 0, 'command')",
    );
    // Taken afresh (read_pin::REFRESH, a quarter of a second), the pin lets a checkpoint copy it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (busy, wal, copied) = passive_checkpoint(&app);
        if busy == 0 && copied == wal {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{copied} of {wal} frames copied, still, 15 s after the commit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
