//! The HTTP face of the registry: routing, negotiation, and turning results into responses.
//! Nothing below this module knows about actix.

pub mod access_log;
pub mod appointment;
pub mod body;
pub mod bundle;
pub mod caller;
pub mod cancel;
pub mod health;
pub mod history;
pub mod metadata;
pub mod negotiate;
pub mod panic_guard;
pub mod respond;
pub mod search;
pub mod unread_body;
pub mod validate;
pub mod version_response;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::Verifier;
use std::sync::Arc;

use crate::error::Error;
use crate::metrics::Metrics;
use crate::store::Store;
use negotiate::Format;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub verifier: Verifier,
    /// Absolute base URL without a trailing slash.
    pub base_url: String,
    /// Largest body and the deadline for receiving it.
    pub body_limits: body::BodyLimits,
    pub metrics: Arc<Metrics>,
    pub page_sizes: crate::registry::search::PageSizes,
}

/// `{base_url}/Appointment/{id}`. Appended rather than formatted: `format!` cost over a
/// thousand instructions a URL, and a search page builds one per entry.
pub fn appointment_url(base_url: &str, id: &str) -> String {
    const PATH: &str = "/Appointment/";
    let mut url = String::with_capacity(base_url.len() + PATH.len() + id.len());
    url.push_str(base_url);
    url.push_str(PATH);
    url.push_str(id);
    url
}

/// A resource of the route table that tells the access log its pattern when it answers (see
/// `access_log::route_taken`), so the log need not match the path against the whole table
/// again: for `/Appointment/{id}` that second match, a regex with captures, cost a read by id
/// about 4,500 instructions.
fn resource(
    pattern: &'static str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use actix_web::dev::Service as _;
    web::resource(pattern).wrap_fn(move |req, srv| {
        access_log::route_taken(req.request(), pattern);
        srv.call(req)
    })
}

/// The route table's paths without a variable segment, matched by the table's resources before
/// its default service, `variable_paths` (for `/_health`, `/_ready` and `/_metrics`, GET only:
/// their other methods reach `variable_paths`, which answers 404 as it does for any path it
/// does not take). The `paths` fuzz target's oracle skips them.
pub const STATIC_PATHS: [&str; 8] = [
    HEALTH,
    READY,
    METRICS,
    METADATA,
    APPOINTMENT,
    VALIDATE,
    SEARCH,
    TYPE_HISTORY,
];
const HEALTH: &str = "/_health";
const READY: &str = "/_ready";
const METRICS: &str = "/_metrics";
const METADATA: &str = "/metadata";
const APPOINTMENT: &str = "/Appointment";
const VALIDATE: &str = "/Appointment/$validate";
const SEARCH: &str = "/Appointment/_search";
const TYPE_HISTORY: &str = "/Appointment/_history";

/// The router. `metadata.rs` describes these same routes in the CapabilityStatement, and a
/// test walks both so they cannot drift apart.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(HEALTH, web::get().to(health::health))
        .route(READY, web::get().to(health::ready))
        .route(METRICS, web::get().to(health::metrics))
        .service(
            resource(METADATA)
                .route(web::get().to(metadata::capability_statement))
                .default_service(web::to(not_allowed("GET"))),
        )
        .service(
            resource(APPOINTMENT)
                .route(web::post().to(appointment::create))
                .route(web::get().to(search::search_get))
                .default_service(web::to(not_allowed("GET, POST"))),
        )
        .service(
            resource(VALIDATE)
                .route(web::post().to(validate::validate))
                .default_service(web::to(not_allowed("POST"))),
        )
        .service(
            resource(SEARCH)
                .route(web::post().to(search::search_post))
                .default_service(web::to(not_allowed("POST"))),
        )
        // Type-level history is not offered: answer as for any unknown path, not as a bad id.
        .service(resource(TYPE_HISTORY).to(not_found))
        // The paths with a variable segment, and then anything else (404): `variable_paths`.
        .default_service(web::to(variable_paths));
}

/// The patterns `variable_route` matches by hand, as the access log and metrics name them.
pub const BY_ID: &str = "/Appointment/{id}";
pub const HISTORY: &str = "/Appointment/{id}/_history";
pub const VERSION: &str = "/Appointment/{id}/_history/{vid}";
pub const SEARCH_PARAMETER: &str = "/SearchParameter/{id}";

/// A path one of the routes with a variable segment takes: its pattern (as the access log and
/// metrics name it) and its segments, decoded.
#[derive(Debug, PartialEq)]
pub struct VariableRoute {
    pub pattern: &'static str,
    pub id: String,
    pub vid: Option<String>,
}

/// The routes with a variable segment — `/Appointment/{id}`, `/Appointment/{id}/_history`,
/// `/Appointment/{id}/_history/{vid}` and `/SearchParameter/{id}` — matched by splitting the
/// path rather than by the route table: actix tries each variable pattern of the table in turn
/// with a regex with captures, which cost a read by id about 4,500 instructions
/// (bench/RESULTS.md, round 6). `path` is the path actix routes on (`match_info().as_str()`);
/// a segment is what `[^/]+` would take from it, decoded as `web::Path` decodes one. The
/// static paths that look like ids (`_search`, `$validate`, `_history`) are resources of the
/// table, matched before this. The `paths` fuzz target holds this to actix's own matching.
pub fn variable_route(path: &str) -> Option<VariableRoute> {
    let (prefix, rest) = if let Some(rest) = path.strip_prefix("/Appointment/") {
        ("/Appointment/", rest)
    } else if let Some(rest) = path.strip_prefix("/SearchParameter/") {
        ("/SearchParameter/", rest)
    } else {
        return None;
    };
    let mut segments = rest.split('/');
    let parts = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    );
    let non_empty = |s: &str| !s.is_empty();
    let (pattern, id, vid) = match (prefix, parts) {
        ("/Appointment/", (Some(id), None, None, None)) if non_empty(id) => (BY_ID, id, None),
        ("/Appointment/", (Some(id), Some("_history"), None, None)) if non_empty(id) => {
            (HISTORY, id, None)
        }
        ("/Appointment/", (Some(id), Some("_history"), Some(vid), None))
            if non_empty(id) && non_empty(vid) =>
        {
            (VERSION, id, Some(vid))
        }
        ("/SearchParameter/", (Some(id), None, None, None)) if non_empty(id) => {
            (SEARCH_PARAMETER, id, None)
        }
        _ => return None,
    };
    Some(VariableRoute {
        pattern,
        id: path_segment(id),
        vid: vid.map(path_segment),
    })
}

/// The table's default service: a route of [`variable_route`], else not found.
async fn variable_paths(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    use actix_web::http::Method;
    let Some(route) = variable_route(req.match_info().as_str()) else {
        return not_found(req).await;
    };
    access_log::route_taken(&req, route.pattern);
    let VariableRoute { pattern, id, vid } = route;
    let method = req.method();
    match (pattern, vid) {
        (BY_ID, _) if method == Method::GET => appointment::read(&req, id, &state).await,
        (BY_ID, _) if method == Method::PUT => cancel::update(&req, id, payload, &state).await,
        (BY_ID, _) => not_allowed("GET, PUT")(req).await,
        (HISTORY, _) if method == Method::GET => history::instance(&req, id, &state).await,
        (VERSION, Some(vid)) if method == Method::GET => {
            appointment::vread(&req, id, vid, &state).await
        }
        (SEARCH_PARAMETER, _) if method == Method::GET => {
            metadata::search_parameter(&req, id, &state).await
        }
        _ => not_allowed("GET")(req).await,
    }
}

/// A path segment decoded as actix's `web::Path<String>` decodes one: every `%XX`, and bytes
/// that are not UTF-8 as U+FFFD. (Most have no `%` at all: no decoder then.)
fn path_segment(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    match actix_router::Quoter::new(b"", b"").requote(segment.as_bytes()) {
        Some(decoded) => String::from_utf8_lossy(&decoded).into_owned(),
        None => segment.to_owned(),
    }
}

fn not_allowed(
    allow: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<HttpResponse> + Clone {
    move |req: HttpRequest| {
        let format = negotiate::response_format(&req, Format::Json).unwrap_or(Format::Json);
        let err = Error::MethodNotAllowed(format!(
            "{} is not supported here; allowed: {allow}",
            req.method()
        ));
        let mut response = respond::error(&err, format);
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        std::future::ready(response)
    }
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    let format = negotiate::response_format(&req, Format::Json).unwrap_or(Format::Json);
    let err = Error::NotFound(format!("there is nothing at {}", req.path()));
    respond::error(&err, format)
}
