//! A request body the registry did not read to the end closes the connection once the answer
//! is sent; it is never drained.
//!
//! actix-http drains a dropped *chunked* body to keep the connection alive, with no deadline: a
//! client trickling chunks (before authentication, or past `server.body_timeout_ms`) would hold
//! the connection for as long as it liked. actix-http closes instead when the body is still
//! unread but *not dropped* at the moment the response ends. So this middleware keeps the
//! original body alive inside the response body: handlers read it through a shared handle, and
//! it is dropped only with the response, after actix has decided to close.
//! A body read to the end changes nothing: keep-alive works as before.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

pub fn hold<S, B>(
    mut req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<HeldBody>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let original = Rc::new(RefCell::new(req.take_payload()));
    req.set_payload(Payload::Stream {
        payload: Box::pin(Shared(original.clone())),
    });
    let call = srv.call(req);
    async move {
        let response = call.await?.map_into_boxed_body();
        Ok(response.map_body(|_, body| HeldBody {
            body,
            _request_body: original,
        }))
    }
}

/// The request body as handlers see it: the original, read through a shared handle.
struct Shared(Rc<RefCell<Payload>>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// A response body that keeps the request body alive until the response has been sent.
pub struct HeldBody {
    body: BoxBody,
    _request_body: Rc<RefCell<Payload>>,
}

impl MessageBody for HeldBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}
