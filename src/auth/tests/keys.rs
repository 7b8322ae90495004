//! Key loading, JWKS selection and unsupported-algorithm tests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::{b64, check, claims, ec_pair, invalid, settings, sign, RSA_PRIVATE};
use crate::auth::*;

#[test]
fn unknown_or_unsupported_algorithms() {
    let body = b64(&claims());
    for alg in ["HS1024", "EdDSA", "RSA-OAEP", ""] {
        let t = format!("{}.{}.c2ln", b64(&json!({"alg": alg})), body);
        assert!(
            matches!(
                check(&settings(), &t, Access::Read),
                Err(AuthError::InvalidToken(_))
            ),
            "{alg}"
        );
    }
    let no_alg = format!("{}.{}.c2ln", b64(&json!({"typ": "JWT"})), body);
    invalid(check(&settings(), &no_alg, Access::Read), "alg");
    let crit = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "HS256", "crit": ["exp"]})),
        body
    );
    invalid(check(&settings(), &crit, Access::Read), "crit");
}

fn jwk_ec(kid: &str, kp: &rcgen::KeyPair) -> Value {
    let raw = kp.public_key_raw(); // 0x04 || X || Y
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
           "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65])})
}

#[test]
fn jwks_key_chosen_by_kid() {
    let (k1, _, kp1) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (k2, _, kp2) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let jwks = json!({"keys": [jwk_ec("k1", &kp1), jwk_ec("k2", &kp2),
        {"kty": "RSA", "use": "enc", "kid": "e1", "n": "AQAB", "e": "AQAB"}]});
    let s = AuthSettings {
        hs256_secret: None,
        jwks_json: Some(serde_json::to_vec(&jwks).unwrap()),
        ..settings()
    };
    check(
        &s,
        &sign(Algorithm::ES256, &k2, &claims(), Some("k2")),
        Access::Write,
    )
    .unwrap();
    check(
        &s,
        &sign(Algorithm::ES256, &k1, &claims(), Some("k1")),
        Access::Write,
    )
    .unwrap();
    // Without kid: every key of the family is tried.
    check(
        &s,
        &sign(Algorithm::ES256, &k2, &claims(), None),
        Access::Write,
    )
    .unwrap();
    // kid names k1 but k2 signed: only k1 is tried.
    invalid(
        check(
            &s,
            &sign(Algorithm::ES256, &k2, &claims(), Some("k1")),
            Access::Read,
        ),
        "signature",
    );
    invalid(
        check(
            &s,
            &sign(Algorithm::ES256, &k1, &claims(), Some("nope")),
            Access::Read,
        ),
        "key id",
    );
}

#[test]
fn jwks_keys_for_algorithms_not_accepted_are_skipped() {
    let (k256, _, kp256) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let kp384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let raw = kp384.public_key_raw();
    let p384 = json!({"kty": "EC", "crv": "P-384", "kid": "p384",
        "x": URL_SAFE_NO_PAD.encode(&raw[1..49]), "y": URL_SAFE_NO_PAD.encode(&raw[49..97])});
    let mut pinned_es384 = jwk_ec("pinned", &kp256);
    pinned_es384["alg"] = json!("ES384");
    let only_unusable = json!({"keys": [p384, pinned_es384]});
    let e = Verifier::new(&AuthSettings {
        hs256_secret: None,
        jwks_json: Some(serde_json::to_vec(&only_unusable).unwrap()),
        ..settings()
    })
    .unwrap_err();
    assert!(matches!(e, KeyError::NoUsableJwksKey), "{e:?}");
    assert!(e.to_string().contains("no usable signing key"), "{e}");
    let mut keys = only_unusable["keys"].as_array().unwrap().clone();
    keys.push(jwk_ec("k1", &kp256));
    let s = AuthSettings {
        hs256_secret: None,
        jwks_json: Some(serde_json::to_vec(&json!({ "keys": keys })).unwrap()),
        ..settings()
    };
    check(
        &s,
        &sign(Algorithm::ES256, &k256, &claims(), Some("k1")),
        Access::Read,
    )
    .unwrap();
}

#[test]
fn bad_configuration_is_reported() {
    let err = |s: AuthSettings| Verifier::new(&s).unwrap_err().to_string();
    let base = AuthSettings {
        hs256_secret: None,
        ..settings()
    };
    assert!(err(AuthSettings {
        public_key_pems: vec![RSA_PRIVATE.to_vec()],
        ..base.clone()
    })
    .contains("private key"));
    assert!(err(AuthSettings {
        public_key_pems: vec![b"not pem".to_vec()],
        ..base.clone()
    })
    .contains("#1"));
    assert!(err(AuthSettings {
        jwks_json: Some(b"{".to_vec()),
        ..base.clone()
    })
    .contains("JWKS"));
    // The JSON error is the source: the chain says where the document breaks.
    let e = Verifier::new(&AuthSettings {
        jwks_json: Some(b"{".to_vec()),
        ..base.clone()
    })
    .unwrap_err();
    let source = std::error::Error::source(&e).map(ToString::to_string);
    assert!(
        matches!(e, KeyError::Jwks(_)) && source.is_some_and(|s| s.contains("EOF")),
        "{e:?}"
    );
    let oct = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
    assert!(err(AuthSettings {
        jwks_json: Some(serde_json::to_vec(&oct).unwrap()),
        ..base.clone()
    })
    .contains("symmetric"));
    assert!(err(base.clone()).contains("no token could ever be accepted"));
    assert!(err(AuthSettings {
        hs256_secret: Some(Vec::new()),
        ..base.clone()
    })
    .contains("empty"));
    assert!(err(AuthSettings {
        audience: String::new(),
        ..settings()
    })
    .contains("audience"));
    Verifier::new(&AuthSettings {
        allow_unsigned: true,
        ..base
    })
    .unwrap();
}

#[test]
fn jwks_key_matched_by_x5t_when_both_carry_one() {
    let (k1, _, kp1) = ec_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut jwk = jwk_ec("k1", &kp1);
    jwk["x5t"] = json!("thumb-1");
    let s = AuthSettings {
        hs256_secret: None,
        jwks_json: Some(serde_json::to_vec(&json!({"keys": [jwk]})).unwrap()),
        ..settings()
    };
    let with_x5t = |x5t: Option<&str>| {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        header.x5t = x5t.map(str::to_string);
        jsonwebtoken::encode(&header, &claims(), &k1).unwrap()
    };
    check(&s, &with_x5t(Some("thumb-1")), Access::Write).unwrap();
    check(&s, &with_x5t(None), Access::Write).unwrap();
    invalid(
        check(&s, &with_x5t(Some("thumb-2")), Access::Write),
        "no trusted key",
    );
}
