//! Reading a request body with the configured size limit (413 past it) and deadline (408 past
//! it: a client trickling its body, or declaring a Content-Length it never sends, cannot hold a
//! connection and a handler for longer than `server.body_timeout_ms`).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest};

use crate::error::Error;

/// How much body a request may carry and how long it may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// The body, which must not be empty (a resource is expected).
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    limits: BodyLimits,
) -> Result<Vec<u8>, Error> {
    let body = read_any(req, payload, limits).await?;
    if body.is_empty() {
        return Err(Error::BadRequest(
            "the request body is empty: send an Appointment".into(),
        ));
    }
    Ok(body)
}

/// The body, possibly empty (a search form may carry every parameter in the URL).
pub async fn read_any(
    req: &HttpRequest,
    payload: web::Payload,
    limits: BodyLimits,
) -> Result<Vec<u8>, Error> {
    let limit = limits.max_bytes;
    // A declared length over the limit is refused before reading anything.
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large(limit));
        }
    }
    // One deadline for the whole body, not per chunk: a byte every second would renew a
    // per-chunk timeout forever. Inside it, actix-web's own limited read (413 past the limit).
    match tokio::time::timeout(limits.timeout, payload.to_bytes_limited(limit)).await {
        Ok(Ok(Ok(body))) => Ok(body.into()),
        Ok(Ok(Err(e))) => Err(Error::BadRequest(format!(
            "could not read the request body: {e}"
        ))),
        Ok(Err(_)) => Err(too_large(limit)),
        Err(_) => Err(Error::RequestTimeout(format!(
            "the request body did not arrive within {} ms",
            limits.timeout.as_millis()
        ))),
    }
}

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!(
        "the request body is larger than the registry accepts ({limit} bytes)"
    ))
}
