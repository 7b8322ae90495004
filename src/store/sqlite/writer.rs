//! The single writer: one thread owns the write connection and applies every write. It takes
//! every job waiting in its queue (up to `max_batch`) and commits them in one transaction —
//! group commit — so that one failing job fails alone: jobs first run without savepoints (a
//! savepoint copies every page a job touches); when one fails after writing, or panics, the
//! transaction is rolled back and the batch run again with a savepoint per job, that job
//! answered with its failure. Replies are sent only after COMMIT returns, so an acknowledged
//! write is on disk. While its queue is empty the writer holds the read pin (`read_pin.rs`), a
//! read transaction the readers share so that they take no file locks of their own.
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
use super::read_pin::{self, ReadPin};
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
    // A checkpoint that finds readers in its way (after its busy timeout) reports so in its
    // answer, not as an error.
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(0) => log::info!("writer stopped: queue drained, WAL checkpointed"),
        Ok(_) => log::warn!(
            "writer stopped: queue drained; the WAL was not emptied, another connection reads it"
        ),
        Err(e) => log::warn!("writer stopped: queue drained; final WAL checkpoint failed: {e}"),
    }
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
    // Dropped (its transaction ended) when the loop ends, a panic's unwind included.
    let mut pin = ReadPin::open(conn);
    while let Some(first) = next_job(rx, &mut pin) {
        // Never held across a write: the pin holds back none of this batch's checkpoint, nor a
        // restart of the WAL.
        pin.release();
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

/// The next job: one already queued, else the first to come, the read pin held while waiting
/// (and taken afresh every `REFRESH`). None when the queue has closed.
fn next_job(rx: &mpsc::Receiver<Job>, pin: &mut ReadPin) -> Option<Job> {
    match rx.try_recv() {
        Ok(job) => return Some(job),
        Err(mpsc::TryRecvError::Disconnected) => return None,
        Err(mpsc::TryRecvError::Empty) => pin.take(),
    }
    loop {
        match rx.recv_timeout(read_pin::REFRESH) {
            Ok(job) => return Some(job),
            Err(mpsc::RecvTimeoutError::Timeout) => pin.refresh(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// Applies the batch's jobs, then commits once. If the commit itself fails, every job in the
/// batch fails: none of them was acknowledged. So does every job when SQLite ends the whole
/// transaction under one job (it does on I/O errors, and on a full disk when a statement has no
/// journal of its own): the jobs before it were rolled back with it, and the jobs after it must
/// not run outside a transaction.
fn commit_batch(
    conn: &mut Connection,
    batch: &[Job],
    state: &Loop,
) -> Vec<Result<WriteResult, Error>> {
    // Jobs that failed in the first run, answered so and not run again.
    let mut settled: Vec<Option<Result<WriteResult, Error>>> = Vec::new();
    loop {
        // A second run has savepoints (`settled` is filled) and always comes to an end.
        if let Ran::Done(results) = run_batch(conn, batch, state, &mut settled) {
            return results;
        }
    }
}

enum Ran {
    Done(Vec<Result<WriteResult, Error>>),
    /// A job failed after writing (its answer is in `settled`); the transaction is rolled back.
    Again,
}

/// One run of the batch: without savepoints while `settled` is empty, with one per job after.
fn run_batch(
    conn: &mut Connection,
    batch: &[Job],
    state: &Loop,
    settled: &mut Vec<Option<Result<WriteResult, Error>>>,
) -> Ran {
    let isolated = !settled.is_empty();
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Ran::Done(fail_all(batch.len(), e, state)),
    };
    let mut results: Vec<Result<WriteResult, Error>> = Vec::with_capacity(batch.len());
    for (i, job) in batch.iter().enumerate() {
        if let Some(answer) = settled.get_mut(i).and_then(Option::take) {
            results.push(answer);
            continue;
        }
        let (result, intact) = if isolated {
            apply_one(&tx, &job.op, state)
        } else {
            let before = tx.total_changes();
            let (result, panicked) = apply_unguarded(&tx, &job.op, state);
            if panicked || (result.is_err() && tx.total_changes() != before) {
                // What the job wrote cannot be undone alone: answer it, and run the others
                // again from the start, each under a savepoint.
                settled.resize_with(batch.len(), || None);
                settled[i] = Some(result);
                drop(tx);
                return Ran::Again;
            }
            (result, true)
        };
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
            return Ran::Done(fail_all(batch.len(), cause, state));
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
    Ran::Done(match tx.commit() {
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
    })
}

/// Runs one job with no savepoint; true when it panicked (then its result is a 500).
fn apply_unguarded(
    tx: &Transaction<'_>,
    op: &WriteOp,
    state: &Loop,
) -> (Result<WriteResult, Error>, bool) {
    match catch_unwind(AssertUnwindSafe(|| run_job(tx, op, state))) {
        Ok(result) => (result, false),
        Err(_) => (panicked(state), true),
    }
}

fn run_job(tx: &Transaction<'_>, op: &WriteOp, state: &Loop) -> Result<WriteResult, Error> {
    let result = ops::apply(tx, op);
    if Faults::take(&state.faults.panic_in_job) {
        // After the job wrote: the savepoint (or the run again) must undo it.
        panic!("injected fault: a job panics");
    }
    result
}

fn panicked(state: &Loop) -> Result<WriteResult, Error> {
    // The panic hook has logged where; this job fails alone and the writer goes on.
    state.health.panics.fetch_add(1, Ordering::Relaxed);
    Err(Error::internal("a write panicked in the writer"))
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
    let result = catch_unwind(AssertUnwindSafe(|| run_job(tx, op, state)))
        .unwrap_or_else(|_| panicked(state));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::register::Registration;
    use crate::store::{Author, NewAppointment};

    fn create(id: &str, identifiers: &[(&str, &str)]) -> Job {
        let new = NewAppointment {
            id: id.into(),
            last_updated: "2030-01-01T00:00:00.000Z".into(),
            registration: Registration {
                nhs_number: "9000000009".into(),
                start_at: "2031-01-01T00:00:00.000Z".into(),
                created_at: "2030-01-01T00:00:00.000Z".into(),
                identifiers: identifiers
                    .iter()
                    .map(|(s, v)| (s.to_string(), v.to_string()))
                    .collect(),
            },
            resource: format!("{{\"id\":\"{id}\"}}"),
            author: Author {
                org: Some("X1".into()),
                asid: None,
                cert_subject: None,
            },
            if_none_exist: None,
        };
        Job {
            op: WriteOp::Create(Box::new(new)),
            reply: oneshot::channel().0,
        }
    }

    /// Without savepoints, a job that fails after writing must not take its writes, or the
    /// batch, with it: the batch runs again with a savepoint per job, that job answered with
    /// its failure, the others committed.
    #[test]
    fn a_job_that_fails_after_writing_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("registry.db")).unwrap();
        super::super::schema::configure(&conn, "normal").unwrap();
        super::super::schema::apply(&mut conn, crate::store::Migration::Apply).unwrap();
        let state = Loop {
            max_batch: 8,
            metrics: Arc::new(Metrics::new().unwrap()),
            health: Arc::default(),
            faults: Arc::default(),
        };
        // The middle job's second identifier repeats its first: its appointment, version and
        // first identifier are written before the insert fails.
        let batch = [
            create("a", &[("s", "1")]),
            create("b", &[("s", "2"), ("s", "2")]),
            create("c", &[("s", "3")]),
        ];
        let results = commit_batch(&mut conn, &batch, &state);
        assert!(matches!(results[0], Ok(WriteResult::Create(_))));
        assert!(results[1].is_err(), "{:?}", results[1]);
        assert!(matches!(results[2], Ok(WriteResult::Create(_))));
        let count =
            |conn: &Connection, sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM appointment"), 2);
        assert_eq!(count(&conn, "SELECT count(*) FROM appointment_version"), 2);
        assert_eq!(
            count(&conn, "SELECT count(*) FROM appointment_identifier"),
            2
        );
        assert_eq!(
            count(&conn, "SELECT count(*) FROM appointment WHERE id = 'b'"),
            0
        );
        // A batch that goes well runs once, without savepoints, and commits.
        let results = commit_batch(&mut conn, &[create("d", &[])], &state);
        assert!(matches!(results[0], Ok(WriteResult::Create(_))));
        assert_eq!(count(&conn, "SELECT count(*) FROM appointment"), 3);
    }
}
