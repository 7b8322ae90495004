//! One access-log line and the request metrics per request: method, path (never the query,
//! which can hold NHS numbers), status, latency, the caller's ODS code and ASID, and the
//! client-certificate subject, escaped (`log_escape`). Never the token or the body.

use std::future::Future;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
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
    let method = req.method().to_string();
    let path = req.path().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let cert = req
        .conn_data::<PeerCertificate>()
        .and_then(|c| c.subject.clone());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let call = srv.call(req);
    async move {
        let response = call.await?;
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let caller = response.request().extensions().get::<Caller>().cloned();
        if let Some(state) = state {
            let status_text = status.to_string();
            state
                .metrics
                .requests
                .with_label_values(&[route.as_str(), method.as_str(), status_text.as_str()])
                .inc();
            state
                .metrics
                .latency
                .with_label_values(&[route.as_str()])
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
        Ok(response)
    }
}
