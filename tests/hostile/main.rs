//! Hostile input and faults (issue 8): each module holds one kind of attack or failure, each
//! test a case that once stopped, poisoned or hung the registry. Every test starts the real
//! server over mutual TLS, as the API suite does.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../api/process.rs"]
#[allow(dead_code)]
mod process;

mod drills;
mod panics;
mod readable;
