//! Operations endpoints (no JWT; mutual TLS still applies): liveness, readiness, metrics.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

/// Liveness: the process answers HTTP and its writer thread runs (a writer gone for good
/// makes the process exit, so this fails only in the moment before it does, or after stop).
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    if state.store.alive() {
        HttpResponse::Ok().json(json!({ "status": "pass" }))
    } else {
        let reason = "the writer thread is not running";
        log::error!("not alive: {reason}");
        HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .json(json!({ "status": "fail", "reason": reason }))
    }
}

/// Readiness: the writer is alive, the database takes a write transaction, and the last write
/// did not fail for a storage reason (disk full, I/O error, read-only file) — once it did, a
/// probe write must succeed before the registry is ready again. The reason is in the body.
/// With `auth.jwks_url`, the registry is not ready either until a JWKS has been fetched.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let ready = match state.verifier.not_ready() {
        Some(reason) => Err(reason),
        None => state.store.ready().await,
    };
    match ready {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "pass" })),
        Err(reason) => {
            log::warn!("not ready: {reason}");
            HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
                .json(json!({ "status": "fail", "reason": reason }))
        }
    }
}

/// Prometheus text exposition, the database's size measured now (when it cannot be, the last
/// measure stays and the log says why).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.store.size_bytes().await {
        Ok(bytes) => state
            .metrics
            .database_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX)),
        Err(e) => log::warn!("metrics: the database size: {}", e.chain()),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
