use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn now() -> OffsetDateTime {
    instant::parse("2025-06-01T12:00:00Z").unwrap()
}

fn query(list: &[(&str, &str)]) -> Result<SearchQuery, Error> {
    parse(&pairs(list), now(), PageSizes::default())
}

fn refused(list: &[(&str, &str)], mentions: &str) {
    match query(list) {
        Err(Error::InvalidParameter(m)) => assert!(m.contains(mentions), "{m}"),
        other => panic!("{list:?}: {other:?}"),
    }
}

#[test]
fn every_patient_form_names_the_same_number() {
    for (name, value) in [
        (
            "patient",
            "https://demographics.spineservices.nhs.uk/Patient/9000000009",
        ),
        ("patient", "Patient/9000000009"),
        ("actor", "9000000009"),
        ("patient", "https://fhir.nhs.uk/Id/nhs-number|9000000009"),
        ("Appointment.participant.actor", "9000000009"),
    ] {
        let q = query(&[(name, value)]).unwrap();
        assert_eq!(q.nhs_number, "9000000009");
    }
}

#[test]
fn patient_is_required_valid_and_single() {
    refused(&[("status", "booked")], "patient is required");
    refused(&[("patient", "9000000008")], "Modulus 11");
    refused(&[("patient", "Practitioner/9000000009")], "NHS number");
    refused(
        &[("patient", "9000000009"), ("actor", "9000000009")],
        "only once",
    );
}

#[test]
fn unknown_malformed_and_unrepeatable_parameters_are_refused() {
    let p = ("patient", "9000000009");
    refused(&[p, ("colour", "red")], "'colour'");
    refused(&[p, ("status:not", "booked")], "'status:not'");
    refused(&[p, ("date", "2019-02-30")], "date '2019-02-30'");
    refused(&[p, ("created", "sa2019")], "created 'sa2019'");
    refused(&[p, ("status", "booked,done")], "status 'done'");
    refused(
        &[p, ("status", "booked"), ("status", "cancelled")],
        "'status'",
    );
    refused(&[p, ("_count", "-1")], "_count");
    refused(&[p, ("_sort", "start")], "_sort");
    refused(&[p, ("identifier", "urn:x|")], "identifier");
    refused(&[p, ("_page", "!!")], "_page");
    refused(&[p, ("date", "")], "no value");
    assert!(query(&[p, ("_format", "xml")]).is_ok());
}

#[test]
fn defaults_and_limits() {
    let q = query(&[("patient", "9000000009")]).unwrap();
    assert_eq!(
        (q.count, q.sort),
        (DEFAULT_COUNT, Sort::new(SortKey::Start, false))
    );
    assert_eq!(q.not_before.as_deref(), Some("2025-06-01T12:00:00.000Z"));
    let q = query(&[("patient", "9000000009"), ("_count", "100000")]).unwrap();
    assert_eq!(q.count, MAX_COUNT);
    let q = query(&[("patient", "9000000009"), ("date", "ge2019")]).unwrap();
    assert_eq!(q.not_before, None, "a date bound shows past appointments");
}

#[test]
fn page_tokens_round_trip_and_are_checked() {
    let q = query(&[("patient", "9000000009"), ("_sort", "-created")]).unwrap();
    let last = PageKey {
        sort_value: "2019-02-01T10:00:00.000Z".into(),
        id: "abc-1".into(),
    };
    let next = q.next_params(&last);
    let (_, token) = next.last().unwrap().clone();
    let mut list: Vec<(String, String)> = next
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let again = parse(
        &list,
        instant::parse("2030-01-01T00:00:00Z").unwrap(),
        PageSizes::default(),
    )
    .unwrap();
    assert_eq!(again.after, Some(last));
    // The past cut-off stays that of the first page.
    assert_eq!(again.not_before, q.not_before);
    // The same token with another sort is not a page of this search.
    list.retain(|(k, _)| k != "_sort");
    assert!(matches!(
        parse(&list, now(), PageSizes::default()),
        Err(Error::InvalidParameter(_))
    ));
    let forged = URL_SAFE_NO_PAD.encode("-created|yesterday|abc|");
    refused(
        &[
            ("patient", "9000000009"),
            ("_sort", "-created"),
            ("_page", &forged),
        ],
        "_page",
    );
    assert!(!token.is_empty());
}
