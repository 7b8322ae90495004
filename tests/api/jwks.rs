//! Keys from `auth.jwks_url`: a real local HTTPS JWKS endpoint (certificate from the dev CA,
//! trusted through `auth.jwks_ca`) whose keys the test rotates while the registry runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde_json::{json, Value};
use x509_parser::prelude::FromDer;

use crate::helpers::*;

const RSA_PRIVATE: &[u8] = include_bytes!("../../src/auth/testdata/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../src/auth/testdata/rsa_public.pem");

/// The JWKS the endpoint serves; None answers 503.
type Served = Arc<Mutex<Option<Value>>>;

/// The old key: RS256 from src/auth/testdata, as a JWK with `kid` "old".
fn old_jwk() -> Value {
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(RSA_PUBLIC).unwrap();
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki.as_ref()).unwrap();
    let x509_parser::public_key::PublicKey::RSA(rsa) = info.parsed().unwrap() else {
        panic!("not RSA")
    };
    let trim = |b: &[u8]| {
        let start = b.iter().position(|&x| x != 0).unwrap_or(0);
        URL_SAFE_NO_PAD.encode(&b[start..])
    };
    json!({"kty": "RSA", "kid": "old", "use": "sig", "alg": "RS256",
           "n": trim(rsa.modulus), "e": trim(rsa.exponent)})
}

/// A new ES256 key (P-256, made by rcgen) with `kid` "new", and its JWK.
fn new_key() -> (EncodingKey, Value) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = kp.public_key_raw(); // 0x04 || X || Y
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "new", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65])});
    let key = EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).unwrap();
    (key, jwk)
}

fn token(alg: Algorithm, key: &EncodingKey, kid: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "sub": ORG, "aud": AUDIENCE, "iat": now, "exp": now + 300,
        "scope": format!("{WRITE_SCOPE} {READ_SCOPE}"),
    });
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    encode(&header, &claims, key).unwrap()
}

fn old_token() -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    token(Algorithm::RS256, &key, "old")
}

/// A free port on 127.0.0.1 (nothing listens on it once this returns).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `served` at https://localhost:{port}/jwks.json with the dev server certificate.
fn serve_jwks(pki: &appointment_registry::pki::DevPkiPaths, port: u16, served: Served) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.server_cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let server = HttpServer::new(move || {
        let served = served.clone();
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let doc = served.lock().unwrap().clone();
                async move {
                    match doc {
                        Some(doc) => HttpResponse::Ok().json(doc),
                        None => HttpResponse::ServiceUnavailable().finish(),
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind_rustls_0_23(("127.0.0.1", port), config)
    .unwrap()
    .run();
    tokio::spawn(server);
}

async fn search(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(app.url("/Appointment?patient=1234554321"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `GET /_ready`: its status and body.
async fn ready(app: &TestApp) -> (u16, Value) {
    let response = app.client.get(app.url("/_ready")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_until_ready(app: &TestApp, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let (status, body) = ready(app).await;
        if status == 200 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A registry fetching `https://localhost:{port}/jwks.json`, trusting the dev CA for it. Its
/// own PKI is made first so the JWKS server can use the same certificates.
async fn registry_with_jwks(port: u16, refresh_seconds: u64) -> TestApp {
    spawn_app_with(|s| {
        s.auth.jwks_url = format!("https://localhost:{port}/jwks.json");
        s.auth.jwks_ca = s.tls.client_ca.clone();
        s.auth.jwks_refresh_seconds = refresh_seconds;
    })
    .await
}

#[tokio::test]
async fn a_rotated_in_key_is_fetched_on_its_unknown_kid_without_a_restart() {
    let port = free_port();
    let served: Served = Arc::new(Mutex::new(Some(json!({"keys": [old_jwk()]}))));
    // The registry's dev PKI is in its temp folder: start it, then the endpoint with its certs.
    let app = registry_with_jwks(port, 3600).await;
    serve_jwks(&app.pki, port, served.clone());
    wait_until_ready(&app, Duration::from_secs(20)).await;
    assert_eq!(search(&app, &old_token()).await, 200);

    // The identity provider rotates: the new key is published beside the old one.
    let (new_key, new_jwk) = new_key();
    *served.lock().unwrap() = Some(json!({"keys": [old_jwk(), new_jwk]}));
    let new_token = token(Algorithm::ES256, &new_key, "new");
    // Refresh is hourly here: the unknown kid alone makes the registry fetch again.
    assert_eq!(search(&app, &new_token).await, 200);
    assert_eq!(search(&app, &old_token()).await, 200);

    // Another unknown kid within 30 s does not make it fetch again.
    let (other_key, mut other_jwk) = self::new_key();
    other_jwk["kid"] = json!("other");
    *served.lock().unwrap() = Some(json!({"keys": [old_jwk(), other_jwk]}));
    assert_eq!(
        search(&app, &token(Algorithm::ES256, &other_key, "other")).await,
        403
    );
}

#[tokio::test]
async fn a_withdrawn_key_is_refused_after_the_refresh_and_a_failed_refresh_keeps_the_keys() {
    let port = free_port();
    let (new_key, new_jwk) = new_key();
    let served: Served = Arc::new(Mutex::new(Some(
        json!({"keys": [old_jwk(), new_jwk.clone()]}),
    )));
    let app = registry_with_jwks(port, 1).await;
    serve_jwks(&app.pki, port, served.clone());
    wait_until_ready(&app, Duration::from_secs(20)).await;
    let old = old_token();
    let new = token(Algorithm::ES256, &new_key, "new");
    // Both accepted (and the old one remembered by the verifier).
    assert_eq!(search(&app, &old).await, 200);
    assert_eq!(search(&app, &new).await, 200);

    // The old key is withdrawn; within a refresh period or two the same token is refused.
    *served.lock().unwrap() = Some(json!({"keys": [new_jwk]}));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while search(&app, &old).await == 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the withdrawn key is still trusted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(search(&app, &old).await, 403);
    assert_eq!(search(&app, &new).await, 200);

    // The endpoint fails: the last good keys stay, and the registry stays ready.
    *served.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(search(&app, &new).await, 200);
    assert_eq!(ready(&app).await.0, 200);
}

#[tokio::test]
async fn readiness_follows_the_jwks_endpoint_at_start() {
    let port = free_port();
    // Nothing listens on the port yet: the registry starts anyway, not ready, saying why.
    let app = registry_with_jwks(port, 2).await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("auth.jwks_url"), "{reason}");
    assert_eq!(search(&app, &old_token()).await, 403);

    // The endpoint comes up: the retries find it, the registry becomes ready, tokens pass.
    let served: Served = Arc::new(Mutex::new(Some(json!({"keys": [old_jwk()]}))));
    serve_jwks(&app.pki, port, served);
    wait_until_ready(&app, Duration::from_secs(20)).await;
    assert_eq!(search(&app, &old_token()).await, 200);
}

#[tokio::test]
async fn a_plain_http_jwks_url_is_refused_at_start() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let pki = appointment_registry::pki::generate(&dir.path().join("pki")).unwrap();
    let mut settings = test_settings(&pki, &dir.path().join("r.db"));
    settings.auth.jwks_url = "http://localhost:1/jwks.json".into();
    let e = settings.validate().unwrap_err().to_string();
    assert!(e.contains("auth.jwks_url") && e.contains("https"), "{e}");
}

fn init() {
    appointment_registry::tls::install_crypto_provider();
}
