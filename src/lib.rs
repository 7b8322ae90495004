//! The Appointment Registry: NHS "Register an appointment" (FHIR STU3, CareConnect-Appointment-1)
//! over mutual TLS and JWT, on SQLite.
//!
//! The path of a request: `tls` (client certificate verified at the handshake) → `http`
//! (routing, negotiation, `auth` for the JWT) → `fhir` (bytes ⇄ resource, base STU3 structure)
//! → `registry` (the rules, pure functions) → `store` (SQLite: one writer thread with group
//! commit, a pool of readers). Errors travel as `error::Error` and leave as Spine-coded
//! OperationOutcomes (`outcome`, `spine`). README.md maps each rule to its file.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod error_chain;
pub mod expiry;
pub mod fhir;
pub mod fuzzing;
pub mod http;
pub mod log_escape;
pub mod metrics;
pub mod outcome;
pub mod pki;
pub mod registry;
pub mod sample;
pub mod seed;
pub mod service;
pub mod spine;
pub mod store;
pub mod tls;
