//! `PUT /Appointment/{id}`: version-aware cancel (RULES.md §3).

use actix_web::{HttpRequest, HttpResponse};

pub async fn update(req: HttpRequest) -> HttpResponse {
    super::not_implemented(&req)
}
