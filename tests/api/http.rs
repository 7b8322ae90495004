//! HTTP conventions around registration and read: 400, 404, 405, 406, 413, 415, Prefer, _format.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn unparseable_bodies_are_400() {
    let app = spawn_app().await;
    for (ct, body, mentions) in [
        ("application/fhir+json", "{not json", ""),
        ("application/fhir+json", "[1,2]", ""),
        ("application/fhir+json", r#"{"resourceType":"Patient","id":"1"}"#, "Patient"),
        ("application/fhir+json", r#"{"status":"booked"}"#, ""),
        ("application/fhir+xml", "<Appointment xmlns=\"http://hl7.org/fhir\"><status value=\"booked\">", ""),
        ("application/fhir+xml", "<Appointment><status value=\"booked\"/></Appointment>", ""),
        (
            "application/fhir+xml",
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\
             <Appointment xmlns=\"http://hl7.org/fhir\"><comment value=\"&lol2;\"/></Appointment>",
            "",
        ),
        ("application/fhir+json", "", "empty"),
    ] {
        let response = app.register(ct, body.to_string()).await;
        assert_outcome(response, 400, "BAD_REQUEST", mentions).await;
    }
}

#[tokio::test]
async fn unsupported_media_types_are_415() {
    let app = spawn_app().await;
    let body = valid_appointment().to_string();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/fhir+json; charset=latin1",
    ] {
        let response = app.register(ct, body.clone()).await;
        assert_outcome(response, 415, "UNSUPPORTED_MEDIA_TYPE", "").await;
    }
    // The other accepted names for JSON.
    for ct in [
        "application/json",
        "application/json+fhir",
        "application/fhir+json; charset=UTF-8",
    ] {
        assert_eq!(app.register(ct, body.clone()).await.status(), 201, "{ct}");
    }
    // And for XML (the DSTU2 name included), each answered in XML.
    let xml = appointment_registry::fhir::write_xml(&valid_appointment());
    for ct in [
        "application/xml",
        "application/xml+fhir",
        "application/fhir+xml",
    ] {
        let response = app.register(ct, xml.clone()).await;
        assert_eq!(response.status(), 201, "{ct}");
        let answered = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            answered.starts_with("application/fhir+xml"),
            "{ct}: {answered}"
        );
    }
}

#[tokio::test]
async fn bodies_past_the_limit_are_413() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 2048).await;
    let mut big = valid_appointment();
    big["comment"] = Value::String("x".repeat(4096));
    let response = app.register("application/fhir+json", big.to_string()).await;
    assert_eq!(response.status(), 413);
    let (_, issues) = outcome(response).await;
    assert!(issues[0].1.contains("2048"), "{issues:?}");
}

#[tokio::test]
async fn read_errors() {
    let app = spawn_app().await;
    assert_outcome(
        app.get("/Appointment/no-such-id").await,
        404,
        "NO_RECORD_FOUND",
        "",
    )
    .await;
    assert_outcome(
        app.get("/Appointment/bad%20id!").await,
        400,
        "BAD_REQUEST",
        "",
    )
    .await;
    let created: Value = app.registered().await;
    let id = created["id"].as_str().unwrap();
    assert_outcome(
        app.get(&format!("/Appointment/{id}/_history/2")).await,
        404,
        "NO_RECORD_FOUND",
        "",
    )
    .await;
    assert_outcome(
        app.get(&format!("/Appointment/{id}/_history/x")).await,
        400,
        "BAD_REQUEST",
        "",
    )
    .await;
    assert_outcome(app.get("/Patient/1").await, 404, "NO_RECORD_FOUND", "").await;
}

#[tokio::test]
async fn unsupported_methods_are_405_with_allow() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/Appointment/abc"))
        .bearer_auth(app.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers().contains_key("allow"));
    assert_outcome(response, 405, "INVALID_REQUEST_TYPE", "DELETE").await;
}

#[tokio::test]
async fn prefer_and_format_negotiation() {
    let app = spawn_app().await;
    let body = valid_appointment().to_string();
    let send = |prefer: &'static str, accept: &'static str, query: &'static str| {
        app.client
            .post(app.url(&format!("/Appointment{query}")))
            .bearer_auth(app.token())
            .header("Content-Type", "application/fhir+json")
            .header("Prefer", prefer)
            .header("Accept", accept)
            .body(body.clone())
            .send()
    };
    let minimal = send("return=minimal", "*/*", "").await.unwrap();
    assert_eq!(minimal.status(), 201);
    assert!(minimal.headers().contains_key("location"));
    assert!(minimal.text().await.unwrap().is_empty());

    let oo = send("return=OperationOutcome", "application/fhir+json", "")
        .await
        .unwrap();
    assert_eq!(oo.status(), 201);
    let (_, issues) = outcome(oo).await;
    assert_eq!(issues[0].0, "RESOURCE_CREATED");

    let xml = send("return=representation", "application/fhir+xml", "")
        .await
        .unwrap();
    assert!(
        content_type(&xml).starts_with("application/fhir+xml"),
        "{}",
        content_type(&xml)
    );
    let json = send("", "application/fhir+xml", "?_format=json")
        .await
        .unwrap();
    assert!(
        content_type(&json).starts_with("application/fhir+json"),
        "{}",
        content_type(&json)
    );
    let refused = send("", "text/html", "").await.unwrap();
    assert_eq!(refused.status(), 406);
    // _format naming a type the registry does not produce is a negotiation failure too.
    let bad_format = send("", "*/*", "?_format=html").await.unwrap();
    assert_eq!(bad_format.status(), 406);
}

#[tokio::test]
async fn internal_errors_are_500_and_leak_nothing() {
    let app = spawn_app().await;
    // Break the database under the server: the identifier table is gone (with the admin view
    // over it, which PostgreSQL would not leave dangling).
    app.db
        .execute("DROP VIEW appointment_summary; DROP TABLE appointment_identifier");
    let mut resource = valid_appointment();
    resource["identifier"] = serde_json::json!([{"system": "urn:ietf:rfc:3986", "value": "x"}]);
    let response = app.register_json(&resource).await;
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap();
    assert!(text.contains("INTERNAL_SERVER_ERROR"), "{text}");
    for internal in [
        "appointment_identifier",
        "no such table",
        "sqlite",
        "postgres",
        "does not exist",
        "SELECT",
    ] {
        assert!(!text.contains(internal), "leaked '{internal}': {text}");
    }
    // Nothing half-written stays: the failed registration left no appointment row.
    assert_eq!(app.stored_appointments(), 0);
}

#[tokio::test]
async fn undecodable_paths_and_head_still_answer_fhir() {
    let app = spawn_app().await;
    assert_outcome(app.get("/Appointment/%FF%FE").await, 400, "BAD_REQUEST", "").await;
    let head = app
        .client
        .head(app.url("/Appointment/abc"))
        .bearer_auth(app.token())
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
    assert!(
        content_type(&head).starts_with("application/fhir+json; charset=utf-8"),
        "{}",
        content_type(&head)
    );
}

/// The paths under an appointment's id, matched by hand rather than by the route table
/// (`http::variable_paths`), answer as the table's `{id}` patterns did: an id's `%XX`
/// decoded, an empty or extra segment not found, another method 405 with Allow.
#[tokio::test]
async fn the_paths_under_an_id_answer_as_route_patterns_would() {
    let app = spawn_app().await;
    let created: Value = app.registered().await;
    let id = created["id"].as_str().unwrap();
    // The id with its first character percent-encoded is the same id.
    let encoded = format!("%{:02X}{}", id.as_bytes()[0], &id[1..]);
    for path in [
        format!("/Appointment/{encoded}"),
        format!("/Appointment/{encoded}/_history/1"),
        format!("/Appointment/{encoded}/_history/%31"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], id, "{path}");
    }
    // Matched on the path actix routes on: `%5F` is `_` there, while `%2F` stays inside its
    // segment (decoded in the id, not a separator) and `%25` is decoded once.
    let history = app.get(&format!("/Appointment/{id}/%5Fhistory")).await;
    assert_eq!(history.status(), 200);
    assert_outcome(
        app.get(&format!("/Appointment/{id}%2F_history")).await,
        400,
        "BAD_REQUEST",
        &format!("'{id}/_history' is not a FHIR id"),
    )
    .await;
    assert_outcome(
        app.get("/Appointment/%2541").await,
        400,
        "BAD_REQUEST",
        "'%41' is not a FHIR id",
    )
    .await;
    // `%2B` (`+`) is kept encoded for routing and decoded in the segment, as `web::Path` did.
    assert_outcome(
        app.get(&format!("/Appointment/{id}/_history/1%2B2")).await,
        400,
        "BAD_REQUEST",
        "'1+2' is not a version id",
    )
    .await;
    let history = app.get(&format!("/Appointment/{encoded}/_history")).await;
    assert_eq!(history.status(), 200);
    let history: Value = history.json().await.unwrap();
    assert_eq!(history["entry"][0]["resource"]["id"], id);
    // The CapabilityStatement's SearchParameter is there; no other is.
    let statement: Value = app.get("/metadata").await.json().await.unwrap();
    let params = &statement["rest"][0]["resource"][0]["searchParam"];
    let definition = params
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| p["definition"].as_str())
        .unwrap();
    let path = &definition[definition.find("/SearchParameter/").unwrap()..];
    let parameter = app.get(path).await;
    assert_eq!(parameter.status(), 200, "{path}");
    let parameter: Value = parameter.json().await.unwrap();
    assert_eq!(parameter["resourceType"], "SearchParameter");
    assert_outcome(
        app.get("/SearchParameter/other").await,
        404,
        "NO_RECORD_FOUND",
        "'other'",
    )
    .await;
    for path in [
        "/SearchParameter/".to_string(),
        format!("{path}/more"),
        "/Appointment/".to_string(),
        format!("/Appointment/{id}/"),
        "/Appointment//_history".to_string(),
        format!("/Appointment/{id}/_history/"),
        format!("/Appointment/{id}/_history/1/more"),
        format!("/Appointment/{id}/other"),
        format!("/Appointment/{id}/%5Fhistory/1/more"),
    ] {
        assert_outcome(app.get(&path).await, 404, "NO_RECORD_FOUND", "").await;
    }
    for (method, path, allow) in [
        (
            reqwest::Method::POST,
            format!("/Appointment/{id}"),
            "GET, PUT",
        ),
        (
            reqwest::Method::DELETE,
            format!("/Appointment/{id}/_history"),
            "GET",
        ),
        (
            reqwest::Method::PUT,
            format!("/Appointment/{id}/_history/1"),
            "GET",
        ),
        (
            reqwest::Method::POST,
            "/SearchParameter/x".to_string(),
            "GET",
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(app.token())
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        assert_outcome(response, 405, "INVALID_REQUEST_TYPE", method.as_str()).await;
    }
    // The metrics name each route by its pattern, never by the path; what no route takes is
    // "unmatched".
    let metrics = app.metrics().await;
    for needle in [
        "method=\"GET\",route=\"/Appointment/{id}\",status=\"200\"",
        "method=\"GET\",route=\"/Appointment/{id}/_history\",status=\"200\"",
        "method=\"GET\",route=\"/Appointment/{id}/_history/{vid}\",status=\"200\"",
        "method=\"GET\",route=\"/SearchParameter/{id}\",status=\"200\"",
        "method=\"DELETE\",route=\"/Appointment/{id}/_history\",status=\"405\"",
        "method=\"GET\",route=\"unmatched\",status=\"404\"",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    assert!(!metrics.contains(id), "an id in the metrics:\n{metrics}");
}
