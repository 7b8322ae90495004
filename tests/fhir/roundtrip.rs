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
