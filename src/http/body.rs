//! Reading a request body with the configured size limit (413 past it).

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::error::Error;

/// The body, which must not be empty (a resource is expected).
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let body = read_any(req, payload, limit).await?;
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
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let too_large = || {
        Error::PayloadTooLarge(format!(
            "the request body is larger than the registry accepts ({limit} bytes)"
        ))
    };
    // A declared length over the limit is refused before reading anything.
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| Error::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
