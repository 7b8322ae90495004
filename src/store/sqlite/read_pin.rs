//! The read pin: one read transaction the writer holds open while it has nothing to write, so
//! that the readers' transactions share its lock instead of each taking one from the kernel.
//!
//! Every WAL read transaction takes a shared lock on a read-mark slot of the `-shm` file and
//! releases it at its end: two `fcntl` calls, made while holding SQLite's shared-memory mutex,
//! where the two event loops' reads meet. SQLite makes no call when another connection of this
//! process holds the same lock already; it only counts it (`unixShmLock`). The pin is that
//! connection. The writer takes it after a commit, when its read mark is the WAL's end, the
//! mark every reader after it needs until the next commit; when the WAL has been copied into the
//! database file whole, the pin and the readers all take slot 0 instead. Either way they share
//! its lock and make no system call for it (bench/RESULTS.md, "Round 8": 1.8 `fcntl` calls per
//! search before, none after).
//!
//! A reader's snapshot is still the last commit, whichever slot it shares: SQLite takes it from
//! the WAL index's header, and a slot's mark only tells a checkpoint how far it may copy.
//!
//! What an open read transaction holds back, and how the pin stays out of the way:
//! - A checkpoint copies no frame past a reader's mark, nothing at all while a reader holds
//!   slot 0, and the WAL starts again from its beginning only when no reader is in it. So the
//!   writer releases the pin before each write transaction (its own checkpoints and WAL
//!   restarts run as they did without it) and takes it again when its queue is empty.
//! - Another process's checkpoint (`appointment-registry expire` run by hand, an admin's
//!   `sqlite3` after a write) may find the pin in its way while the registry is idle. The
//!   writer then takes the pin afresh every [`REFRESH`]: a checkpoint that waits (a busy
//!   timeout) completes after a refresh or two; a passive one copies what it can and leaves the
//!   rest for the next.
//!
//! The pin is only ever an optimisation: when it cannot be opened or taken, reads take their
//! locks as before, and nothing fails.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long the writer, idle, keeps one pin before taking it afresh (at the WAL's end then).
pub const REFRESH: Duration = Duration::from_millis(250);

/// Held exactly when its connection is inside a transaction: `take` either begins one and
/// reads, or ends what it began.
pub struct ReadPin {
    /// None when the pin could not be opened (an in-memory database, a file gone): no pin.
    conn: Option<Connection>,
}

impl ReadPin {
    /// A read-only connection to the writer's database file; nothing is locked yet.
    pub fn open(writer: &Connection) -> ReadPin {
        let conn = writer
            .path()
            .filter(|path| !path.is_empty())
            .and_then(|path| {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                // No busy timeout (rusqlite's default is 5 s): a lock the pin would have to
                // wait for leaves it untaken at once rather than holding the writer up.
                Connection::open_with_flags(path, flags)
                    .and_then(|conn| conn.busy_timeout(Duration::ZERO).map(|()| conn))
                    .map_err(|e| log::warn!("writer: no read pin ({e}); reads lock as before"))
                    .ok()
            });
        ReadPin { conn }
    }

    /// Begins the pin's read transaction, unless it is held already. A lock it would have to
    /// wait for (another process's WAL recovery or restart) leaves it untaken.
    pub fn take(&mut self) {
        if self.is_held() {
            return;
        }
        let Some(conn) = &self.conn else { return };
        let begun = conn
            .prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .and_then(|_| {
                // The first read of a transaction takes its locks; the schema cookie is the
                // least there is to read.
                conn.prepare_cached("PRAGMA schema_version")
                    .and_then(|mut s| s.query_row([], |_| Ok(())))
            });
        if let Err(e) = begun {
            log::debug!("writer: read pin not taken: {e}");
            self.release();
        }
    }

    /// Ends the pin's read transaction, if held: before every write transaction, and before the
    /// writer stops (its last checkpoint empties the WAL, which waits for every reader).
    pub fn release(&mut self) {
        let Some(conn) = &self.conn else { return };
        if conn.is_autocommit() {
            return;
        }
        let ended = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]));
        if let Err(e) = ended {
            // A read transaction that cannot end would hold the WAL back for good: close the
            // connection, which ends it, and go on without a pin.
            log::warn!("writer: ending the read pin failed ({e}); reads lock as before");
            self.conn = None;
        }
    }

    /// Takes the pin afresh, at the WAL's end now (past what other processes committed since
    /// it was taken), or tries again to take one that could not be taken.
    pub fn refresh(&mut self) {
        self.release();
        self.take();
    }

    pub fn is_held(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.is_autocommit())
    }
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("registry.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
            .unwrap();
        (dir, conn)
    }

    /// (busy, frames in the WAL, frames copied into the database) of a passive checkpoint.
    fn checkpoint(conn: &Connection) -> (i64, i64, i64) {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    }

    #[test]
    fn a_held_pin_keeps_a_commit_after_it_from_the_database_file_until_refreshed() {
        let (_dir, writer) = database();
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let mut pin = ReadPin::open(&writer);
        pin.take();
        assert!(pin.is_held());
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let (_, log, copied) = checkpoint(&writer);
        assert!(
            copied < log,
            "the pin's snapshot holds the newer frames back"
        );
        // A reader that starts now still sees the last commit.
        let reader = Connection::open(writer.path().unwrap()).unwrap();
        let n: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
        pin.refresh();
        assert!(pin.is_held());
        let (_, log, copied) = checkpoint(&writer);
        assert_eq!(copied, log, "taken afresh, the pin holds nothing back");
        pin.release();
        assert!(!pin.is_held());
        pin.refresh();
        assert!(pin.is_held(), "a refresh takes a pin that was not held");
        pin.release();
        let reset: i64 = writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(reset, 0, "released, the WAL can be emptied");
    }

    #[test]
    fn no_file_no_pin() {
        let memory = Connection::open_in_memory().unwrap();
        let mut pin = ReadPin::open(&memory);
        pin.take();
        assert!(!pin.is_held());
    }
}
