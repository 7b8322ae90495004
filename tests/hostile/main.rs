//! Hostile input and faults (issue 8), against the real server over mutual TLS: each module
//! holds one kind of attack or failure, each test a case that once stopped, poisoned or hung the
//! registry. Limits come from `[server]` in the configuration (README "Configuration").

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/process.rs"]
mod process;

mod drills;
mod methods;
mod panics;
mod paths;
mod raw;
mod readable;
mod slow_clients;
#[path = "../common/xmllint.rs"]
mod xmllint;

/// Held by each test for its whole run: the latency measured in `slow_clients` is of the server
/// under the hostile load it creates, not of a 2-core machine also running the other tests of
/// this binary.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where this suite's servers store: a temp SQLite file (tests/api_postgres runs the API suite
/// with a database on PostgreSQL instead).
fn suite_database(sqlite: &std::path::Path) -> helpers::TestDb {
    helpers::TestDb::Sqlite(sqlite.to_path_buf())
}
