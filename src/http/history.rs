//! `GET /Appointment/{id}/_history`: every version, newest first, as a history Bundle.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::appointment::check_id;
use super::bundle::{self, Entry};
use super::negotiate::{self, Format};
use super::{caller, respond, AppState};
use crate::auth::Access;
use crate::error::Error;
use crate::store::read;

pub async fn instance(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let format = match negotiate::response_format(&req, Format::Json) {
        Ok(f) => f,
        Err(e) => return respond::error(&e, Format::Json),
    };
    match history(&req, path.into_inner(), &state).await {
        Ok(bundle) => respond::resource(HttpResponse::Ok(), &bundle, format),
        Err(e) => respond::error(&e, format),
    }
}

async fn history(req: &HttpRequest, id: String, state: &AppState) -> Result<Value, Error> {
    caller::authorise(req, state, Access::Read)?;
    check_id(&id)?;
    let base = format!("{}/Appointment/{id}", state.base_url);
    let versions = state.store.read(move |c| read::history(c, &id)).await?;
    if versions.is_empty() {
        return Err(Error::NotFound(
            "no appointment with that id is registered".into(),
        ));
    }
    let entries = versions
        .into_iter()
        .map(|v| {
            let resource: Value = serde_json::from_str(&v.resource).map_err(Error::internal)?;
            // STU3: fullUrl is the resource's URL; the version's own URL goes in request.url.
            // Version 1 came from the registration (POST), later ones from PUT.
            let method = if v.version == 1 { "POST" } else { "PUT" };
            Ok(Entry {
                full_url: base.clone(),
                resource,
                search_mode: None,
                request: Some((method, format!("{base}/_history/{}", v.version))),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let links = [("self", format!("{base}/_history"))];
    Ok(bundle::bundle(
        "history",
        Some(entries.len()),
        &links,
        entries,
    ))
}
