//! RULES.md §3: cancel by PUT with If-Match, and `_history`, in JSON and XML.

use appointment_registry::fhir;
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::xmllint::assert_schema_valid;

#[derive(Clone, Copy, Debug)]
enum Fmt {
    Json,
    Xml,
}

const BOTH: [Fmt; 2] = [Fmt::Json, Fmt::Xml];
const CANCELLED_AT: &str = "2019-03-01T09:00:00.000+01:00";

/// Registers a valid appointment; returns its id and the stored version 1.
async fn registered(app: &TestApp) -> (String, Value) {
    let body = app.registered().await;
    (body["id"].as_str().unwrap().to_string(), body)
}

/// What a client sends to cancel `read`: status and created changed, the rest as read.
fn cancelled(read: &Value) -> Value {
    let mut v = read.clone();
    v["status"] = json!("cancelled");
    v["created"] = json!(CANCELLED_AT);
    v
}

/// PUT /Appointment/{id} in `fmt` with `if_match` (None: no header) and `token`.
async fn put_as(
    app: &TestApp,
    fmt: Fmt,
    id: &str,
    resource: &Value,
    if_match: Option<&str>,
    token: &str,
) -> Response {
    let (content_type, body) = match fmt {
        Fmt::Json => ("application/fhir+json", resource.to_string().into_bytes()),
        Fmt::Xml => ("application/fhir+xml", fhir::write_xml(resource)),
    };
    let mut request = app
        .client
        .put(app.url(&format!("/Appointment/{id}")))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    request.send().await.expect("request sent")
}

async fn put(app: &TestApp, fmt: Fmt, id: &str, resource: &Value, if_match: &str) -> Response {
    put_as(app, fmt, id, resource, Some(if_match), &app.token()).await
}

/// The resource in a response body, in whichever format it came.
async fn resource(response: Response, fmt: Fmt) -> Value {
    let text = response.bytes().await.unwrap();
    match fmt {
        Fmt::Json => fhir::read_json(&text),
        Fmt::Xml => fhir::read_xml(&text),
    }
    .unwrap_or_else(|e| panic!("{fmt:?}: unreadable body: {e:?}"))
}

async fn history(app: &TestApp, id: &str, fmt: Fmt) -> Value {
    let format = match fmt {
        Fmt::Json => "json",
        Fmt::Xml => "xml",
    };
    let response = app
        .get(&format!("/Appointment/{id}/_history?_format={format}"))
        .await;
    assert_eq!(response.status(), 200);
    resource(response, fmt).await
}

#[tokio::test]
async fn cancel_makes_version_2_and_keeps_version_1() {
    let app = spawn_app().await;
    for fmt in BOTH {
        let (id, read) = registered(&app).await;
        let response = put(&app, fmt, &id, &cancelled(&read), "W/\"1\"").await;
        assert_eq!(response.status(), 200, "{fmt:?}");
        let h = response.headers().clone();
        let location = format!("{}/Appointment/{id}", app.base);
        assert_eq!(h["etag"], "W/\"2\"");
        assert_eq!(h["location"].to_str().unwrap(), location);
        assert_eq!(
            h["content-location"].to_str().unwrap(),
            format!("{location}/_history/2")
        );
        assert!(h.contains_key("last-modified"));
        let body = resource(response, fmt).await;
        assert_eq!(body["status"], "cancelled");
        assert_eq!(body["created"], CANCELLED_AT);
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["meta"]["versionId"], "2");
        assert_ne!(body["meta"]["lastUpdated"], read["meta"]["lastUpdated"]);
        assert_eq!(body["meta"]["profile"], read["meta"]["profile"]);

        let current = app.get(&format!("/Appointment/{id}")).await;
        assert_eq!(current.headers()["etag"], "W/\"2\"");
        let current: Value = current.json().await.unwrap();
        assert_eq!(current, body);
        let v1 = app.get(&format!("/Appointment/{id}/_history/1")).await;
        assert_eq!(v1.status(), 200);
        assert_eq!(v1.json::<Value>().await.unwrap(), read);

        let bundle = history(&app, &id, fmt).await;
        assert_eq!(bundle["type"], "history");
        assert_eq!(bundle["total"], 2);
        assert_eq!(bundle["link"][0]["relation"], "self");
        assert_eq!(bundle["link"][0]["url"], format!("{location}/_history"));
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        for (entry, (vid, method, status)) in entries
            .iter()
            .zip([("2", "PUT", "cancelled"), ("1", "POST", "booked")])
        {
            assert_eq!(entry["fullUrl"], location.as_str());
            assert_eq!(entry["resource"]["meta"]["versionId"], vid);
            assert_eq!(entry["resource"]["status"], status);
            assert_eq!(entry["request"]["method"], method);
            // The request that made the version, as sent: POST Appointment, PUT Appointment/{id}.
            let url = if method == "POST" {
                "Appointment".to_string()
            } else {
                format!("Appointment/{id}")
            };
            assert_eq!(entry["request"]["url"], url);
        }
    }
}

#[tokio::test]
async fn entered_in_error_is_allowed_and_a_plain_etag_is_accepted() {
    let app = spawn_app().await;
    for fmt in BOTH {
        let (id, read) = registered(&app).await;
        let mut body = cancelled(&read);
        body["status"] = json!("entered-in-error");
        let response = put(&app, fmt, &id, &body, "\"1\"").await;
        assert_eq!(response.status(), 200, "{fmt:?}");
        assert_eq!(response.headers()["etag"], "W/\"2\"");
        assert_eq!(resource(response, fmt).await["status"], "entered-in-error");
    }
}

#[tokio::test]
async fn prefer_minimal_answers_without_a_body() {
    let app = spawn_app().await;
    let (id, read) = registered(&app).await;
    let response = app
        .client
        .put(app.url(&format!("/Appointment/{id}")))
        .bearer_auth(app.token())
        .header("Content-Type", "application/fhir+json")
        .header("If-Match", "W/\"1\"")
        .header("Prefer", "return=minimal")
        .body(cancelled(&read).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "W/\"2\"");
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn if_match_is_required_and_must_be_a_version_tag() {
    let app = spawn_app().await;
    let (id, read) = registered(&app).await;
    for fmt in BOTH {
        let token = app.token();
        let missing = put_as(&app, fmt, &id, &cancelled(&read), None, &token).await;
        assert_outcome(missing, 412, "PRECONDITION_FAILED", "If-Match").await;
        for bad in ["W/1", "*", "W/\"x\"", "W/\"0\"", ""] {
            let response = put(&app, fmt, &id, &cancelled(&read), bad).await;
            assert_outcome(response, 412, "PRECONDITION_FAILED", "If-Match").await;
        }
    }
    assert_eq!(history(&app, &id, Fmt::Json).await["total"], 1);
}

#[tokio::test]
async fn a_stale_or_unknown_version_is_a_conflict() {
    let app = spawn_app().await;
    for fmt in BOTH {
        let (id, read) = registered(&app).await;
        // Ahead of the stored version: the body is a valid cancel, only the version is wrong.
        let ahead = put(&app, fmt, &id, &cancelled(&read), "W/\"2\"").await;
        assert_outcome(ahead, 409, "INVALID_REQUEST_STATE", "version").await;
        let ok = put(&app, fmt, &id, &cancelled(&read), "W/\"1\"").await;
        assert_eq!(ok.status(), 200);
        // Behind it: the version check comes before the state rules.
        let stale = put(&app, fmt, &id, &cancelled(&read), "W/\"1\"").await;
        assert_outcome(stale, 409, "INVALID_REQUEST_STATE", "version 2").await;
        assert_eq!(history(&app, &id, fmt).await["total"], 2);
    }
}

#[tokio::test]
async fn the_body_id_must_be_the_url_id() {
    let app = spawn_app().await;
    let (id, read) = registered(&app).await;
    let (other, _) = registered(&app).await;
    for fmt in BOTH {
        let response = put(&app, fmt, &other, &cancelled(&read), "W/\"1\"").await;
        assert_outcome(response, 400, "BAD_REQUEST", &id).await;
        let mut no_id = cancelled(&read);
        no_id.as_object_mut().unwrap().remove("id");
        let response = put(&app, fmt, &id, &no_id, "W/\"1\"").await;
        assert_outcome(response, 400, "BAD_REQUEST", "no id").await;
    }
    assert_eq!(history(&app, &id, Fmt::Json).await["total"], 1);
    assert_eq!(history(&app, &other, Fmt::Json).await["total"], 1);
}

#[tokio::test]
async fn an_unknown_id_is_not_created() {
    let app = spawn_app().await;
    let (_, read) = registered(&app).await;
    let unknown = "0b5bbd3e-9d3a-4b57-9a0c-000000000000";
    let mut body = cancelled(&read);
    body["id"] = json!(unknown);
    for fmt in BOTH {
        let response = put(&app, fmt, unknown, &body, "W/\"1\"").await;
        assert_outcome(response, 404, "NO_RECORD_FOUND", "no appointment").await;
    }
    let read = app.get(&format!("/Appointment/{unknown}")).await;
    assert_eq!(read.status(), 404);
    let history = app.get(&format!("/Appointment/{unknown}/_history")).await;
    assert_outcome(history, 404, "NO_RECORD_FOUND", "no appointment").await;
}

#[tokio::test]
async fn only_the_registering_organisation_may_cancel() {
    let app = spawn_app().await;
    let (id, read) = registered(&app).await;
    let other = app.token_with(&format!("{WRITE_SCOPE} {READ_SCOPE}"), "OTHER");
    for fmt in BOTH {
        let response = put_as(&app, fmt, &id, &cancelled(&read), Some("W/\"1\""), &other).await;
        assert_outcome(response, 403, "ACCESS DENIED", "organisation").await;
    }
    let read_only = app.token_with(READ_SCOPE, ORG);
    let response = put_as(
        &app,
        Fmt::Json,
        &id,
        &cancelled(&read),
        Some("W/\"1\""),
        &read_only,
    )
    .await;
    assert_outcome(response, 403, "ACCESS DENIED", "scope").await;
    assert_eq!(history(&app, &id, Fmt::Json).await["total"], 1);
}

#[tokio::test]
async fn only_booked_appointments_can_change_and_only_to_a_cancel_status() {
    let app = spawn_app().await;
    for fmt in BOTH {
        let (id, read) = registered(&app).await;
        let mut still_booked = cancelled(&read);
        still_booked["status"] = json!("booked");
        let response = put(&app, fmt, &id, &still_booked, "W/\"1\"").await;
        assert_outcome(response, 422, "INVALID_REQUEST_STATE", "booked").await;

        let response = put(&app, fmt, &id, &cancelled(&read), "W/\"1\"").await;
        assert_eq!(response.status(), 200);
        let v2 = resource(response, fmt).await;
        let again = put(&app, fmt, &id, &cancelled(&v2), "W/\"2\"").await;
        assert_outcome(again, 422, "INVALID_REQUEST_STATE", "cancelled").await;
        assert_eq!(history(&app, &id, fmt).await["total"], 2);
    }
}

#[tokio::test]
async fn nothing_but_status_and_created_may_change() {
    let app = spawn_app().await;
    for fmt in BOTH {
        let (id, read) = registered(&app).await;
        let mut moved = cancelled(&read);
        moved["start"] = json!("2031-01-01T10:00:00+00:00");
        let response = put(&app, fmt, &id, &moved, "W/\"1\"").await;
        assert_outcome(response, 422, "INVALID_RESOURCE", "Appointment.start").await;

        let mut both = moved.clone();
        both["participant"][0]["status"] = json!("declined");
        both["comment"] = json!("a new comment");
        let (status, issues) = outcome(put(&app, fmt, &id, &both, "W/\"1\"").await).await;
        assert_eq!(status, 422);
        for path in [
            "Appointment.start",
            "Appointment.participant",
            "Appointment.comment",
        ] {
            assert!(
                issues
                    .iter()
                    .any(|(c, d)| c == "INVALID_RESOURCE" && d.starts_with(path)),
                "{fmt:?}: {path} not named in {issues:?}"
            );
        }
        assert_eq!(history(&app, &id, fmt).await["total"], 1);
    }
}

#[tokio::test]
async fn created_must_be_an_instant() {
    let app = spawn_app().await;
    for fmt in BOTH {
        let (id, read) = registered(&app).await;
        for bad in ["2019-03-01", "2019-03-01T09:00:00"] {
            let mut body = cancelled(&read);
            body["created"] = json!(bad);
            let response = put(&app, fmt, &id, &body, "W/\"1\"").await;
            assert_outcome(response, 422, "INVALID_RESOURCE", "Appointment.created").await;
        }
        assert_eq!(history(&app, &id, fmt).await["total"], 1);
    }
}

#[tokio::test]
async fn two_concurrent_cancels_with_one_version_exactly_one_wins() {
    let app = spawn_app().await;
    for round in 0..20 {
        let (id, read) = registered(&app).await;
        let first = cancelled(&read);
        let mut second = cancelled(&read);
        second["status"] = json!("entered-in-error");
        let (a, b) = tokio::join!(
            put(&app, Fmt::Json, &id, &first, "W/\"1\""),
            put(&app, Fmt::Xml, &id, &second, "W/\"1\""),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}");
        let bundle = history(&app, &id, Fmt::Json).await;
        assert_eq!(bundle["total"], 2, "round {round}");
        assert_eq!(bundle["entry"][1]["resource"]["meta"]["versionId"], "1");
    }
}

#[tokio::test]
async fn cancel_and_history_xml_pass_the_official_schema() {
    let app = spawn_app().await;
    let (id, read) = registered(&app).await;
    let response = put(&app, Fmt::Xml, &id, &cancelled(&read), "W/\"1\"").await;
    assert_eq!(response.status(), 200);
    assert_schema_valid("cancelled", &response.bytes().await.unwrap());
    let stale = put(&app, Fmt::Xml, &id, &cancelled(&read), "W/\"1\"").await;
    assert_eq!(stale.status(), 409);
    assert_schema_valid("conflict-409", &stale.bytes().await.unwrap());
    let bundle = app
        .get(&format!("/Appointment/{id}/_history?_format=xml"))
        .await;
    assert_eq!(bundle.status(), 200);
    assert!(
        content_type(&bundle).starts_with("application/fhir+xml"),
        "{}",
        content_type(&bundle)
    );
    assert_schema_valid("history", &bundle.bytes().await.unwrap());
}
