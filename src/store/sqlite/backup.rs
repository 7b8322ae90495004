//! Online backup with SQLite's backup API: a consistent copy while the server keeps writing.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

use super::StoreError;

#[derive(Debug)]
pub struct BackupReport {
    pub pages: i32,
    pub appointments: i64,
}

/// Copies `db` to `dest` (which must not exist yet) and checks the copy.
pub fn backup(db: &Path, dest: &Path) -> Result<BackupReport, StoreError> {
    if dest.exists() {
        return Err(StoreError::Setup(format!(
            "{} already exists; refusing to overwrite it",
            dest.display()
        )));
    }
    if !db.is_file() {
        return Err(StoreError::Setup(format!(
            "{} does not exist",
            db.display()
        )));
    }
    let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(Duration::from_secs(5))?;
    let mut dst = Connection::open(dest)?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        // All pages in one step: one read transaction, so the copy is a single consistent
        // snapshot and never restarts because the server wrote meanwhile (WAL lets the
        // server go on writing while we read). `run_to_completion` refuses -1 ("all pages");
        // c_int::MAX pages (8 TiB at the default 4 KiB page) is the whole file for any
        // database this registry will hold, so the first step is the whole copy, as with -1.
        // A busy or locked source is retried every 50 ms.
        backup.run_to_completion(std::ffi::c_int::MAX, Duration::from_millis(50), None)?;
    }
    let check: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Setup(format!(
            "the copy failed its integrity check: {check}"
        )));
    }
    let pages: i32 = dst.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let appointments: i64 = dst.query_row("SELECT count(*) FROM appointment", [], |r| r.get(0))?;
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(BackupReport {
        pages,
        appointments,
    })
}
