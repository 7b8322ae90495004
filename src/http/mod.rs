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
        access_log::route_taken(&req, pattern);
        srv.call(req)
    })
}

/// The router. `metadata.rs` describes these same routes in the CapabilityStatement, and a
/// test walks both so they cannot drift apart.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/_health", web::get().to(health::health))
        .route("/_ready", web::get().to(health::ready))
        .route("/_metrics", web::get().to(health::metrics))
        .service(
            resource("/metadata")
                .route(web::get().to(metadata::capability_statement))
                .default_service(web::to(not_allowed("GET"))),
        )
        .service(
            resource("/SearchParameter/{id}")
                .route(web::get().to(metadata::search_parameter))
                .default_service(web::to(not_allowed("GET"))),
        )
        .service(
            resource("/Appointment")
                .route(web::post().to(appointment::create))
                .route(web::get().to(search::search_get))
                .default_service(web::to(not_allowed("GET, POST"))),
        )
        .service(
            resource("/Appointment/$validate")
                .route(web::post().to(validate::validate))
                .default_service(web::to(not_allowed("POST"))),
        )
        .service(
            resource("/Appointment/_search")
                .route(web::post().to(search::search_post))
                .default_service(web::to(not_allowed("POST"))),
        )
        // Type-level history is not offered: answer as for any unknown path, not as a bad id.
        .service(resource("/Appointment/_history").to(not_found))
        .service(
            resource("/Appointment/{id}")
                .route(web::get().to(appointment::read))
                .route(web::put().to(cancel::update))
                .default_service(web::to(not_allowed("GET, PUT"))),
        )
        .service(
            resource("/Appointment/{id}/_history")
                .route(web::get().to(history::instance))
                .default_service(web::to(not_allowed("GET"))),
        )
        .service(
            resource("/Appointment/{id}/_history/{vid}")
                .route(web::get().to(appointment::vread))
                .default_service(web::to(not_allowed("GET"))),
        )
        .default_service(web::to(not_found));
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

/// Path segments that cannot be decoded (e.g. `%FF`) answer a FHIR 400, not actix's bare 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        let format = negotiate::response_format(req, Format::Json).unwrap_or(Format::Json);
        let response = respond::error(&Error::BadRequest(format!("bad path: {err}")), format);
        actix_web::error::InternalError::from_response(err, response).into()
    })
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    let format = negotiate::response_format(&req, Format::Json).unwrap_or(Format::Json);
    let err = Error::NotFound(format!("there is nothing at {}", req.path()));
    respond::error(&err, format)
}
