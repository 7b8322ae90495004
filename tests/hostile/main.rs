//! Hostile clients, against the real server over mutual TLS: connections that never speak,
//! bodies that never finish, made-up methods. Each module is one concern; limits come from
//! `[server]` in the configuration (README "Configuration").

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod methods;
mod raw;
mod slow_clients;

/// Held by each test for its whole run: the latency measured in `slow_clients` is of the server
/// under the hostile load it creates, not of a 2-core machine also running the other tests of
/// this binary.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
