//! `GET /Appointment?…` and `POST /Appointment/_search` (RULES.md §4): authorise, gather the
//! parameters, let `service::search` run them, answer with a searchset Bundle.

use std::cell::Cell;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::bundle::{self, Entry};
use super::negotiate::{self, Format};
use super::{body, caller, respond, AppState};
use crate::auth::Access;
use crate::error::Error;
use crate::service;

const FORM: &str = "application/x-www-form-urlencoded";

pub async fn search_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let format = Cell::new(Format::Json);
    let (req, state, fmt) = (&req, &state, &format);
    answer(req, fmt, || async move {
        caller::authorise(req, state, Access::Read)?;
        let pairs = negotiate::url_pairs(req.query_string());
        bundle_for(state, &pairs, fmt.get()).await
    })
    .await
}

/// The form body's parameters are added to the URL's, as FHIR says for `_search`.
pub async fn search_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let format = Cell::new(Format::Json);
    let (req, state, fmt) = (&req, &state, &format);
    answer(req, fmt, || async move {
        caller::authorise(req, state, Access::Read)?;
        let form = body::read_any(req, payload, state.body_limits).await?;
        let mut pairs = negotiate::url_pairs(req.query_string());
        if !form.is_empty() {
            let media = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| v.trim().to_ascii_lowercase());
            if media.as_deref() != Some(FORM) {
                return Err(Error::UnsupportedMediaType(format!(
                    "POST /Appointment/_search takes a {FORM} body"
                )));
            }
            let text = std::str::from_utf8(&form)
                .map_err(|_| Error::BadRequest("the form body is not UTF-8".into()))?;
            let form_pairs = negotiate::url_pairs(text);
            // `_format` may come in the form too; from here on it chooses the answer's format.
            if let Some((_, value)) = form_pairs.iter().find(|(k, _)| k == "_format") {
                fmt.set(negotiate::format_param(value)?);
            }
            pairs.extend(form_pairs);
        }
        bundle_for(state, &pairs, fmt.get()).await
    })
    .await
}

/// Negotiates the format first, so even a refusal comes in the format asked for; `work` may
/// change it (a `_format` in a POST form) and the answer follows.
async fn answer<F, Fut>(req: &HttpRequest, format: &Cell<Format>, work: F) -> HttpResponse
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, Error>>,
{
    match negotiate::response_format(req, Format::Json) {
        Ok(f) => format.set(f),
        Err(e) => return respond::error(&e, Format::Json),
    }
    let result = work().await;
    match result {
        Ok(body) => respond::bytes(HttpResponse::Ok(), body, format.get()),
        Err(e) => respond::error(&e, format.get()),
    }
}

async fn bundle_for(
    state: &AppState,
    pairs: &[(String, String)],
    format: Format,
) -> Result<Vec<u8>, Error> {
    let (query, page) = service::search::search(&state.store, pairs, state.page_sizes).await?;
    // The links keep the URL's _format, so a client following them gets the same format.
    let format_param = pairs.iter().find(|(k, _)| k == "_format").cloned();
    let link = |params: Vec<(&'static str, String)>| {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            form.append_pair(k, v);
        }
        if let Some((k, v)) = &format_param {
            form.append_pair(k, v);
        }
        format!("{}/Appointment?{}", state.base_url, form.finish())
    };
    let mut links = vec![("self", link(query.self_params()))];
    if let (true, Some(last)) = (page.more, page.found.last()) {
        links.push(("next", link(query.next_params(&last.key))));
    }
    let entries = page
        .found
        .into_iter()
        .map(|f| Entry {
            full_url: format!("{}/Appointment/{}", state.base_url, f.key.id),
            resource: f.resource,
            search_mode: Some("match"),
            request: None,
        })
        .collect();
    bundle::render("searchset", Some(page.total), &links, entries, format)
}
