use crate::common::{json_issues, paths, xml_issues};
use appointment_registry::fhir::{self, ReadError};

const NS: &str = r#"xmlns="http://hl7.org/fhir""#;

fn xml(body: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Appointment {NS}>{body}</Appointment>"#)
}
const OK_BODY: &str =
    r#"<status value="booked"/><participant><status value="accepted"/></participant>"#;

fn unparseable(r: Result<fhir::Value, ReadError>) -> String {
    match r {
        Err(ReadError::Unparseable(m)) => m,
        other => panic!("expected Unparseable, got {other:?}"),
    }
}

/// Asserts exactly one issue, at `path`, of `issue_type`.
fn one(issues: Vec<fhir::Issue>, path: &str, issue_type: &str) {
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].path, path, "{issues:#?}");
    assert_eq!(issues[0].issue_type, issue_type, "{issues:#?}");
}

fn appt(extra: &str) -> String {
    format!(
        r#"{{"resourceType":"Appointment","status":"booked","participant":[{{"status":"accepted"}}]{extra}}}"#
    )
}

#[test]
fn valid_minimal_appointment() {
    assert!(fhir::read_json(appt("").as_bytes()).is_ok());
    assert!(fhir::read_xml(xml(OK_BODY).as_bytes()).is_ok());
}

#[test]
fn unknown_element_json_and_xml() {
    one(
        json_issues(&appt(r#","foo":1"#)),
        "Appointment.foo",
        "structure",
    );
    let x = xml(&format!("{OK_BODY}<foo value=\"1\"/>"));
    one(xml_issues(&x), "Appointment.foo", "structure");
}

#[test]
fn wrong_json_types() {
    let t = r#"{"resourceType":"Appointment","status":5,"participant":[{"status":"accepted"}]}"#;
    one(json_issues(t), "Appointment.status", "structure");
    one(
        json_issues(&appt(r#","priority":"1""#)),
        "Appointment.priority",
        "structure",
    );
}

#[test]
fn array_for_single_and_single_for_array() {
    let t = r#"{"resourceType":"Appointment","status":["booked"],"participant":[{"status":"accepted"}]}"#;
    let found = json_issues(t);
    assert_eq!(paths(&found)[0], "Appointment.status");
    assert_eq!(found[0].message, "expected a single value, not an array");
    let t =
        r#"{"resourceType":"Appointment","status":"booked","participant":{"status":"accepted"}}"#;
    let found = json_issues(t);
    assert_eq!(paths(&found)[0], "Appointment.participant", "{found:#?}");
}

#[test]
fn empty_string_and_null() {
    one(
        json_issues(&appt(r#","comment":"""#)),
        "Appointment.comment",
        "value",
    );
    one(
        json_issues(&appt(r#","comment":null"#)),
        "Appointment.comment",
        "value",
    );
    one(
        json_issues(&appt(r#","reason":[]"#)),
        "Appointment.reason",
        "value",
    );
    one(
        json_issues(&appt(r#","serviceCategory":{}"#)),
        "Appointment.serviceCategory",
        "value",
    );
}

#[test]
fn null_allowed_only_in_aligned_primitive_arrays() {
    let meta = r#","meta":{"profile":["http://a",null],"_profile":[null,{"id":"p2"}]}"#;
    assert!(fhir::read_json(appt(meta).as_bytes()).is_ok());
    let meta = r#","meta":{"profile":["http://a",null]}"#;
    one(
        json_issues(&appt(meta)),
        "Appointment.meta.profile[1]",
        "value",
    );
}

#[test]
fn bad_codes() {
    let t = r#"{"resourceType":"Appointment","status":"bogus","participant":[{"status":"maybe"}]}"#;
    let found = json_issues(t);
    assert_eq!(
        paths(&found),
        ["Appointment.status", "Appointment.participant[0].status"]
    );
    assert!(found.iter().all(|i| i.issue_type == "code-invalid"));
    assert!(found[0]
        .message
        .starts_with("'bogus' is not a valid code (allowed: proposed, pending,"));
}

#[test]
fn bad_primitives() {
    one(
        json_issues(&appt(r#","start":"2019-02-30T10:00:00Z""#)),
        "Appointment.start",
        "value",
    );
    one(
        json_issues(&appt(r#","priority":-1"#)),
        "Appointment.priority",
        "value",
    );
    one(
        json_issues(&appt(r#","minutesDuration":0"#)),
        "Appointment.minutesDuration",
        "value",
    );
    one(
        json_issues(&appt(r#","created":"2019-02-01T10:00:00""#)),
        "Appointment.created",
        "value",
    );
    one(
        json_issues(&appt(r#","id":"bad id!""#)),
        "Appointment.id",
        "value",
    );
    let x = xml(&format!(
        "{OK_BODY}<requestedPeriod><start value=\"2019-13-01\"/></requestedPeriod>"
    ));
    one(
        xml_issues(&x),
        "Appointment.requestedPeriod[0].start",
        "value",
    );
}

#[test]
fn extension_rules() {
    let both = r#","extension":[{"url":"http://x","valueString":"a","extension":[{"url":"http://y","valueCode":"b"}]}]"#;
    one(
        json_issues(&appt(both)),
        "Appointment.extension[0]",
        "invalid",
    );
    let no_url = r#","extension":[{"valueString":"a"}]"#;
    one(
        json_issues(&appt(no_url)),
        "Appointment.extension[0].url",
        "required",
    );
    let x = xml(&OK_BODY.replace(
        "<status value=\"booked\"/>",
        "<extension><valueString value=\"a\"/></extension><status value=\"booked\"/>",
    ));
    one(xml_issues(&x), "Appointment.extension[0].url", "required");
}

#[test]
fn xml_out_of_order_repeated_and_text() {
    let x = xml(r#"<participant><status value="accepted"/></participant><status value="booked"/>"#);
    one(xml_issues(&x), "Appointment.status", "structure");
    let x = xml(&format!("<status value=\"booked\"/>{OK_BODY}"));
    let found = xml_issues(&x);
    assert_eq!(found[0].path, "Appointment.status");
    assert_eq!(found[0].message, "at most 1 allowed");
    let x = xml(
        r#"<status value="booked">hello</status><participant><status value="accepted"/></participant>"#,
    );
    one(xml_issues(&x), "Appointment.status", "structure");
    let x = xml(
        r#"<status value="booked"/><comment value="c" bogus="1"/><participant><status value="accepted"/></participant>"#,
    );
    one(xml_issues(&x), "Appointment.comment", "structure");
}

#[test]
fn primitive_id_and_extension_in_xml_go_to_underscore_member() {
    let x = xml(
        r#"<status id="s1" value="booked"><extension url="http://x"><valueCode value="a"/></extension></status><participant><status value="accepted"/></participant>"#,
    );
    let v = fhir::read_xml(x.as_bytes()).expect("valid");
    assert_eq!(v["_status"]["id"], "s1");
    assert_eq!(v["_status"]["extension"][0]["valueCode"], "a");
}

#[test]
fn doctype_and_entities_refused() {
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE Appointment><Appointment {NS}>{OK_BODY}</Appointment>"
    );
    unparseable(fhir::read_xml(doctype.as_bytes()));
    let lol = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\
         <Appointment {NS}><status value=\"booked\"/><comment value=\"&lol2;\"/></Appointment>"
    );
    unparseable(fhir::read_xml(lol.as_bytes()));
    // Without a DTD, an undeclared entity in an attribute is still refused.
    let x = xml(&format!("{OK_BODY}<comment value=\"&lol;\"/>"));
    unparseable(fhir::read_xml(x.as_bytes()));
    let div = r#","text":{"status":"generated","div":"<!DOCTYPE div><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}"#;
    one(json_issues(&appt(div)), "Appointment.text.div", "value");
    let div = r#","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">&nbsp;</div>"}"#;
    one(json_issues(&appt(div)), "Appointment.text.div", "value");
}

#[test]
fn root_and_document_problems_are_unparseable() {
    unparseable(fhir::read_xml(
        b"<Appointment xmlns=\"http://example.org\"/>",
    ));
    unparseable(fhir::read_xml(b"<Appointment/>"));
    unparseable(fhir::read_xml(format!("<Foo {NS}/>").as_bytes()));
    unparseable(fhir::read_xml(
        b"<Appointment xmlns=\"http://hl7.org/fhir\">",
    ));
    unparseable(fhir::read_xml(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Appointment xmlns=\"http://hl7.org/fhir\"/>"));
    unparseable(fhir::read_xml(b"\xff\xfe<"));
    unparseable(fhir::read_json(b"[1,2]"));
    unparseable(fhir::read_json(b"\"Appointment\""));
    unparseable(fhir::read_json(b"{\"status\":\"booked\"}"));
    unparseable(fhir::read_json(b"{not json"));
}

#[test]
fn several_problems_all_reported_in_order() {
    let t = r#"{"resourceType":"Appointment","status":"bogus","priority":"high","start":"2019-02-30T10:00:00Z","participant":[{"type":{"text":"x"}},{"status":"maybe"}]}"#;
    let found = json_issues(t);
    assert_eq!(
        paths(&found),
        [
            "Appointment.status",
            "Appointment.priority",
            "Appointment.start",
            "Appointment.participant[0].type",
            "Appointment.participant[0].status",
            "Appointment.participant[1].status",
        ],
        "{found:#?}"
    );
    let x = xml(
        r#"<status value="bogus"/><priority value="-1"/><foo/><participant><actor><reference value="Patient/1"/></actor></participant>"#,
    );
    let found = xml_issues(&x);
    assert_eq!(
        paths(&found),
        [
            "Appointment.status",
            "Appointment.priority",
            "Appointment.foo",
            "Appointment.participant[0].status"
        ],
        "{found:#?}"
    );
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep = format!(
        "<Appointment {NS}>{}{}</Appointment>",
        "<extension>".repeat(5000),
        "</extension>".repeat(5000)
    );
    unparseable(fhir::read_xml(deep.as_bytes()));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    unparseable(fhir::read_json(deep.as_bytes()));
}

#[test]
fn truncated_inputs_never_panic() {
    for name in crate::common::EXAMPLES {
        for ext in ["json", "xml"] {
            let bytes = crate::common::fixture(&format!("{name}.{ext}"));
            for end in 0..bytes.len() {
                let cut = &bytes[..end];
                let _ = fhir::read_json(cut);
                let _ = fhir::read_xml(cut);
            }
        }
    }
}
