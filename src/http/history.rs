//! `GET /Appointment/{id}/_history`: every version, newest first, as a history Bundle.

use actix_web::{HttpRequest, HttpResponse};

pub async fn instance(req: HttpRequest) -> HttpResponse {
    super::not_implemented(&req)
}
