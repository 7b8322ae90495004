//! Faults a test can inject into a running writer: a panic inside a job, a panic in the loop,
//! a database that cannot be reopened. Debug builds also read them from the environment.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Faults a test can inject into a running writer (debug builds read them from the
/// `APPOINTMENT_REGISTRY_FAULTS` environment variable too; see `Faults::from_env`).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Faults {
    /// The next N jobs panic after writing.
    pub panic_in_job: AtomicU32,
    /// The next N batches panic outside any job (the loop itself).
    pub panic_in_loop: AtomicU32,
    /// Reopening the database after a loop panic fails.
    pub reopen_fails: AtomicBool,
}

impl Faults {
    /// `APPOINTMENT_REGISTRY_FAULTS=panic-in-job,panic-in-loop,reopen-fails` — debug builds
    /// only, so a release binary has no way in.
    pub fn from_env() -> Faults {
        let faults = Faults::default();
        if cfg!(debug_assertions) {
            let spec = std::env::var("APPOINTMENT_REGISTRY_FAULTS").unwrap_or_default();
            for fault in spec.split(',').map(str::trim) {
                match fault {
                    "panic-in-job" => faults.panic_in_job.store(1, Ordering::SeqCst),
                    "panic-in-loop" => faults.panic_in_loop.store(1, Ordering::SeqCst),
                    "reopen-fails" => faults.reopen_fails.store(true, Ordering::SeqCst),
                    _ => {}
                }
            }
        }
        faults
    }

    pub(super) fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}
