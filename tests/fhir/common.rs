//! Shared fixtures for the integration tests.
#![allow(dead_code)]

use appointment_registry::fhir::{self, Issue, ReadError, Value};

/// Official STU3 examples present as both JSON and XML.
pub const EXAMPLES: [&str; 3] = [
    "appointment-example",
    "appointment-example-request",
    "appointment-example2doctors",
];

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

pub fn issues(r: Result<Value, ReadError>) -> Vec<Issue> {
    match r {
        Err(ReadError::Invalid(issues)) => issues,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

pub fn json_issues(text: &str) -> Vec<Issue> {
    issues(fhir::read_json(text.as_bytes()))
}

pub fn xml_issues(text: &str) -> Vec<Issue> {
    issues(fhir::read_xml(text.as_bytes()))
}

pub fn paths(issues: &[Issue]) -> Vec<&str> {
    issues.iter().map(|i| i.path.as_str()).collect()
}

/// Sample OperationOutcome, searchset Bundle and CapabilityStatement, built as the
/// server builds them.
pub fn samples() -> Vec<(&'static str, Value)> {
    let appt = |id: &str| {
        serde_json::json!({
            "resourceType": "Appointment", "id": id, "status": "booked",
            "start": "2019-02-01T10:51:23.620+00:00",
            "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}]
        })
    };
    vec![
        (
            "operationoutcome",
            serde_json::json!({
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "error", "code": "code-invalid",
                    "details": {"coding": [{"system": "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1", "code": "INVALID_VALUE", "display": "Invalid value"}]},
                    "diagnostics": "'bogus' is not a valid code\nline two & <tag> \"q\"\ttab",
                    "expression": ["Appointment.status"]
                }]
            }),
        ),
        (
            "bundle",
            serde_json::json!({
                "resourceType": "Bundle", "type": "searchset", "total": 2,
                "link": [{"relation": "self", "url": "https://example.org/Appointment?status=booked"}],
                "entry": [
                    {"fullUrl": "https://example.org/Appointment/a1", "resource": appt("a1"), "search": {"mode": "match"}},
                    {"fullUrl": "https://example.org/Appointment/a2", "resource": appt("a2"), "search": {"mode": "match"}}
                ]
            }),
        ),
        (
            "capabilitystatement",
            serde_json::json!({
                "resourceType": "CapabilityStatement", "status": "active",
                "date": "2019-02-01", "kind": "instance", "fhirVersion": "3.0.1",
                "acceptUnknown": "no", "format": ["application/fhir+xml", "application/fhir+json"],
                "rest": [{"mode": "server", "resource": [{"type": "Appointment",
                    "interaction": [{"code": "create"}, {"code": "search-type"}],
                    "searchParam": [{"name": "status", "type": "token"}]}]}]
            }),
        ),
    ]
}
