//! The Appointment Registry: NHS "Register an appointment" (FHIR STU3, CareConnect-Appointment-1)
//! over mutual TLS and JWT, on SQLite. See DESIGN in README.md for the path of a request.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod expiry;
pub mod fhir;
pub mod http;
pub mod metrics;
pub mod outcome;
pub mod pki;
pub mod registry;
pub mod sample;
pub mod seed;
pub mod spine;
pub mod store;
pub mod tls;
