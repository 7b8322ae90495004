//! Hostile clients, against the real server over mutual TLS: connections that never speak,
//! bodies that never finish, made-up methods. Each module is one concern; limits come from
//! `[server]` in the configuration (README "Configuration").

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod methods;
mod raw;
mod slow_clients;
