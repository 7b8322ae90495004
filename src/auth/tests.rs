//! Signature, algorithm and header tests, and the helpers the others share. Claim and scope
//! tests are in `tests/claims.rs`, key-loading tests in `tests/keys.rs`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

mod claims;
mod keys;

pub(super) const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
pub(super) const AUD: &str = "https://registry.test/fhir";
pub(super) const ISS: &str = "https://issuer.test";
pub(super) const RSA_PRIVATE: &[u8] = include_bytes!("testdata/rsa_private.pem");
pub(super) const RSA_PUBLIC: &[u8] = include_bytes!("testdata/rsa_public.pem");

pub(super) fn now() -> u64 {
    jwt::now_seconds()
}

pub(super) fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Valid claims for the test audience and issuer, with write scope.
pub(super) fn claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "user-1",
        "iat": now(), "exp": now() + 300,
        "scope": "patient/Appointment.write",
        "requesting_organization": "RR8",
        "requesting_system": "200000000001",
    })
}

pub(super) fn settings() -> AuthSettings {
    AuthSettings {
        audience: AUD.to_string(),
        issuer: Some(ISS.to_string()),
        hs256_secret: Some(SECRET.to_vec()),
        ..Default::default()
    }
}

pub(super) fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub(super) fn hs(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET),
        claims,
        None,
    )
}

pub(super) fn unsigned(alg: &str, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(&json!({"alg": alg, "typ": "JWT"})),
        b64(claims)
    )
}

pub(super) fn check(
    s: &AuthSettings,
    token: &str,
    access: Access,
) -> Result<std::sync::Arc<Caller>, AuthError> {
    let header = format!("Bearer {token}");
    let result = Verifier::new(s).unwrap().verify(Some(&header), access);
    if let Err(e) = &result {
        // Whatever went wrong, the message must not carry the token (or any part of it).
        let msg = e.to_string();
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!msg.contains(part), "error message echoes the token: {msg}");
        }
    }
    result
}

pub(super) fn invalid(r: Result<std::sync::Arc<Caller>, AuthError>, words: &str) {
    match r {
        Err(AuthError::InvalidToken(m)) => assert!(m.contains(words), "{m:?} lacks {words:?}"),
        other => panic!("expected InvalidToken({words}), got {other:?}"),
    }
}

pub(super) fn ec_pair(
    alg: &'static rcgen::SignatureAlgorithm,
) -> (EncodingKey, Vec<u8>, rcgen::KeyPair) {
    let kp = rcgen::KeyPair::generate_for(alg).unwrap();
    let enc = EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).unwrap();
    (enc, kp.public_key_pem().into_bytes(), kp)
}

#[test]
fn valid_hs256_dev_token() {
    let t = dev_token(SECRET, AUD, Some(ISS), "patient/*.write", "RR8", 60);
    let c = check(&settings(), &t, Access::Write).unwrap();
    assert_eq!(c.org.as_deref(), Some("RR8"));
    assert_eq!(c.system.as_deref(), Some("200000000001"));
    assert_eq!(c.subject.as_deref(), Some("RR8"));
    assert_eq!(c.scopes, vec!["patient/*.write".to_string()]);
}

#[test]
fn valid_rs256_and_ps256_with_pem_key() {
    let s = AuthSettings {
        hs256_secret: None,
        public_key_pems: vec![RSA_PUBLIC.to_vec()],
        ..settings()
    };
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    check(
        &s,
        &sign(Algorithm::RS256, &key, &claims(), None),
        Access::Write,
    )
    .unwrap();
    check(
        &s,
        &sign(Algorithm::PS256, &key, &claims(), None),
        Access::Write,
    )
    .unwrap();
    // An EC algorithm cannot use the RSA key.
    let (ec, _, _) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    invalid(
        check(
            &s,
            &sign(Algorithm::ES256, &ec, &claims(), None),
            Access::Read,
        ),
        "no trusted key",
    );
}

#[test]
fn valid_es256_with_a_p256_key_and_no_es384() {
    let (k256, pub256, _) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (k384, pub384, _) = ec_pair(&rcgen::PKCS_ECDSA_P384_SHA384);
    let s = AuthSettings {
        hs256_secret: None,
        public_key_pems: vec![pub256],
        ..settings()
    };
    check(
        &s,
        &sign(Algorithm::ES256, &k256, &claims(), None),
        Access::Write,
    )
    .unwrap();
    invalid(
        check(
            &s,
            &sign(Algorithm::ES384, &k384, &claims(), None),
            Access::Read,
        ),
        "ES384 is not accepted",
    );
    // A P-384 key is for ES384 only: refused at start rather than never matching.
    let e = Verifier::new(&AuthSettings {
        public_key_pems: vec![pub384],
        ..s.clone()
    })
    .unwrap_err();
    assert!(matches!(e, KeyError::PublicKey { index: 0, .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("P-384") && e.contains("ES256"), "{e}");
    // A P-256 key that is not the configured one.
    let (other, _, _) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    invalid(
        check(
            &s,
            &sign(Algorithm::ES256, &other, &claims(), None),
            Access::Read,
        ),
        "signature",
    );
}

#[test]
fn only_the_algorithms_the_keys_allow() {
    // The HS256 secret signs HS384/HS512 just as well; those are still refused.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = sign(alg, &EncodingKey::from_secret(SECRET), &claims(), None);
        invalid(check(&settings(), &t, Access::Read), "is not accepted");
    }
    let rsa = AuthSettings {
        public_key_pems: vec![RSA_PUBLIC.to_vec()],
        ..settings()
    };
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    for alg in [
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let e = check(&rsa, &sign(alg, &key, &claims(), None), Access::Read).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains(&format!("{alg:?} is not accepted")) && m.contains("RS256, PS256 or ES256"),
            "{m}"
        );
    }
    check(&rsa, &hs(&claims()), Access::Read).unwrap();
    check(
        &rsa,
        &sign(Algorithm::RS256, &key, &claims(), None),
        Access::Read,
    )
    .unwrap();
}

#[test]
fn bad_signature_and_tampered_payload() {
    let forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another secret"),
        &claims(),
        None,
    );
    invalid(check(&settings(), &forged, Access::Read), "signature");

    let good = hs(&claims());
    let mut evil = claims();
    evil["scope"] = json!("patient/*.write");
    evil["requesting_organization"] = json!("X99");
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    invalid(check(&settings(), &tampered, Access::Read), "signature");
    // Signature removed altogether.
    invalid(
        check(
            &settings(),
            &format!("{}.{}.", parts[0], parts[1]),
            Access::Read,
        ),
        "signature",
    );
}

#[test]
fn hmac_refused_without_secret() {
    let s = AuthSettings {
        hs256_secret: None,
        public_key_pems: vec![RSA_PUBLIC.to_vec()],
        ..settings()
    };
    invalid(check(&s, &hs(&claims()), Access::Read), "no shared secret");
}

#[test]
fn algorithm_confusion_is_refused() {
    // HS256 signed with the bytes of the server's RSA public key PEM: the classic attack.
    let key = EncodingKey::from_secret(RSA_PUBLIC);
    let token = sign(Algorithm::HS256, &key, &claims(), None);
    let rsa_only = AuthSettings {
        hs256_secret: None,
        public_key_pems: vec![RSA_PUBLIC.to_vec()],
        ..settings()
    };
    assert!(matches!(
        check(&rsa_only, &token, Access::Read),
        Err(AuthError::InvalidToken(_))
    ));
    let both = AuthSettings {
        public_key_pems: vec![RSA_PUBLIC.to_vec()],
        ..settings()
    };
    invalid(check(&both, &token, Access::Read), "signature");
    // Same trick through the JWKS route.
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "r1", "n": "AQAB", "e": "AQAB"}]});
    let via_jwks = AuthSettings {
        hs256_secret: None,
        jwks_json: Some(serde_json::to_vec(&jwks).unwrap()),
        ..settings()
    };
    assert!(matches!(
        check(&via_jwks, &token, Access::Read),
        Err(AuthError::InvalidToken(_))
    ));
}

#[test]
fn alg_none_refused_by_default() {
    for alg in ["none", "None", "NONE"] {
        invalid(
            check(&settings(), &unsigned(alg, &claims()), Access::Read),
            "unsigned",
        );
    }
}

#[test]
fn alg_none_when_allowed_still_checks_everything() {
    let s = AuthSettings {
        allow_unsigned: true,
        ..settings()
    };
    let c = check(&s, &unsigned("none", &claims()), Access::Write).unwrap();
    assert_eq!(c.org.as_deref(), Some("RR8"));
    check(&s, &unsigned("NONE", &claims()), Access::Write).unwrap();

    let mut expired = claims();
    expired["exp"] = json!(now() - 100);
    invalid(
        check(&s, &unsigned("none", &expired), Access::Read),
        "expired",
    );
    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("https://elsewhere");
    invalid(
        check(&s, &unsigned("none", &wrong_aud), Access::Read),
        "audience",
    );
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    invalid(
        check(&s, &unsigned("none", &no_exp), Access::Read),
        "no expiry",
    );

    let with_sig = format!("{}c2lnbmF0dXJl", unsigned("none", &claims()));
    invalid(check(&s, &with_sig, Access::Read), "empty signature");
    let mut read_only = claims();
    read_only["scope"] = json!("patient/*.read");
    assert!(matches!(
        check(&s, &unsigned("none", &read_only), Access::Write),
        Err(AuthError::InsufficientScope(_))
    ));
}

#[test]
fn header_problems() {
    let v = Verifier::new(&settings()).unwrap();
    let cases: [Option<&str>; 9] = [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer "),
        Some("garbage"),
        Some("Bearer abc"),
        Some("Bearer a.b"),
        Some("Bearer a.b.c"),
        Some("Bearer !!!.???.sig"),
    ];
    for h in cases {
        let e = v.verify(h, Access::Read).unwrap_err();
        assert!(e.is_header_problem(), "{h:?} gave {e:?}");
    }
    assert!(matches!(
        v.verify(None, Access::Read),
        Err(AuthError::MissingHeader)
    ));
    // The scheme is case-insensitive.
    let t = hs(&claims());
    v.verify(Some(&format!("bearer {t}")), Access::Read)
        .unwrap();
    v.verify(Some(&format!("  Bearer   {t}  ")), Access::Read)
        .unwrap();
    // A signature failure is a token problem, not a header one.
    assert!(!v
        .verify(Some(&format!("Bearer {t}x")), Access::Read)
        .unwrap_err()
        .is_header_problem());
    // Whitespace inside the token is refused, also once the token without it is remembered
    // (a remembered token skips the scan).
    let (head, rest) = t.split_at(t.len() / 2);
    for ws in ["\t", " ", "\u{a0}"] {
        let spaced = format!("Bearer {head}{ws}{rest}");
        match v.verify(Some(&spaced), Access::Read) {
            Err(AuthError::MalformedHeader(m)) => assert!(m.contains("whitespace"), "{m}"),
            other => panic!("{ws:?} inside the token gave {other:?}"),
        }
    }
}
