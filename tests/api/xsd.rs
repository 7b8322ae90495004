//! Every kind of XML the server emits validates against the official STU3 XSD (xmllint).

use serde_json::json;

use crate::helpers::*;
use crate::xmllint::assert_schema_valid;

#[tokio::test]
async fn server_xml_passes_the_official_schema() {
    let app = spawn_app().await;
    let xml_post = |body: String, prefer: &'static str| {
        app.client
            .post(app.url("/Appointment"))
            .bearer_auth(app.token())
            .header("Content-Type", "application/fhir+xml")
            .header("Prefer", prefer)
            .body(body)
            .send()
    };
    let sample = fixture("registry-register-request.example.xml");
    let fixed = sample.replace("</actor>", "</actor><status value=\"accepted\"/>");

    let created = xml_post(fixed.clone(), "return=representation")
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    assert_schema_valid("created", &created.bytes().await.unwrap());

    let read = app
        .client
        .get(format!("{location}?_format=xml"))
        .bearer_auth(app.token())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_schema_valid("read", &read.bytes().await.unwrap());

    let outcomes = [
        ("invalid-422", xml_post(sample.clone(), "").await.unwrap()),
        ("duplicate-422", xml_post(fixed.clone(), "").await.unwrap()),
        (
            "unparseable-400",
            xml_post("<Appointment".into(), "").await.unwrap(),
        ),
        (
            "created-outcome",
            xml_post(fixed.replace("test3", "test4"), "return=OperationOutcome")
                .await
                .unwrap(),
        ),
        (
            "forbidden-403",
            app.client
                .get(format!("{location}?_format=xml"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "not-found-404",
            app.get("/Appointment/nope?_format=xml").await,
        ),
        (
            "many-problems-422",
            app.client
                .post(app.url("/Appointment?_format=xml"))
                .bearer_auth(app.token())
                .header("Content-Type", "application/fhir+json")
                .body(
                    json!({"resourceType": "Appointment", "status": "x", "end": "y", "colour": 1})
                        .to_string(),
                )
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (name, response) in outcomes {
        assert!(
            response.status().is_client_error() || response.status() == 201,
            "{name}"
        );
        let body = response.bytes().await.unwrap();
        assert!(
            body.starts_with(b"<?xml"),
            "{name}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_schema_valid(name, &body);
    }
}
