//! Entry points for fuzzing and its corpus replay.
//!
//! Each function takes arbitrary bytes, runs them through one of the registry's untrusted-input
//! paths exactly as a request would, and panics when an invariant breaks. The cargo-fuzz
//! targets in `fuzz/` call these, and `tests/fuzz_corpus.rs` replays the committed corpus and
//! every crash found through the same functions on stable, so CI guards them without nightly.
//! None of them may panic on any input: a panic is a finding.

use std::sync::LazyLock;

use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::{Access, AuthSettings, Verifier};
use crate::fhir;
use crate::http::negotiate;
use crate::registry::{nhs_number, search};

/// The HS256 secret the `jwt` target's verifiers trust (the seed tokens are signed with it).
pub const JWT_SECRET: &[u8] = b"fuzzing-secret-not-for-production";
/// The audience the `jwt` target's verifiers expect.
pub const JWT_AUDIENCE: &str = "https://appointment-registry.fuzz/";

/// The `search_params` target's clock: fixed, so every input replays the same way.
const SEARCH_NOW: OffsetDateTime = time::macros::datetime!(2025-06-01 12:00:00 UTC);

/// The route table's old patterns for the paths `http::variable_route` now matches, in the
/// table's old order (`/SearchParameter/{id}` came first).
static OLD_ROUTES: LazyLock<Vec<(actix_router::ResourceDef, &'static str)>> = LazyLock::new(|| {
    use crate::http::{BY_ID, HISTORY, SEARCH_PARAMETER, VERSION};
    [SEARCH_PARAMETER, BY_ID, HISTORY, VERSION]
        .into_iter()
        .map(|pattern| (actix_router::ResourceDef::new(pattern), pattern))
        .collect()
});

/// The paths the route table's default service gets: `http::variable_route` against actix's
/// own matching and extraction of the patterns it replaced (`ResourceDef` and the
/// `PathDeserializer` behind `web::Path`), on the path actix routes on (the input as a request
/// target's path, requoted by actix-router's `Url` as actix-web does).
pub fn paths(data: &[u8]) {
    use serde::Deserialize;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/{text}").parse::<actix_web::http::Uri>() else {
        return;
    };
    let url = actix_router::Url::new(uri);
    let routed = url.path();
    // The table's static resources take these paths before its default service does.
    if crate::http::STATIC_PATHS.contains(&routed) {
        return;
    }
    let theirs = OLD_ROUTES.iter().find_map(|(def, pattern)| {
        let mut path = actix_router::Path::new(routed);
        if !def.capture_match_info(&mut path) {
            return None;
        }
        let de = actix_router::PathDeserializer::new(&path);
        let (id, vid) = if *pattern == crate::http::VERSION {
            let (id, vid) = <(String, String)>::deserialize(de).expect("two segments");
            (id, Some(vid))
        } else {
            (String::deserialize(de).expect("one segment"), None)
        };
        Some(crate::http::VariableRoute { pattern, id, vid })
    });
    assert_eq!(crate::http::variable_route(routed), theirs, "{routed:?}");
}

/// FHIR JSON reader: `fhir::parse_json`, then the writers on whatever it accepts.
pub fn json_reader(data: &[u8]) {
    if let Ok((value, issues)) = fhir::parse_json(data) {
        written_forms_read_back(&value, issues.is_empty());
    }
}

/// FHIR XML reader: `fhir::parse_xml`, then the writers on whatever it accepts.
pub fn xml_reader(data: &[u8]) {
    if let Ok((value, issues)) = fhir::parse_xml(data) {
        written_forms_read_back(&value, issues.is_empty());
    }
}

/// What `POST /Appointment` does with a body before it reaches the store: read (JSON, or XML
/// when the body starts with `<`), the structural validator and the registration rules, then
/// the id/meta stamp and the canonical JSON that is stored.
pub fn validator(data: &[u8]) {
    let format = match data.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => negotiate::Format::Xml,
        _ => negotiate::Format::Json,
    };
    let Ok((mut resource, registration)) = crate::service::register::admit(data, format) else {
        return;
    };
    assert!(
        nhs_number::is_valid(&registration.nhs_number),
        "accepted NHS number {:?} fails Modulus 11",
        registration.nhs_number
    );
    for column in [&registration.start_at, &registration.created_at] {
        assert!(
            column.len() == 24 && column.ends_with('Z'),
            "registration column {column:?} is not fixed-width UTC"
        );
    }
    crate::service::resource::stamp(
        &mut resource,
        "0190a3c2-0000-7000-8000-000000000000",
        1,
        "2025-06-01T12:00:00.000Z",
    );
    let stored = String::from_utf8(fhir::write_json(&resource))
        .expect("the stored JSON of an accepted registration is UTF-8");
    // The store and the cancel path read the stored text back with serde_json.
    let reread: Value = serde_json::from_str(&stored).unwrap_or_else(|e| {
        panic!("the stored JSON of an accepted registration does not re-parse: {e}\n{stored}")
    });
    assert_eq!(
        reread, resource,
        "the stored JSON of an accepted registration reads back different"
    );
    let (back, issues) = fhir::parse_json(stored.as_bytes())
        .unwrap_or_else(|e| panic!("the stored resource is not readable FHIR: {e}\n{stored}"));
    assert!(
        issues.is_empty(),
        "the stored resource is not valid FHIR: {issues:?}\n{stored}"
    );
    written_forms_read_back(&back, true);
}

/// `GET /Appointment?…`: the bytes as the query string, split as the handler splits it and
/// parsed by `registry::search::parse`. An accepted query's self and next links must parse
/// again to the same query.
pub fn search_params(data: &[u8]) {
    let query_string = String::from_utf8_lossy(data);
    let pairs = negotiate::url_pairs(&query_string);
    let Ok(query) = search::parse(&pairs, SEARCH_NOW, search::PageSizes::default()) else {
        return;
    };
    assert!(
        query.count <= search::MAX_COUNT,
        "count {} over the cap",
        query.count
    );
    assert!(
        nhs_number::is_valid(&query.nhs_number),
        "accepted NHS number {:?} fails Modulus 11",
        query.nhs_number
    );
    let self_params = query.self_params();
    let again = reparse(&self_params)
        .unwrap_or_else(|e| panic!("the self link {self_params:?} does not parse: {e}"));
    assert_eq!(
        again.self_params(),
        self_params,
        "the self link parses to another query"
    );
    let last = search::PageKey {
        sort_value: "2025-06-02T09:30:00.000Z".to_string(),
        id: "0190a3c2-0000-7000-8000-000000000000".to_string(),
    };
    let total = Some(7);
    let next_params = query.next_params(&last, total);
    let next = reparse(&next_params)
        .unwrap_or_else(|e| panic!("the next link {next_params:?} does not parse: {e}"));
    assert_eq!(
        next.after.as_ref(),
        Some(&last),
        "the next link lost its key"
    );
    assert_eq!(
        next.not_before, query.not_before,
        "the next link moved not_before"
    );
    let repeated = if next.count == 0 {
        search::Total::Exact // the total alone is always counted
    } else {
        search::Total::Carried(total)
    };
    assert_eq!(next.total, repeated, "the next link lost the total");
}

/// Bearer-token checking: the bytes as the `Authorization` header value, through two
/// verifiers built once (HS256 only; HS256 plus unsigned tokens, which reaches the claim
/// checks without a signature). The public API only.
pub fn jwt(data: &[u8]) {
    static VERIFIERS: LazyLock<[Verifier; 2]> = LazyLock::new(|| {
        let settings = |allow_unsigned| AuthSettings {
            audience: JWT_AUDIENCE.to_string(),
            hs256_secret: Some(JWT_SECRET.to_vec()),
            allow_unsigned,
            leeway_seconds: 30,
            ..AuthSettings::default()
        };
        [false, true].map(|unsigned| Verifier::new(&settings(unsigned)).expect("verifier"))
    });
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for verifier in VERIFIERS.iter() {
        let first = verifier.verify(Some(header), Access::Read);
        // The second call may come from the verifier's memory of tokens; it must agree.
        let second = verifier.verify(Some(header), Access::Read);
        assert_eq!(
            first
                .as_ref()
                .map(|c| (&c.org, &c.system, &c.subject, &c.scopes))
                .ok(),
            second
                .as_ref()
                .map(|c| (&c.org, &c.system, &c.subject, &c.scopes))
                .ok(),
            "a remembered token answers differently"
        );
        let _ = verifier.verify(Some(header), Access::Write);
    }
}

fn reparse(params: &[(&'static str, String)]) -> Result<search::SearchQuery, crate::error::Error> {
    let text = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    search::parse(
        &negotiate::url_pairs(&text),
        SEARCH_NOW,
        search::PageSizes::default(),
    )
}

/// The writers never panic; on a resource with no issues, the canonical JSON and the XML both
/// read back, without issues, to the same value.
fn written_forms_read_back(value: &Value, valid: bool) {
    let json = fhir::write_json(value);
    let xml = fhir::write_xml(value);
    let reparsed: Result<Value, _> = serde_json::from_slice(&json);
    if !valid {
        return;
    }
    let xml_text = String::from_utf8_lossy(&xml);
    if let Some(c) = xml_text.chars().find(|&c| {
        !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }) {
        panic!(
            "write_xml wrote U+{:04X}, which is not allowed in XML 1.0\n{xml_text}",
            u32::from(c)
        );
    }
    let reparsed = reparsed.unwrap_or_else(|e| {
        panic!(
            "write_json output does not re-parse with serde_json: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(&reparsed, value, "write_json output re-parses different");
    match fhir::read_json(&json) {
        Ok(back) => assert_eq!(&back, value, "write_json output reads back different"),
        Err(e) => panic!(
            "write_json output does not read back: {e:?}\n{}",
            String::from_utf8_lossy(&json)
        ),
    }
    match fhir::read_xml(&xml) {
        Ok(back) => assert_eq!(&back, value, "write_xml output reads back different"),
        Err(e) => panic!(
            "write_xml output does not read back: {e:?}\n{}",
            String::from_utf8_lossy(&xml)
        ),
    }
}
