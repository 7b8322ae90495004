//! `GET /Appointment?…` and `POST /Appointment/_search` (RULES.md §4).

use actix_web::{HttpRequest, HttpResponse};

pub async fn search_get(req: HttpRequest) -> HttpResponse {
    super::not_implemented(&req)
}

pub async fn search_post(req: HttpRequest) -> HttpResponse {
    super::not_implemented(&req)
}
