//! Claim (exp/nbf/aud/iss), scope and caller-identity tests.

use serde_json::json;

use super::{check, claims, hs, now, settings, AUD};
use crate::auth::*;

fn invalid(r: Result<std::sync::Arc<Caller>, AuthError>, words: &str) {
    match r {
        Err(AuthError::InvalidToken(m)) => assert!(m.contains(words), "{m:?} lacks {words:?}"),
        other => panic!("expected InvalidToken({words}), got {other:?}"),
    }
}

#[test]
fn expiry_is_required_and_enforced_with_leeway() {
    let mut c = claims();
    c["iat"] = json!(now() - 300);
    c["exp"] = json!(now() - 30);
    invalid(check(&settings(), &hs(&c), Access::Read), "expired");
    let lenient = AuthSettings {
        leeway_seconds: 60,
        ..settings()
    };
    check(&lenient, &hs(&c), Access::Read).unwrap();

    c.as_object_mut().unwrap().remove("exp");
    invalid(check(&lenient, &hs(&c), Access::Read), "no expiry");
    c["exp"] = json!("tomorrow");
    invalid(check(&lenient, &hs(&c), Access::Read), "exp");
}

#[test]
fn not_before_in_future_is_refused() {
    let mut c = claims();
    c["nbf"] = json!(now() + 120);
    invalid(check(&settings(), &hs(&c), Access::Read), "not valid yet");
    c["nbf"] = json!(now() - 5);
    check(&settings(), &hs(&c), Access::Read).unwrap();
}

#[test]
fn audience_must_match() {
    let mut c = claims();
    c["aud"] = json!("https://other.test");
    invalid(check(&settings(), &hs(&c), Access::Read), "audience");
    c["aud"] = json!(["https://other.test", AUD]);
    check(&settings(), &hs(&c), Access::Read).unwrap();
    c["aud"] = json!(["https://other.test"]);
    invalid(check(&settings(), &hs(&c), Access::Read), "audience");
    c.as_object_mut().unwrap().remove("aud");
    invalid(check(&settings(), &hs(&c), Access::Read), "no audience");
}

#[test]
fn issuer_checked_when_configured() {
    let mut c = claims();
    c["iss"] = json!("https://rogue.test");
    invalid(check(&settings(), &hs(&c), Access::Read), "issuer");
    c.as_object_mut().unwrap().remove("iss");
    invalid(check(&settings(), &hs(&c), Access::Read), "no issuer");
    let any_issuer = AuthSettings {
        issuer: None,
        ..settings()
    };
    check(&any_issuer, &hs(&c), Access::Read).unwrap();
}

#[test]
fn scopes_for_read_and_write() {
    let with_scope = |scope: serde_json::Value, field: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("scope");
        c[field] = scope;
        hs(&c)
    };
    let read = with_scope(json!("launch patient/Appointment.read"), "scope");
    check(&settings(), &read, Access::Read).unwrap();
    match check(&settings(), &read, Access::Write) {
        Err(AuthError::InsufficientScope(m)) => assert!(m.contains("patient/Appointment.write")),
        other => panic!("{other:?}"),
    }
    // Write implies read; requested_scope is honoured; wildcards work.
    let write = with_scope(json!("patient/Appointment.write"), "requested_scope");
    check(&settings(), &write, Access::Read).unwrap();
    check(
        &settings(),
        &with_scope(json!("patient/*.write"), "scope"),
        Access::Write,
    )
    .unwrap();
    check(
        &settings(),
        &with_scope(json!("patient/*.read"), "scope"),
        Access::Read,
    )
    .unwrap();
    let none = with_scope(
        json!("patient/Patient.read patient/Appointment.writex"),
        "scope",
    );
    assert!(matches!(
        check(&settings(), &none, Access::Read),
        Err(AuthError::InsufficientScope(_))
    ));
    let mut no_scope = claims();
    no_scope.as_object_mut().unwrap().remove("scope");
    assert!(matches!(
        check(&settings(), &hs(&no_scope), Access::Read),
        Err(AuthError::InsufficientScope(_))
    ));
}

#[test]
fn organisation_and_system_from_claims() {
    let mut c = claims();
    c["requesting_organization"] = json!({
        "resourceType": "Organization",
        "identifier": [
            {"system": "https://example.org/other", "value": "nope"},
            {"system": ODS_ORGANIZATION_CODE, "value": "A81001"}
        ]
    });
    c["requesting_system"] = json!({
        "resourceType": "Device",
        "identifier": [{"system": ACCREDITED_SYSTEM, "value": "918999198993"}]
    });
    let caller = check(&settings(), &hs(&c), Access::Read).unwrap();
    assert_eq!(caller.org.as_deref(), Some("A81001"));
    assert_eq!(caller.system.as_deref(), Some("918999198993"));

    // Spine's "system|value" strings.
    c["requesting_organization"] = json!(format!("{ODS_ORGANIZATION_CODE}|RR8"));
    c["requesting_system"] = json!(format!("{ACCREDITED_SYSTEM}|200000000001"));
    let caller = check(&settings(), &hs(&c), Access::Read).unwrap();
    assert_eq!(caller.org.as_deref(), Some("RR8"));
    assert_eq!(caller.system.as_deref(), Some("200000000001"));

    // Organization without an ODS identifier, and no system: org falls back to sub.
    c["requesting_organization"] = json!({"resourceType": "Organization", "identifier": []});
    c.as_object_mut().unwrap().remove("requesting_system");
    let caller = check(&settings(), &hs(&c), Access::Read).unwrap();
    assert_eq!(caller.org.as_deref(), Some("user-1"));
    assert_eq!(caller.subject.as_deref(), Some("user-1"));
    assert_eq!(caller.system, None);
}

#[test]
fn a_remembered_token_still_expires_and_keeps_its_scopes() {
    let verifier = Verifier::new(&AuthSettings {
        leeway_seconds: 0,
        ..settings()
    })
    .unwrap();
    let mut short = claims();
    short["exp"] = json!(now() + 1);
    short["scope"] = json!("patient/Appointment.read");
    let header = format!("Bearer {}", hs(&short));
    assert!(verifier.verify(Some(&header), Access::Read).is_ok());
    // Remembered now; the scope is still checked per request.
    assert!(matches!(
        verifier.verify(Some(&header), Access::Write),
        Err(AuthError::InsufficientScope(_))
    ));
    assert!(verifier.verify(Some(&header), Access::Read).is_ok());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(matches!(
        verifier.verify(Some(&header), Access::Read),
        Err(AuthError::InvalidToken(_))
    ));
}

#[test]
fn issue_time_is_required_and_the_lifetime_bounded() {
    let s = AuthSettings {
        leeway_seconds: 60,
        max_lifetime_seconds: 3600,
        ..settings()
    };
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims();
        edit(&mut c);
        hs(&c)
    };
    // exactly the maximum lifetime is fine
    let t = now();
    check(
        &s,
        &with(&|c| {
            c["iat"] = json!(t);
            c["exp"] = json!(t + 3600);
        }),
        Access::Read,
    )
    .unwrap();
    type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 7] = [
        ("lifetime", &|c| c["exp"] = json!(t + 3601)),
        ("lifetime", &|c| c["exp"] = json!(1e300)),
        ("lifetime", &|c| c["iat"] = json!(-1e300)),
        ("no issue time", &|c| {
            c.as_object_mut().unwrap().remove("iat");
        }),
        ("iat", &|c| c["iat"] = json!("now")),
        ("in the future", &|c| c["iat"] = json!(t + 120)),
        ("before it was issued", &|c| {
            c["iat"] = json!(t + 30);
            c["exp"] = json!(t + 20);
        }),
    ];
    for (words, edit) in cases {
        invalid(check(&s, &with(edit), Access::Read), words);
    }
    // iat ahead of our clock within the leeway is fine.
    check(&s, &with(&|c| c["iat"] = json!(t + 30)), Access::Read).unwrap();
    // The same token is refused by a server with a shorter maximum, cache or no cache.
    let day = with(&|c| c["exp"] = json!(t + 86_000));
    let lenient = Verifier::new(&AuthSettings {
        max_lifetime_seconds: 86_400,
        ..s.clone()
    })
    .unwrap();
    let header = format!("Bearer {day}");
    lenient.verify(Some(&header), Access::Read).unwrap();
    lenient.verify(Some(&header), Access::Read).unwrap();
    invalid(check(&s, &day, Access::Read), "lifetime");
}
