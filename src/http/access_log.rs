//! One access-log line and the request metrics per request: method, path (never the query,
//! which can hold NHS numbers), status, latency, the caller's ODS code and ASID, and the
//! client-certificate subject. Never the token or the body. Every field a client chooses is
//! escaped and cut short (`log_escape`), so no request can forge or flood a log line.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{web, HttpMessage};

use super::caller::PeerCertificate;
use super::AppState;
use crate::auth::Caller;
use crate::log_escape::escape;

pub fn observe<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let started = Instant::now();
    let method_label = method_label(req.method());
    let method = escape(req.method().as_str()).into_owned();
    let path = req.path().to_string();
    // Filled in by the resource that answers (`route_taken`); see `route` below.
    let taken = RouteSlot::default();
    req.extensions_mut().insert(taken.clone());
    let cert = req
        .conn_data::<PeerCertificate>()
        .and_then(|c| c.subject.clone());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let call = srv.call(req);
    async move {
        let outcome = call.await;
        let elapsed = started.elapsed();
        // An error (a panic caught by `panic_guard`) is logged and counted like any answer.
        // The pattern of the resource that answered; when none did (or a guard turned the
        // request away from it), the first pattern of the table the path matches, as
        // `match_pattern` gives it, else "unmatched".
        let route: std::borrow::Cow<'static, str> = match (taken.0.get(), &outcome) {
            (Some(pattern), _) => pattern.into(),
            (None, Ok(response)) => response
                .request()
                .match_pattern()
                .map_or("unmatched".into(), Into::into),
            (None, Err(_)) => "unmatched".into(),
        };
        let (status, caller) = match &outcome {
            Ok(response) => (
                response.status().as_u16(),
                response
                    .request()
                    .extensions()
                    .get::<Arc<Caller>>()
                    .cloned(),
            ),
            Err(e) => (e.as_response_error().status_code().as_u16(), None),
        };
        if let Some(state) = state {
            // Label cardinality is bounded by construction: `route` is a pattern from the route
            // table or "unmatched" (never the raw path), `method_label` one of ten constants,
            // and `status` a u16 that actix keeps within 100..=999.
            let status_text = status.to_string();
            state
                .metrics
                .requests
                .with_label_values(&[route.as_ref(), method_label, status_text.as_str()])
                .inc();
            state
                .metrics
                .latency
                .with_label_values(&[route.as_ref()])
                .observe(elapsed.as_secs_f64());
        }
        // Claims and the certificate subject are the caller's text: escaped, so that nothing in
        // them can end the line, forge another, or close the quoted field.
        log::info!(
            target: "access",
            "{method} {} {status} {:.1}ms org={} asid={} cert=\"{}\"",
            escape(&path),
            elapsed.as_secs_f64() * 1000.0,
            escape(caller.as_ref().and_then(|c| c.org.as_deref()).unwrap_or("-")),
            escape(caller.as_ref().and_then(|c| c.system.as_deref()).unwrap_or("-")),
            escape(cert.as_deref().unwrap_or("-")),
        );
        outcome
    }
}

/// Where the resource that answers a request leaves its route pattern for the access log.
#[derive(Clone, Default)]
struct RouteSlot(Rc<Cell<Option<&'static str>>>);

/// Called by a resource of the route table as it takes a request, or by the handler that
/// matches the variable paths itself (`http::variable_paths`): its pattern is the request's
/// route label.
pub fn route_taken(req: &actix_web::HttpRequest, pattern: &'static str) {
    if let Some(slot) = req.extensions().get::<RouteSlot>() {
        slot.0.set(Some(pattern));
    }
}

/// The metrics label for a method: the standard ones by name, any other (a client may send
/// any token as a method) as `OTHER`, so made-up methods cannot grow the metrics without bound.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        for made_up in ["FOO", "X-1", "get", "PROPFIND"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "OTHER", "{made_up}");
        }
    }
}
