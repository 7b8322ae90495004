//! A panic in a handler answers 500 with an OperationOutcome instead of dropping the
//! connection unanswered. Panics are bugs; this keeps one from also being a silent hang-up for
//! the client (and an access-log line and metric are still written for it).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
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
    // The request itself goes to the handler (actix forbids cloning it before routing), so the
    // answer's format is decided now.
    let format = negotiate::response_format(req.request(), Format::Json).unwrap_or(Format::Json);
    let call = AssertUnwindSafe(srv.call(req)).catch_unwind();
    async move {
        call.await.unwrap_or_else(|_| {
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
}
