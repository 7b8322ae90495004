//! The throwaway cluster of the shared harness (`tests/common/postgres.rs`: initdb + pg_ctl on a
//! free loopback port, skipped with a message when PostgreSQL is absent unless
//! APPOINTMENT_REGISTRY_REQUIRE_POSTGRES=1), plus SQL checks run on a thread of their own.

#[path = "../common/postgres.rs"]
mod shared;

pub use shared::{free_port, ServerTls};

pub struct PgCluster(shared::PgCluster);

impl PgCluster {
    /// A running cluster, or None (with a message) when PostgreSQL is not installed.
    pub fn start() -> Option<PgCluster> {
        shared::PgCluster::start_or_skip().map(PgCluster)
    }

    /// A running cluster serving TCP over TLS only (`hostssl`), or None (with a message) when
    /// PostgreSQL is not installed.
    pub fn start_tls(tls: &ServerTls) -> Option<PgCluster> {
        shared::PgCluster::start_tls_or_skip(tls).map(PgCluster)
    }

    /// One SQL statement as the superuser through `psql` (which itself connects over TLS
    /// when the cluster has it); its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.0.psql(sql)
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// A synchronous streaming standby of this primary (blocking: call off the async threads).
    pub fn standby(&self) -> PgCluster {
        PgCluster(shared::PgCluster::standby_of(&self.0))
    }

    /// SIGKILL to the postmaster (blocking).
    pub fn kill9(&self) {
        self.0.kill9()
    }

    /// `pg_ctl promote`, back once it takes writes (blocking).
    pub fn promote(&self) {
        self.0.promote()
    }

    /// A connection for checks in SQL, on a thread of its own (the sync client cannot run
    /// inside the test's runtime).
    pub fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
    ) -> T {
        let url = self.url();
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            f(&mut client)
        })
        .join()
        .expect("query thread")
    }
}
