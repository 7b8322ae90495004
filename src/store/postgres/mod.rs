//! The PostgreSQL backend (`database.backend = "postgres"`): `schema.pg.sql`, and an r2d2 pool of
//! the synchronous `postgres` client, each operation run on a blocking thread as SQLite's reads
//! are. Every write is one transaction of its own, committed before the caller answers (with the
//! server's `synchronous_commit`, `on` by default, the commit has reached the WAL on disk, and the
//! synchronous standbys too when `synchronous_standby_names` names some). Several registry nodes
//! can share one database: duplicates are decided by its unique index, cancels by a row lock.

pub mod connect;
pub mod read;
pub mod schema;
pub mod write;

use std::time::Duration;

use postgres::Client;

use super::{
    CreateOutcome, ExpireChunk, ExpiryRun, NewAppointment, Page, StoreError, StoredVersion, Update,
    UpdateOutcome,
};
use crate::config::Database;
use crate::error::Error;
use crate::registry::search::SearchQuery;

/// How long a request waits for a pooled connection before it fails with a 500.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

use connect::Manager;

/// A PostgreSQL error as a 500, its cause kept for the log.
pub(crate) fn db(e: postgres::Error) -> Error {
    Error::caused("database", e)
}

/// The advisory-lock key of the expiry pass ("registry expiry" as 64 bits of ASCII).
const EXPIRY_LOCK: i64 = 0x7265_6769_7374_7279;

/// The expiry pass's session lock, held on one pooled connection for the whole pass: while one
/// node holds it, the others skip their pass. Dropping it unlocks, on a plain thread (the sync
/// client cannot run on an async one), also when the pass is aborted at shutdown.
pub struct ExpiryLock {
    conn: Option<r2d2::PooledConnection<Manager>>,
}

impl Drop for ExpiryLock {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = std::thread::Builder::new()
                .name("expiry-unlock".into())
                .spawn(move || {
                    if let Err(e) = conn.execute("SELECT pg_advisory_unlock($1)", &[&EXPIRY_LOCK]) {
                        log::warn!("expiry: releasing the advisory lock failed: {e}");
                    }
                });
        }
    }
}

pub struct PgStore {
    /// Always Some but in `drop`.
    pool: Option<r2d2::Pool<Manager>>,
}

impl Drop for PgStore {
    /// The sync client closes a connection by running its own runtime, which panics on a thread
    /// of an async runtime (where the server drops its state): the last handle of the pool, and
    /// with it the idle connections, goes to a plain thread.
    fn drop(&mut self) {
        let pool = self.pool.take();
        let _ = std::thread::Builder::new()
            .name("postgres-close".into())
            .spawn(move || drop(pool));
    }
}

impl PgStore {
    /// Connects to the server of `database.url` (with the TLS it asks for) and applies the
    /// schema.
    pub fn open(
        config: &Database,
        migration: crate::store::Migration,
    ) -> Result<PgStore, StoreError> {
        let (manager, tls) = connect::manager(config)?;
        let size = config.pool_size;
        // The sync client drives each connection with a runtime of its own, which cannot run
        // (nor close a connection) on a thread of the caller's async runtime: connect, migrate,
        // and on failure drop the pool, on a plain thread. The first connection is made by
        // hand, so that a refused one (TLS, authentication) fails start-up at once, with its
        // cause; the pool then opens its own.
        let pool = std::thread::spawn(move || -> Result<r2d2::Pool<Manager>, StoreError> {
            let mut first = connect::connect(&manager, &tls)?;
            schema::apply(&mut first, migration)?;
            drop(first);
            Ok(r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(POOL_TIMEOUT)
                .build_unchecked(manager))
        })
        .join()
        .map_err(|_| StoreError::Setup("applying the schema panicked".into()))??;
        Ok(PgStore { pool: Some(pool) })
    }

    /// Runs `f` on a pooled connection, off the async threads.
    async fn with<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Client) -> Result<T, Error> + Send + 'static,
    {
        let pool = self.pool.clone().expect("the pool until drop");
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| Error::caused("taking a PostgreSQL connection from the pool", e))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::caused("a database call", e))?
    }

    pub async fn create(&self, new: NewAppointment) -> Result<CreateOutcome, Error> {
        self.with(move |c| write::create(c, &new)).await
    }

    pub async fn update(&self, update: Update) -> Result<UpdateOutcome, Error> {
        self.with(move |c| write::update(c, &update)).await
    }

    pub async fn current(&self, id: String) -> Result<Option<StoredVersion>, Error> {
        self.with(move |c| read::current(c, &id)).await
    }

    pub async fn version(&self, id: String, version: i64) -> Result<Option<StoredVersion>, Error> {
        self.with(move |c| read::version(c, &id, version)).await
    }

    pub async fn history(&self, id: String) -> Result<Vec<StoredVersion>, Error> {
        self.with(move |c| read::history(c, &id)).await
    }

    pub async fn search(&self, query: SearchQuery) -> Result<Page, Error> {
        self.with(move |c| read::search(c, &query)).await
    }

    /// The expiry lock when no other node holds it (`pg_try_advisory_lock`), else None.
    pub async fn try_expiry_lock(&self) -> Result<Option<ExpiryLock>, Error> {
        let pool = self.pool.clone().expect("the pool until drop");
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| Error::caused("taking a PostgreSQL connection from the pool", e))?;
            let row = conn
                .query_one("SELECT pg_try_advisory_lock($1)", &[&EXPIRY_LOCK])
                .map_err(db)?;
            let held: bool = row.get(0);
            Ok(held.then_some(ExpiryLock { conn: Some(conn) }))
        })
        .await
        .map_err(|e| Error::caused("a database call", e))?
    }

    pub async fn registered_identifiers(
        &self,
        identifiers: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, Error> {
        self.with(move |c| read::registered_identifiers(c, identifiers))
            .await
    }

    pub async fn expire_chunk(&self, chunk: ExpireChunk) -> Result<u64, Error> {
        self.with(move |c| write::expire_chunk(c, &chunk)).await
    }

    pub async fn record_expiry(&self, run: ExpiryRun) -> Result<(), Error> {
        self.with(move |c| write::record_expiry(c, &run)).await
    }

    /// `pg_database_size` of the database connected to.
    pub async fn size_bytes(&self) -> Result<u64, Error> {
        self.with(|c| {
            let bytes: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])
                .map_err(db)?
                .get(0);
            Ok(u64::try_from(bytes).unwrap_or(0))
        })
        .await
    }

    /// Ready: a connection to a server that takes writes (a primary, not a standby in
    /// recovery). `Err` says why not.
    pub async fn ready(&self) -> Result<(), String> {
        let primary = self
            .with(|c| {
                c.query_one("SELECT NOT pg_is_in_recovery()", &[])
                    .map(|row| row.get::<_, bool>(0))
                    .map_err(db)
            })
            .await
            .map_err(|e| format!("PostgreSQL: {}", e.chain()))?;
        if primary {
            Ok(())
        } else {
            Err("PostgreSQL: connected to a standby in recovery (read-only)".into())
        }
    }

    /// Nothing of its own runs: the pool connects on demand.
    pub fn alive(&self) -> bool {
        true
    }

    /// Every write committed before it was answered: nothing to finish.
    pub fn stop(&self) {}
}
