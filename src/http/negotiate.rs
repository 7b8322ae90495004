//! Content negotiation: the request's format from `Content-Type`, the response's from
//! `_format` (which wins) or `Accept`, else a default.

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::error::Error;

pub use crate::fhir::Format;

/// Media types accepted in `Content-Type`: STU3 names, plain JSON/XML, and the DSTU2 names.
fn media_format(media: &str) -> Option<Format> {
    match media {
        "application/fhir+json" | "application/json" | "application/json+fhir" => {
            Some(Format::Json)
        }
        "application/fhir+xml" | "application/xml" | "application/xml+fhir" => Some(Format::Xml),
        _ => None,
    }
}

/// Splits `type/subtype; k=v; …` into the lower-cased media type and its parameters.
fn split_media(text: &str) -> (String, Vec<(String, String)>) {
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            ))
        })
        .collect();
    (media, params)
}

/// The format of the request body. Missing or unsupported media type, or a charset other than
/// UTF-8, is a 415.
pub fn request_format(req: &HttpRequest) -> Result<Format, Error> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(Error::UnsupportedMediaType(
            "Content-Type is required: application/fhir+json or application/fhir+xml".into(),
        ));
    };
    let text = value.to_str().unwrap_or("");
    let (media, params) = split_media(text);
    let format = media_format(&media).ok_or_else(|| {
        Error::UnsupportedMediaType(format!(
            "'{media}' is not supported: send application/fhir+json or application/fhir+xml"
        ))
    })?;
    if let Some((_, charset)) = params.iter().find(|(k, _)| k == "charset") {
        if !charset.eq_ignore_ascii_case("utf-8") {
            return Err(Error::UnsupportedMediaType(format!(
                "charset '{charset}' is not supported: FHIR bodies are UTF-8"
            )));
        }
    }
    Ok(format)
}

/// `_format` values FHIR allows, as well as the media types.
fn format_value(value: &str) -> Option<Format> {
    match value.trim().to_ascii_lowercase().as_str() {
        "json" => Some(Format::Json),
        "xml" | "text/xml" => Some(Format::Xml),
        other => media_format(split_media(other).0.as_str()),
    }
}

/// A `_format` value (`json`, `xml`, or a FHIR media type); anything else is a 400.
pub fn format_param(value: &str) -> Result<Format, Error> {
    // A format the registry does not produce is a negotiation failure (406), as for Accept.
    format_value(value).ok_or_else(|| {
        Error::NotAcceptable(format!(
            "_format '{value}' is not a format the registry produces: use json or xml"
        ))
    })
}

/// The response format: `_format` overrides `Accept`; `*/*` or no Accept gives `default`.
///
/// `Accept` is read here rather than with actix-web's typed `header::Accept`, on purpose: the
/// typed header silently drops every item it cannot parse (so `Accept: foo` would look like no
/// Accept and get `default` instead of a 406), refuses sloppy but clear items such as
/// `application/fhir+xml;` or a parameter without `=`, and its `ranked()` puts a specific type
/// before `*/*` at equal q (`*/*, application/fhir+xml` would answer XML, not `default`). The
/// media-type splitter is needed anyway for `Content-Type` and `_format`; the tests below pin
/// these cases.
pub fn response_format(req: &HttpRequest, default: Format) -> Result<Format, Error> {
    format_for(
        req.query_string(),
        req.headers().get(header::ACCEPT),
        default,
    )
}

/// [`response_format`] from the query string and the `Accept` header alone.
pub fn format_for(
    query: &str,
    accept: Option<&header::HeaderValue>,
    default: Format,
) -> Result<Format, Error> {
    // Decoded in place: no owned copy of every pair (the handler decodes them again).
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "_format" {
            return format_param(&v);
        }
    }
    let Some(accept) = accept else {
        return Ok(default);
    };
    let accept = accept.to_str().unwrap_or("");
    // What most clients send (curl, browsers' fetch, load tools), decided without splitting
    // the header into owned parts: the general loop below gives the same answer.
    if matches!(accept.trim(), "" | "*/*") {
        return Ok(default);
    }
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let (media, params) = split_media(item);
        let q = params
            .iter()
            .find(|(k, _)| k == "q")
            .and_then(|(_, v)| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let format = match media.as_str() {
            "*/*" | "application/*" => Some(default),
            "text/xml" => Some(Format::Xml),
            m => media_format(m),
        };
        if let Some(f) = format {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, f));
            }
        }
    }
    best.map(|(_, f)| f).ok_or_else(|| {
        Error::NotAcceptable(format!(
            "cannot produce any of '{accept}': this server answers application/fhir+json or application/fhir+xml"
        ))
    })
}

/// The value of preference `name` in the request's `Prefer` headers (RFC 7240: `k=v` items
/// separated by commas or semicolons, in one header or several), lower-cased and unquoted.
pub fn prefer(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all("Prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|part| part.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase())
}

/// Decoded `k=v` pairs of a query string or form body.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::{response_format, Format};

    fn negotiated(accept: &str) -> Option<Format> {
        let req = TestRequest::default()
            .insert_header(("Accept", accept))
            .to_http_request();
        response_format(&req, Format::Json).ok()
    }

    #[test]
    fn accept_edge_cases_the_typed_header_would_change() {
        // At equal q the first listed wins, a wildcard included.
        assert_eq!(negotiated("*/*, application/fhir+xml"), Some(Format::Json));
        assert_eq!(negotiated("application/fhir+xml, */*"), Some(Format::Xml));
        // Nothing usable is a 406, not "no preference".
        assert_eq!(negotiated("foo"), None);
        assert_eq!(negotiated("text/html"), None);
        // Sloppy parameters are tolerated.
        assert_eq!(negotiated("application/fhir+xml;"), Some(Format::Xml));
        assert_eq!(
            negotiated("application/fhir+xml; charset"),
            Some(Format::Xml)
        );
        // q decides; q=0 excludes.
        assert_eq!(
            negotiated("application/fhir+json;q=0.5, application/fhir+xml"),
            Some(Format::Xml)
        );
        assert_eq!(negotiated("application/fhir+xml;q=0"), None);
        assert_eq!(negotiated(""), Some(Format::Json));
    }
}
