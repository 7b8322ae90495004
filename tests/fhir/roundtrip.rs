use crate::common::{fixture, issues, EXAMPLES};
use appointment_registry::fhir::{self, ReadError};

#[test]
fn json_and_xml_examples_read_the_same() {
    for name in EXAMPLES {
        let from_json = fhir::read_json(&fixture(&format!("{name}.json")));
        let from_xml = fhir::read_xml(&fixture(&format!("{name}.xml")));
        let (Ok(j), Ok(x)) = (from_json, from_xml) else {
            panic!("{name}: did not read cleanly");
        };
        assert_eq!(j, x, "{name}: JSON and XML forms differ");
    }
}

#[test]
fn examples_survive_json_xml_json() {
    for name in EXAMPLES {
        let original = fhir::read_json(&fixture(&format!("{name}.json"))).expect("reads");
        let xml = fhir::write_xml(&original);
        let back = fhir::read_xml(&xml).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let json = fhir::write_json(&back);
        let again = fhir::read_json(&json).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(original, again, "{name}: changed in the round trip");
        assert!(fhir::validate(&again).is_empty());
    }
}

#[test]
fn samples_round_trip_and_validate() {
    for (name, value) in crate::common::samples() {
        assert_eq!(fhir::validate(&value), vec![], "{name}");
        let back =
            fhir::read_xml(&fhir::write_xml(&value)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(back, value, "{name}: XML round trip");
        let back = fhir::read_json(&fhir::write_json(&value)).expect("JSON round trip");
        assert_eq!(back, value, "{name}: JSON round trip");
    }
}

#[test]
fn write_json_is_canonical() {
    let v = serde_json::json!({"status": "booked", "participant": [{"status": "accepted"}],
        "id": "x", "resourceType": "Appointment", "_status": {"id": "s1"}});
    let out = String::from_utf8(fhir::write_json(&v)).expect("utf8");
    assert_eq!(
        out,
        r#"{"resourceType":"Appointment","id":"x","status":"booked","_status":{"id":"s1"},"participant":[{"status":"accepted"}]}"#
    );
}

#[test]
fn nhs_register_request_misses_participant_status() {
    let found = issues(fhir::read_xml(&fixture(
        "registry-register-request.example.xml",
    )));
    assert!(
        found
            .iter()
            .any(|i| i.path == "Appointment.participant[0].status" && i.issue_type == "required"),
        "{found:?}"
    );
}

#[test]
fn other_nhs_examples_parse() {
    for name in [
        "registry-cancel-request.example.xml",
        "registry-search-response.example.xml",
        "registry-search-response.versioned.example.xml",
    ] {
        match fhir::read_xml(&fixture(name)) {
            Ok(_) => {}
            Err(ReadError::Invalid(issues)) => println!("{name}: {issues:#?}"),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn writers_never_panic_on_odd_values() {
    let odd = [
        serde_json::json!(null),
        serde_json::json!([1, 2]),
        serde_json::json!({"resourceType": 5}),
        serde_json::json!({"resourceType": "Appointment", "status": {"x": 1}, "participant": "nope",
            "text": {"status": "generated", "div": "<p>not a div"}, "_status": [null]}),
    ];
    for v in odd {
        let _ = fhir::write_json(&v);
        let _ = fhir::write_xml(&v);
    }
}

/// Found while fuzzing (fuzz/regressions/): serde_json writes big and small floats with an
/// exponent, which an XML decimal may not have, and a decimal above i64::MAX came back from
/// XML as a float.
#[test]
fn extreme_decimals_survive_xml() {
    for decimal in [
        "1e300",
        "1e-300",
        "1e22",
        "-0.0",
        "18446744073709551615",
        "0.1",
    ] {
        let text = format!(
            r#"{{"resourceType":"Appointment","status":"booked","extension":[{{"url":"x","valueDecimal":{decimal}}}],"participant":[{{"status":"accepted"}}]}}"#
        );
        let value = fhir::read_json(text.as_bytes()).expect("reads");
        let xml = fhir::write_xml(&value);
        let back = fhir::read_xml(&xml)
            .unwrap_or_else(|e| panic!("{decimal}: {e:?}\n{}", String::from_utf8_lossy(&xml)));
        assert_eq!(back, value, "{decimal}: changed in the XML round trip");
    }
}

/// Found while fuzzing: a string with a character XML 1.0 cannot hold was accepted from JSON
/// (and from an XML character reference), and then written raw into XML.
#[test]
fn characters_xml_cannot_carry_are_refused() {
    let json = r#"{"resourceType":"Appointment","status":"booked","comment":"a\u0001b","participant":[{"status":"accepted"}]}"#;
    let found = issues(fhir::read_json(json.as_bytes()));
    assert!(
        found
            .iter()
            .any(|i| i.path == "Appointment.comment" && i.message.contains("U+0001")),
        "{found:?}"
    );
    let xml = r#"<Appointment xmlns="http://hl7.org/fhir"><status value="booked"/><comment value="a&#1;b"/><participant><status value="accepted"/></participant></Appointment>"#;
    assert!(fhir::read_xml(xml.as_bytes()).is_err());
    let fine = r#"{"resourceType":"Appointment","status":"booked","comment":"tab\t, line\n, return\r, é €","participant":[{"status":"accepted"}]}"#;
    assert!(fhir::read_json(fine.as_bytes()).is_ok());
}

/// Found while fuzzing: narrative XHTML with a character XML 1.0 cannot hold (raw, or as a
/// character reference in text or an attribute) was accepted and written into XML.
#[test]
fn narrative_characters_xml_cannot_carry_are_refused() {
    let xhtml = r#"<div xmlns=\"http://www.w3.org/1999/xhtml\">"#;
    for body in ["a\\u0001b", "a&#1;b", "<p title='&#x1F;'>x</p>", "&#xFFFE;"] {
        let json = format!(
            r#"{{"resourceType":"Appointment","text":{{"status":"generated","div":"{xhtml}{body}</div>"}},"status":"booked","participant":[{{"status":"accepted"}}]}}"#
        );
        let found = issues(fhir::read_json(json.as_bytes()));
        assert!(
            found.iter().any(|i| i.path == "Appointment.text.div"),
            "{body}: {found:?}"
        );
    }
    let fine = format!(
        r#"{{"resourceType":"Appointment","text":{{"status":"generated","div":"{xhtml}&#x20AC;&#9;&amp;</div>"}},"status":"booked","participant":[{{"status":"accepted"}}]}}"#
    );
    assert!(fhir::read_json(fine.as_bytes()).is_ok());
}
