//! `GET /metadata`: the CapabilityStatement, and the `created` SearchParameter it declares.

use actix_web::{HttpRequest, HttpResponse};

pub async fn capability_statement(req: HttpRequest) -> HttpResponse {
    super::not_implemented(&req)
}

pub async fn search_parameter(req: HttpRequest) -> HttpResponse {
    super::not_implemented(&req)
}
