//! The API over mutual TLS against a server with `database.backend = "postgres"`, on a real
//! PostgreSQL cluster each test starts (skipped, with a message, when PostgreSQL is absent).

mod api;
mod cluster;
mod failover;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod nodes;
mod ops;
mod plans;
#[allow(dead_code)]
#[path = "../api/search_support.rs"]
mod search_support;
mod tls;
#[path = "../common/xmllint.rs"]
mod xmllint;

/// Where this suite's servers store: a temp SQLite file (tests/api_postgres runs the API suite
/// with a database on PostgreSQL instead).
fn suite_database(sqlite: &std::path::Path) -> helpers::TestDb {
    helpers::TestDb::Sqlite(sqlite.to_path_buf())
}
