//! Prometheus metrics for `GET /_metrics`: one registry per running server (tests run several).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Requests by route pattern, method and status.
    pub requests: IntCounterVec,
    /// Request latency by route pattern.
    pub latency: HistogramVec,
    pub registrations: IntCounter,
    pub cancellations: IntCounter,
    pub expired_rows: IntCounter,
    /// Expiry passes that failed (the cause is in the log).
    pub expiry_failures: IntCounter,
    /// Jobs waiting for the writer.
    pub queue_depth: IntGauge,
    /// Jobs committed per transaction (group commit at work).
    pub batch_size: Histogram,
    /// What the database takes on disk (`Store::size_bytes`), set at each scrape.
    pub database_bytes: IntGauge,
    /// SQLite reads begun on an event-loop thread and run again on the blocking pool, by why:
    /// `busy` (a lock held, e.g. by an admin) or `step_budget` (a search past SEARCH_STEPS).
    pub reads_moved: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("registry".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )?;
        let registrations =
            IntCounter::new("registrations_total", "Appointments registered (201)")?;
        let cancellations = IntCounter::new(
            "cancellations_total",
            "Appointments cancelled or marked entered-in-error",
        )?;
        let expired_rows = IntCounter::new("expired_rows_total", "Appointments deleted by expiry")?;
        let expiry_failures =
            IntCounter::new("expiry_failures_total", "Expiry passes that failed")?;
        let queue_depth =
            IntGauge::new("writer_queue_depth", "Writes waiting for the writer thread")?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("writer_batch_size", "Writes committed per transaction").buckets(
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            ),
        )?;
        let database_bytes = IntGauge::new(
            "database_size_bytes",
            "What the database takes on disk, in bytes: the SQLite file plus its WAL, or the \
             PostgreSQL database (pg_database_size)",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(registrations.clone()))?;
        registry.register(Box::new(cancellations.clone()))?;
        registry.register(Box::new(expired_rows.clone()))?;
        registry.register(Box::new(expiry_failures.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        let reads_moved = IntCounterVec::new(
            Opts::new(
                "reads_moved_to_blocking_pool_total",
                "SQLite reads begun on an event-loop thread and run again on the blocking pool, \
                 by reason: busy (a lock was held) or step_budget (a search past its steps)",
            ),
            &["reason"],
        )?;
        for reason in ["busy", "step_budget"] {
            reads_moved.with_label_values(&[reason]);
        }
        registry.register(Box::new(database_bytes.clone()))?;
        registry.register(Box::new(reads_moved.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            registrations,
            cancellations,
            expired_rows,
            expiry_failures,
            queue_depth,
            batch_size,
            database_bytes,
            reads_moved,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding text into a Vec cannot fail short of a metric with invalid names.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
