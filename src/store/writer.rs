//! The single writer: one thread owns the write connection and applies every write. It takes
//! every job waiting in its queue (up to `max_batch`) and commits them in one transaction —
//! group commit — with a savepoint per job so one failing job fails alone. Replies are sent only
//! after COMMIT returns, so an acknowledged write is on disk.

use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use super::ops::{self, WriteOp, WriteResult};
use crate::error::Error;
use crate::metrics::Metrics;

struct Job {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteResult, Error>>,
}

pub struct Writer {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        max_batch: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread_metrics = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("registry-writer".into())
            .spawn(move || run(conn, rx, max_batch.max(1), &thread_metrics))?;
        Ok(Writer {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            metrics,
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
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>, max_batch: usize, metrics: &Metrics) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics.queue_depth.sub(batch.len() as i64);
        metrics.batch_size.observe(batch.len() as f64);
        let results = commit_batch(&mut conn, &batch);
        for (job, result) in batch.drain(..).zip(results) {
            // A client that went away no longer wants its answer; the write stands.
            let _ = job.reply.send(result);
        }
    }
    // Queue closed and drained: fold the WAL into the main file so the copy an admin takes
    // after shutdown is the whole database.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("writer: final WAL checkpoint failed: {e}");
    }
    log::info!("writer stopped: queue drained, WAL checkpointed");
}

/// Applies each job under its own savepoint, then commits once. If the commit itself fails,
/// every job in the batch fails: none of them was acknowledged.
fn commit_batch(conn: &mut Connection, batch: &[Job]) -> Vec<Result<WriteResult, Error>> {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch.len(), &e),
    };
    let results: Vec<Result<WriteResult, Error>> =
        batch.iter().map(|job| apply_one(&tx, &job.op)).collect();
    match tx.commit() {
        Ok(()) => results,
        Err(e) => fail_all(batch.len(), &e),
    }
}

fn apply_one(tx: &Transaction<'_>, op: &WriteOp) -> Result<WriteResult, Error> {
    super::exec(tx, "SAVEPOINT job", [])?;
    let result = ops::apply(tx, op);
    if result.is_err() {
        super::exec(tx, "ROLLBACK TO job", [])?;
    }
    super::exec(tx, "RELEASE job", [])?;
    result
}

fn fail_all(n: usize, cause: &rusqlite::Error) -> Vec<Result<WriteResult, Error>> {
    log::error!("writer: batch of {n} failed to commit: {cause}");
    (0..n).map(|_| Err(Error::internal(cause))).collect()
}
