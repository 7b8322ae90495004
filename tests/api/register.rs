//! RULES.md §1: registration, in JSON and XML.

use appointment_registry::fhir;
use serde_json::{json, Value};

use crate::helpers::*;

#[derive(Clone, Copy, Debug)]
enum Fmt {
    Json,
    Xml,
}

const BOTH: [Fmt; 2] = [Fmt::Json, Fmt::Xml];

async fn post(app: &TestApp, fmt: Fmt, resource: &Value) -> reqwest::Response {
    match fmt {
        Fmt::Json => {
            app.register("application/fhir+json", resource.to_string())
                .await
        }
        // The XML goes through the library's writer: its output is checked against the XSD and
        // round-tripped elsewhere, so here it only carries the case.
        Fmt::Xml => {
            app.register("application/fhir+xml", fhir::write_xml(resource))
                .await
        }
    }
}

/// Posts `resource` in both formats and expects a 422 carrying `code` about `mentions`.
async fn rejects(app: &TestApp, resource: &Value, code: &str, mentions: &str) {
    for fmt in BOTH {
        let response = post(app, fmt, resource).await;
        assert_eq!(response.status(), 422, "{fmt:?} {mentions}");
        let body = response.text().await.unwrap();
        let outcome = match fmt {
            Fmt::Json => fhir::read_json(body.as_bytes()),
            Fmt::Xml => fhir::read_xml(body.as_bytes()),
        }
        .unwrap_or_else(|e| panic!("{fmt:?}: OperationOutcome unreadable: {e:?}\n{body}"));
        let found = outcome["issue"].as_array().unwrap().iter().any(|i| {
            i["details"]["coding"][0]["code"] == code
                && i["diagnostics"].as_str().unwrap_or("").contains(mentions)
        });
        assert!(
            found,
            "{fmt:?}: expected {code} mentioning '{mentions}' in {body}"
        );
    }
}

fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = valid_appointment();
    edit(&mut v);
    v
}

#[tokio::test]
async fn registers_json_and_the_location_reads_back() {
    let app = spawn_app().await;
    let response = app.register_json(&valid_appointment()).await;
    assert_eq!(response.status(), 201);
    let h = response.headers().clone();
    let location = h["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/Appointment/", app.base)),
        "{location}"
    );
    assert_eq!(h["etag"], "W/\"1\"");
    assert_eq!(
        h["content-location"].to_str().unwrap(),
        format!("{location}/_history/1")
    );
    assert!(h.contains_key("last-modified"));
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/fhir+json"));
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert!(location.ends_with(id));
    assert_eq!(body["meta"]["versionId"], "1");
    assert!(body["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["participant"][0]["status"], "accepted");

    let read = app
        .client
        .get(&location)
        .bearer_auth(app.token())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], "W/\"1\"");
    let read_body: Value = read.json().await.unwrap();
    assert_eq!(read_body, body);
    let vread = app.get(&format!("/Appointment/{id}/_history/1")).await;
    assert_eq!(vread.status(), 200);
}

#[tokio::test]
async fn registers_xml_and_answers_in_xml() {
    let app = spawn_app().await;
    let response = post(&app, Fmt::Xml, &valid_appointment()).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/fhir+xml"));
    let body = response.text().await.unwrap();
    let value = fhir::read_xml(body.as_bytes()).expect("valid XML body");
    assert_eq!(value["meta"]["versionId"], "1");
    assert_eq!(value["status"], "booked");
}

#[tokio::test]
async fn nhs_sample_body_verbatim_is_refused_for_participant_status_only() {
    let app = spawn_app().await;
    let sample = fixture("registry-register-request.example.xml");
    let response = app.register("application/fhir+xml", sample.clone()).await;
    let body = response.text().await.unwrap();
    let outcome = fhir::read_xml(body.as_bytes()).expect("XML OperationOutcome");
    let issues = outcome["issue"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{body}");
    assert!(
        issues[0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("Appointment.participant[0].status"),
        "{body}"
    );

    let fixed = sample.replace(
        "</actor>",
        "</actor>\n        <status value=\"accepted\"></status>",
    );
    let response = app.register("application/fhir+xml", fixed).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn forbidden_elements_are_each_refused() {
    let app = spawn_app().await;
    let cases: [(&str, Value); 6] = [
        ("id", json!("abc")),
        (
            "contained",
            json!([{"resourceType": "Patient", "id": "p1"}]),
        ),
        ("end", json!("2030-02-01T11:51:23Z")),
        (
            "supportingInformation",
            json!([{"reference": "Observation/1"}]),
        ),
        ("description", json!("a description")),
        ("slot", json!([{"reference": "Slot/1"}])),
    ];
    for (name, value) in cases {
        let resource = with(|v| v[name] = value);
        rejects(
            &app,
            &resource,
            "INVALID_RESOURCE",
            &format!("Appointment.{name}"),
        )
        .await;
    }
}

#[tokio::test]
async fn required_elements_are_each_demanded() {
    let app = spawn_app().await;
    for name in ["status", "start", "created", "participant"] {
        let resource = with(|v| {
            v.as_object_mut().unwrap().remove(name);
        });
        rejects(
            &app,
            &resource,
            "INVALID_RESOURCE",
            &format!("Appointment.{name}"),
        )
        .await;
    }
}

#[tokio::test]
async fn status_must_be_booked() {
    let app = spawn_app().await;
    rejects(
        &app,
        &with(|v| v["status"] = json!("cancelled")),
        "INVALID_RESOURCE",
        "Appointment.status",
    )
    .await;
    rejects(
        &app,
        &with(|v| v["status"] = json!("bogus")),
        "INVALID_RESOURCE",
        "Appointment.status",
    )
    .await;
}

#[tokio::test]
async fn start_and_created_must_be_instants() {
    let app = spawn_app().await;
    for element in ["start", "created"] {
        for bad in [
            "2019-02-01",
            "2019-02-01T10:51:23",
            "2019-02-01T10:51",
            "2019-02-30T10:00:00Z",
        ] {
            let resource = with(|v| v[element] = json!(bad));
            rejects(
                &app,
                &resource,
                "INVALID_RESOURCE",
                &format!("Appointment.{element}"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn nhs_numbers_are_modulus_11_checked_in_both_reference_forms() {
    let app = spawn_app().await;
    let by_identifier =
        with(|v| v["participant"][0]["actor"]["identifier"]["value"] = json!("1234567890"));
    rejects(&app, &by_identifier, "INVALID_NHS_NUMBER", "1234567890").await;
    let by_reference = with(|v| {
        v["participant"][0]["actor"] =
            json!({"reference": "https://demographics.spineservices.nhs.uk/Patient/1234567890"})
    });
    rejects(&app, &by_reference, "INVALID_NHS_NUMBER", "1234567890").await;
    let short = with(|v| v["participant"][0]["actor"]["identifier"]["value"] = json!("12345"));
    rejects(&app, &short, "INVALID_NHS_NUMBER", "12345").await;

    let national = with(|v| {
        v["participant"][0]["actor"] =
            json!({"reference": "https://demographics.spineservices.nhs.uk/Patient/9000000009"})
    });
    assert_eq!(app.register_json(&national).await.status(), 201);
}

#[tokio::test]
async fn exactly_one_national_patient() {
    let app = spawn_app().await;
    let two = with(|v| {
        v["participant"].as_array_mut().unwrap().push(json!({
            "actor": {"reference": "https://demographics.spineservices.nhs.uk/Patient/9000000009"},
            "status": "accepted"
        }))
    });
    rejects(&app, &two, "INVALID_RESOURCE", "exactly one patient").await;
    let local = with(|v| v["participant"][0]["actor"] = json!({"reference": "Patient/123"}));
    rejects(&app, &local, "INVALID_RESOURCE", "national").await;
    let practitioner_only = with(|v| {
        v["participant"][0]["actor"] = json!({"reference": "Practitioner/1", "display": "Dr A"})
    });
    rejects(
        &app,
        &practitioner_only,
        "INVALID_RESOURCE",
        "Appointment.participant",
    )
    .await;
}

#[tokio::test]
async fn base_structure_unknown_elements_and_wrong_types() {
    let app = spawn_app().await;
    rejects(
        &app,
        &with(|v| v["priority"] = json!("high")),
        "INVALID_RESOURCE",
        "Appointment.priority",
    )
    .await;
    rejects(
        &app,
        &with(|v| v["participant"][0]["status"] = json!("maybe")),
        "INVALID_RESOURCE",
        "Appointment.participant[0].status",
    )
    .await;
    // JSON-only shapes (XML cannot express a number where a string goes, or an unknown member).
    for (resource, mentions) in [
        (with(|v| v["colour"] = json!("blue")), "colour"),
        (with(|v| v["status"] = json!(5)), "Appointment.status"),
        (
            with(|v| v["participant"] = v["participant"][0].clone()),
            "Appointment.participant",
        ),
    ] {
        let response = app.register_json(&resource).await;
        assert_outcome(response, 422, "INVALID_RESOURCE", mentions).await;
    }
    let xml = fixture("registry-register-request.example.xml").replace(
        "<status value=\"booked\"></status>",
        "<status value=\"booked\"/><colour value=\"blue\"/>",
    );
    assert_eq!(
        app.register("application/fhir+xml", xml).await.status(),
        422
    );
}

#[tokio::test]
async fn every_problem_is_named_in_one_outcome() {
    let app = spawn_app().await;
    let resource = with(|v| {
        v["end"] = json!("2030-02-01T11:00:00Z");
        v["status"] = json!("pending");
        v["created"] = json!("2019-02-01");
        v["participant"][0]["actor"]["identifier"]["value"] = json!("1234567890");
    });
    let response = app.register_json(&resource).await;
    let (status, issues) = outcome(response).await;
    assert_eq!(status, 422);
    for mention in [
        "Appointment.end",
        "Appointment.status",
        "Appointment.created",
        "1234567890",
    ] {
        assert!(
            issues.iter().any(|(_, d)| d.contains(mention)),
            "{mention} in {issues:?}"
        );
    }
}

#[tokio::test]
async fn duplicate_identifier_is_rejected_and_conditional_create_finds_it() {
    let app = spawn_app().await;
    let resource = with(|v| {
        v["identifier"] =
            json!([{"system": "urn:ietf:rfc:3986", "value": "http://test.nhs.uk/test3"}])
    });
    let first = app.register_json(&resource).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    for fmt in BOTH {
        assert_outcome_fmt(post(&app, fmt, &resource).await, fmt).await;
    }

    let conditional = |query: &'static str| {
        app.client
            .post(app.url("/Appointment"))
            .bearer_auth(app.token())
            .header("Content-Type", "application/fhir+json")
            .header("If-None-Exist", query)
            .body(resource.to_string())
            .send()
    };
    let found = conditional("identifier=urn:ietf:rfc:3986|http://test.nhs.uk/test3")
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["id"], first["id"]);

    let other = with(|v| {
        v["identifier"] =
            json!([{"system": "urn:ietf:rfc:3986", "value": "http://test.nhs.uk/other"}])
    });
    let created = app
        .client
        .post(app.url("/Appointment"))
        .bearer_auth(app.token())
        .header("Content-Type", "application/fhir+json")
        .header(
            "If-None-Exist",
            "identifier=urn:ietf:rfc:3986|http://test.nhs.uk/other",
        )
        .body(other.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let bad = conditional("patient=1234554321").await.unwrap();
    assert_outcome(bad, 400, "INVALID_PARAMETER", "If-None-Exist").await;
}

async fn assert_outcome_fmt(response: reqwest::Response, fmt: Fmt) {
    assert_eq!(response.status(), 422, "{fmt:?}");
    let body = response.text().await.unwrap();
    assert!(body.contains("DUPLICATE_REJECTED"), "{fmt:?}: {body}");
}
