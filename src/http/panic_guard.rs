//! A panic in a handler answers 500 with an OperationOutcome instead of dropping the
//! connection unanswered. Panics are bugs; this keeps one from also being a silent hang-up for
//! the client (and an access-log line and metric are still written for it).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header;
use futures_util::FutureExt;

use super::negotiate::{self, Format};
use super::respond;
use crate::error::Error;

pub fn guard<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    // The request itself goes to the handler (actix forbids cloning it before routing), so
    // what the answer's format depends on is kept now, and the format decided only on a panic.
    let query = req.query_string();
    let query = (!query.is_empty()).then(|| query.to_owned());
    let accept = req.headers().get(header::ACCEPT).cloned();
    let call = AssertUnwindSafe(srv.call(req)).catch_unwind();
    async move {
        call.await.unwrap_or_else(|_| {
            let format = negotiate::format_for(
                query.as_deref().unwrap_or(""),
                accept.as_ref(),
                Format::Json,
            )
            .unwrap_or(Format::Json);
            // The panic hook has already logged the message and location; actix turns this
            // error into the response it carries.
            let response = respond::error(&Error::internal("a handler panicked"), format);
            Err(InternalError::from_response("a handler panicked", response).into())
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App};

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_with_an_operation_outcome() {
        let app = test::init_service(
            App::new()
                .wrap_fn(super::guard)
                .route(
                    "/boom",
                    web::get().to(|| async {
                        if true {
                            panic!("boom");
                        }
                        "unreachable"
                    }),
                )
                .route("/fine", web::get().to(|| async { "fine" })),
        )
        .await;
        // actix turns the error into the response it carries, as the server does on the wire.
        let err = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .expect_err("the panic becomes an error carrying its response");
        let response = err.error_response();
        assert_eq!(response.status(), 500);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["resourceType"], "OperationOutcome");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["code"],
            "INTERNAL_SERVER_ERROR"
        );
        // The service goes on answering.
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(response.status(), 200);
    }

    /// The answer to a panic is in the format the request asked for, by `_format` or by
    /// `Accept`, though the format is decided only after the request went to the handler.
    #[actix_web::test]
    async fn a_panics_answer_is_in_the_format_asked_for() {
        let app = test::init_service(App::new().wrap_fn(super::guard).route(
            "/boom",
            web::get().to(|| async {
                if true {
                    panic!("boom");
                }
                "unreachable"
            }),
        ))
        .await;
        for (uri, accept, xml) in [
            ("/boom?_format=xml", None, true),
            (
                "/boom?_format=application/fhir%2Bxml",
                Some("application/fhir+json"),
                true,
            ),
            ("/boom", Some("application/fhir+xml"), true),
            ("/boom", Some("*/*"), false),
            ("/boom?_format=json", Some("application/fhir+xml"), false),
        ] {
            let mut request = test::TestRequest::get().uri(uri);
            if let Some(accept) = accept {
                request = request.insert_header(("Accept", accept));
            }
            let err = test::try_call_service(&app, request.to_request())
                .await
                .expect_err("the panic becomes an error carrying its response");
            let response = err.error_response();
            let body = actix_web::body::to_bytes(response.into_body())
                .await
                .unwrap();
            let text = String::from_utf8(body.to_vec()).unwrap();
            assert_eq!(
                text.starts_with("<OperationOutcome") || text.starts_with("<?xml"),
                xml,
                "{uri} {accept:?}: {text}"
            );
        }
    }
}
