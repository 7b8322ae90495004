//! The SQLite backend (the default): `schema.sql`, one writer thread for every write (group
//! commit), and an r2d2 pool of read-only connections.

pub mod backup;
pub mod create;
pub mod expiry;
pub mod faults;
pub mod health;
pub mod ops;
pub mod read;
pub mod read_pin;
pub mod schema;
pub mod search;
pub mod update;
pub mod version;
pub mod writer;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::NewAppointment;
use super::{
    CreateOutcome, ExpireChunk, ExpiryRun, Page, StoreError, StoredVersion, Update, UpdateOutcome,
};
use crate::config::Database;
use crate::error::Error;
use crate::metrics::Metrics;
pub use ops::WriteOp;
use writer::Writer;

/// The writer's page cache: 16 MB (negative cache_size is in KiB).
const WRITER_CACHE: &str = "PRAGMA cache_size = -16384";

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

/// What the writer answers a job with.
#[derive(Debug)]
pub enum WriteResult {
    Create(CreateOutcome),
    Update(UpdateOutcome),
    Done,
    Deleted(u64),
}

impl WriteResult {
    /// Whether the job changed the file (so its commit proves the disk takes writes).
    pub fn wrote(&self) -> bool {
        match self {
            WriteResult::Create(CreateOutcome::Created(_))
            | WriteResult::Update(UpdateOutcome::Updated(_))
            | WriteResult::Deleted(_) => true,
            WriteResult::Create(_) | WriteResult::Update(_) => false,
            WriteResult::Done => true,
        }
    }
}

/// The virtual-machine steps a search may run on an event-loop thread, its statements together,
/// before SQLite interrupts it and the search runs on the blocking pool instead. A page of
/// `MAX_COUNT` (500) rows takes about 6,500 steps and the count of a first page (at most
/// `TOTAL_LIMIT` + 1 matches) up to about 10,000: at a few hundred instructions a step, a
/// millisecond or two at most. What runs longer reads many rows it rejects (a status or
/// identifier filter on a long history) or counts every match (`_summary=count`).
/// tests/api/search_history.rs checks that these fit and those do not.
pub const SEARCH_STEPS: i32 = 20_000;

/// How often SQLite calls the progress handler, in virtual-machine steps of a statement; a
/// budget is counted in these calls, so it holds to within about this many steps a statement.
const PROGRESS_PERIOD: i32 = 1_000;

/// A pooled connection set up for a read on an event-loop thread: no busy timeout (a lock is
/// refused at once, not waited for) and, with a budget of steps, a progress handler that
/// interrupts the read once its statements together have run past it. The handler counts its
/// own calls, a fresh count for each read: SQLite calls it when a statement's step count
/// reaches a multiple of the period, and keeps that count across runs of a cached statement,
/// so a budget taken from the first call alone would give a run anything from one step to all
/// of it. Dropping it (a panic included) restores the connection as the pool hands it out.
struct Inline<'c>(&'c Connection);

impl<'c> Inline<'c> {
    fn set(conn: &'c Connection, steps: Option<i32>) -> Option<Inline<'c>> {
        // Neither call fails on an open connection the pool owns.
        conn.busy_timeout(Duration::ZERO).ok()?;
        let inline = Inline(conn);
        if let Some(steps) = steps {
            let mut calls_left = steps / PROGRESS_PERIOD;
            let over_budget = move || {
                calls_left = calls_left.saturating_sub(1);
                calls_left < 0
            };
            conn.progress_handler(PROGRESS_PERIOD, Some(over_budget))
                .ok()?;
        }
        Some(inline)
    }
}

impl Drop for Inline<'_> {
    fn drop(&mut self) {
        let _ = self.0.progress_handler(0, None::<fn() -> bool>);
        let _ = self.0.busy_timeout(schema::BUSY_TIMEOUT);
    }
}

pub struct SqliteStore {
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
    path: PathBuf,
    metrics: Arc<Metrics>,
}

impl SqliteStore {
    /// Opens (creating if need be) the database of `[database]`, applies the schema and starts
    /// the writer.
    pub fn open(
        config: &Database,
        metrics: Arc<Metrics>,
        migration: super::Migration,
    ) -> Result<SqliteStore, StoreError> {
        let path = config.path.as_path();
        let synchronous = match config.synchronous.as_str() {
            "normal" => "NORMAL",
            _ => "FULL",
        };
        let mut conn = Connection::open(path)?;
        schema::configure(&conn, synchronous)?;
        // The writer touches every index of every table; a larger page cache than SQLite's
        // 2 MB default keeps their upper levels in memory on a large database. Seeding
        // 1,000,000 rows took 93 s with 8 MB, 60 s with 16 MB and 58 s with 32 MB; past 16 MB
        // the cache buys little and is resident memory (bench/RESULTS.md, "Memory").
        conn.execute_batch(WRITER_CACHE)?;
        schema::apply(&mut conn, migration)?;
        let reopen_path = path.to_path_buf();
        let open: writer::Opener = Box::new(move || {
            let conn = Connection::open(&reopen_path)?;
            schema::configure(&conn, synchronous)?;
            conn.execute_batch(WRITER_CACHE)?;
            Ok(conn)
        });
        let writer = Writer::start(conn, open, config.max_batch, metrics.clone())
            .map_err(|e| StoreError::Setup(format!("cannot start the writer thread: {e}")))?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| schema::configure(c, "FULL"));
        // No test query at checkout: r2d2's (an empty `execute_batch`) cost more than the keyed
        // read it preceded, and a read-only connection to a local file has no peer to lose.
        let readers = r2d2::Pool::builder()
            .max_size(config.readers)
            .min_idle(Some(1))
            .test_on_check_out(false)
            .build(manager)?;
        Ok(SqliteStore {
            writer,
            readers,
            path: path.to_path_buf(),
            metrics,
        })
    }

    pub async fn write(&self, op: WriteOp) -> Result<WriteResult, Error> {
        self.writer.submit(op).await
    }

    pub async fn create(&self, new: NewAppointment) -> Result<CreateOutcome, Error> {
        match self.write(WriteOp::Create(Box::new(new))).await? {
            WriteResult::Create(outcome) => Ok(outcome),
            other => Err(Error::internal(format!("a create was answered {other:?}"))),
        }
    }

    pub async fn update(&self, update: Update) -> Result<UpdateOutcome, Error> {
        match self.write(WriteOp::Update(Box::new(update))).await? {
            WriteResult::Update(outcome) => Ok(outcome),
            other => Err(Error::internal(format!("an update was answered {other:?}"))),
        }
    }

    pub async fn current(&self, id: String) -> Result<Option<StoredVersion>, Error> {
        self.read_keyed(move |c| read::current(c, &id)).await
    }

    pub async fn version(&self, id: String, version: i64) -> Result<Option<StoredVersion>, Error> {
        self.read_keyed(move |c| read::version(c, &id, version))
            .await
    }

    pub async fn history(&self, id: String) -> Result<Vec<StoredVersion>, Error> {
        self.read(move |c| read::history(c, &id)).await
    }

    pub async fn search(&self, query: crate::registry::search::SearchQuery) -> Result<Page, Error> {
        self.read_here(Some(SEARCH_STEPS), move |c| search::run(c, &query))
            .await
    }

    pub async fn registered_identifiers(
        &self,
        identifiers: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, Error> {
        self.read(move |c| read::registered_identifiers(c, identifiers))
            .await
    }

    pub async fn expire_chunk(&self, chunk: ExpireChunk) -> Result<u64, Error> {
        match self.write(WriteOp::Expire(chunk)).await? {
            WriteResult::Deleted(n) => Ok(n),
            other => Err(Error::internal(format!(
                "an expiry chunk was answered {other:?}"
            ))),
        }
    }

    pub async fn record_expiry(&self, run: ExpiryRun) -> Result<(), Error> {
        self.write(WriteOp::RecordExpiry(run)).await.map(|_| ())
    }

    /// The file plus its WAL, in bytes (what the database takes on disk).
    pub fn size_bytes(&self) -> u64 {
        let size = |suffix: &str| {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        };
        size("") + size("-wal")
    }

    /// Runs `f` on a pooled read-only connection, off the async threads.
    async fn read<T, F>(&self, f: F) -> Result<T, Error>
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

    /// Runs `f`, a lookup of one row by its primary key, on this thread when a pooled reader is
    /// free at once, else as [`read`](Self::read). Such a read takes a few microseconds from
    /// SQLite's page cache (a WAL reader never waits for the writer), less than handing it to a
    /// blocking thread and waking this one again. It never waits here: with no busy timeout, a
    /// read that would wait for a lock (WAL recovery, an admin's exclusive lock) is refused at
    /// once and goes to the blocking pool, where waiting holds no event loop.
    async fn read_keyed<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, Error> + Send + 'static,
    {
        self.read_here(None, f).await
    }

    /// Runs `f` on this thread as [`read_keyed`](Self::read_keyed) does; with `steps`, SQLite
    /// interrupts any statement of `f` that runs more than that many virtual-machine steps,
    /// and `f` runs again on the blocking pool, unbounded. A read whose cost has no bound of its
    /// own (a search) so holds this event loop for a bounded time at most, and pays the handoff
    /// to a blocking thread only when it is long anyway.
    async fn read_here<T, F>(&self, steps: Option<i32>, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, Error> + Send + 'static,
    {
        if let Some(conn) = self.readers.try_get() {
            if let Some(inline) = Inline::set(&conn, steps) {
                let reason = match f(inline.0) {
                    Err(e) if e.is_sqlite_busy() => "busy",
                    Err(e) if e.is_sqlite_interrupted() => "step_budget",
                    done => return done,
                };
                self.metrics.reads_moved.with_label_values(&[reason]).inc();
            }
        }
        self.read(f).await
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
