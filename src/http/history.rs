//! `GET /Appointment/{id}/_history`: every version, newest first, as a history Bundle.

use actix_web::{web, HttpRequest, HttpResponse};

use super::bundle::{self, Entry};
use super::negotiate::Format;
use super::{caller, respond, AppState};
use crate::auth::Access;
use crate::error::Error;
use crate::service;

pub async fn instance(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (req, state) = (&req, &state);
    respond::negotiated(req, Format::Json, |format| async move {
        let body = history(req, path.into_inner(), state, format).await?;
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
    caller::authorise(req, state, Access::Read)?;
    let base = format!("{}/Appointment/{id}", state.base_url);
    let versions = service::read::history(&state.store, id).await?;
    let entries = versions
        .into_iter()
        .map(|v| {
            // STU3: fullUrl is the resource's URL; the version's own URL goes in request.url.
            // Version 1 came from the registration (POST), later ones from PUT.
            let method = if v.version == 1 { "POST" } else { "PUT" };
            Entry {
                full_url: base.clone(),
                resource: v.resource,
                search_mode: None,
                request: Some((method, format!("{base}/_history/{}", v.version))),
            }
        })
        .collect::<Vec<_>>();
    let links = [("self", format!("{base}/_history"))];
    bundle::render("history", Some(entries.len()), &links, entries, format)
}
