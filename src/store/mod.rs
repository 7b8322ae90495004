//! Storage: one interface with typed operations — register, cancel, read, read a version,
//! history, search, expire, health — answering domain outcomes (`Duplicate`, `NotFound`,
//! `NotOwner`, `Stale` …), never HTTP statuses; `service` turns outcomes into answers. SQLite
//! (`sqlite/`, the default) and PostgreSQL (`postgres/`) implement it; nothing above this module
//! knows which backend runs, and nothing outside it writes SQL.

pub mod keyset;
pub mod postgres;
pub mod sqlite;

pub use sqlite::{backup, faults, schema};

use std::sync::Arc;

use serde_json::Value;

use crate::config::{Backend, Database};
use crate::error::{Error, Problem};
use crate::metrics::Metrics;
use crate::registry::identifier::IdentifierToken;
use crate::registry::register::Registration;
use crate::registry::search::{PageKey, SearchQuery};

/// One stored version of an appointment.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub id: String,
    pub version: i64,
    pub last_updated: String,
    /// Canonical FHIR JSON.
    pub resource: String,
}

/// Who made a write: recorded with it.
#[derive(Debug, Clone, Default)]
pub struct Author {
    pub org: Option<String>,
    pub asid: Option<String>,
    pub cert_subject: Option<String>,
}

#[derive(Debug)]
pub struct NewAppointment {
    pub id: String,
    pub last_updated: String,
    pub registration: Registration,
    /// Canonical FHIR JSON with id and meta already set.
    pub resource: String,
    pub author: Author,
    pub if_none_exist: Option<IdentifierToken>,
}

/// What a registration came to.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(StoredVersion),
    /// `If-None-Exist` matched one appointment already registered: nothing written.
    Existing(StoredVersion),
    /// An identifier of the registration is registered already (`system` "" when none).
    Duplicate {
        system: String,
        value: String,
    },
    /// `If-None-Exist` matched this many appointments; it must match at most one.
    Ambiguous(usize),
}

#[derive(Debug)]
pub struct Update {
    pub id: String,
    /// The version the client read (If-Match); the write happens only if it is still current.
    pub if_match: i64,
    /// The caller's organisation: must be the one that registered the appointment.
    pub caller_org: Option<String>,
    pub last_updated: String,
    /// The submitted resource, canonical, already stamped with `id`, `meta.versionId`
    /// (`if_match + 1`, the only version it can become) and `meta.lastUpdated`.
    pub resource: Value,
    /// `resource` as canonical FHIR JSON text, as it will be stored.
    pub json: String,
}

/// What a cancellation came to.
#[derive(Debug)]
pub enum UpdateOutcome {
    Updated(StoredVersion),
    NotFound,
    /// The caller's organisation did not register it (or nobody provably did).
    NotOwner,
    /// `If-Match` named an older version than the current one.
    Stale {
        current: i64,
    },
    /// The cancellation rules refuse the submitted resource.
    Rejected(Vec<Problem>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `created` older than the cut-off.
    Created,
    /// `start` before the cut-off.
    Start,
}

#[derive(Debug, Clone)]
pub struct ExpireChunk {
    pub rule: Rule,
    /// Fixed-width UTC text, compared with `created_at`/`start_at`.
    pub before: String,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct ExpiryRun {
    pub started_at: String,
    pub finished_at: String,
    pub created_before: Option<String>,
    pub start_before: Option<String>,
    pub deleted: u64,
    pub duration_ms: u64,
    pub trigger: &'static str,
}

/// One match: its id and its current version's JSON.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub resource: String,
}

#[derive(Debug, Clone)]
pub struct Page {
    /// `Bundle.total`: every match of the search, on any page; None when the search has more
    /// than `registry::search::TOTAL_LIMIT` matches and did not ask for the total alone.
    pub total: Option<usize>,
    pub found: Vec<Found>,
    /// When matches remain after this page: the key of its last match, which the next page
    /// starts after. (Only this row's sort value is read: the others' are not needed.)
    pub next: Option<PageKey>,
}

/// Whether opening a store may migrate a database written by an older binary. The server
/// does, at start, before it listens. The commands that write beside a running server
/// (`expire`, `seed`) do not: a newer binary's command would otherwise rebuild indexes under
/// an older server, holding the write lock for seconds on a large database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    Apply,
    Refuse,
}

/// The refusal of [`Migration::Refuse`] for a database at schema version `found`.
pub(crate) fn refuse_migration(found: i64, version: i64) -> StoreError {
    StoreError::Setup(format!(
        "the database has schema version {found}, older than this binary's ({version}); \
         start `appointment-registry serve` with this binary once (it migrates the schema at \
         start), then run this command again"
    ))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool")]
    Pool(#[from] r2d2::Error),
    #[error("PostgreSQL")]
    Postgres(#[from] ::postgres::Error),
    /// The first connection to PostgreSQL failed; `what` says what TLS asked, and why it was
    /// refused when that can be told.
    #[error("cannot connect to PostgreSQL ({what})")]
    Connect {
        what: String,
        #[source]
        source: ::postgres::Error,
    },
    /// `expire --dry-run`'s count failed.
    #[error("counting what expires")]
    Count(#[source] Error),
    /// The TLS files or settings of `database.url` (the message names them).
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("database: {0}")]
    Setup(String),
}

/// Held for the length of an expiry pass (see [`Store::expiry_lease`]); dropping it releases it.
pub enum ExpiryLease {
    Sole,
    Postgres(Box<postgres::ExpiryLock>),
}

/// How many appointments an expiry pass with these cut-offs would delete (`expire --dry-run`),
/// without opening the store for writing: the SQLite file read-only (neither created nor
/// migrated), PostgreSQL over one connection of its own (the schema not applied). Blocking:
/// call it off any async runtime's threads.
pub fn count_expired(
    config: &Database,
    created_before: Option<&str>,
    start_before: Option<&str>,
) -> Result<u64, StoreError> {
    match config.backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open_with_flags(
                &config.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            sqlite::expiry::count(&conn, created_before, start_before).map_err(StoreError::Count)
        }
        Backend::Postgres => {
            let (manager, tls) = postgres::connect::manager(config)?;
            let mut client = postgres::connect::connect(&manager, &tls)?;
            postgres::read::count_expired(&mut client, created_before, start_before)
                .map_err(StoreError::Count)
        }
    }
}

/// The storage backend in use.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the backend `[database]` names.
    pub fn open(
        config: &Database,
        metrics: Arc<Metrics>,
        migration: Migration,
    ) -> Result<Store, StoreError> {
        match config.backend {
            Backend::Sqlite => {
                sqlite::SqliteStore::open(config, metrics, migration).map(Store::Sqlite)
            }
            Backend::Postgres => postgres::PgStore::open(config, migration).map(Store::Postgres),
        }
    }

    pub async fn create(&self, new: NewAppointment) -> Result<CreateOutcome, Error> {
        match self {
            Store::Sqlite(s) => s.create(new).await,
            Store::Postgres(s) => s.create(new).await,
        }
    }

    pub async fn update(&self, update: Update) -> Result<UpdateOutcome, Error> {
        match self {
            Store::Sqlite(s) => s.update(update).await,
            Store::Postgres(s) => s.update(update).await,
        }
    }

    /// The current version (None when unknown or expired).
    pub async fn current(&self, id: String) -> Result<Option<StoredVersion>, Error> {
        match self {
            Store::Sqlite(s) => s.current(id).await,
            Store::Postgres(s) => s.current(id).await,
        }
    }

    pub async fn version(&self, id: String, version: i64) -> Result<Option<StoredVersion>, Error> {
        match self {
            Store::Sqlite(s) => s.version(id, version).await,
            Store::Postgres(s) => s.version(id, version).await,
        }
    }

    /// Every version, newest first (empty when unknown or expired).
    pub async fn history(&self, id: String) -> Result<Vec<StoredVersion>, Error> {
        match self {
            Store::Sqlite(s) => s.history(id).await,
            Store::Postgres(s) => s.history(id).await,
        }
    }

    pub async fn search(&self, query: SearchQuery) -> Result<Page, Error> {
        match self {
            Store::Sqlite(s) => s.search(query).await,
            Store::Postgres(s) => s.search(query).await,
        }
    }

    /// Which of `identifiers` (`(system or "", value)`) are registered already.
    pub async fn registered_identifiers(
        &self,
        identifiers: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, Error> {
        match self {
            Store::Sqlite(s) => s.registered_identifiers(identifiers).await,
            Store::Postgres(s) => s.registered_identifiers(identifiers).await,
        }
    }

    /// The right to run an expiry pass: always granted on SQLite (one process, one writer); on
    /// PostgreSQL a session advisory lock, so with several nodes on one database one runs the
    /// pass and the others skip theirs. None: another node is running one.
    pub async fn expiry_lease(&self) -> Result<Option<ExpiryLease>, Error> {
        match self {
            Store::Sqlite(_) => Ok(Some(ExpiryLease::Sole)),
            Store::Postgres(s) => Ok(s
                .try_expiry_lock()
                .await?
                .map(|lock| ExpiryLease::Postgres(Box::new(lock)))),
        }
    }

    /// Deletes at most `chunk.limit` expired appointments; how many it deleted.
    pub async fn expire_chunk(&self, chunk: ExpireChunk) -> Result<u64, Error> {
        match self {
            Store::Sqlite(s) => s.expire_chunk(chunk).await,
            Store::Postgres(s) => s.expire_chunk(chunk).await,
        }
    }

    pub async fn record_expiry(&self, run: ExpiryRun) -> Result<(), Error> {
        match self {
            Store::Sqlite(s) => s.record_expiry(run).await,
            Store::Postgres(s) => s.record_expiry(run).await,
        }
    }

    /// What the database takes on disk, in bytes: the SQLite file plus its WAL, or the
    /// PostgreSQL database (`pg_database_size`: tables, indexes, TOAST; not the server's WAL,
    /// which its other databases share).
    pub async fn size_bytes(&self) -> Result<u64, Error> {
        match self {
            Store::Sqlite(s) => Ok(s.size_bytes()),
            Store::Postgres(s) => s.size_bytes().await,
        }
    }

    /// Ready to take writes; `Err` says why not.
    pub async fn ready(&self) -> Result<(), String> {
        match self {
            Store::Sqlite(s) => s.ready().await,
            Store::Postgres(s) => s.ready().await,
        }
    }

    /// The backend's own machinery runs (the SQLite writer thread).
    pub fn alive(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.alive(),
            Store::Postgres(s) => s.alive(),
        }
    }

    /// Finishes what was accepted and closes.
    pub fn stop(&self) {
        match self {
            Store::Sqlite(s) => s.stop(),
            Store::Postgres(s) => s.stop(),
        }
    }

    /// Faults a test can inject into the SQLite writer (SQLite only).
    #[doc(hidden)]
    pub fn faults(&self) -> Arc<faults::Faults> {
        match self {
            Store::Sqlite(s) => s.faults(),
            // Nothing to inject into: a fresh set nobody reads.
            Store::Postgres(_) => Arc::new(faults::Faults::default()),
        }
    }
}
