//! Operations endpoints (no JWT; mutual TLS still applies): liveness, readiness, metrics.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

/// Liveness: the process answers HTTP.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "pass" }))
}

/// Readiness: the writer thread is alive and the database takes a write transaction.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ready().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "pass" })),
        Err(e) => {
            log::warn!("not ready: {e}");
            HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE).json(json!({ "status": "fail" }))
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
