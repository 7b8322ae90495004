//! Integration tests: each starts the real server over mutual TLS and talks to it as a client.

mod access_log;
mod admin_queries;
mod backup;
mod cancel;
mod cli;
mod client_certs;
mod first_run;
mod group_commit;
mod helpers;
mod http;
mod jwks;
mod lifecycle;
mod metadata;
mod ops;
mod process;
mod read_pin;
mod register;
mod search;
mod search_conventions;
mod search_history;
mod search_paging;
mod search_support;
mod security;
mod validate;
#[path = "../common/xmllint.rs"]
mod xmllint;
mod xsd;

/// Where this suite's servers store: a temp SQLite file (tests/api_postgres runs the API suite
/// with a database on PostgreSQL instead).
fn suite_database(sqlite: &std::path::Path) -> helpers::TestDb {
    helpers::TestDb::Sqlite(sqlite.to_path_buf())
}
