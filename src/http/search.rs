//! `GET /Appointment?…` and `POST /Appointment/_search` (RULES.md §4): authorise, gather the
//! parameters, let `service::search` run them, answer with a searchset Bundle.

use std::cell::Cell;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::bundle::{self, Entry};
use super::negotiate::{self, Format};
use super::{body, caller, respond, AppState};
use crate::auth::Access;
use serde_json::{json, Value};

use crate::error::{Error, Problem};
use crate::registry::search::Handling;
use crate::spine::SpineCode;
use crate::{fhir, outcome, service};

const FORM: &str = "application/x-www-form-urlencoded";

pub async fn search_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let format = Cell::new(Format::Json);
    let (req, state, fmt) = (&req, &state, &format);
    answer(req, fmt, || async move {
        caller::authorise(req, state, Access::Read).await?;
        let pairs = negotiate::url_pairs(req.query_string());
        bundle_for(state, &pairs, fmt.get(), handling(req)).await
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
        caller::authorise(req, state, Access::Read).await?;
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
        bundle_for(state, &pairs, fmt.get(), handling(req)).await
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

/// `Prefer: handling=lenient|strict` (strict when absent).
fn handling(req: &HttpRequest) -> Handling {
    if negotiate::prefer(req, "handling").as_deref() == Some("lenient") {
        Handling::Lenient
    } else {
        Handling::Strict
    }
}

/// The entry that tells a lenient search which parameters it ignored (`search.mode` outcome).
fn ignored_outcome(ignored: &[String]) -> Result<Entry, Error> {
    let problems: Vec<Problem> = ignored
        .iter()
        .map(|name| {
            Problem::new(
                "not-supported",
                SpineCode::InvalidParameter,
                format!("'{name}' is not a search parameter of this registry: ignored (Prefer: handling=lenient)"),
            )
        })
        .collect();
    let mut outcome = outcome::from_problems(&problems);
    for issue in outcome["issue"].as_array_mut().into_iter().flatten() {
        issue["severity"] = json!("warning");
    }
    Ok(Entry {
        full_url: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        resource: String::from_utf8(fhir::write_json(&outcome))
            .map_err(|e| Error::caused("writing an OperationOutcome", e))?,
        search_mode: Some("outcome"),
        request: None,
    })
}

/// Text as `form_urlencoded::Serializer` writes a key or value (a test holds the two to the same
/// bytes), written straight into `out`: the Serializer's byte-by-byte iterators took about
/// 2,800 instructions for a page's self link, most of it the patient's URL (a dozen bytes to
/// escape), about a fiftieth of a search.
fn form_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

async fn bundle_for(
    state: &AppState,
    pairs: &[(String, String)],
    format: Format,
    handling: Handling,
) -> Result<Vec<u8>, Error> {
    let (query, page) =
        service::search::search(&state.store, pairs, state.page_sizes, handling).await?;
    // The links keep the URL's _format, so a client following them gets the same format.
    let format_param = pairs.iter().find(|(k, _)| k == "_format").cloned();
    let link = |params: Vec<(&'static str, String)>| {
        let mut url = String::with_capacity(state.base_url.len() + 160);
        url.push_str(&state.base_url);
        url.push_str("/Appointment?");
        let format_pair = format_param.as_ref().map(|(k, v)| (k.as_str(), v));
        let pairs = params.iter().map(|(k, v)| (*k, v)).chain(format_pair);
        for (i, (k, v)) in pairs.enumerate() {
            if i > 0 {
                url.push('&');
            }
            form_encode(k, &mut url);
            url.push('=');
            form_encode(v, &mut url);
        }
        url
    };
    let mut links = vec![("self", link(query.self_params()))];
    if let Some(last) = &page.next {
        links.push(("next", link(query.next_params(last, page.total))));
    }
    let subset = query.subset();
    // Sized once (collecting Results into a Vec grows it as it goes).
    let mut entries = Vec::with_capacity(page.found.len() + 1);
    for f in page.found {
        let resource = match &subset {
            None => f.resource,
            Some(subset) => {
                let full: Value = serde_json::from_str(&f.resource)
                    .map_err(|e| Error::caused("reading a stored resource", e))?;
                String::from_utf8(fhir::write_json(&fhir::subset::apply(&full, subset)))
                    .map_err(|e| Error::caused("writing a subset", e))?
            }
        };
        entries.push(Entry {
            full_url: super::appointment_url(&state.base_url, &f.id),
            resource,
            search_mode: Some("match"),
            request: None,
        });
    }
    if !query.ignored.is_empty() {
        entries.push(ignored_outcome(&query.ignored)?);
    }
    bundle::render("searchset", page.total, &links, entries, format)
}

#[cfg(test)]
mod tests {
    /// `form_encode` writes what `form_urlencoded` writes, for every byte value and for text
    /// beyond ASCII.
    #[test]
    fn form_encoding_is_form_urlencodeds() {
        let every_ascii: String = (0u8..=127).map(char::from).collect();
        for text in [
            "",
            "https://fhir.nhs.uk/Id/nhs-number|9000000009",
            "ge2030-01-01T10:00:00+01:00",
            "a b&c=d%e+f/g?h#i",
            every_ascii.as_str(),
            "é€😀\u{2028}\u{7f}\u{0}",
        ] {
            let mut ours = String::new();
            super::form_encode(text, &mut ours);
            let theirs: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
}
