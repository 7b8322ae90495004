//! Expiry (RULES.md §7): registrations whose `created` is older than `expiry.max_age_days`, and
//! those whose `start` passed more than `expiry.past_start_days` ago, are deleted — by a
//! background task every `expiry.interval_seconds`, or by `appointment-registry expire`.
//! Deletes go through the writer in chunks, so registrations keep flowing during a large purge.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::config::Expiry;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::registry::instant;
use crate::store::{ExpireChunk, ExpiryRun, Rule, Store};

/// The cut-offs of one pass, computed from the configuration at `now`.
#[derive(Debug, Clone)]
pub struct Cutoffs {
    pub created_before: Option<String>,
    pub start_before: Option<String>,
}

impl Cutoffs {
    pub fn at(now: OffsetDateTime, config: &Expiry) -> Cutoffs {
        let days_ago = |days: u32| {
            (days > 0).then(|| instant::to_column(now - time::Duration::days(i64::from(days))))
        };
        Cutoffs {
            created_before: days_ago(config.max_age_days),
            start_before: days_ago(config.past_start_days),
        }
    }
}

/// Runs one pass: each rule in chunks of `chunk_rows`, then records it in `expiry_run`.
/// `share_writer` (the server's task): after each chunk, pause twice as long as the chunk took,
/// so a purge takes at most a third of the writer's time (and of a core: the two cores also
/// carry TLS, HTTP and parsing) and registrations keep well over half their rate. The `expire`
/// command, alone on the file, runs flat out.
pub async fn run_pass(
    store: &Store,
    cutoffs: &Cutoffs,
    chunk_rows: u32,
    trigger: &'static str,
    metrics: Option<&Metrics>,
    share_writer: bool,
) -> Result<ExpiryRun, Error> {
    let started = Instant::now();
    let started_at = instant::now_column();
    let Some(_lease) = store.expiry_lease().await? else {
        log::info!("expiry ({trigger}): another node is running a pass; this one is skipped");
        return Ok(ExpiryRun {
            started_at: started_at.clone(),
            finished_at: started_at,
            created_before: cutoffs.created_before.clone(),
            start_before: cutoffs.start_before.clone(),
            deleted: 0,
            duration_ms: 0,
            trigger,
        });
    };
    let mut deleted = 0u64;
    let rules = [
        (Rule::Created, &cutoffs.created_before),
        (Rule::Start, &cutoffs.start_before),
    ];
    for (rule, before) in rules {
        let Some(before) = before else { continue };
        loop {
            let chunk = ExpireChunk {
                rule,
                before: before.clone(),
                limit: chunk_rows,
            };
            let chunk_started = Instant::now();
            let n = store.expire_chunk(chunk).await?;
            deleted += n;
            if let Some(m) = metrics {
                m.expired_rows.inc_by(n);
            }
            if n < u64::from(chunk_rows) {
                break;
            }
            if share_writer {
                tokio::time::sleep(chunk_started.elapsed() * 2).await;
            }
        }
    }
    let run = ExpiryRun {
        started_at,
        finished_at: instant::now_column(),
        created_before: cutoffs.created_before.clone(),
        start_before: cutoffs.start_before.clone(),
        deleted,
        duration_ms: started.elapsed().as_millis() as u64,
        trigger,
    };
    store.record_expiry(run.clone()).await?;
    log::info!(
        "expiry ({trigger}): deleted {deleted} appointment(s) in {} ms (created before {}, start before {})",
        run.duration_ms,
        run.created_before.as_deref().unwrap_or("-"),
        run.start_before.as_deref().unwrap_or("-"),
    );
    Ok(run)
}

/// The background task: a pass every `interval_seconds`, the first one interval after start.
/// It is aborted at shutdown; a chunk already queued still completes in the writer.
pub async fn schedule(store: &Store, config: &Expiry, metrics: &Metrics) {
    let interval = Duration::from_secs(config.interval_seconds);
    loop {
        tokio::time::sleep(interval).await;
        let cutoffs = Cutoffs::at(OffsetDateTime::now_utc(), config);
        if let Err(e) = run_pass(
            store,
            &cutoffs,
            config.chunk_rows,
            "schedule",
            Some(metrics),
            true,
        )
        .await
        {
            metrics.expiry_failures.inc();
            log::error!("expiry pass failed: {}", e.chain());
        }
    }
}
