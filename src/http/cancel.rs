//! `PUT /Appointment/{id}`: version-aware cancel (RULES.md §3). This layer checks what it can
//! without the stored row (token, media type, If-Match, body, id); the store's `Update` op
//! decides the rest atomically (404, ownership, stale version, the cancellation rules).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::appointment::{check_id, read_resource, stamp, versioned};
use super::negotiate::{self, Format};
use super::{body, caller, respond, AppState};
use crate::auth::Access;
use crate::error::Error;
use crate::fhir;
use crate::registry::instant;
use crate::store::{Update, WriteOp, WriteResult};

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_format = negotiate::request_format(&req);
    let default = *request_format.as_ref().unwrap_or(&Format::Json);
    let id = path.into_inner();
    respond::negotiated(&req, default, |format| {
        cancel(&req, id, payload, &state, request_format, format)
    })
    .await
}

async fn cancel(
    req: &HttpRequest,
    id: String,
    payload: web::Payload,
    state: &AppState,
    request_format: Result<Format, Error>,
    format: Format,
) -> Result<HttpResponse, Error> {
    let caller = caller::authorise(req, state, Access::Write)?;
    let request_format = request_format?;
    let if_match = if_match(req)?;
    check_id(&id)?;
    let bytes = body::read(req, payload, state.body_limits).await?;
    let (resource, structural) = read_resource(&bytes, request_format)?;
    if !structural.is_empty() {
        return Err(Error::Unprocessable(structural));
    }
    match resource.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id => {}
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "the body's id '{other}' is not the id in the URL ('{id}')"
            )))
        }
        None => {
            return Err(Error::BadRequest(
                "the body has no id: PUT the appointment back as read, with its id".into(),
            ))
        }
    }

    // Canonical form (as stored), so the writer compares like with like element by element.
    let mut resource: Value =
        serde_json::from_slice(&fhir::write_json(&resource)).map_err(Error::internal)?;
    let last_updated = instant::now_column();
    // The write succeeds only while If-Match is current, so the new version is If-Match + 1.
    stamp(&mut resource, &id, if_match + 1, &last_updated);
    let json = String::from_utf8(fhir::write_json(&resource)).map_err(Error::internal)?;
    let update = Update {
        id,
        if_match,
        caller_org: caller.org.clone(),
        last_updated,
        resource,
        json,
    };
    match state.store.write(WriteOp::Update(Box::new(update))).await? {
        WriteResult::Updated(stored) => {
            state.metrics.cancellations.inc();
            versioned(req, state, StatusCode::OK, &stored, format)
        }
        other => Err(Error::internal(format!("an update was answered {other:?}"))),
    }
}

/// `If-Match: W/"n"` (or `"n"`): the version the client read. Missing or malformed → 412.
fn if_match(req: &HttpRequest) -> Result<i64, Error> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(Error::PreconditionFailed(
            "If-Match is required: send W/\"{versionId}\" of the version you read".into(),
        ));
    };
    let text = value.to_str().unwrap_or("").trim();
    let tag = text.strip_prefix("W/").unwrap_or(text);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|n| !n.is_empty() && n.len() <= 18 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Error::PreconditionFailed(format!(
                "If-Match '{text}' is not a version tag: send W/\"{{versionId}}\" of the version you read"
            ))
        })
}
