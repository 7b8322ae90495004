//! Client certificates, strictly: revoked ones (CRLs reloaded while the server runs, on a file
//! change or SIGHUP) and ones not meant for client authentication fail the handshake.

use std::path::Path;
use std::time::{Duration, Instant};

use appointment_registry::pki::{self, DevPkiPaths};
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose as Eku, KeyPair, KeyUsagePurpose as Ku,
};

use crate::helpers::*;
use crate::process;

/// One fresh connection (no pooling) presenting `identity`'s client certificate: the status of
/// `GET /_health` (mutual TLS, no token), or the error with its causes.
async fn connect(base: &str, server: &DevPkiPaths, identity: &DevPkiPaths) -> Result<u16, String> {
    match client_for(server, Some(identity))
        .get(format!("{base}/_health"))
        .send()
        .await
    {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            Err(text)
        }
    }
}

/// Polls (up to 10 s) until a fresh handshake is refused (`refused`) or completes.
async fn until(base: &str, p: &DevPkiPaths, refused: bool) -> Result<u16, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let result = connect(base, p, p).await;
        if result.is_err() == refused || Instant::now() > deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write_crl(p: &DevPkiPaths, crl: &Path, revoked: &[&Path]) {
    std::fs::write(crl, pki::dev_crl(p, revoked).unwrap()).unwrap();
}

#[tokio::test]
async fn a_revoked_client_certificate_is_refused_and_crl_files_are_reloaded_while_serving() {
    let mut crl = std::path::PathBuf::new();
    let app = spawn_app_with(|s| {
        let p = pki::paths(s.tls.client_ca.parent().unwrap());
        crl = p.dir.join("clients.crl");
        write_crl(&p, &crl, &[&p.client_cert]);
        s.tls.client_crls = vec![crl.clone()];
        s.tls.client_crls_poll_seconds = 1;
    })
    .await;
    let err = connect(&app.base, &app.pki, &app.pki).await.unwrap_err();
    assert!(err.contains("CertificateRevoked"), "{err}");

    // Un-revoked: a CRL that revokes nothing is written into the file the server watches.
    write_crl(&app.pki, &crl, &[]);
    assert_eq!(until(&app.base, &app.pki, false).await, Ok(200));
    assert_eq!(app.get("/Appointment/x").await.status(), 404);

    // Revoked again while the server runs.
    write_crl(&app.pki, &crl, &[&app.pki.client_cert]);
    let err = until(&app.base, &app.pki, true).await.unwrap_err();
    assert!(err.contains("CertificateRevoked"), "{err}");
}

/// A client that keeps its TLS session between connections (rustls' client session cache is on
/// by default) must not slip past a revocation by resuming: with CRLs the server resumes
/// nothing, so every connection meets the verifier.
#[tokio::test]
async fn a_revoked_certificate_cannot_resume_an_earlier_session() {
    let dir = tempfile::tempdir().unwrap();
    let crl = dir.path().join("client.crl");
    let mut pki_for_crl = None;
    let app = spawn_app_with(|s| {
        let p = appointment_registry::pki::paths(s.tls.cert.parent().unwrap());
        std::fs::write(&crl, pki::dev_crl(&p, &[]).unwrap()).unwrap();
        pki_for_crl = Some(p);
        s.tls.client_crls = vec![crl.clone()];
        s.tls.client_crls_poll_seconds = 1;
    })
    .await;
    // One client for the whole test; no pooled connection, so each request is a new handshake
    // that may offer the session of the last one.
    let client = client_builder_for(&app.pki, Some(&app.pki))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let health = || client.get(format!("{}/_health", app.base)).send();
    for _ in 0..3 {
        assert_eq!(health().await.unwrap().status(), 200);
    }
    write_crl(&app.pki, &crl, &[&app.pki.client_cert]);
    // The fresh-client probe sees the reload; the long-lived client must be refused too.
    assert!(until(&app.base, &app.pki, true).await.is_err());
    assert!(
        health().await.is_err(),
        "a resumed session got past the CRL"
    );
}

/// A client certificate of the dev CA with the given purposes, as a DevPkiPaths for client_for.
pub fn issue_client(p: &DevPkiPaths, name: &str, eku: Vec<Eku>, ku: Vec<Ku>) -> DevPkiPaths {
    let issuer = pki::dev_ca_issuer(p).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = eku;
    params.key_usages = ku;
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let mut out = p.clone();
    out.client_cert = p.dir.join(format!("{name}.crt"));
    out.client_key = p.dir.join(format!("{name}.key"));
    std::fs::write(&out.client_cert, cert.pem()).unwrap();
    std::fs::write(&out.client_key, key.serialize_pem()).unwrap();
    out
}

#[tokio::test]
async fn client_certificates_need_client_auth_and_digital_signature() {
    let app = spawn_app().await;
    // Same CA, but no extended key usage at all (webpki alone would accept it) and only keyCertSign.
    let no_eku = issue_client(&app.pki, "no-eku", vec![], vec![Ku::KeyCertSign]);
    // The alert for rustls' InvalidPurpose is unsupported_certificate.
    let err = connect(&app.base, &app.pki, &no_eku).await.unwrap_err();
    assert!(err.contains("UnsupportedCertificate"), "{err}");
    // clientAuth, but keyCertSign instead of digitalSignature.
    let no_ds = issue_client(
        &app.pki,
        "no-ds",
        vec![Eku::ClientAuth],
        vec![Ku::KeyCertSign],
    );
    let err = connect(&app.base, &app.pki, &no_ds).await.unwrap_err();
    assert!(err.contains("UnsupportedCertificate"), "{err}");
    // serverAuth only: refused (by webpki already).
    let server_only = issue_client(
        &app.pki,
        "srv",
        vec![Eku::ServerAuth],
        vec![Ku::DigitalSignature],
    );
    assert!(connect(&app.base, &app.pki, &server_only).await.is_err());
    // clientAuth and digitalSignature from the same CA: accepted.
    let good = issue_client(
        &app.pki,
        "good",
        vec![Eku::ClientAuth],
        vec![Ku::DigitalSignature],
    );
    assert_eq!(connect(&app.base, &app.pki, &good).await, Ok(200));
}

#[tokio::test]
async fn sighup_reloads_the_crls_of_the_running_binary() {
    let dir = tempfile::tempdir().unwrap();
    let crl = dir.path().join("clients.crl");
    // Polling off: only SIGHUP can reload.
    let (config, p) = process::config_file_with(
        dir.path(),
        None,
        &format!(
            "client_crls = [\"{}\"]\nclient_crls_poll_seconds = 0\n",
            crl.display()
        ),
    );
    write_crl(&p, &crl, &[]);
    let mut server = process::serve(dir.path(), &config, &[]);
    let base = format!("https://localhost:{}", server.port());
    assert_eq!(connect(&base, &p, &p).await, Ok(200));

    write_crl(&p, &crl, &[&p.client_cert]);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    let line = server.wait_for("client CRLs reloaded (SIGHUP)");
    assert!(line.contains("1 CRL(s)"), "{line}");
    let err = connect(&base, &p, &p).await.unwrap_err();
    assert!(err.contains("CertificateRevoked"), "{err}");

    // A broken CRL on SIGHUP: logged, and the previous CRLs stay in force.
    std::fs::write(&crl, "not a CRL").unwrap();
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    let line = server.wait_for("client CRLs NOT reloaded (SIGHUP)");
    assert!(line.contains("tls.client_crls[0]"), "{line}");
    assert!(connect(&base, &p, &p).await.is_err());
    assert!(server.child.try_wait().unwrap().is_none(), "still serving");
}
