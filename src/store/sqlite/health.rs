//! What the writer knows about its own health, for `/_health` and `/_ready`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// What the writer knows about its own health, for `/_health` and `/_ready`.
#[derive(Debug, Default)]
pub struct WriterHealth {
    /// Why the last write failed, when it failed for a storage reason (disk full, I/O error,
    /// read-only file); cleared by the next commit that wrote something.
    storage_fault: Mutex<Option<String>>,
    /// Panics caught (in a job or in the loop) since start.
    pub(super) panics: AtomicU32,
}

impl WriterHealth {
    pub fn storage_fault(&self) -> Option<String> {
        self.storage_fault.lock().ok().and_then(|f| f.clone())
    }

    pub(super) fn set_storage_fault(&self, fault: Option<String>) {
        if let Ok(mut slot) = self.storage_fault.lock() {
            match (&*slot, &fault) {
                (None, Some(why)) => log::error!("writer: storage failure, not ready: {why}"),
                (Some(_), None) => log::info!("writer: writes succeed again, ready"),
                _ => {}
            }
            *slot = fault;
        }
    }

    pub fn panics(&self) -> u32 {
        self.panics.load(Ordering::Relaxed)
    }
}
