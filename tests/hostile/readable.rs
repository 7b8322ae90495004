//! Issue 8, bullet 2: accepted means readable. Whatever gets a 201 reads back in JSON and XML,
//! its XML passes the official STU3 XSD, and its history and a search page holding it render
//! in both formats; whatever is refused is refused before COMMIT, with a 4xx naming why.

use appointment_registry::fhir;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::xmllint::assert_all_schema_valid;

/// An extension nested `depth` levels deep (each level is an object inside an array).
fn nested_extension(depth: usize) -> Value {
    let mut ext = json!({ "url": "http://example.org/leaf", "valueString": "leaf" });
    for _ in 1..depth {
        ext = json!({ "url": "http://example.org/level", "extension": [ext] });
    }
    ext
}

fn nested_extension_xml(depth: usize) -> String {
    let mut xml = String::from(
        "<extension url=\"http://example.org/leaf\"><valueString value=\"leaf\"/></extension>",
    );
    for _ in 1..depth {
        xml = format!("<extension url=\"http://example.org/level\">{xml}</extension>");
    }
    format!(
        "<Appointment xmlns=\"http://hl7.org/fhir\">{xml}<status value=\"booked\"/>\
         <start value=\"2030-02-01T10:51:23.620+00:00\"/><created value=\"2019-02-01T10:51:23+00:00\"/>\
         <participant><actor><identifier><system value=\"https://fhir.nhs.uk/Id/nhs-number\"/>\
         <value value=\"1234554321\"/></identifier></actor><status value=\"accepted\"/></participant>\
         </Appointment>"
    )
}

#[tokio::test]
async fn deep_nesting_is_refused_before_anything_is_stored() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let mut created = 0;
    for depth in [1, 10, 30, 31, 32, 33, 63, 64, 65, 80, 98, 99, 150, 200] {
        let mut body = valid_appointment();
        body["extension"] = json!([nested_extension(depth)]);
        for (kind, response) in [
            ("json", app.register_json(&body).await),
            (
                "xml",
                app.register("application/fhir+xml", nested_extension_xml(depth))
                    .await,
            ),
        ] {
            let status = response.status().as_u16();
            assert!(
                [201, 400].contains(&status),
                "depth {depth} in {kind}: {status}"
            );
            if status == 201 {
                created += 1;
                let location = response.headers()["location"].to_str().unwrap();
                let location = location.strip_prefix(&app.base).unwrap().to_string();
                for format in ["json", "xml"] {
                    let read = app.get(&format!("{location}?_format={format}")).await;
                    assert_eq!(read.status(), 200, "depth {depth} read as {format}");
                }
            } else {
                assert_outcome(response, 400, "BAD_REQUEST", "nested").await;
            }
        }
    }
    assert_eq!(
        app.stored_appointments(),
        created,
        "one row per 201, no more"
    );
}

#[tokio::test]
async fn the_same_identifier_twice_in_one_body_is_a_422() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let mut body = valid_appointment();
    let id = json!({ "system": "urn:test", "value": "twice" });
    body["identifier"] = json!([id, { "system": "urn:test", "value": "once" }, id]);
    for response in [
        app.register_json(&body).await,
        app.register("application/fhir+xml", fhir::write_xml(&body))
            .await,
    ] {
        assert_outcome(
            response,
            422,
            "DUPLICATE_REJECTED",
            "Appointment.identifier[2]: repeats Appointment.identifier[0]",
        )
        .await;
    }
    assert_eq!(app.stored_appointments(), 0);
}

#[tokio::test]
async fn control_characters_are_refused_in_every_string() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    for c in [
        '\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{1b}', '\u{1f}', '\u{fffe}', '\u{ffff}',
    ] {
        let mut body = valid_appointment();
        body["comment"] = json!(format!("before{c}after"));
        let response = app.register_json(&body).await;
        assert_outcome(response, 422, "INVALID_RESOURCE", "Appointment.comment").await;

        let mut body = valid_appointment();
        body["identifier"] = json!([{ "system": "urn:test", "value": format!("v{c}") }]);
        let response = app.register_json(&body).await;
        assert_outcome(
            response,
            422,
            "INVALID_RESOURCE",
            "Appointment.identifier[0].value",
        )
        .await;
    }
    // In XML, the same characters can only arrive as character references.
    for reference in ["&#0;", "&#1;", "&#x1B;", "&#xFFFE;"] {
        let xml = fhir::write_xml(&valid_appointment());
        let xml = String::from_utf8(xml).unwrap().replace(
            "<status value=\"booked\"/>",
            &format!("<status value=\"booked\"/><comment value=\"a{reference}b\"/>"),
        );
        let response = app.register("application/fhir+xml", xml).await;
        let (status, issues) = outcome(response).await;
        assert!(
            [400, 422].contains(&status),
            "{reference}: {status} {issues:?}"
        );
    }
    // And in narrative XHTML.
    let mut body = valid_appointment();
    body["text"] = json!({
        "status": "generated",
        "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">a&#1;b</div>"
    });
    let response = app.register_json(&body).await;
    assert_outcome(response, 422, "INVALID_RESOURCE", "Appointment.text.div").await;
    for div in [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\" title=\"&#1;\">x</div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">&#X41;</div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">&#+65;</div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">&#x+41;</div>",
    ] {
        let mut body = valid_appointment();
        body["text"] = json!({ "status": "generated", "div": div });
        let response = app.register_json(&body).await;
        assert_outcome(response, 422, "INVALID_RESOURCE", "Appointment.text.div").await;
    }
    // An OperationOutcome quoting a client's control character is still well-formed XML
    // (`outcome` reads it strictly).
    let response = app
        .get("/Appointment?patient=1234554321&x%01=1&_format=xml")
        .await;
    let (status, _) = outcome(response).await;
    assert_eq!(status, 400);
    // Tab, newline, carriage return and DEL are characters XML carries: accepted, readable.
    let mut body = valid_appointment();
    body["comment"] = json!("tab\tnewline\ncr\rdel\u{7f}");
    let response = app.register_json(&body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.stored_appointments(), 1);
}

/// One body of the family: a name for messages, the bytes, and the content type.
struct Case {
    name: String,
    body: Vec<u8>,
    xml: bool,
}

fn json_case(name: impl Into<String>, value: &Value) -> Case {
    Case {
        name: name.into(),
        body: value.to_string().into_bytes(),
        xml: false,
    }
}

fn raw_case(name: &str, text: String) -> Case {
    Case {
        name: name.into(),
        body: text.into_bytes(),
        xml: false,
    }
}

/// Valid and near-valid registrations: every optional element, extension depths 1–200, each
/// primitive's edge values, unicode, BOMs and duplicate keys. Each carries its own identifier
/// so that a 201 can be found again by search.
fn family() -> Vec<Case> {
    let coding =
        json!({ "system": "http://example.org/codes", "code": "c1", "display": "Code one" });
    let concept = json!({ "coding": [coding], "text": "text ✓" });
    let reference =
        json!({ "reference": "https://example.org/ReferralRequest/1", "display": "a referral" });
    let optional: Vec<(&str, Value)> = vec![
        ("serviceCategory", concept.clone()),
        ("serviceType", json!([concept])),
        ("specialty", json!([concept])),
        ("appointmentType", concept.clone()),
        ("reason", json!([concept])),
        ("indication", json!([reference])),
        ("priority", json!(5)),
        ("minutesDuration", json!(15)),
        ("comment", json!("a comment")),
        ("incomingReferral", json!([reference])),
        (
            "requestedPeriod",
            json!([{ "start": "2030-01-01", "end": "2030-02-01T00:00:00Z" }]),
        ),
        ("language", json!("en-GB")),
        ("implicitRules", json!("http://example.org/rules")),
        (
            "meta",
            json!({ "versionId": "7", "lastUpdated": "2019-01-01T00:00:00Z",
                         "profile": ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1"],
                         "security": [coding], "tag": [coding] }),
        ),
        (
            "text",
            json!({ "status": "generated",
                         "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>é &amp; &#x1F600; <b>bold</b></p></div>" }),
        ),
        (
            "modifierExtension",
            json!([{ "url": "http://example.org/m", "valueBoolean": true }]),
        ),
        (
            "_status",
            json!({ "id": "s1", "extension": [{ "url": "http://example.org/e", "valueCode": "x" }] }),
        ),
    ];
    let mut values: Vec<(String, Value)> = Vec::new();
    let base = valid_appointment();
    values.push(("base".into(), base.clone()));
    let mut everything = base.clone();
    for (name, value) in &optional {
        let mut v = base.clone();
        v[*name] = value.clone();
        values.push((format!("with {name}"), v));
        everything[*name] = value.clone();
    }
    values.push(("every optional element".into(), everything));
    let mut participant = base.clone();
    participant["participant"][0]["type"] = json!([concept]);
    participant["participant"][0]["required"] = json!("required");
    participant["participant"][0]["id"] = json!("p1");
    participant["participant"][0]["actor"]["display"] = json!("Ms Patient");
    participant["participant"]
        .as_array_mut()
        .unwrap()
        .push(json!({
        "actor": { "reference": "https://example.org/Practitioner/1" }, "status": "tentative" }));
    values.push(("participant extras".into(), participant));
    for depth in [1, 2, 5, 10, 20, 30, 31, 32, 40, 64, 100, 150, 200] {
        let mut v = base.clone();
        v["extension"] = json!([nested_extension(depth)]);
        values.push((format!("extension depth {depth}"), v));
    }
    let edges: Vec<(&str, Value)> = vec![
        ("priority", json!(0)),
        ("priority", json!(2147483647)),
        ("priority", json!(2147483648u64)),
        ("priority", json!(-1)),
        ("priority", json!(1.5)),
        ("minutesDuration", json!(0)),
        ("minutesDuration", json!(1)),
        ("minutesDuration", json!(2147483647)),
        (
            "comment",
            json!("😀 مرحبا é\u{301} z\u{200d}w \u{2028} <&>\"' "),
        ),
        ("comment", json!(" leading and trailing ")),
        ("comment", json!("x".repeat(20_000))),
        ("comment", json!("")),
        ("comment", json!("tab\tnew\nline\u{7f}")),
        ("comment", json!("nul\u{0}")),
        ("comment", json!("esc\u{1b}")),
        ("comment", json!("nonchar\u{fffe}")),
        ("comment", Value::Null),
        ("start", json!("0001-01-01T00:00:00Z")),
        ("start", json!("9999-12-31T23:59:59.999Z")),
        ("start", json!("9999-12-31T23:59:59.999999999+14:00")),
        ("start", json!("9999-12-31T23:59:59-01:00")),
        ("start", json!("2020-02-29T12:00:00.1234567891Z")),
        ("start", json!("2019-02-29T12:00:00Z")),
        ("created", json!("0000-01-01T00:00:00+14:00")),
        ("created", json!("2019-02-01T10:51:23-14:00")),
        ("created", json!(20190201)),
        ("language", json!("not a code with  two spaces")),
        ("implicitRules", json!("has space")),
        ("requestedPeriod", json!([{ "start": "0001-01-01" }])),
        ("requestedPeriod", json!([{ "start": "9999" }])),
        ("requestedPeriod", json!([{ "start": "0000" }])),
        ("requestedPeriod", json!([{ "start": "-2019" }])),
        (
            "requestedPeriod",
            json!([{ "start": "9999-12-31T23:59:59-14:00" }]),
        ),
        ("requestedPeriod", json!([{ "start": "2019-02" }])),
        ("requestedPeriod", json!([{}])),
        (
            "meta",
            json!({ "lastUpdated": "9999-12-31T23:59:59.999+14:00" }),
        ),
        ("meta", json!({ "versionId": "x".repeat(65) })),
        (
            "text",
            json!({ "status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">&#0;</div>" }),
        ),
        (
            "text",
            json!({ "status": "generated", "div": "<div>no namespace</div>" }),
        ),
        (
            "identifier",
            json!([{ "system": "urn:x", "value": "a" }, { "system": "urn:x", "value": "a" }]),
        ),
    ];
    for (i, (name, value)) in edges.into_iter().enumerate() {
        let mut v = base.clone();
        v[name] = value;
        values.push((format!("edge {i}: {name}"), v));
    }

    let mut cases = Vec::new();
    for (n, (name, mut value)) in values.into_iter().enumerate() {
        if value.get("identifier").is_none() {
            value["identifier"] = json!([{ "system": "urn:family", "value": format!("case-{n}") }]);
        }
        cases.push(Case {
            name: format!("{name} (xml)"),
            body: fhir::write_xml(&value),
            xml: true,
        });
        let mut json_value = value.clone();
        json_value["identifier"][0]["value"] = json!(format!("case-{n}-json"));
        cases.push(json_case(name, &json_value));
    }
    // Near-valid bytes no Value can express.
    let text = |id: &str| {
        let mut v = valid_appointment();
        v["identifier"] = json!([{ "system": "urn:family", "value": id }]);
        v.to_string()
    };
    cases.push(raw_case("UTF-8 BOM", format!("\u{feff}{}", text("bom"))));
    cases.push(raw_case(
        "duplicate key",
        text("dup").replacen(
            "\"status\":\"booked\"",
            "\"status\":\"booked\",\"status\":\"booked\"",
            1,
        ),
    ));
    cases.push(raw_case(
        "duplicate key, different values",
        text("dup2").replacen(
            "\"status\":\"booked\"",
            "\"status\":\"cancelled\",\"status\":\"booked\"",
            1,
        ),
    ));
    cases.push(raw_case(
        "lone surrogate",
        text("sur").replacen("\"booked\"", "\"booked\",\"comment\":\"\\ud800\"", 1),
    ));
    cases.push(raw_case(
        "escaped NUL",
        text("nul").replacen("\"booked\"", "\"booked\",\"comment\":\"a\\u0000\"", 1),
    ));
    cases.push(raw_case(
        "huge number",
        text("num").replacen("\"booked\"", "\"booked\",\"priority\":1e400", 1),
    ));
    cases.push(raw_case(
        "arrays 200 deep",
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
    ));
    cases.push(raw_case("trailing garbage", format!("{}}}", text("trail"))));
    let xml = String::from_utf8(fhir::write_xml(
        &serde_json::from_str(&text("xml-bom")).unwrap(),
    ))
    .unwrap();
    cases.push(Case {
        name: "XML with BOM".into(),
        body: format!("\u{feff}{xml}").into_bytes(),
        xml: true,
    });
    cases
}

#[tokio::test]
async fn every_accepted_body_reads_back_in_both_formats_and_passes_the_xsd() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let cases = family();
    let total = cases.len();
    let outcomes: Vec<(String, u16, Option<String>)> = stream::iter(cases)
        .map(|case| {
            let app = &app;
            async move {
                let content_type = if case.xml {
                    "application/fhir+xml"
                } else {
                    "application/fhir+json"
                };
                let response = app.register(content_type, case.body).await;
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string());
                (case.name, status, location)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let server_errors: Vec<_> = outcomes.iter().filter(|(_, s, _)| *s >= 500).collect();
    assert!(server_errors.is_empty(), "5xx for: {server_errors:?}");

    let out_dir = tempfile::tempdir().unwrap();
    let mut xml_files = Vec::new();
    let mut accepted = 0;
    for (name, status, location) in &outcomes {
        if *status != 201 {
            assert!((400..500).contains(status), "{name}: {status}");
            continue;
        }
        accepted += 1;
        let location = location.as_deref().expect("201 has a Location");
        let location = location.strip_prefix(&app.base).unwrap();
        let id = location.rsplit('/').next().unwrap();
        let read: Value = app.get(location).await.json().await.unwrap();
        let identifier = read["identifier"][0].clone();
        let token = format!(
            "{}|{}",
            identifier["system"].as_str().unwrap_or(""),
            identifier["value"].as_str().unwrap_or("")
        );
        let search = format!(
            "/Appointment?patient=1234554321&date=ge0001-01-01&identifier={}",
            form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        for format in ["json", "xml"] {
            for (what, path) in [
                ("read", format!("{location}?_format={format}")),
                ("history", format!("{location}/_history?_format={format}")),
                ("search", format!("{search}&_format={format}")),
            ] {
                let response = app.get(&path).await;
                assert_eq!(response.status(), 200, "{name}: {what} as {format}");
                let body = response.bytes().await.unwrap();
                assert!(
                    String::from_utf8_lossy(&body).contains(id),
                    "{name}: {what} as {format} does not hold {id}"
                );
                if format == "xml" {
                    let file = out_dir
                        .path()
                        .join(format!("{}-{what}.xml", xml_files.len()));
                    std::fs::write(&file, &body).unwrap();
                    xml_files.push(file);
                }
            }
        }
    }
    assert_all_schema_valid(&xml_files);
    assert_eq!(app.stored_appointments(), accepted, "one row per 201");
    eprintln!(
        "family: {total} bodies, {accepted} accepted, {} refused with 4xx, 0 with 5xx; {} XML documents valid",
        total - accepted as usize,
        xml_files.len()
    );
    assert!(accepted > 40, "the family must exercise acceptance too");
}
