//! SQLite storage: `schema.sql`, one writer thread for every write (group commit), and an r2d2
//! pool of read-only connections. Nothing outside this module writes SQL.

pub mod backup;
pub mod create;
pub mod expiry;
pub mod faults;
pub mod health;
pub mod ops;
pub mod read;
pub mod schema;
pub mod search;
pub mod update;
pub mod version;
pub mod writer;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use std::sync::Arc;

use crate::config::Database;
use crate::error::Error;
use crate::metrics::Metrics;
pub use create::{Author, NewAppointment};
pub use ops::WriteOp;
pub use update::Update;
use writer::Writer;

/// Runs a statement from the connection's statement cache: the writer runs the same few
/// statements for every write, and parsing SQL each time cost more than executing it.
pub(crate) fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, Error> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(Error::from)
}

/// One stored version of an appointment.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub id: String,
    pub version: i64,
    pub last_updated: String,
    /// Canonical FHIR JSON.
    pub resource: String,
}

#[derive(Debug)]
pub enum WriteResult {
    Created(StoredVersion),
    /// Conditional create matched one existing appointment: nothing written.
    Existing(StoredVersion),
    /// A new version of an existing appointment.
    Updated(StoredVersion),
    Done,
    Deleted(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool")]
    Pool(#[from] r2d2::Error),
    #[error("database: {0}")]
    Setup(String),
}

pub struct Store {
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

impl Store {
    /// Opens (creating if need be) the database of `[database]`, applies the schema and starts
    /// the writer.
    pub fn open(config: &Database, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let path = config.path.as_path();
        let synchronous = match config.synchronous.as_str() {
            "normal" => "NORMAL",
            _ => "FULL",
        };
        let mut conn = Connection::open(path)?;
        schema::configure(&conn, synchronous)?;
        // The writer touches every index of every table; a larger page cache than SQLite's
        // 2 MB default keeps their upper levels in memory on a large database.
        conn.execute_batch("PRAGMA cache_size = -32768")?;
        schema::apply(&mut conn)?;
        let reopen_path = path.to_path_buf();
        let open: writer::Opener = Box::new(move || {
            let conn = Connection::open(&reopen_path)?;
            schema::configure(&conn, synchronous)?;
            conn.execute_batch("PRAGMA cache_size = -32768")?;
            Ok(conn)
        });
        let writer = Writer::start(conn, open, config.max_batch, metrics)
            .map_err(|e| StoreError::Setup(format!("cannot start the writer thread: {e}")))?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| schema::configure(c, "FULL"));
        let readers = r2d2::Pool::builder()
            .max_size(config.readers)
            .min_idle(Some(1))
            .build(manager)?;
        Ok(Store { writer, readers })
    }

    pub async fn write(&self, op: WriteOp) -> Result<WriteResult, Error> {
        self.writer.submit(op).await
    }

    /// Runs `f` on a pooled read-only connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .get()
                .map_err(|e| Error::caused("taking a reader from the pool", e))?;
            f(&conn)
        })
        .await
        .map_err(|e| Error::caused("a database read", e))?
    }

    /// Finishes queued writes, checkpoints the WAL and stops the writer.
    pub fn stop(&self) {
        self.writer.stop();
    }

    /// Alive: the writer thread runs (it restarts itself after a panic; when it cannot, the
    /// process exits).
    pub fn alive(&self) -> bool {
        self.writer.is_running()
    }

    /// Ready: the writer is alive, takes the write lock, and the last write did not fail for a
    /// storage reason — or, when it did, a probe write succeeds now. `Err` says why not.
    pub async fn ready(&self) -> Result<(), String> {
        if !self.writer.is_running() {
            return Err("the writer thread is not running".into());
        }
        let probe = match self.writer.health().storage_fault() {
            Some(_) => WriteOp::Probe,
            None => WriteOp::Ping,
        };
        match self.write(probe).await {
            Ok(_) => match self.writer.health().storage_fault() {
                None => Ok(()),
                Some(why) => Err(format!("the last write failed: {why}")),
            },
            Err(e) => Err(match self.writer.health().storage_fault() {
                Some(why) => format!("the last write failed: {why}"),
                None => format!("the writer cannot take a write transaction: {e}"),
            }),
        }
    }

    pub fn writer_health(&self) -> &health::WriterHealth {
        self.writer.health()
    }

    #[doc(hidden)]
    pub fn faults(&self) -> Arc<faults::Faults> {
        self.writer.faults()
    }
}
