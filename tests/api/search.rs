//! RULES.md §4: search by patient, dates, status and identifier; refusals; sorting; POST.
//! Paging and query plans are in search_paging.rs.

use serde_json::json;

use crate::helpers::*;
use crate::search_support::*;

#[tokio::test]
async fn every_patient_form_and_the_alias_find_the_patient() {
    let app = spawn_app().await;
    let a = add_at(&app, P, FUTURE, "2019-02-01T10:00:00Z").await;
    let b = add_at(&app, P, "2031-01-01T00:00:00Z", "2019-02-01T10:00:00Z").await;
    add_at(&app, OTHER, FUTURE, "2019-02-01T10:00:00Z").await;
    let forms = [
        format!(
            "patient={}",
            encode(&format!(
                "https://demographics.spineservices.nhs.uk/Patient/{P}"
            ))
        ),
        format!("patient=Patient/{P}"),
        format!("patient={P}"),
        format!(
            "patient={}",
            encode(&format!("https://fhir.nhs.uk/Id/nhs-number|{P}"))
        ),
        format!("actor={P}"),
        format!("actor=Patient/{P}"),
        format!(
            "Appointment.participant.actor={}",
            encode(&format!("https://fhir.nhs.uk/Id/nhs-number|{P}"))
        ),
        // The sibling search page's own example: the demographics base as the token system.
        format!(
            "Appointment.participant.actor={}",
            encode(&format!("https://demographics.spineservices.nhs.uk|{P}"))
        ),
        format!(
            "patient={}",
            encode(&format!("https://demographics.spineservices.nhs.uk|{P}"))
        ),
    ];
    for query in &forms {
        assert_eq!(
            id_set(&search(&app, query).await),
            set(&[&a, &b]),
            "{query}"
        );
        assert_eq!(
            id_set(&search_xml(&app, query).await),
            set(&[&a, &b]),
            "{query} xml"
        );
    }
    let bundle = search(&app, &forms[0]).await;
    assert_eq!(bundle["total"], 2);
    assert_eq!(bundle["entry"][0]["resource"]["meta"]["versionId"], "1");
}

#[tokio::test]
async fn refusals_name_the_parameter() {
    let app = spawn_app().await;
    refused(&app, "status=booked", "patient is required").await;
    refused(&app, "", "patient is required").await;
    refused(&app, "patient=9000000008", "Modulus 11").await;
    refused(&app, "patient=Patient/1234567890", "Modulus 11").await;
    refused(&app, &format!("patient={P}&colour=red"), "'colour'").await;
    refused(
        &app,
        &format!("patient={P}&date=2019-02-30"),
        "date '2019-02-30'",
    )
    .await;
    refused(&app, &format!("patient={P}&date=2019-2"), "date '2019-2'").await;
    refused(
        &app,
        &format!("patient={P}&created=2019-02-01T10"),
        "created",
    )
    .await;
    refused(&app, &format!("patient={P}&date=ap2019"), "date 'ap2019'").await;
    refused(&app, &format!("patient={P}&status=done"), "status 'done'").await;
    refused(&app, &format!("patient={P}&_sort=start"), "_sort").await;
    refused(
        &app,
        &format!("patient={P}&_sort=date&_sort=-date"),
        "'_sort'",
    )
    .await;
    refused(&app, &format!("patient={P}&actor={P}"), "'actor'").await;
    refused(&app, &format!("patient={P}&_count=ten"), "_count").await;
    refused(&app, &format!("patient={P}&_page=nonsense"), "_page").await;

    let anonymous = app
        .client
        .get(app.url(&format!("/Appointment?patient={P}")))
        .send()
        .await
        .unwrap();
    assert_outcome(anonymous, 403, "MISSING_OR_INVALID_HEADER", "").await;
    let no_read = app
        .client
        .get(app.url(&format!("/Appointment?patient={P}")))
        .bearer_auth(app.token_with("patient/Observation.read", ORG))
        .send()
        .await
        .unwrap();
    assert_eq!(no_read.status(), 403);
    let read_only = app
        .client
        .get(app.url(&format!("/Appointment?patient={P}")))
        .bearer_auth(app.token_with(READ_SCOPE, ORG))
        .send()
        .await
        .unwrap();
    assert_eq!(read_only.status(), 200);
}

/// Starts chosen to sit on the edges of each precision.
const STARTS: [(&str, &str); 6] = [
    ("A", "2019-01-15T10:00:00Z"),
    ("B", "2019-02-01T00:00:00Z"),
    ("C", "2019-02-28T23:59:59.999Z"),
    ("D", "2019-03-01T00:00:00Z"),
    ("E", "2019-02-14T10:30:15.250Z"),
    ("F", "2020-06-01T00:00:00+00:00"),
];

/// `(query, the letters it must find)`; used for `date` over start and `created` over created.
const RANGES: [(&str, &str); 24] = [
    ("2019", "ABCDE"),
    ("2019-02", "BCE"),
    ("eq2019-02", "BCE"),
    ("ne2019-02", "ADF"),
    ("lt2019-02", "A"),
    ("le2019-02", "ABCE"),
    ("gt2019-02", "DF"),
    ("ge2019-02", "BCDEF"),
    ("2019-02-28", "C"),
    ("gt2019-02-28", "DF"),
    ("lt2019-02-28", "ABE"),
    ("le2019-02-28", "ABCE"),
    ("2019-02-14T10:30", "E"),
    ("gt2019-02-14T10:30", "CDF"),
    ("2019-02-14T10:30:15Z", "E"),
    ("2019-02-14T10:30:16Z", ""),
    ("2019-02-14T11:30:15%2B01:00", "E"),
    ("ge2019-02-01T00:00:00Z", "BCDEF"),
    ("gt2019-02-01T00:00:00Z", "CDEF"),
    ("le2019-02-28T23:59:59Z", "ABCE"),
    ("lt2019-02-28T23:59:59.999Z", "ABE"),
    ("2019-02-28T23:59:59.999Z", "C"),
    ("ne2019-02-28T23:59:59.999Z", "ABDEF"),
    ("lt2019-03-01T00:00", "ABCE"),
];

#[tokio::test]
async fn date_ranges_at_each_precision_and_prefix() {
    let app = spawn_app().await;
    let mut by_letter = std::collections::BTreeMap::new();
    for (letter, start) in STARTS {
        by_letter.insert(letter, add_at(&app, P, start, "2019-01-01T00:00:00Z").await);
    }
    add_at(&app, OTHER, "2019-02-10T00:00:00Z", "2019-01-01T00:00:00Z").await;
    let expect = |letters: &str| -> std::collections::BTreeSet<String> {
        letters
            .chars()
            .map(|c| by_letter[c.to_string().as_str()].clone())
            .collect()
    };
    for (value, letters) in RANGES {
        let query = format!("patient={P}&date={value}");
        assert_eq!(
            id_set(&search(&app, &query).await),
            expect(letters),
            "date={value}"
        );
    }
    // Repeated, the bounds make a range.
    let query = format!("patient={P}&date=ge2019-02-01&date=lt2019-03-01");
    assert_eq!(id_set(&search(&app, &query).await), expect("BCE"));
    let query = format!("patient={P}&date=gt2019&date=lt2019-02-14T10:30:15.250Z");
    assert!(
        id_set(&search_xml(&app, &query).await).is_empty(),
        "gt2019 starts in 2020"
    );
}

#[tokio::test]
async fn created_ranges_at_each_precision_and_prefix() {
    let app = spawn_app().await;
    let mut by_letter = std::collections::BTreeMap::new();
    // Future starts: without a date bound only those are searched.
    for (letter, created) in STARTS {
        by_letter.insert(letter, add_at(&app, P, FUTURE, created).await);
    }
    for (value, letters) in RANGES {
        let query = format!("patient={P}&created={value}");
        let want: std::collections::BTreeSet<String> = letters
            .chars()
            .map(|c| by_letter[c.to_string().as_str()].clone())
            .collect();
        assert_eq!(id_set(&search(&app, &query).await), want, "created={value}");
    }
    let query = format!("patient={P}&created=ge2019-02&created=lt2019-02-28");
    let want: std::collections::BTreeSet<String> =
        ["B", "E"].iter().map(|l| by_letter[l].clone()).collect();
    assert_eq!(id_set(&search(&app, &query).await), want);
}

#[tokio::test]
async fn past_appointments_need_a_date_bound() {
    let app = spawn_app().await;
    let past = add_at(&app, P, "2019-02-01T10:00:00Z", "2019-01-01T00:00:00Z").await;
    let future = add_at(&app, P, FUTURE, "2019-01-01T00:00:00Z").await;
    let plain = search(&app, &format!("patient={P}")).await;
    assert_eq!(id_set(&plain), set(&[&future]));
    let created = search(&app, &format!("patient={P}&created=ge2000")).await;
    assert_eq!(
        id_set(&created),
        set(&[&future]),
        "created is not a date bound"
    );
    let dated = search(&app, &format!("patient={P}&date=ge2000")).await;
    assert_eq!(id_set(&dated), set(&[&past, &future]));
    let dated = search(&app, &format!("patient={P}&date=le2100")).await;
    assert_eq!(id_set(&dated), set(&[&past, &future]));
}

#[tokio::test]
async fn status_and_identifier_filters() {
    let app = spawn_app().await;
    let with_id = |value: &str, system: Option<&str>| {
        let mut v = appointment(P, FUTURE, "2019-01-01T00:00:00Z");
        v["identifier"] = match system {
            Some(s) => json!([{ "system": s, "value": value }]),
            None => json!([{ "value": value }]),
        };
        v
    };
    let one = add(
        &app,
        &with_id("http://test.nhs.uk/1", Some("urn:ietf:rfc:3986")),
    )
    .await;
    let two = add(
        &app,
        &with_id("http://test.nhs.uk/2", Some("urn:ietf:rfc:3986")),
    )
    .await;
    let local = add(&app, &with_id("local-7", None)).await;
    let plain = add_at(&app, P, FUTURE, "2019-01-01T00:00:00Z").await;
    // Cancel is another interaction; the stored status is what search reads.
    app.db.execute(&format!(
        "UPDATE appointment SET status = 'cancelled' WHERE id = '{two}'"
    ));

    let found = |q: String| {
        let app = &app;
        async move { id_set(&search(app, &format!("patient={P}&{q}")).await) }
    };
    assert_eq!(
        found("status=booked".into()).await,
        set(&[&one, &local, &plain])
    );
    assert_eq!(found("status=cancelled".into()).await, set(&[&two]));
    assert_eq!(
        found("status=cancelled,booked".into()).await,
        set(&[&one, &two, &local, &plain])
    );
    assert_eq!(found("status=noshow".into()).await, set(&[]));
    let urn = encode("urn:ietf:rfc:3986|http://test.nhs.uk/1");
    assert_eq!(found(format!("identifier={urn}")).await, set(&[&one]));
    let any_system = encode("http://test.nhs.uk/1");
    assert_eq!(
        found(format!("identifier={any_system}")).await,
        set(&[&one])
    );
    let other_system = encode("urn:other|http://test.nhs.uk/1");
    assert_eq!(found(format!("identifier={other_system}")).await, set(&[]));
    assert_eq!(
        found(format!("identifier={}", encode("|local-7"))).await,
        set(&[&local])
    );
    assert_eq!(
        found(format!("identifier={}", encode("|http://test.nhs.uk/1"))).await,
        set(&[])
    );
    let both = format!(
        "identifier={}&status=booked",
        encode("http://test.nhs.uk/2")
    );
    assert_eq!(found(both).await, set(&[]));
}

#[tokio::test]
async fn sort_orders() {
    let app = spawn_app().await;
    // Start order a b c; created order c a b.
    let a = add_at(&app, P, "2030-01-01T00:00:00Z", "2019-01-02T00:00:00Z").await;
    let b = add_at(&app, P, "2030-01-02T00:00:00Z", "2019-01-03T00:00:00Z").await;
    let c = add_at(&app, P, "2030-01-03T00:00:00Z", "2019-01-01T00:00:00Z").await;
    let order = |q: &'static str| {
        let app = &app;
        async move { ids(&search(app, &format!("patient={P}{q}")).await) }
    };
    assert_eq!(order("").await, [a.clone(), b.clone(), c.clone()]);
    assert_eq!(
        order("&_sort=date").await,
        [a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(
        order("&_sort=-date").await,
        [c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        order("&_sort=created").await,
        [c.clone(), a.clone(), b.clone()]
    );
    assert_eq!(
        order("&_sort=-created").await,
        [b.clone(), a.clone(), c.clone()]
    );
}

#[tokio::test]
async fn post_search_equals_get_and_combines_with_the_url() {
    let app = spawn_app().await;
    add_at(&app, P, FUTURE, "2019-01-01T00:00:00Z").await;
    add_at(&app, P, "2031-01-01T00:00:00Z", "2019-06-01T00:00:00Z").await;
    let query = format!("patient={P}&created=ge2019-03&_sort=-date");
    let get = search(&app, &query).await;
    let post = |url: String, body: String, content_type: &'static str| {
        app.client
            .post(app.url(&url))
            .bearer_auth(app.token())
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    for (url, body) in [
        ("/Appointment/_search".to_string(), query.clone()),
        (
            format!("/Appointment/_search?patient={P}"),
            "created=ge2019-03&_sort=-date".into(),
        ),
    ] {
        let response = post(url, body, form).await.unwrap();
        assert_eq!(response.status(), 200);
        let bundle: serde_json::Value = response.json().await.unwrap();
        assert_eq!(bundle["total"], get["total"]);
        assert_eq!(ids(&bundle), ids(&get));
        assert_eq!(link(&bundle, "self"), link(&get, "self"));
    }
    assert_eq!(get["total"], 1);
    let json_body = post(
        "/Appointment/_search".into(),
        "{}".into(),
        "application/json",
    );
    assert_eq!(json_body.await.unwrap().status(), 415);
    let unknown = post(
        "/Appointment/_search".into(),
        format!("patient={P}&x=1"),
        form,
    );
    assert_outcome(unknown.await.unwrap(), 400, "INVALID_PARAMETER", "'x'").await;

    // `_format` in the form chooses the answer's format, as in the URL; the self link keeps it.
    let xml = post(
        "/Appointment/_search".into(),
        format!("{query}&_format=xml"),
        form,
    );
    let xml = xml.await.unwrap();
    assert_eq!(xml.status(), 200);
    assert!(
        content_type(&xml).starts_with("application/fhir+xml"),
        "{}",
        content_type(&xml)
    );
    let bytes = xml.bytes().await.unwrap();
    crate::xmllint::assert_schema_valid("post-search-xml", &bytes);
    let bundle = appointment_registry::fhir::read_xml(&bytes).unwrap();
    assert_eq!(bundle["total"], get["total"]);
    assert!(link(&bundle, "self").unwrap().contains("_format=xml"));
    let bad = post(
        "/Appointment/_search".into(),
        format!("{query}&_format=html"),
        form,
    );
    assert_eq!(bad.await.unwrap().status(), 406);
}

#[tokio::test]
async fn page_sizes_come_from_the_configuration() {
    let app = spawn_app_with(|s| {
        s.search.default_count = 2;
        s.search.max_count = 3;
    })
    .await;
    for _ in 0..5 {
        add_at(&app, P, FUTURE, "2019-02-01T10:00:00Z").await;
    }
    let page = search(&app, &format!("patient={P}")).await;
    assert_eq!(page["entry"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"], 5);
    let capped = search(&app, &format!("patient={P}&_count=100")).await;
    assert_eq!(capped["entry"].as_array().unwrap().len(), 3);
}
