//! `GET /Appointment/{id}/_history`: every version, newest first, as a history Bundle.

use actix_web::{HttpRequest, HttpResponse};

use super::bundle::{self, Entry};
use super::negotiate::Format;
use super::{caller, respond, AppState};
use crate::auth::Access;
use crate::error::Error;
use crate::service;

/// `GET /Appointment/{id}/_history` (the id as `http::variable_paths` decoded it).
pub async fn instance(req: &HttpRequest, id: String, state: &AppState) -> HttpResponse {
    respond::negotiated(req, Format::Json, |format| async move {
        let body = history(req, id, state, format).await?;
        Ok(respond::bytes(HttpResponse::Ok(), body, format))
    })
    .await
}

async fn history(
    req: &HttpRequest,
    id: String,
    state: &AppState,
    format: Format,
) -> Result<Vec<u8>, Error> {
    caller::authorise(req, state, Access::Read).await?;
    let base = format!("{}/Appointment/{id}", state.base_url);
    let versions = service::read::history(&state.store, id).await?;
    let entries = versions
        .into_iter()
        .map(|v| {
            // STU3: request.method and request.url are what was sent to make this version:
            // version 1 came from the registration (POST Appointment), later ones from a PUT
            // of Appointment/{id}. fullUrl is the resource's URL.
            let (method, url) = if v.version == 1 {
                ("POST", "Appointment".to_string())
            } else {
                ("PUT", format!("Appointment/{}", v.id))
            };
            Entry {
                full_url: base.clone(),
                resource: v.resource,
                search_mode: None,
                request: Some((method, url)),
            }
        })
        .collect::<Vec<_>>();
    let links = [("self", format!("{base}/_history"))];
    bundle::render("history", Some(entries.len()), &links, entries, format)
}
