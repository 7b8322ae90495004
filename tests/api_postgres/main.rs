//! The API suite of tests/api again, with every server's database on PostgreSQL
//! (`database.backend = "postgres"`): the same test modules, not a copy. One throwaway cluster
//! serves this binary (started by the first test, stopped at exit) and each server gets a fresh
//! database of its own. Modules about SQLite itself (backup, the CLI on files, group commit, the
//! process lifecycle, the admin view on the file) and about TLS or tokens alone (client
//! certificates, JWKS, the access log) run in tests/api only; tests/postgres holds what is
//! PostgreSQL's own (several nodes, failover, query plans).
//!
//! Without PostgreSQL the whole binary is skipped with a message, unless
//! APPOINTMENT_REGISTRY_REQUIRE_POSTGRES is set (`.ci/run` sets it): then it fails.

#[path = "../api/cancel.rs"]
mod cancel;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/http.rs"]
mod http;
#[path = "../api/metadata.rs"]
mod metadata;
#[path = "../api/ops.rs"]
mod ops;
#[path = "../common/postgres.rs"]
mod postgres;
#[path = "../api/register.rs"]
mod register;
#[path = "../api/search.rs"]
mod search;
#[path = "../api/search_conventions.rs"]
mod search_conventions;
#[path = "../api/search_history.rs"]
mod search_history;
#[path = "../api/search_paging.rs"]
mod search_paging;
#[allow(dead_code)]
#[path = "../api/search_support.rs"]
mod search_support;
#[path = "../api/security.rs"]
mod security;
#[path = "../api/validate.rs"]
mod validate;
#[path = "../common/xmllint.rs"]
mod xmllint;
#[path = "../api/xsd.rs"]
mod xsd;

mod cluster {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, PoisonError};

    use crate::helpers::TestDb;
    use crate::postgres as shared;

    /// The binary's cluster, once the first test has asked for it (or why there is none).
    static CLUSTER: Mutex<Option<Result<shared::PgCluster, shared::Skip>>> = Mutex::new(None);

    /// Stops and deletes the cluster when the test binary exits (statics are never dropped).
    extern "C" fn stop_cluster() {
        let mut cluster = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
        drop(cluster.take());
    }

    /// A fresh database on the binary's cluster. Without PostgreSQL: a failure when
    /// APPOINTMENT_REGISTRY_REQUIRE_POSTGRES is set, else the message and an exit with success
    /// (every test of this binary needs the cluster).
    pub fn database() -> TestDb {
        let mut cluster = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
        let cluster = cluster.get_or_insert_with(|| {
            let started = shared::PgCluster::start();
            if started.is_ok() {
                // SAFETY: registers a plain function with no arguments, as atexit(3) requires.
                unsafe { libc::atexit(stop_cluster) };
            }
            started
        });
        match cluster {
            Ok(pg) => {
                static DATABASES: AtomicUsize = AtomicUsize::new(0);
                let name = format!("api_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
                pg.psql(&format!("CREATE DATABASE {name}"));
                TestDb::Postgres {
                    url: pg.url_of(&name),
                }
            }
            Err(skip) => {
                if std::env::var_os(shared::REQUIRE_VAR).is_some() {
                    skip.report(); // panics
                }
                // Past the harness's output capture, which a process exit would swallow.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: the API suite on PostgreSQL: {skip} (Debian: apt-get install \
                     postgresql; .ci/run installs it and sets {})",
                    shared::REQUIRE_VAR
                );
                std::process::exit(0);
            }
        }
    }
}

/// Where this suite's servers store: a fresh database on the binary's PostgreSQL cluster.
fn suite_database(_sqlite: &std::path::Path) -> helpers::TestDb {
    cluster::database()
}
