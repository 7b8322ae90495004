//! The single writer: one thread owns the write connection and applies every write. It takes
//! every job waiting in its queue (up to `max_batch`) and commits them in one transaction —
//! group commit — with a savepoint per job so one failing job fails alone. Replies are sent only
//! after COMMIT returns, so an acknowledged write is on disk.
//!
//! A panic never stops the writer: each job runs under `catch_unwind` (that job answers 500,
//! the others in its batch go on), and a panic outside any job restarts the loop on a fresh
//! connection. Only when no connection can be opened again does the process exit non-zero,
//! so that systemd's `Restart=on-failure` brings the registry back rather than leaving a
//! process that answers every write with 500.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use super::faults::Faults;
use super::health::WriterHealth;
use super::ops::{self, WriteOp};
use super::WriteResult;
use crate::error::Error;
use crate::metrics::Metrics;

/// Exit status when the writer cannot be restarted (EX_SOFTWARE).
pub const EXIT_WRITER_LOST: i32 = 70;

struct Job {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteResult, Error>>,
}

/// Opens a fresh write connection (used at start and after a loop panic).
pub type Opener = Box<dyn Fn() -> rusqlite::Result<Connection> + Send>;

pub struct Writer {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
    health: Arc<WriterHealth>,
    faults: Arc<Faults>,
}

struct Loop {
    max_batch: usize,
    metrics: Arc<Metrics>,
    health: Arc<WriterHealth>,
    faults: Arc<Faults>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        open: Opener,
        max_batch: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let health = Arc::new(WriterHealth::default());
        let faults = Arc::new(Faults::from_env());
        let state = Loop {
            max_batch: max_batch.max(1),
            metrics: metrics.clone(),
            health: health.clone(),
            faults: faults.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("registry-writer".into())
            .spawn(move || supervise(conn, open, &rx, &state))?;
        Ok(Writer {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            metrics,
            health,
            faults,
        })
    }

    pub async fn submit(&self, op: WriteOp) -> Result<WriteResult, Error> {
        let (reply, answer) = oneshot::channel();
        {
            let queue = self
                .queue
                .lock()
                .map_err(|_| Error::internal("writer queue poisoned"))?;
            let queue = queue
                .as_ref()
                .ok_or_else(|| Error::internal("the writer has stopped"))?;
            queue
                .send(Job { op, reply })
                .map_err(|_| Error::internal("writer thread is gone"))?;
        }
        self.metrics.queue_depth.inc();
        answer
            .await
            .map_err(|_| Error::internal("writer dropped a job without answering"))?
    }

    /// Stops taking jobs, lets the writer finish its queue and checkpoint the WAL, then joins it.
    /// Safe to call more than once.
    pub fn stop(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            if thread.join().is_err() {
                log::error!("the writer thread panicked");
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.thread
            .lock()
            .map(|t| t.as_ref().is_some_and(|h| !h.is_finished()))
            .unwrap_or(false)
    }

    pub fn health(&self) -> &WriterHealth {
        &self.health
    }

    #[doc(hidden)]
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the loop; restarts it on a fresh connection when it panics, and exits the process when
/// no connection can be had (a writer that is gone for good must not leave a live process).
fn supervise(mut conn: Connection, open: Opener, rx: &mpsc::Receiver<Job>, state: &Loop) {
    loop {
        let ran = catch_unwind(AssertUnwindSafe(|| run(&mut conn, rx, state)));
        if ran.is_ok() {
            break; // the queue closed: a normal stop
        }
        state.health.panics.fetch_add(1, Ordering::Relaxed);
        log::error!("writer: the write loop panicked; restarting it on a fresh connection");
        // Jobs of the interrupted batch were dropped unanswered (their clients got 500) and
        // its transaction rolled back as the unwind dropped it.
        conn = match reopen(&open, state) {
            Some(fresh) => fresh,
            None => {
                log::error!(
                    "writer: cannot open the database again; exiting with status {EXIT_WRITER_LOST} \
                     so the service manager restarts the registry"
                );
                std::process::exit(EXIT_WRITER_LOST);
            }
        };
    }
    // Queue closed and drained: fold the WAL into the main file so the copy an admin takes
    // after shutdown is the whole database.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("writer: final WAL checkpoint failed: {e}");
    }
    log::info!("writer stopped: queue drained, WAL checkpointed");
}

fn reopen(open: &Opener, state: &Loop) -> Option<Connection> {
    for attempt in 1..=3u32 {
        let opened = if state.faults.reopen_fails.load(Ordering::SeqCst) {
            Err(rusqlite::Error::InvalidPath(
                "injected fault: reopen fails".into(),
            ))
        } else {
            open()
        };
        match opened {
            Ok(conn) => return Some(conn),
            Err(e) => {
                log::error!("writer: reopening the database failed (attempt {attempt}): {e}");
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
            }
        }
    }
    None
}

fn run(conn: &mut Connection, rx: &mpsc::Receiver<Job>, state: &Loop) {
    let mut batch: Vec<Job> = Vec::with_capacity(state.max_batch);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < state.max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        state.metrics.queue_depth.sub(batch.len() as i64);
        state.metrics.batch_size.observe(batch.len() as f64);
        let results = commit_batch(conn, &batch, state);
        for (job, result) in batch.drain(..).zip(results) {
            // A client that went away no longer wants its answer; the write stands.
            let _ = job.reply.send(result);
        }
    }
}

/// Applies each job under its own savepoint, then commits once. If the commit itself fails,
/// every job in the batch fails: none of them was acknowledged. So does every job when SQLite
/// ends the whole transaction under one job (it does on I/O errors, and on a full disk when a
/// statement has no journal of its own): the jobs before it were rolled back with it, and the
/// jobs after it must not run outside a transaction.
fn commit_batch(
    conn: &mut Connection,
    batch: &[Job],
    state: &Loop,
) -> Vec<Result<WriteResult, Error>> {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch.len(), e, state),
    };
    let mut results: Vec<Result<WriteResult, Error>> = Vec::with_capacity(batch.len());
    for job in batch {
        let (result, intact) = apply_one(&tx, &job.op, state);
        let storage = match &result {
            Err(Error::Storage(e)) => Some(clone_error(e)),
            _ => None,
        };
        results.push(result);
        if !intact || tx.is_autocommit() {
            let cause = storage.unwrap_or_else(|| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                    Some("the batch's transaction ended under a job".into()),
                )
            });
            drop(tx);
            return fail_all(batch.len(), cause, state);
        }
    }
    if Faults::take(&state.faults.panic_in_loop) {
        // After the jobs wrote, before COMMIT: the unwind must roll all of them back.
        panic!("injected fault: the write loop panics");
    }
    let wrote = batch
        .iter()
        .zip(&results)
        .any(|(job, r)| job.op.writes() && r.as_ref().is_ok_and(WriteResult::wrote));
    match tx.commit() {
        Ok(()) => {
            let fault = results.iter().find_map(|r| match r {
                Err(Error::Storage(e)) => Some(e.to_string()),
                _ => None,
            });
            if fault.is_some() || wrote {
                state.health.set_storage_fault(fault);
            }
            results
        }
        Err(e) => fail_all(batch.len(), e, state),
    }
}

/// Runs one job inside its own savepoint. The flag is false when the savepoint could not be
/// closed cleanly: then what the job left in the transaction is unknown, and the batch fails.
fn apply_one(
    tx: &Transaction<'_>,
    op: &WriteOp,
    state: &Loop,
) -> (Result<WriteResult, Error>, bool) {
    if let Err(e) = super::exec(tx, "SAVEPOINT job", []) {
        return (Err(e), false);
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        let result = ops::apply(tx, op);
        if Faults::take(&state.faults.panic_in_job) {
            // After the job wrote: the savepoint must undo it.
            panic!("injected fault: a job panics");
        }
        result
    }))
    .unwrap_or_else(|_| {
        // The panic hook has logged where; this job fails alone and the writer goes on.
        state.health.panics.fetch_add(1, Ordering::Relaxed);
        Err(Error::internal("a write panicked in the writer"))
    });
    if result.is_err() {
        if let Err(e) = super::exec(tx, "ROLLBACK TO job", []) {
            // Keep the job's own error (the cause); the batch cannot go on.
            log::error!("writer: ROLLBACK TO job failed: {e}");
            return (result, false);
        }
    }
    match super::exec(tx, "RELEASE job", []) {
        Ok(_) => (result, true),
        Err(e) => (Err(e), false),
    }
}

fn fail_all(n: usize, cause: rusqlite::Error, state: &Loop) -> Vec<Result<WriteResult, Error>> {
    log::error!("writer: batch of {n} failed to commit: {cause}");
    let storage = crate::error::is_storage_fault(&cause);
    if storage {
        state.health.set_storage_fault(Some(cause.to_string()));
    }
    (0..n)
        .map(|_| {
            Err(if storage {
                Error::Storage(clone_error(&cause))
            } else {
                Error::caused("committing a batch", clone_error(&cause))
            })
        })
        .collect()
}

/// rusqlite errors are not Clone; a batch's jobs each get an equivalent one.
fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some(other.to_string()),
        ),
    }
}
