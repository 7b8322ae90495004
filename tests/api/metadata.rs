//! RULES.md §8: the CapabilityStatement tells the truth about the router.

use serde_json::Value;

use crate::helpers::*;

/// FHIR's own mapping of interaction codes to requests (independent of the server's code).
fn request_for(code: &str, id: &str) -> Option<(&'static str, String)> {
    Some(match code {
        "read" => ("GET", format!("/Appointment/{id}")),
        "vread" => ("GET", format!("/Appointment/{id}/_history/1")),
        "update" => ("PUT", format!("/Appointment/{id}")),
        "patch" => ("PATCH", format!("/Appointment/{id}")),
        "delete" => ("DELETE", format!("/Appointment/{id}")),
        "history-instance" => ("GET", format!("/Appointment/{id}/_history")),
        "history-type" => ("GET", "/Appointment/_history".to_string()),
        "create" => ("POST", "/Appointment".to_string()),
        "search-type" => ("GET", "/Appointment?patient=1234554321".to_string()),
        _ => return None,
    })
}

const ALL_CODES: [&str; 9] = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
];

#[tokio::test]
async fn metadata_needs_no_token_and_matches_the_router() {
    let app = spawn_app().await;
    let cs = app.capability_statement().await;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "3.0.1");
    let resource = &cs["rest"][0]["resource"][0];
    assert_eq!(resource["type"], "Appointment");
    assert_eq!(resource["conditionalCreate"], true);
    // What a searchset's total means is documented with its limit (search_history.rs tests it).
    let limit = appointment_registry::registry::search::TOTAL_LIMIT.to_string();
    let documentation = resource["documentation"].as_str().unwrap();
    assert!(
        documentation.contains("Bundle.total") && documentation.contains(&limit),
        "{documentation}"
    );
    let xml = app
        .client
        .get(app.url("/metadata?_format=xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
    crate::xmllint::assert_schema_valid("metadata", &xml.bytes().await.unwrap());
    let declared: Vec<&str> = resource["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();

    let created: Value = app.registered().await;
    let id = created["id"].as_str().unwrap();
    for code in ALL_CODES {
        let (method, path) = request_for(code, id).unwrap();
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(app.token())
            .header("Content-Type", "application/fhir+json")
            .body(created.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if declared.contains(&code) {
            assert!(
                ![404, 405].contains(&status),
                "{code} is declared but {method} {path} gave {status}"
            );
        } else {
            assert!(
                [404, 405].contains(&status),
                "{code} is not declared but {method} {path} gave {status}"
            );
        }
    }

    // The parameters declared for every search (rest.searchParam) are accepted, and so is the
    // declared operation: $validate answers a body with an OperationOutcome.
    let rest = &cs["rest"][0];
    for param in rest["searchParam"].as_array().unwrap() {
        let name = param["name"].as_str().unwrap();
        let value = if name == "_summary" {
            "count"
        } else {
            "status"
        };
        let response = app
            .get(&format!("/Appointment?patient=1234554321&{name}={value}"))
            .await;
        assert_eq!(response.status(), 200, "common search parameter {name}");
    }
    for operation in rest["operation"].as_array().unwrap() {
        let name = operation["name"].as_str().unwrap();
        let response = app
            .client
            .post(app.url(&format!("/Appointment/${name}")))
            .bearer_auth(app.token())
            .header("Content-Type", "application/fhir+json")
            .body(valid_appointment().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "declared operation ${name}");
    }

    // Every declared search parameter is accepted by search; `created` has a definition that resolves.
    for param in resource["searchParam"].as_array().unwrap() {
        let name = param["name"].as_str().unwrap();
        let value = match param["type"].as_str().unwrap() {
            "date" => "ge2019",
            "token" if name == "status" => "booked",
            "token" => "urn:ietf:rfc:3986|x",
            _ => "1234554321",
        };
        let query = if ["patient", "actor", "Appointment.participant.actor"].contains(&name) {
            format!("{name}={value}")
        } else {
            format!("patient=1234554321&{name}={value}")
        };
        let response = app.get(&format!("/Appointment?{query}")).await;
        assert_eq!(
            response.status(),
            200,
            "search parameter {name}: {}",
            response.text().await.unwrap()
        );
    }
    let definition = resource["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "created")
        .unwrap()["definition"]
        .as_str()
        .unwrap()
        .to_string();
    let sp = app.client.get(&definition).send().await.unwrap();
    assert_eq!(sp.status(), 200);
    let sp: Value = sp.json().await.unwrap();
    assert_eq!(sp["code"], "created");
}
