//! Who is calling: the JWT's claims (checked before any body is read) and the TLS client
//! certificate's subject captured when the connection was accepted.

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

pub fn authorise(req: &HttpRequest, state: &AppState, access: Access) -> Result<Caller, Error> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let caller = state.verifier.verify(header, access).map_err(|e| match e {
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

pub fn author(req: &HttpRequest, caller: &Caller) -> Author {
    Author {
        org: caller.org.clone(),
        asid: caller.system.clone(),
        cert_subject: req
            .conn_data::<PeerCertificate>()
            .and_then(|c| c.subject.clone()),
    }
}
