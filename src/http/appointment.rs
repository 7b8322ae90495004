//! `POST /Appointment` (register), `GET /Appointment/{id}` (read) and
//! `GET /Appointment/{id}/_history/{vid}` (vread).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::negotiate::{self, Format};
use super::{body, caller, respond, AppState};
use crate::auth::Access;
use crate::error::{Error, Problem};
use crate::registry::identifier::IdentifierToken;
use crate::registry::{instant, register};
use crate::store::{NewAppointment, StoredVersion, WriteOp, WriteResult};
use crate::{fhir, outcome, spine::SpineCode};

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_format = negotiate::request_format(&req);
    let default = *request_format.as_ref().unwrap_or(&Format::Json);
    respond::negotiated(&req, default, |format| {
        register(&req, payload, &state, request_format, format)
    })
    .await
}

async fn register(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    request_format: Result<Format, Error>,
    format: Format,
) -> Result<HttpResponse, Error> {
    // Who is asking comes before anything about what they sent.
    let caller = caller::authorise(req, state, Access::Write)?;
    let request_format = request_format?;
    let if_none_exist = if_none_exist(req)?;
    let bytes = body::read(req, payload, state.body_limits).await?;
    let (mut resource, registration) = admit(&bytes, request_format)?;

    // UUIDv7: time-ordered, so new rows land at the right edge of the primary-key B-trees
    // instead of at random pages.
    let id = uuid::Uuid::now_v7().to_string();
    let last_updated = instant::now_column();
    stamp(&mut resource, &id, 1, &last_updated);
    let new = NewAppointment {
        id,
        last_updated,
        registration,
        resource: String::from_utf8(fhir::write_json(&resource)).map_err(Error::internal)?,
        author: caller::author(req, &caller),
        if_none_exist,
    };
    match state.store.write(WriteOp::Create(Box::new(new))).await? {
        WriteResult::Created(stored) => {
            state.metrics.registrations.inc();
            versioned(req, state, StatusCode::CREATED, &stored, format)
        }
        WriteResult::Existing(stored) => versioned(req, state, StatusCode::OK, &stored, format),
        other => Err(Error::internal(format!(
            "writer answered a create with {other:?}"
        ))),
    }
}

/// Reads a registration body and checks it: base structure and the registration rules, every
/// problem of both in one report. Also the body of the `validator` fuzz target.
pub(crate) fn admit(
    bytes: &[u8],
    format: Format,
) -> Result<(Value, register::Registration), Error> {
    let (resource, structural) = read_resource(bytes, format)?;
    let reported: Vec<String> = structural
        .iter()
        .filter_map(|p| p.expression.clone())
        .collect();
    match register::check(&resource, &reported) {
        Ok(r) if structural.is_empty() => Ok((resource, r)),
        Ok(_) => Err(Error::Unprocessable(structural)),
        Err(rules) => Err(Error::Unprocessable([structural, rules].concat())),
    }
}

/// Parses the body. Unreadable → 400; base-structure problems are returned (not raised) so the
/// registry's own rules can be reported in the same OperationOutcome.
pub(super) fn read_resource(bytes: &[u8], format: Format) -> Result<(Value, Vec<Problem>), Error> {
    let read = match format {
        Format::Json => fhir::parse_json(bytes),
        Format::Xml => fhir::parse_xml(bytes),
    };
    let (resource, issues) = read.map_err(|e| Error::BadRequest(e.to_string()))?;
    let kind = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind != "Appointment" {
        return Err(Error::BadRequest(format!(
            "the body is a {kind}; an Appointment is expected here"
        )));
    }
    let problems = issues
        .into_iter()
        .map(|i| Problem::new(i.issue_type, SpineCode::InvalidResource, i.message).at(i.path))
        .collect();
    Ok((resource, problems))
}

/// Sets the id and `meta.versionId`/`meta.lastUpdated`, keeping whatever else `meta` holds.
pub(crate) fn stamp(resource: &mut Value, id: &str, version: i64, last_updated: &str) {
    resource["id"] = json!(id);
    if !resource.get("meta").is_some_and(Value::is_object) {
        resource["meta"] = json!({});
    }
    resource["meta"]["versionId"] = json!(version.to_string());
    resource["meta"]["lastUpdated"] = json!(last_updated);
}

/// `If-None-Exist: identifier=[system|]value` (FHIR conditional create).
fn if_none_exist(req: &HttpRequest) -> Result<Option<IdentifierToken>, Error> {
    let Some(value) = req.headers().get("If-None-Exist") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Error::InvalidParameter("If-None-Exist is not readable text".into()))?;
    let text = text.trim_start_matches('?');
    let pairs = negotiate::url_pairs(text);
    match pairs.as_slice() {
        [(name, v)] if name == "identifier" && !v.is_empty() => IdentifierToken::parse(v)
            .map(Some)
            .map_err(|why| Error::InvalidParameter(format!("If-None-Exist: identifier {why}"))),
        _ => Err(Error::InvalidParameter(format!(
            "If-None-Exist '{text}' is not supported: use identifier=system|value"
        ))),
    }
}

pub async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let id = path.into_inner();
    answer(&req, &state, async {
        check_id(&id)?;
        let stored = state
            .store
            .read(move |c| crate::store::read::current(c, &id))
            .await?;
        stored.ok_or_else(|| Error::NotFound("no appointment with that id is registered".into()))
    })
    .await
}

pub async fn vread(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (id, vid) = path.into_inner();
    answer(&req, &state, async {
        check_id(&id)?;
        let version: i64 = vid
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| Error::BadRequest(format!("'{vid}' is not a version id")))?;
        let stored = state
            .store
            .read(move |c| crate::store::read::version(c, &id, version))
            .await?;
        stored.ok_or_else(|| Error::NotFound("no such version of that appointment".into()))
    })
    .await
}

/// Shared shape of the reads: negotiate, authorise, look up, answer with the version's headers.
pub(super) async fn answer(
    req: &HttpRequest,
    state: &AppState,
    lookup: impl std::future::Future<Output = Result<StoredVersion, Error>>,
) -> HttpResponse {
    respond::negotiated(req, Format::Json, |format| async move {
        caller::authorise(req, state, Access::Read)?;
        let stored = lookup.await?;
        versioned(req, state, StatusCode::OK, &stored, format)
    })
    .await
}

/// A FHIR logical id: `[A-Za-z0-9\-\.]{1,64}`.
pub(super) fn check_id(id: &str) -> Result<(), Error> {
    if fhir::id::is_valid(id) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!("'{id}' is not a FHIR id")))
    }
}

/// A response about one stored version: Location, Content-Location, ETag, Last-Modified, and a
/// body shaped by `Prefer`.
pub(super) fn versioned(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    stored: &StoredVersion,
    format: Format,
) -> Result<HttpResponse, Error> {
    let location = format!("{}/Appointment/{}", state.base_url, stored.id);
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::LOCATION, location.clone()))
        .insert_header((
            header::CONTENT_LOCATION,
            format!("{location}/_history/{}", stored.version),
        ))
        .insert_header((header::ETAG, format!("W/\"{}\"", stored.version)));
    if let Some(date) = respond::http_date(&stored.last_updated) {
        builder.insert_header((header::LAST_MODIFIED, date));
    }
    let prefer = (req.method() != actix_web::http::Method::GET)
        .then(|| prefer_return(req))
        .flatten();
    match prefer {
        Some(PreferReturn::Minimal) => Ok(builder.finish()),
        Some(PreferReturn::OperationOutcome) => {
            // What happened, in Spine's words: created, updated, or (conditional create)
            // nothing, because the appointment was already registered.
            let (code, what) = match (req.method().as_str(), status) {
                ("PUT", _) => (SpineCode::ResourceUpdated, "updated to"),
                (_, StatusCode::CREATED) => (SpineCode::ResourceCreated, "created as"),
                _ => (SpineCode::DuplicateRejected, "already registered as"),
            };
            let outcome = outcome::information(
                code,
                &format!(
                    "appointment {} {what} version {}",
                    stored.id, stored.version
                ),
            );
            Ok(respond::resource(builder, &outcome, format))
        }
        None => Ok(match format {
            // The stored text is canonical JSON already: send it as it is.
            Format::Json => builder
                .insert_header((header::CONTENT_TYPE, format.content_type()))
                .body(stored.resource.clone()),
            Format::Xml => {
                let value: Value =
                    serde_json::from_str(&stored.resource).map_err(Error::internal)?;
                respond::resource(builder, &value, format)
            }
        }),
    }
}

enum PreferReturn {
    Minimal,
    OperationOutcome,
}

/// `Prefer: return=minimal | representation | OperationOutcome` (representation is the default).
fn prefer_return(req: &HttpRequest) -> Option<PreferReturn> {
    let prefer = req.headers().get("Prefer")?.to_str().ok()?;
    prefer.split([',', ';']).find_map(|part| {
        let (k, v) = part.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("return") {
            return None;
        }
        match v.trim().trim_matches('"').to_ascii_lowercase().as_str() {
            "minimal" => Some(PreferReturn::Minimal),
            "operationoutcome" => Some(PreferReturn::OperationOutcome),
            _ => None,
        }
    })
}
