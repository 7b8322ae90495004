//! `POST /Appointment/$validate` (issue 11 point 3): every check a registration runs, a warning
//! for an identifier registered already, nothing stored; JSON and XML; declared in metadata.

use appointment_registry::fhir;
use serde_json::{json, Value};

use crate::helpers::*;

async fn validate(app: &TestApp, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/Appointment/$validate"))
        .bearer_auth(app.token())
        .header("Content-Type", content_type)
        .header("Accept", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let xml = content_type.contains("xml");
    let bytes = response.bytes().await.unwrap();
    let outcome = if xml {
        crate::xmllint::assert_schema_valid("validate-outcome", &bytes);
        fhir::read_xml(&bytes).unwrap()
    } else {
        fhir::read_json(&bytes).unwrap()
    };
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    (status, outcome)
}

fn severities(outcome: &Value) -> Vec<(String, String)> {
    outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["severity"].as_str().unwrap().to_string(),
                i["diagnostics"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_valid_body_is_reported_valid_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut body = valid_appointment();
    body["identifier"] = json!([{ "system": "urn:v", "value": "1" }]);
    for (ct, bytes) in [
        ("application/fhir+json", body.to_string().into_bytes()),
        ("application/fhir+xml", fhir::write_xml(&body)),
    ] {
        let (status, outcome) = validate(&app, ct, bytes).await;
        assert_eq!(status, 200);
        let issues = severities(&outcome);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].0, "information");
    }
    assert_eq!(app.stored_appointments(), 0, "validation stores nothing");
    // The same body registers, and is then a duplicate: a warning, not an error.
    assert_eq!(app.register_json(&body).await.status(), 201);
    let (status, outcome) =
        validate(&app, "application/fhir+json", body.to_string().into_bytes()).await;
    assert_eq!(status, 200);
    let issues = severities(&outcome);
    assert!(
        issues
            .iter()
            .any(|(s, d)| s == "warning" && d.contains("urn:v|1")),
        "{issues:?}"
    );
}

#[tokio::test]
async fn every_problem_of_an_invalid_body_is_reported_with_200() {
    let app = spawn_app().await;
    let mut body = valid_appointment();
    body["end"] = json!("2030-02-01T11:00:00Z");
    body["participant"][0]["actor"]["identifier"]["value"] = json!("1234567890");
    for (ct, bytes) in [
        ("application/fhir+json", body.to_string().into_bytes()),
        ("application/fhir+xml", fhir::write_xml(&body)),
    ] {
        let (status, outcome) = validate(&app, ct, bytes).await;
        assert_eq!(status, 200);
        let issues = severities(&outcome);
        assert!(issues.iter().all(|(s, _)| s == "error"), "{issues:?}");
        assert!(
            issues.iter().any(|(_, d)| d.contains("Appointment.end")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|(_, d)| d.contains("1234567890")),
            "{issues:?}"
        );
    }
    assert_eq!(app.stored_appointments(), 0);
}

#[tokio::test]
async fn a_parameters_body_with_resource_and_mode() {
    let app = spawn_app().await;
    let params = |mode: &str| {
        json!({
            "resourceType": "Parameters",
            "parameter": [
                { "name": "resource", "resource": valid_appointment() },
                { "name": "mode", "valueCode": mode }
            ]
        })
    };
    for (ct, bytes) in [
        (
            "application/fhir+json",
            params("create").to_string().into_bytes(),
        ),
        ("application/fhir+xml", fhir::write_xml(&params("create"))),
    ] {
        let (status, outcome) = validate(&app, ct, bytes).await;
        assert_eq!(status, 200);
        assert_eq!(severities(&outcome)[0].0, "information");
    }
    // The Appointment inside is checked as such: its problems are named from `Appointment`.
    let mut broken = params("create");
    broken["parameter"][0]["resource"]["end"] = json!("2030-02-01T11:00:00Z");
    for (ct, bytes) in [
        ("application/fhir+json", broken.to_string().into_bytes()),
        ("application/fhir+xml", fhir::write_xml(&broken)),
    ] {
        let (status, outcome) = validate(&app, ct, bytes).await;
        assert_eq!(status, 200);
        let issues = severities(&outcome);
        assert!(
            issues
                .iter()
                .any(|(s, d)| s == "error" && d.starts_with("Appointment.end")),
            "{issues:?}"
        );
    }
    let (status, _) = validate(
        &app,
        "application/fhir+json",
        params("delete").to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn validate_needs_the_write_scope_and_is_declared() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/Appointment/$validate"))
        .bearer_auth(app.token_with(READ_SCOPE, ORG))
        .header("Content-Type", "application/fhir+json")
        .body(valid_appointment().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let cs = app.capability_statement().await;
    // STU3 declares operations at the rest level (CapabilityStatement.rest.operation).
    let operation = &cs["rest"][0]["operation"][0];
    assert_eq!(operation["name"], "validate");
    assert_eq!(
        operation["definition"]["reference"],
        "http://hl7.org/fhir/OperationDefinition/Resource-validate"
    );
}
