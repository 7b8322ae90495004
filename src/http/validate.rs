//! `POST /Appointment/$validate`: what a registration of the body would meet, without storing
//! anything; `200` with an OperationOutcome listing every issue.

use actix_web::{web, HttpRequest, HttpResponse};

use super::negotiate::Format;
use super::{body, caller, respond, AppState};
use crate::error::Error;
use crate::{outcome, service};

pub async fn validate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    respond::negotiated_with_body(&req, |format, body_format| {
        run(&req, payload, &state, body_format, format)
    })
    .await
}

async fn run(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    body_format: Result<Format, Error>,
    format: Format,
) -> Result<HttpResponse, Error> {
    // Validating is checking a write: the same scope as registering.
    let (_, body_format) = caller::authorise_write(req, state, body_format).await?;
    let bytes = body::read(req, payload, state.body_limits).await?;
    let report = service::validate::validate(&state.store, &bytes, body_format).await?;
    let outcome = outcome::validation_report(&report.errors, &report.warnings);
    Ok(respond::resource(HttpResponse::Ok(), &outcome, format))
}
