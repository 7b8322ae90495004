//! The writes the writer applies, in one transaction per batch (see `writer.rs`): what they
//! are, and which module applies each.

use rusqlite::Transaction;

use super::WriteResult;
use crate::error::Error;
use crate::store::{ExpireChunk, ExpiryRun, NewAppointment, Update};

#[derive(Debug)]
pub enum WriteOp {
    Create(Box<NewAppointment>),
    /// A version-aware update (cancel): see `update.rs`.
    Update(Box<Update>),
    /// Readiness probe: proves the writer answers and the file takes a write transaction.
    Ping,
    /// Readiness probe after a storage failure: commits a real (same-value) write of the
    /// database header, so a success proves the disk takes writes again.
    Probe,
    /// Deletes up to `limit` expired appointments (see `store::expiry`).
    Expire(ExpireChunk),
    RecordExpiry(ExpiryRun),
}

impl WriteOp {
    /// Whether a successful run of this op changes the file (so its commit proves the disk).
    pub fn writes(&self) -> bool {
        !matches!(self, WriteOp::Ping)
    }
}

pub fn apply(tx: &Transaction<'_>, op: &WriteOp) -> Result<WriteResult, Error> {
    match op {
        WriteOp::Create(new) => super::create::apply(tx, new),
        WriteOp::Update(update) => super::update::apply(tx, update),
        WriteOp::Ping => tx
            .query_row("PRAGMA user_version", [], |_| Ok(WriteResult::Done))
            .map_err(Error::from),
        WriteOp::Probe => tx
            .execute_batch(&format!("PRAGMA user_version = {}", super::schema::VERSION))
            .map(|_| WriteResult::Done)
            .map_err(Error::from),
        WriteOp::Expire(chunk) => super::expiry::delete_chunk(tx, chunk).map(WriteResult::Deleted),
        WriteOp::RecordExpiry(run) => super::expiry::record(tx, run).map(|_| WriteResult::Done),
    }
}
