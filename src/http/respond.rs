//! Turning resources and errors into HTTP responses in the negotiated format.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde_json::Value;

use super::negotiate::{self, Format};
use crate::error::Error;
use crate::{fhir, outcome};

/// A resource body in `format`. `canonical_json` may carry the bytes already written (stored
/// versions are canonical JSON), which spares a re-serialisation.
pub fn body(resource: &Value, format: Format) -> Vec<u8> {
    match format {
        Format::Json => fhir::write_json(resource),
        Format::Xml => fhir::write_xml(resource),
    }
}

/// The shape every FHIR handler shares: negotiate the answer's format (a refusal to do so is
/// answered in JSON), run `work` with it, and answer any error as an OperationOutcome in that
/// format.
pub async fn negotiated<F, Fut>(req: &HttpRequest, default: Format, work: F) -> HttpResponse
where
    F: FnOnce(Format) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, Error>>,
{
    let format = match negotiate::response_format(req, default) {
        Ok(f) => f,
        Err(e) => return error(&e, Format::Json),
    };
    work(format).await.unwrap_or_else(|e| error(&e, format))
}

/// The shape of the handlers that take a resource body (create, update): the answer's format
/// defaults to the body's, and `work` gets both — the body's still as a `Result`, so that an
/// unsupported `Content-Type` is refused only after the caller is authorised.
pub async fn negotiated_with_body<F, Fut>(req: &HttpRequest, work: F) -> HttpResponse
where
    F: FnOnce(Format, Result<Format, Error>) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, Error>>,
{
    let request_format = negotiate::request_format(req);
    let default = *request_format.as_ref().unwrap_or(&Format::Json);
    negotiated(req, default, |format| work(format, request_format)).await
}

/// A body already written in `format`.
pub fn bytes(mut builder: HttpResponseBuilder, body: Vec<u8>, format: Format) -> HttpResponse {
    builder
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .body(body)
}

pub fn resource(
    mut builder: HttpResponseBuilder,
    resource: &Value,
    format: Format,
) -> HttpResponse {
    builder
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .body(body(resource, format))
}

/// An error as an OperationOutcome. A 500 logs its cause here and tells the client nothing more.
pub fn error(err: &Error, format: Format) -> HttpResponse {
    if err.status() == 500 {
        log::error!("internal error: {}", err.chain());
    }
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    if let Error::RequestTimeout(_) = err {
        // The rest of the body may still be trickling in: say the connection closes (it does:
        // see `unread_body`).
        builder.force_close();
    }
    // RFC 6750 §3: say why the bearer token failed; an authorisation refusal of a good token
    // (another organisation's appointment) is not a token problem and gets no challenge.
    let challenge = match err {
        Error::MissingOrInvalidHeader(_) => Some("Bearer"),
        Error::AccessDenied(_) => Some("Bearer error=\"invalid_token\""),
        Error::InsufficientScope(_) => Some("Bearer error=\"insufficient_scope\""),
        _ => None,
    };
    if let Some(challenge) = challenge {
        builder.insert_header((header::WWW_AUTHENTICATE, challenge));
    }
    resource(builder, &outcome::from_error(err), format)
}

/// `Last-Modified` from a stored `YYYY-MM-DDTHH:MM:SS.mmmZ` time.
pub fn http_date(last_updated: &str) -> Option<String> {
    let at = crate::registry::instant::parse(last_updated).ok()?;
    let system: std::time::SystemTime = at.into();
    Some(header::HttpDate::from(system).to_string())
}
