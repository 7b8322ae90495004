//! The answer about one stored version of an appointment (create, read, vread, cancel):
//! Location, Content-Location, ETag, Last-Modified, and a body shaped by `Prefer`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::negotiate::Format;
use super::{respond, AppState};
use crate::error::Error;
use crate::store::StoredVersion;
use crate::{outcome, spine::SpineCode};

/// A response about one stored version: Location, Content-Location, ETag, Last-Modified, and a
/// body shaped by `Prefer`.
pub fn versioned(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    stored: StoredVersion,
    format: Format,
) -> Result<HttpResponse, Error> {
    let location = super::appointment_url(&state.base_url, &stored.id);
    let version = stored.version.to_string();
    let mut content_location = String::with_capacity(location.len() + 10 + version.len());
    content_location.push_str(&location);
    content_location.push_str("/_history/");
    content_location.push_str(&version);
    let mut etag = String::with_capacity(version.len() + 4);
    etag.push_str("W/\"");
    etag.push_str(&version);
    etag.push('"');
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::LOCATION, location))
        .insert_header((header::CONTENT_LOCATION, content_location))
        .insert_header((header::ETAG, etag));
    if let Some(date) = respond::http_date(&stored.last_updated) {
        builder.insert_header((header::LAST_MODIFIED, date));
    }
    let prefer = (req.method() != actix_web::http::Method::GET)
        .then(|| prefer_return(req))
        .flatten();
    match prefer {
        Some(PreferReturn::Minimal) => Ok(builder.finish()),
        Some(PreferReturn::OperationOutcome) => {
            // What happened, in Spine's words: created, updated, or (conditional create)
            // nothing, because the appointment was already registered.
            let (code, what) = match (req.method().as_str(), status) {
                ("PUT", _) => (SpineCode::ResourceUpdated, "updated to"),
                (_, StatusCode::CREATED) => (SpineCode::ResourceCreated, "created as"),
                _ => (SpineCode::DuplicateRejected, "already registered as"),
            };
            let outcome = outcome::information(
                code,
                &format!(
                    "appointment {} {what} version {}",
                    stored.id, stored.version
                ),
            );
            Ok(respond::resource(builder, &outcome, format))
        }
        None => Ok(match format {
            // The stored text is canonical JSON already: send it as it is.
            Format::Json => builder
                .insert_header((header::CONTENT_TYPE, respond::content_type(format)))
                .body(stored.resource),
            Format::Xml => {
                let value: Value = serde_json::from_str(&stored.resource)
                    .map_err(|e| Error::caused("reading a stored resource", e))?;
                respond::resource(builder, &value, format)
            }
        }),
    }
}

enum PreferReturn {
    Minimal,
    OperationOutcome,
}

/// `Prefer: return=minimal | representation | OperationOutcome` (representation is the default).
fn prefer_return(req: &HttpRequest) -> Option<PreferReturn> {
    match super::negotiate::prefer(req, "return")?.as_str() {
        "minimal" => Some(PreferReturn::Minimal),
        "operationoutcome" => Some(PreferReturn::OperationOutcome),
        _ => None,
    }
}
