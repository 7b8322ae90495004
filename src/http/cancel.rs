//! `PUT /Appointment/{id}`: version-aware cancel (RULES.md §3). This layer reads what HTTP
//! carries (token, media type, If-Match, body); `service::cancel` does the rest.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::negotiate::Format;
use super::version_response::versioned;
use super::{body, caller, respond, AppState};
use crate::error::Error;
use crate::service;
use crate::service::cancel::CancelRequest;

/// `PUT /Appointment/{id}` (the id as `http::variable_paths` decoded it).
pub async fn update(
    req: &HttpRequest,
    id: String,
    payload: web::Payload,
    state: &AppState,
) -> HttpResponse {
    respond::negotiated_with_body(req, |format, body_format| {
        cancel(req, id, payload, state, body_format, format)
    })
    .await
}

async fn cancel(
    req: &HttpRequest,
    id: String,
    payload: web::Payload,
    state: &AppState,
    body_format: Result<Format, Error>,
    format: Format,
) -> Result<HttpResponse, Error> {
    let (caller, body_format) = caller::authorise_write(req, state, body_format).await?;
    let if_match = if_match(req)?;
    let bytes = body::read(req, payload, state.body_limits).await?;
    let request = CancelRequest {
        id,
        if_match,
        body: &bytes,
        format: body_format,
        caller_org: caller.org.clone(),
    };
    let stored = service::cancel::cancel(&state.store, request).await?;
    state.metrics.cancellations.inc();
    versioned(req, state, StatusCode::OK, stored, format)
}

/// `If-Match: W/"n"` (or `"n"`): the version the client read. Missing or malformed → 412.
///
/// The tag grammar (`W/` weakness prefix, quotes, allowed characters) is actix-web's
/// [`header::EntityTag`] parser. The typed [`header::IfMatch`] is deliberately not used: it merges repeated
/// headers into one list and silently drops items it cannot parse, so `W/"1", junk` or
/// `W/"1", W/"2"` would pass as a precondition. A version-aware update needs exactly one version,
/// so the one header value must be exactly one tag.
fn if_match(req: &HttpRequest) -> Result<i64, Error> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(Error::PreconditionFailed(
            "If-Match is required: send W/\"{versionId}\" of the version you read".into(),
        ));
    };
    let text = value.to_str().unwrap_or("").trim();
    // Weak or strong alike: FHIR clients send `W/"n"`, and a version id compares as weak.
    text.parse::<header::EntityTag>()
        .ok()
        .map(|tag| tag.tag().to_owned())
        .filter(|n| !n.is_empty() && n.len() <= 18 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Error::PreconditionFailed(format!(
                "If-Match '{text}' is not a version tag: send W/\"{{versionId}}\" of the version you read"
            ))
        })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    fn version(values: &[&str]) -> Option<i64> {
        let mut req = TestRequest::default();
        for v in values {
            req = req.append_header(("If-Match", *v));
        }
        super::if_match(&req.to_http_request()).ok()
    }

    #[test]
    fn one_weak_or_strong_version_tag_and_nothing_else() {
        assert_eq!(version(&["W/\"1\""]), Some(1));
        assert_eq!(version(&["\"12\""]), Some(12));
        assert_eq!(version(&[" W/\"3\" "]), Some(3));
        // The first header is the one read, as before.
        assert_eq!(version(&["W/\"4\"", "W/\"5\""]), Some(4));
        for bad in [
            "",
            "*",
            "W/1",
            "1",
            "w/\"1\"",
            "W/ \"1\"",
            "W/\"\"",
            "\"\"",
            "\"",
            "W/\"",
            "W/\"0\"",
            "W/\"x\"",
            "W/\"-1\"",
            "W/\"1\", W/\"2\"",
            "W/\"1\", junk",
            "W/\"1\",",
            "W/\"1234567890123456789\"",
        ] {
            assert_eq!(version(&[bad]), None, "{bad}");
        }
        assert_eq!(version(&[]), None);
    }
}
