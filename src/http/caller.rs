//! Who is calling: the JWT's claims (checked before any body is read) and the TLS client
//! certificate's subject captured when the connection was accepted.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};

use crate::auth::{Access, AuthError, Caller};
use crate::error::Error;
use crate::store::Author;

use super::AppState;

/// The client certificate's subject, stored per connection by `app::on_connect`.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    pub subject: Option<String>,
}

/// The request's Authorization header: the only place it is read. More than one is refused
/// rather than picking one (a proxy and the registry could otherwise see different callers).
fn authorization_header(req: &HttpRequest) -> Result<Option<&str>, AuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader(
            "the request has more than one Authorization header".to_string(),
        ));
    }
    // Not visible ASCII: the scheme check refuses the replacement character.
    Ok(first.map(|v| visible_ascii(v.as_bytes()).unwrap_or("\u{fffd}")))
}

/// The text of a header value made only of visible ASCII, tab and space: what
/// `HeaderValue::to_str` accepts, checked without a branch per byte (a token is hundreds of
/// bytes and this runs on every request).
fn visible_ascii(bytes: &[u8]) -> Option<&str> {
    let visible = bytes.iter().fold(true, |ok, &b| {
        ok & ((b.wrapping_sub(0x20) < 0x5f) | (b == b'\t'))
    });
    visible.then(|| std::str::from_utf8(bytes).ok()).flatten()
}

pub async fn authorise(
    req: &HttpRequest,
    state: &AppState,
    access: Access,
) -> Result<Arc<Caller>, Error> {
    let verified = match authorization_header(req) {
        Ok(header) => state.verifier.verify_fetching(header, access).await,
        Err(e) => Err(e),
    };
    let caller = verified.map_err(|e| match e {
        AuthError::MissingHeader | AuthError::MalformedHeader(_) => {
            Error::MissingOrInvalidHeader(e.to_string())
        }
        AuthError::InvalidToken(_) => Error::AccessDenied(e.to_string()),
        AuthError::InsufficientScope(_) => Error::InsufficientScope(e.to_string()),
    })?;
    // For the access log: who it was, once the request is done.
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

/// A writer's prelude: who is asking (with write access) comes before anything about what they
/// sent, then the body's format.
pub async fn authorise_write(
    req: &HttpRequest,
    state: &AppState,
    body_format: Result<crate::fhir::Format, Error>,
) -> Result<(Arc<Caller>, crate::fhir::Format), Error> {
    let caller = authorise(req, state, Access::Write).await?;
    Ok((caller, body_format?))
}

pub fn author(req: &HttpRequest, caller: &Caller) -> Author {
    Author {
        org: caller.org.clone(),
        asid: caller.system.clone(),
        cert_subject: req
            .conn_data::<PeerCertificate>()
            .and_then(|c| c.subject.clone()),
    }
}
