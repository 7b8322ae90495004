//! FHIR search conventions integrators' clients use (issue 11 point 2): `_summary`, `_elements`
//! and `Prefer: handling=lenient`, in JSON and XML, with paging.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::search_support::*;

async fn three(app: &TestApp) {
    for day in 1..=3 {
        let mut a = appointment(
            P,
            &format!("2030-03-0{day}T10:00:00Z"),
            "2019-02-01T10:00:00Z",
        );
        a["comment"] = json!("a comment");
        add(app, &a).await;
    }
}

fn tagged(resource: &Value) -> bool {
    resource["meta"]["tag"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t["code"] == "SUBSETTED"))
}

#[tokio::test]
async fn summary_count_gives_the_total_and_no_entries() {
    let app = spawn_app().await;
    three(&app).await;
    for bundle in [
        search(&app, &format!("patient={P}&_summary=count")).await,
        search_xml(&app, &format!("patient={P}&_summary=count")).await,
    ] {
        assert_eq!(bundle["total"], 3);
        assert!(bundle["entry"].is_null(), "{bundle}");
        assert!(link(&bundle, "self").unwrap().contains("_summary=count"));
        assert!(link(&bundle, "next").is_none());
    }
}

#[tokio::test]
async fn summary_modes_cut_each_entry_and_tag_it() {
    let app = spawn_app().await;
    three(&app).await;
    for (mode, has_comment, has_start) in [
        ("true", false, true),
        ("data", true, true),
        ("text", false, false),
    ] {
        for bundle in [
            search(&app, &format!("patient={P}&_summary={mode}")).await,
            search_xml(&app, &format!("patient={P}&_summary={mode}")).await,
        ] {
            let entries = bundle["entry"].as_array().unwrap();
            assert_eq!(entries.len(), 3, "{mode}");
            for e in entries {
                let r = &e["resource"];
                assert_eq!(r["comment"].is_string(), has_comment, "{mode}: {r}");
                assert_eq!(r["start"].is_string(), has_start, "{mode}: {r}");
                assert_eq!(r["status"], "booked", "{mode}: mandatory elements stay");
                assert!(r["participant"].is_array(), "{mode}");
                assert!(tagged(r), "{mode}: SUBSETTED");
            }
        }
    }
    let full = search(&app, &format!("patient={P}&_summary=false")).await;
    assert!(full["entry"][0]["resource"]["comment"].is_string());
    assert!(!tagged(&full["entry"][0]["resource"]));
}

#[tokio::test]
async fn elements_return_those_and_the_mandatory_ones_across_pages() {
    let app = spawn_app().await;
    three(&app).await;
    let first = search(&app, &format!("patient={P}&_elements=comment&_count=2")).await;
    let next = link(&first, "next").expect("a next page");
    assert!(next.contains("_elements=comment"), "{next}");
    let path = next.strip_prefix(&app.base).unwrap().to_string();
    let second = app.get(&path).await.json::<Value>().await.unwrap();
    let mut seen = 0;
    for bundle in [&first, &second] {
        for e in bundle["entry"].as_array().unwrap() {
            let r = &e["resource"];
            assert!(
                r["comment"].is_string() && r["status"].is_string() && r["participant"].is_array()
            );
            assert!(r["start"].is_null() && r["created"].is_null(), "{r}");
            assert!(tagged(r));
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
    let xml = search_xml(&app, &format!("patient={P}&_elements=comment,start")).await;
    assert!(xml["entry"][0]["resource"]["start"].is_string());
    refused(&app, &format!("patient={P}&_elements=colour"), "colour").await;
    refused(
        &app,
        &format!("patient={P}&_elements=comment&_summary=true"),
        "_elements",
    )
    .await;
    refused(&app, &format!("patient={P}&_summary=maybe"), "_summary").await;
}

#[tokio::test]
async fn lenient_handling_ignores_unknown_parameters_and_says_so() {
    let app = spawn_app().await;
    three(&app).await;
    // Unknown parameters are ignored however they come: repeated, or with no value.
    let query = format!("/Appointment?patient={P}&foo=bar&status:not=cancelled&foo=&foo=2");
    let lenient = |prefer: &'static str| {
        app.client
            .get(app.url(&query))
            .bearer_auth(app.token())
            .header("Prefer", prefer)
            .send()
    };
    let response = lenient("handling=lenient").await.unwrap();
    assert_eq!(response.status(), 200);
    let bundle: Value = response.json().await.unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let matches = entries
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .count();
    assert_eq!(matches, 3);
    let outcome = entries
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("an outcome entry");
    assert_eq!(outcome["resource"]["resourceType"], "OperationOutcome");
    let said = outcome["resource"].to_string();
    assert!(
        said.contains("'foo'") && said.contains("'status:not'"),
        "{said}"
    );
    let own = link(&bundle, "self").unwrap();
    assert!(
        !own.contains("foo") && !own.contains("status%3Anot"),
        "{own}"
    );
    // XML too, valid against the schema.
    let xml = app
        .client
        .get(app.url(&format!("{query}&_format=xml")))
        .bearer_auth(app.token())
        .header("Prefer", "return=representation, handling=lenient")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
    crate::xmllint::assert_schema_valid("lenient-searchset", &xml.bytes().await.unwrap());
    // Strict, or no preference: refused as before.
    assert_eq!(lenient("handling=strict").await.unwrap().status(), 400);
    refused(&app, &format!("patient={P}&foo=bar"), "foo").await;
}

#[tokio::test]
async fn the_capability_statement_declares_summary_and_elements() {
    let app = spawn_app().await;
    let cs = app.capability_statement().await;
    let names: Vec<&str> = cs["rest"][0]["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["_summary", "_elements"]);
    let description = cs["description"].as_str().unwrap();
    assert!(description.contains("handling=lenient"), "{description}");
}
