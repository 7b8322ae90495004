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

impl Fmt {
    fn content_type(self) -> &'static str {
        match self {
            Fmt::Json => "application/fhir+json",
            Fmt::Xml => "application/fhir+xml",
        }
    }
}

/// `resource` written in `fmt`. The XML goes through the library's writer: its output is
/// checked against the XSD and round-tripped elsewhere, so here it only carries the case.
fn body(fmt: Fmt, resource: &Value) -> Vec<u8> {
    match fmt {
        Fmt::Json => resource.to_string().into_bytes(),
        Fmt::Xml => fhir::write_xml(resource),
    }
}

async fn post(app: &TestApp, fmt: Fmt, resource: &Value) -> reqwest::Response {
    app.register(fmt.content_type(), body(fmt, resource)).await
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
    // RULES.md §1: Last-Modified is meta.lastUpdated as an HTTP date.
    let last_modified = http_date(body["meta"]["lastUpdated"].as_str().unwrap());
    assert_eq!(h["last-modified"].to_str().unwrap(), last_modified);

    let read = app
        .client
        .get(&location)
        .bearer_auth(app.token())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], "W/\"1\"");
    assert_eq!(read.headers()["last-modified"], last_modified.as_str());
    let read_body: Value = read.json().await.unwrap();
    assert_eq!(read_body, body);
    let vread = app.get(&format!("/Appointment/{id}/_history/1")).await;
    assert_eq!(vread.status(), 200);
}

/// An RFC 3339 instant as an HTTP date (RFC 9110 IMF-fixdate), written by the `time` crate.
fn http_date(instant: &str) -> String {
    let at = time::OffsetDateTime::parse(instant, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .to_offset(time::UtcOffset::UTC);
    at.format(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap()
}

#[tokio::test]
async fn registers_xml_and_answers_in_xml() {
    let app = spawn_app().await;
    let response = post(&app, Fmt::Xml, &valid_appointment()).await;
    assert_eq!(response.status(), 201);
    assert!(
        content_type(&response).starts_with("application/fhir+xml"),
        "{}",
        content_type(&response)
    );
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

/// What a refusal case sends.
#[derive(Clone, Copy)]
enum Sent {
    /// The valid appointment with this change, once in JSON and once in XML.
    Both(fn(&mut Value)),
    /// As `Both`, in JSON only: XML cannot say it (a number where a string goes, an unknown
    /// member, an object where an array goes).
    JsonOnly(fn(&mut Value)),
    /// The NHS sample body with this text replaced by that one, as it is, in XML.
    SampleXml(&'static str, &'static str),
}
use Sent::*;

fn remove(v: &mut Value, name: &str) {
    v.as_object_mut().unwrap().remove(name);
}

fn patient(v: &mut Value) -> &mut Value {
    &mut v["participant"][0]["actor"]
}

/// RULES.md §1, refusals: each row is one rule broken once in a valid registration, and the
/// answer the rule asks for — its status, its Spine code, and what its diagnostics must mention.
#[rustfmt::skip]
const REFUSALS: &[(&str, Sent, u16, &str, &str)] = &[
    // Elements the interaction forbids.
    ("forbidden id", Both(|v| v["id"] = json!("abc")), 422, "INVALID_RESOURCE", "Appointment.id"),
    ("forbidden contained", Both(|v| v["contained"] = json!([{"resourceType": "Patient", "id": "p1"}])), 422, "INVALID_RESOURCE", "Appointment.contained"),
    ("forbidden end", Both(|v| v["end"] = json!("2030-02-01T11:51:23Z")), 422, "INVALID_RESOURCE", "Appointment.end"),
    ("forbidden supportingInformation", Both(|v| v["supportingInformation"] = json!([{"reference": "Observation/1"}])), 422, "INVALID_RESOURCE", "Appointment.supportingInformation"),
    ("forbidden description", Both(|v| v["description"] = json!("a description")), 422, "INVALID_RESOURCE", "Appointment.description"),
    ("forbidden slot", Both(|v| v["slot"] = json!([{"reference": "Slot/1"}])), 422, "INVALID_RESOURCE", "Appointment.slot"),
    // Elements it demands.
    ("no status", Both(|v| remove(v, "status")), 422, "INVALID_RESOURCE", "Appointment.status"),
    ("no start", Both(|v| remove(v, "start")), 422, "INVALID_RESOURCE", "Appointment.start"),
    ("no created", Both(|v| remove(v, "created")), 422, "INVALID_RESOURCE", "Appointment.created"),
    ("no participant", Both(|v| remove(v, "participant")), 422, "INVALID_RESOURCE", "Appointment.participant"),
    // The status is booked.
    ("status cancelled", Both(|v| v["status"] = json!("cancelled")), 422, "INVALID_RESOURCE", "Appointment.status"),
    ("status not a code", Both(|v| v["status"] = json!("bogus")), 422, "INVALID_RESOURCE", "Appointment.status"),
    // start and created are instants: a date and a time to the second, with a zone, that exist.
    ("start a date", Both(|v| v["start"] = json!("2019-02-01")), 422, "INVALID_RESOURCE", "Appointment.start"),
    ("start without zone", Both(|v| v["start"] = json!("2019-02-01T10:51:23")), 422, "INVALID_RESOURCE", "Appointment.start"),
    ("start without seconds", Both(|v| v["start"] = json!("2019-02-01T10:51")), 422, "INVALID_RESOURCE", "Appointment.start"),
    ("start 30 February", Both(|v| v["start"] = json!("2019-02-30T10:00:00Z")), 422, "INVALID_RESOURCE", "Appointment.start"),
    ("created a date", Both(|v| v["created"] = json!("2019-02-01")), 422, "INVALID_RESOURCE", "Appointment.created"),
    ("created without zone", Both(|v| v["created"] = json!("2019-02-01T10:51:23")), 422, "INVALID_RESOURCE", "Appointment.created"),
    ("created without seconds", Both(|v| v["created"] = json!("2019-02-01T10:51")), 422, "INVALID_RESOURCE", "Appointment.created"),
    ("created 30 February", Both(|v| v["created"] = json!("2019-02-30T10:00:00Z")), 422, "INVALID_RESOURCE", "Appointment.created"),
    // NHS numbers pass modulus 11, by identifier and by national reference alike.
    ("NHS number by identifier fails modulus 11", Both(|v| patient(v)["identifier"]["value"] = json!("1234567890")), 422, "INVALID_NHS_NUMBER", "1234567890"),
    ("NHS number by reference fails modulus 11", Both(|v| *patient(v) = json!({"reference": "https://demographics.spineservices.nhs.uk/Patient/1234567890"})), 422, "INVALID_NHS_NUMBER", "1234567890"),
    ("NHS number of five digits", Both(|v| patient(v)["identifier"]["value"] = json!("12345")), 422, "INVALID_NHS_NUMBER", "12345"),
    // Exactly one patient, and a national one.
    ("two patients", Both(|v| v["participant"].as_array_mut().unwrap().push(json!({"actor": {"reference": "https://demographics.spineservices.nhs.uk/Patient/9000000009"}, "status": "accepted"}))), 422, "INVALID_RESOURCE", "exactly one patient"),
    ("local patient reference", Both(|v| *patient(v) = json!({"reference": "Patient/123"})), 422, "INVALID_RESOURCE", "national"),
    ("a practitioner and no patient", Both(|v| *patient(v) = json!({"reference": "Practitioner/1", "display": "Dr A"})), 422, "INVALID_RESOURCE", "Appointment.participant"),
    // The STU3 base structure: known elements, codes from their value sets, the right types.
    ("priority a string", Both(|v| v["priority"] = json!("high")), 422, "INVALID_RESOURCE", "Appointment.priority"),
    ("participant status not a code", Both(|v| v["participant"][0]["status"] = json!("maybe")), 422, "INVALID_RESOURCE", "Appointment.participant[0].status"),
    ("unknown element", JsonOnly(|v| v["colour"] = json!("blue")), 422, "INVALID_RESOURCE", "colour"),
    ("status a number", JsonOnly(|v| v["status"] = json!(5)), 422, "INVALID_RESOURCE", "Appointment.status"),
    ("participant an object", JsonOnly(|v| v["participant"] = v["participant"][0].clone()), 422, "INVALID_RESOURCE", "Appointment.participant"),
    ("unknown XML element", SampleXml("<status value=\"booked\"></status>", "<status value=\"booked\"/><colour value=\"blue\"/>"), 422, "INVALID_RESOURCE", "colour"),
];

/// The requests a case makes: the format, and the body in it.
fn requests(sent: Sent) -> Vec<(Fmt, Vec<u8>)> {
    let edited = |edit: fn(&mut Value)| {
        let mut v = valid_appointment();
        edit(&mut v);
        v
    };
    match sent {
        Both(edit) => BOTH
            .iter()
            .map(|&fmt| (fmt, body(fmt, &edited(edit))))
            .collect(),
        JsonOnly(edit) => vec![(Fmt::Json, body(Fmt::Json, &edited(edit)))],
        SampleXml(from, to) => {
            let sample = fixture("registry-register-request.example.xml");
            assert!(sample.contains(from), "the sample holds {from}");
            vec![(Fmt::Xml, sample.replace(from, to).into_bytes())]
        }
    }
}

#[tokio::test]
async fn each_broken_rule_is_refused_with_its_status_code_and_element() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for &(name, sent, status, code, mentions) in REFUSALS {
        for (fmt, body) in requests(sent) {
            let response = app.register(fmt.content_type(), body).await;
            let got = response.status().as_u16();
            let text = response.text().await.unwrap();
            // The answer is an OperationOutcome in the format asked in, read strictly.
            let issues = match fmt {
                Fmt::Json => fhir::read_json(text.as_bytes()),
                Fmt::Xml => fhir::read_xml(text.as_bytes()),
            }
            .map(|outcome| outcome["issue"].as_array().cloned().unwrap_or_default());
            let named = issues.as_ref().is_ok_and(|issues| {
                issues.iter().any(|i| {
                    i["details"]["coding"][0]["code"] == code
                        && i["diagnostics"].as_str().unwrap_or("").contains(mentions)
                })
            });
            if got != status || !named {
                failures.push(format!(
                    "{name} ({fmt:?}): expected {status} {code} mentioning '{mentions}', got {got}: {text}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_valid_nhs_number_by_national_reference_is_accepted() {
    let app = spawn_app().await;
    let national = with(|v| {
        *patient(v) =
            json!({"reference": "https://demographics.spineservices.nhs.uk/Patient/9000000009"})
    });
    assert_eq!(app.register_json(&national).await.status(), 201);
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

/// The database decides a race, not the process: on PostgreSQL its unique index refuses the
/// 99 others across connections (and nodes: tests/postgres/nodes.rs).
#[tokio::test]
async fn of_100_concurrent_registrations_of_one_identifier_one_is_created() {
    let app = spawn_app().await;
    let body =
        with(|v| v["identifier"] = json!([{"system": "urn:ietf:rfc:3986", "value": "urn:race"}]));
    let responses =
        futures_util::future::join_all((0..100).map(|_| app.register_json_owned(body.clone())))
            .await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!((created, refused), (1, 99), "{statuses:?}");
    assert_eq!(
        app.stored_appointments(),
        1,
        "the refused registrations left nothing behind"
    );
}

async fn assert_outcome_fmt(response: reqwest::Response, fmt: Fmt) {
    assert_eq!(response.status(), 422, "{fmt:?}");
    let body = response.text().await.unwrap();
    assert!(body.contains("DUPLICATE_REJECTED"), "{fmt:?}: {body}");
}
