//! The access log of the running binary: whatever a token's claims or a certificate's subject
//! hold, each request is one line.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rcgen::{ExtendedKeyUsagePurpose as Eku, KeyUsagePurpose as Ku};
use serde_json::json;

use crate::client_certs::issue_client;
use crate::helpers::*;
use crate::process;

#[tokio::test]
async fn claims_and_certificate_subjects_cannot_split_an_access_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let (config, p) = process::config_file(dir.path(), None);
    let mut server = process::serve(dir.path(), &config, &[]);
    let port = server.port();
    // A client certificate whose subject holds a quote, a newline and an escape sequence.
    let evil = issue_client(
        &p,
        "evil\"\nFORGED cert=\"x\u{1b}[2J",
        vec![Eku::ClientAuth],
        vec![Ku::DigitalSignature],
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "aud": AUDIENCE, "iat": now, "exp": now + 300,
        "scope": WRITE_SCOPE,
        "requesting_organization": "RA1\nFORGED GET /Appointment 200 org=X",
        "requesting_system": "200000000001\r\nFORGED",
    });
    let secret = std::fs::read(&p.jwt_secret).unwrap();
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&secret),
    )
    .unwrap();
    let response = client_for(&p, Some(&evil))
        .post(format!("https://localhost:{port}/Appointment"))
        .bearer_auth(&token)
        .header("Content-Type", "application/fhir+json")
        .body(valid_appointment().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let line = server.wait_for("POST /Appointment 201");
    assert!(
        line.contains(r"org=RA1\nFORGED GET /Appointment 200 org=X asid=200000000001\r\nFORGED"),
        "{line}"
    );
    assert!(
        line.contains(r#"CN=evil\"\nFORGED cert=\"x\x1b[2J"#),
        "{line}"
    );
    assert!(!line.contains('\u{1b}'), "{line}");
    // Stop it and read the whole log: no line was forged.
    let _ = server.child.kill();
    let _ = server.child.wait();
    server.drain();
    assert!(
        server.log.iter().all(|l| !l.starts_with("FORGED")),
        "{}",
        server.log.join("\n")
    );
}
