//! `POST /Appointment` (register), `GET /Appointment/{id}` (read) and
//! `GET /Appointment/{id}/_history/{vid}` (vread).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::negotiate::{self, Format};
use super::version_response::versioned;
use super::{body, caller, respond, AppState};
use crate::auth::Access;
use crate::error::Error;
use crate::registry::identifier::IdentifierToken;
use crate::service;
use crate::service::register::{RegisterRequest, Registered};
use crate::store::StoredVersion;

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    respond::negotiated_with_body(&req, |format, body_format| {
        register(&req, payload, &state, body_format, format)
    })
    .await
}

async fn register(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    body_format: Result<Format, Error>,
    format: Format,
) -> Result<HttpResponse, Error> {
    let (caller, body_format) = caller::authorise_write(req, state, body_format).await?;
    let if_none_exist = if_none_exist(req)?;
    let bytes = body::read(req, payload, state.body_limits).await?;
    let request = RegisterRequest {
        body: &bytes,
        format: body_format,
        if_none_exist,
        author: caller::author(req, &caller),
    };
    match service::register::register(&state.store, request).await? {
        Registered::Created(stored) => {
            state.metrics.registrations.inc();
            versioned(req, state, StatusCode::CREATED, stored, format)
        }
        Registered::Existing(stored) => versioned(req, state, StatusCode::OK, stored, format),
    }
}

/// `If-None-Exist: identifier=[system|]value` (FHIR conditional create).
fn if_none_exist(req: &HttpRequest) -> Result<Option<IdentifierToken>, Error> {
    let Some(value) = req.headers().get("If-None-Exist") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Error::InvalidParameter("If-None-Exist is not readable text".into()))?;
    let text = text.trim_start_matches('?');
    let pairs = negotiate::url_pairs(text);
    match pairs.as_slice() {
        [(name, v)] if name == "identifier" && !v.is_empty() => IdentifierToken::parse(v)
            .map(Some)
            .map_err(|why| Error::InvalidParameter(format!("If-None-Exist: identifier {why}"))),
        _ => Err(Error::InvalidParameter(format!(
            "If-None-Exist '{text}' is not supported: use identifier=system|value"
        ))),
    }
}

/// `GET /Appointment/{id}` (the id as `http::variable_paths` decoded it).
pub async fn read(req: &HttpRequest, id: String, state: &AppState) -> HttpResponse {
    answer(req, state, service::read::current(&state.store, id)).await
}

/// `GET /Appointment/{id}/_history/{vid}`.
pub async fn vread(req: &HttpRequest, id: String, vid: String, state: &AppState) -> HttpResponse {
    answer(req, state, service::read::version(&state.store, id, &vid)).await
}

/// Shared shape of the reads: negotiate, authorise, look up, answer with the version's headers.
pub(super) async fn answer(
    req: &HttpRequest,
    state: &AppState,
    lookup: impl std::future::Future<Output = Result<StoredVersion, Error>>,
) -> HttpResponse {
    respond::negotiated(req, Format::Json, |format| async move {
        caller::authorise(req, state, Access::Read).await?;
        let stored = lookup.await?;
        versioned(req, state, StatusCode::OK, stored, format)
    })
    .await
}
