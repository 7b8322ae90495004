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
    let next = q.next_params(&last, Some(42));
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
    // The past cut-off stays that of the first page, and so does the total.
    assert_eq!(again.not_before, q.not_before);
    assert_eq!(again.total, Total::Carried(Some(42)));
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

#[test]
fn the_total_is_bounded_on_a_first_page_carried_after_it_and_exact_when_alone() {
    let p = ("patient", "9000000009");
    assert_eq!(query(&[p]).unwrap().total, Total::UpTo(TOTAL_LIMIT));
    for alone in [("_summary", "count"), ("_count", "0")] {
        assert_eq!(query(&[p, alone]).unwrap().total, Total::Exact, "{alone:?}");
    }
    let first = query(&[p, ("_count", "10")]).unwrap();
    let last = PageKey {
        sort_value: "2030-02-01T10:00:00.000Z".into(),
        id: "abc-1".into(),
    };
    let token = |total| first.next_params(&last, total).last().unwrap().1.clone();
    for total in [None, Some(0), Some(TOTAL_LIMIT)] {
        let next = query(&[p, ("_count", "10"), ("_page", &token(total))]).unwrap();
        assert_eq!(next.total, Total::Carried(total));
        // The total alone is counted, even from a later page's link.
        let alone = query(&[p, ("_summary", "count"), ("_page", &token(total))]).unwrap();
        assert_eq!(alone.total, Total::Exact);
    }
    // A token made before the total was carried: a page without a total.
    let old =
        URL_SAFE_NO_PAD.encode("date|2030-02-01T10:00:00.000Z|abc-1|2025-06-01T12:00:00.000Z");
    let next = query(&[p, ("_page", &old)]).unwrap();
    assert_eq!((next.total, next.after), (Total::Carried(None), Some(last)));
    for total in ["-1", "+5", "1e3", "x", "1001", "99999999999999999999999"] {
        let forged = URL_SAFE_NO_PAD.encode(format!(
            "date|2030-02-01T10:00:00.000Z|abc-1|2025-06-01T12:00:00.000Z|{total}"
        ));
        refused(&[p, ("_page", &forged)], "_page");
    }
}
