//! RULES.md §5: mutual TLS at the handshake, and a JWT on every request.

use appointment_registry::pki;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::*;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(edit: impl FnOnce(&mut Value)) -> Value {
    let mut c = json!({
        "iss": "https://tester.example", "sub": "tester", "aud": AUDIENCE,
        "iat": now(), "exp": now() + 300,
        "scope": "patient/Appointment.write patient/Appointment.read",
        "requesting_organization": ORG,
        "requesting_system": "200000000123"
    });
    edit(&mut c);
    c
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    signed(Algorithm::HS256, secret, claims)
}

fn signed(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

async fn post_with(app: &TestApp, authorization: Option<String>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/Appointment"))
        .header("Content-Type", "application/fhir+json")
        .body(valid_appointment().to_string());
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

async fn forbidden(response: reqwest::Response, code: &str) {
    assert_eq!(response.status(), 403);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_outcome(response, 403, code, "").await;
}

#[tokio::test]
async fn every_bad_token_is_a_403_with_an_operation_outcome() {
    let app = spawn_app().await;
    let s = app.secret.clone();
    forbidden(post_with(&app, None).await, "MISSING_OR_INVALID_HEADER").await;
    forbidden(
        post_with(&app, Some("Basic dXNlcjpwYXNz".into())).await,
        "MISSING_OR_INVALID_HEADER",
    )
    .await;
    forbidden(
        post_with(&app, Some("Bearer garbage".into())).await,
        "MISSING_OR_INVALID_HEADER",
    )
    .await;
    let denied = [
        (
            "expired",
            hs256(
                &s,
                &claims(|c| {
                    c["iat"] = json!(now() - 7200);
                    c["exp"] = json!(now() - 3600);
                }),
            ),
        ),
        // auth.max_token_lifetime_seconds (3600 by default) bounds exp - iat; iat is required.
        (
            "two-hour lifetime",
            hs256(&s, &claims(|c| c["exp"] = json!(now() + 7200))),
        ),
        ("exp 1e300", hs256(&s, &claims(|c| c["exp"] = json!(1e300)))),
        (
            "no iat",
            hs256(
                &s,
                &claims(|c| {
                    c.as_object_mut().unwrap().remove("iat");
                }),
            ),
        ),
        (
            "iat in the future",
            hs256(&s, &claims(|c| c["iat"] = json!(now() + 600))),
        ),
        (
            "no exp",
            hs256(
                &s,
                &claims(|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
        ),
        (
            "wrong aud",
            hs256(
                &s,
                &claims(|c| c["aud"] = json!("https://elsewhere.example")),
            ),
        ),
        ("bad signature", hs256(b"not-the-secret", &claims(|_| {}))),
        // The right secret, but only HS256 is accepted with it.
        ("HS384", signed(Algorithm::HS384, &s, &claims(|_| {}))),
        ("HS512", signed(Algorithm::HS512, &s, &claims(|_| {}))),
        ("alg none", unsigned(&claims(|_| {}))),
        (
            "read scope for a write",
            hs256(
                &s,
                &claims(|c| c["scope"] = json!("patient/Appointment.read")),
            ),
        ),
        (
            "no scope",
            hs256(
                &s,
                &claims(|c| {
                    c.as_object_mut().unwrap().remove("scope");
                }),
            ),
        ),
    ];
    for (why, token) in denied {
        let response = post_with(&app, Some(format!("Bearer {token}"))).await;
        assert_eq!(response.status(), 403, "{why}");
        forbidden(response, "ACCESS DENIED").await;
    }
    // Nothing was registered by any of them.
    assert_eq!(app.stored_appointments(), 0);
    // And the good token works, with requested_scope as the scope claim.
    let ok = hs256(
        &s,
        &claims(|c| {
            let scope = c.as_object_mut().unwrap().remove("scope").unwrap();
            c["requested_scope"] = scope;
        }),
    );
    assert_eq!(
        post_with(&app, Some(format!("Bearer {ok}"))).await.status(),
        201
    );
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = spawn_app().await;
    let good = format!("Bearer {}", app.token());
    let other = format!("Bearer {}", app.token_with(WRITE_SCOPE, "RX9"));
    // Two valid tokens, or a valid one and junk, in either order: never "the first one wins".
    for (a, b) in [
        (good.clone(), other.clone()),
        (good.clone(), "Bearer garbage".to_string()),
        ("Basic dXNlcjpwYXNz".to_string(), good.clone()),
    ] {
        let response = app
            .client
            .post(app.url("/Appointment"))
            .header("Authorization", a)
            .header("Authorization", b)
            .header("Content-Type", "application/fhir+json")
            .body(valid_appointment().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_outcome(response, 403, "MISSING_OR_INVALID_HEADER", "more than one").await;
        let read = app
            .client
            .get(app.url("/Appointment/x"))
            .header("Authorization", good.clone())
            .header("Authorization", good.clone())
            .send()
            .await
            .unwrap();
        forbidden(read, "MISSING_OR_INVALID_HEADER").await;
    }
    // One is fine.
    assert_eq!(post_with(&app, Some(good)).await.status(), 201);
}

#[tokio::test]
async fn reads_need_a_token_too() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/Appointment/abc"))
        .send()
        .await
        .unwrap();
    forbidden(response, "MISSING_OR_INVALID_HEADER").await;
}

#[tokio::test]
async fn unsigned_tokens_only_when_the_operator_opts_in_and_claims_still_count() {
    let app = spawn_app_with(|s| s.auth.allow_unsigned = true).await;
    let ok = unsigned(&claims(|_| {}));
    assert_eq!(
        post_with(&app, Some(format!("Bearer {ok}"))).await.status(),
        201
    );
    let expired = unsigned(&claims(|c| {
        c["iat"] = json!(now() - 7200);
        c["exp"] = json!(now() - 3600);
    }));
    forbidden(
        post_with(&app, Some(format!("Bearer {expired}"))).await,
        "ACCESS DENIED",
    )
    .await;
    let forever = unsigned(&claims(|c| c["exp"] = json!(1e300)));
    forbidden(
        post_with(&app, Some(format!("Bearer {forever}"))).await,
        "ACCESS DENIED",
    )
    .await;
    let wrong_aud = unsigned(&claims(|c| c["aud"] = json!("x")));
    forbidden(
        post_with(&app, Some(format!("Bearer {wrong_aud}"))).await,
        "ACCESS DENIED",
    )
    .await;
}

#[tokio::test]
async fn algorithm_confusion_is_refused() {
    let keys = format!("{}/src/auth/testdata", env!("CARGO_MANIFEST_DIR"));
    let public = std::path::PathBuf::from(format!("{keys}/rsa_public.pem"));
    let app = spawn_app_with(|s| s.auth.public_keys = vec![public.clone()]).await;
    // An HS256 token keyed with the bytes of the server's trusted RSA public key.
    let pem = std::fs::read(&public).unwrap();
    let forged = hs256(&pem, &claims(|_| {}));
    forbidden(
        post_with(&app, Some(format!("Bearer {forged}"))).await,
        "ACCESS DENIED",
    )
    .await;
    // A real RS256 token with that key pair is accepted.
    let private = std::fs::read(format!("{keys}/rsa_private.pem")).unwrap();
    let rs = encode(
        &Header::new(Algorithm::RS256),
        &claims(|_| {}),
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    assert_eq!(
        post_with(&app, Some(format!("Bearer {rs}"))).await.status(),
        201
    );
    // The same key pair with RS512: refused (RS256, PS256 and ES256 only).
    let rs512 = encode(
        &Header::new(Algorithm::RS512),
        &claims(|_| {}),
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    forbidden(
        post_with(&app, Some(format!("Bearer {rs512}"))).await,
        "ACCESS DENIED",
    )
    .await;
}

#[tokio::test]
async fn handshake_requires_a_client_certificate_from_the_configured_ca() {
    let app = spawn_app().await;
    let anonymous = client_for(&app.pki, None);
    let err = anonymous.get(app.url("/Appointment/x")).send().await;
    assert!(
        err.is_err(),
        "a client without a certificate must not get an HTTP answer"
    );

    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = pki::generate(foreign_dir.path()).unwrap();
    let stranger = client_for(&app.pki, Some(&foreign));
    let err = stranger.get(app.url("/Appointment/x")).send().await;
    assert!(
        err.is_err(),
        "a certificate from another CA must fail the handshake"
    );

    // The configured client certificate gets through.
    assert_eq!(app.get("/Appointment/x").await.status(), 404);
}

#[tokio::test]
async fn the_caller_is_recorded_with_the_registration() {
    let app = spawn_app().await;
    let token = hs256(
        &app.secret,
        &claims(|c| {
            c["requesting_organization"] = json!({
                "resourceType": "Organization",
                "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RR8"}]
            });
        }),
    );
    assert_eq!(
        post_with(&app, Some(format!("Bearer {token}")))
            .await
            .status(),
        201
    );
    let row = app
        .db
        .row("SELECT registered_by_org, registered_by_asid, registered_by_cert FROM appointment");
    let [org, asid, cert] = [0, 1, 2].map(|i| row[i].clone().unwrap_or_default());
    assert_eq!(org, "RR8");
    assert_eq!(asid, "200000000123");
    assert!(
        cert.contains("CN=appointment-registry-dev-client"),
        "{cert}"
    );
}

/// GET /Appointment?patient=… with `token`: 200 when reading is allowed.
async fn search_with(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/Appointment?patient=1234554321"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn roles_in_an_array_claim_grant_what_auth_roles_say() {
    let app = spawn_app_with(|s| {
        s.auth.scope_claim = "roles".into();
        s.auth.roles.read = vec!["Appointment.Read".into()];
        s.auth.roles.write = vec!["Appointment.Write".into()];
        s.auth.organisation_claim = "org_code".into();
    })
    .await;
    let s = app.secret.clone();
    let token = |roles: Value| {
        hs256(
            &s,
            &claims(|c| {
                let m = c.as_object_mut().unwrap();
                m.remove("scope");
                m.remove("requesting_organization");
                m.insert("roles".into(), roles);
                m.insert("org_code".into(), json!("RXA"));
            }),
        )
    };
    let writer = token(json!(["Other", "Appointment.Write"]));
    let response = post_with(&app, Some(format!("Bearer {writer}"))).await;
    assert_eq!(response.status(), 201);
    // The organisation came from the configured claim, not `sub`.
    let org = app.db.row("SELECT registered_by_org FROM appointment")[0]
        .clone()
        .unwrap_or_default();
    assert_eq!(org, "RXA");
    assert_eq!(search_with(&app, &writer).await.status(), 200);

    let reader = token(json!(["Appointment.Read"]));
    assert_eq!(search_with(&app, &reader).await.status(), 200);
    assert_outcome(
        post_with(&app, Some(format!("Bearer {reader}"))).await,
        403,
        "ACCESS DENIED",
        "Appointment.Write",
    )
    .await;
    // With roles configured, SMART scopes (even in the roles claim) grant nothing.
    let smart = token(json!(["patient/Appointment.write"]));
    assert_eq!(search_with(&app, &smart).await.status(), 403);
    // The default `scope` claim is not read when another is configured.
    let scope_only = hs256(&s, &claims(|_| {}));
    assert_eq!(search_with(&app, &scope_only).await.status(), 403);
}

#[tokio::test]
async fn scopes_in_a_space_separated_scp_claim() {
    let app = spawn_app_with(|s| s.auth.scope_claim = "scp".into()).await;
    let s = app.secret.clone();
    let scp = |value: &str| {
        hs256(
            &s,
            &claims(|c| {
                let m = c.as_object_mut().unwrap();
                m.remove("scope");
                m.insert("scp".into(), json!(value));
            }),
        )
    };
    let writer = scp("openid patient/Appointment.write");
    let response = post_with(&app, Some(format!("Bearer {writer}"))).await;
    assert_eq!(response.status(), 201);
    let reader = scp("patient/Appointment.read");
    assert_eq!(search_with(&app, &reader).await.status(), 200);
    forbidden(
        post_with(&app, Some(format!("Bearer {reader}"))).await,
        "ACCESS DENIED",
    )
    .await;
}
