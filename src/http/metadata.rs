//! `GET /metadata`: the CapabilityStatement, and the `created` SearchParameter it declares
//! (`created` is not a base STU3 search parameter). No JWT needed; TLS still is.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::negotiate::Format;
use super::{respond, AppState};
use crate::error::Error;
use crate::registry::search::{PageSizes, TOTAL_LIMIT};

/// The Appointment interactions the router serves (see `http::routes`; a test checks each one).
pub const INTERACTIONS: [&str; 6] = [
    "create",
    "read",
    "vread",
    "update",
    "history-instance",
    "search-type",
];

/// Search parameters: (name, type, documentation). `created` is defined by the registry.
pub const SEARCH_PARAMS: [(&str, &str, &str); 7] = [
    ("patient", "reference", "The patient: https://demographics.spineservices.nhs.uk/Patient/{nhs}, Patient/{nhs}, {nhs}, https://fhir.nhs.uk/Id/nhs-number|{nhs}, or https://demographics.spineservices.nhs.uk|{nhs}. Required."),
    ("actor", "reference", "Same as patient (the registry's only actor is the patient)."),
    ("Appointment.participant.actor", "reference", "Alias of actor, the parameter name the NHS Booking documentation uses."),
    ("date", "date", "Appointment.start, with eq ne lt le gt ge prefixes and partial dates. Without a date bound, appointments that already started are left out."),
    ("created", "date", "Appointment.created, with eq ne lt le gt ge prefixes and partial dates."),
    ("status", "token", "Appointment.status; comma-separated codes match any."),
    ("identifier", "token", "Appointment.identifier as system|value, |value or value."),
];

/// Parameters for every search (`CapabilityStatement.rest.searchParam`): (name, type, doc).
pub const COMMON_PARAMS: [(&str, &str, &str); 2] = [
    ("_summary", "token", "true (summary elements), text, data, false, or count (a Bundle with the exact total, however many matches, and no entries). Subsetted entries carry the SUBSETTED tag."),
    ("_elements", "string", "Comma-separated Appointment elements to return (id, meta, status, participant and modifierExtension always come too); entries carry the SUBSETTED tag. Not with _summary."),
];

const CREATED_ID: &str = "Appointment-created";
/// `$validate` is the base specification's operation (mode `create` only).
pub const VALIDATE_DEFINITION: &str = "http://hl7.org/fhir/OperationDefinition/Resource-validate";

pub async fn capability_statement(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond::negotiated(&req, Format::Json, |format| async move {
        let statement = statement(&state.base_url, state.page_sizes);
        Ok(respond::resource(HttpResponse::Ok(), &statement, format))
    })
    .await
}

/// `GET /SearchParameter/{id}` (the id as `http::variable_paths` decoded it).
pub async fn search_parameter(req: &HttpRequest, id: String, state: &AppState) -> HttpResponse {
    respond::negotiated(req, Format::Json, |format| async move {
        if id != CREATED_ID {
            return Err(Error::NotFound(format!("no SearchParameter '{id}' here")));
        }
        let parameter = created_parameter(&state.base_url);
        Ok(respond::resource(HttpResponse::Ok(), &parameter, format))
    })
    .await
}

pub fn statement(base: &str, sizes: PageSizes) -> Value {
    let search_params: Vec<Value> = SEARCH_PARAMS
        .iter()
        .map(|(name, kind, doc)| {
            let mut p = json!({ "name": name, "type": kind, "documentation": doc });
            if *name == "created" {
                p["definition"] = json!(format!("{base}/SearchParameter/{CREATED_ID}"));
            }
            p
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "url": format!("{base}/metadata"),
        "name": "AppointmentRegistry",
        "title": "Appointment Registry",
        "status": "active",
        "date": "2026-11-24",
        "publisher": "Appointment Registry",
        "description": format!(
            "Registers booked appointments (NHS Booking 'Register an appointment'), with read, \
             version-aware cancel, history and search. Search results: _count (default {}, at most {}), \
             _sort (date, -date, created, -created), _summary, _elements, _format; Bundle.total \
             is exact up to {TOTAL_LIMIT} matches and absent past that (see the Appointment \
             resource's documentation). With Prefer: handling=lenient, unknown parameters are \
             ignored and listed in an OperationOutcome entry (search.mode outcome); without it \
             they are refused (400).",
            sizes.default, sizes.max
        ),
        "kind": "instance",
        "software": { "name": "appointment-registry", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Appointment Registry", "url": base },
        "fhirVersion": "3.0.1",
        "acceptUnknown": "no",
        "format": ["application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            "searchParam": COMMON_PARAMS
                .iter()
                .map(|(name, kind, doc)| json!({ "name": name, "type": kind, "documentation": doc }))
                .collect::<Vec<_>>(),
            "security": {
                "cors": false,
                "service": [{
                    "coding": [{ "system": "http://hl7.org/fhir/restful-security-service", "code": "Certificates" }],
                    "text": "Mutual TLS"
                }],
                "description": "Mutual TLS: a client certificate chaining to the registry's configured CA is required at the handshake. Every request except GET /metadata carries Authorization: Bearer <JWT> (RS256/PS256/ES256, HS256 for local testing; exp and aud enforced); writes need scope patient/Appointment.write, reads patient/Appointment.read."
            },
            "resource": [{
                "type": "Appointment",
                "profile": { "reference": "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1" },
                "documentation": search_documentation(),
                "interaction": INTERACTIONS.iter().map(|code| json!({ "code": code })).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": false,
                "conditionalCreate": true,
                "conditionalRead": "not-supported",
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": search_params
            }],
            "operation": [{
                "name": "validate",
                "definition": { "reference": VALIDATE_DEFINITION }
            }]
        }]
    })
}

/// What a searchset's `total` means (`rest.resource.documentation`, markdown).
fn search_documentation() -> String {
    format!(
        "Search needs a patient. Results page by keyset: follow the `next` link as given. \
         `Bundle.total` is exact when a search has at most {TOTAL_LIMIT} matches and absent \
         when it has more (STU3 makes it optional): a first page counts at most {} matches, so \
         the cost of a search stops growing with the patient's history. Later pages repeat the \
         first page's total, or its absence, without counting again; appointments registered \
         while a client pages do not change it. `_summary=count` (or `_count=0`) asks for the \
         total alone, which is always counted exactly, every match read.",
        TOTAL_LIMIT + 1
    )
}

fn created_parameter(base: &str) -> Value {
    json!({
        "resourceType": "SearchParameter",
        "id": CREATED_ID,
        "url": format!("{base}/SearchParameter/{CREATED_ID}"),
        "name": "created",
        "status": "active",
        "date": "2026-11-24",
        "publisher": "Appointment Registry",
        "code": "created",
        "base": ["Appointment"],
        "type": "date",
        "description": "When the appointment was booked (Appointment.created). Used to filter and to expire registrations.",
        "expression": "Appointment.created",
        "xpath": "f:Appointment/f:created",
        "xpathUsage": "normal",
        "comparator": ["eq", "ne", "gt", "lt", "ge", "le"]
    })
}
