//! Mutual-TLS handshakes driven in memory between a rustls client and server.

use std::fs;
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::*;
use crate::pki::{self, DevPkiPaths};

fn temp_pki(name: &str) -> DevPkiPaths {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("scratch-tls-{name}-{}-{nanos}", std::process::id()));
    pki::generate(&dir).unwrap()
}

fn server(p: &DevPkiPaths) -> ServerConnection {
    server_with(p, client_verifier(&p.ca_cert, &[]).unwrap())
}

fn server_with(p: &DevPkiPaths, verifier: Arc<ClientVerifier>) -> ServerConnection {
    let cfg = server_config(&p.server_cert, &p.server_key, verifier).unwrap();
    ServerConnection::new(Arc::new(cfg)).unwrap()
}

/// A client trusting `trust`'s CA and presenting `identity`'s client certificate, if any.
fn client(trust: &DevPkiPaths, identity: Option<&DevPkiPaths>) -> ClientConnection {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&trust.ca_cert).unwrap())
        .unwrap();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match identity {
        Some(id) => {
            let chain = vec![CertificateDer::from_pem_file(&id.client_cert).unwrap()];
            let key = PrivateKeyDer::from_pem_file(&id.client_key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from("localhost").unwrap();
    ClientConnection::new(Arc::new(cfg), name).unwrap()
}

fn pump(
    from: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
    to: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
) -> Result<(), rustls::Error> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).unwrap();
        to.process_new_packets()?;
    }
    Ok(())
}

/// Runs the handshake to the end; the error says which side refused.
fn handshake(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), String> {
    for _ in 0..10 {
        pump(c, s).map_err(|e| format!("server: {e}"))?;
        pump(s, c).map_err(|e| format!("client: {e}"))?;
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() && !s.wants_write() {
            return Ok(());
        }
    }
    Err("handshake did not finish".to_string())
}

#[test]
fn mutual_tls_accepts_only_certificates_from_the_configured_ca() {
    install_crypto_provider();
    install_crypto_provider(); // a second call is harmless
    let dev = temp_pki("dev");
    let foreign = temp_pki("foreign");

    // (a) the dev client certificate completes the handshake and is visible to the server.
    let (mut c, mut s) = (client(&dev, Some(&dev)), server(&dev));
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.alpn_protocol(), Some(&b"http/1.1"[..]));
    let leaf = &s.peer_certificates().unwrap()[0];
    let subject = certificate_subject(leaf).unwrap();
    assert!(
        subject.contains("CN=appointment-registry-dev-client"),
        "{subject}"
    );
    assert!(subject.contains("O=Appointment Registry dev"), "{subject}");

    // (b) no client certificate: the server refuses.
    let (mut c, mut s) = (client(&dev, None), server(&dev));
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert!(
        err.starts_with("server:") && err.contains("certificate"),
        "{err}"
    );
    assert!(s.peer_certificates().is_none());

    // (c) a client certificate from another dev CA: the server refuses. Both CAs carry the same
    // name, so webpki reports BadSignature rather than UnknownIssuer; either is a rejection.
    let (mut c, mut s) = (client(&dev, Some(&foreign)), server(&dev));
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert!(err.starts_with("server: invalid peer certificate"), "{err}");
    assert!(s.peer_certificates().is_none() || s.is_handshaking());

    fs::remove_dir_all(&dev.dir).unwrap();
    fs::remove_dir_all(&foreign.dir).unwrap();
}

/// The error with its causes, as start-up prints it.
fn chain(e: TlsError) -> String {
    format!("{:#}", anyhow::Error::new(e))
}

#[test]
fn configuration_errors_name_the_file() {
    let dev = temp_pki("errors");
    let verifier = || client_verifier(&dev.ca_cert, &[]).unwrap();
    let missing = dev.dir.join("missing.crt");
    let e = server_config(&missing, &dev.server_key, verifier())
        .map_err(chain)
        .unwrap_err();
    assert!(
        e.contains("missing.crt") && e.contains("server certificate"),
        "{e}"
    );
    // A certificate where the key should be.
    let e = server_config(&dev.server_cert, &dev.server_cert, verifier())
        .map_err(chain)
        .unwrap_err();
    assert!(e.contains("server.crt") && e.contains("private key"), "{e}");
    // A key that does not belong to the certificate.
    let e = server_config(&dev.server_cert, &dev.client_key, verifier())
        .map_err(chain)
        .unwrap_err();
    assert!(e.contains("server.crt") && e.contains("client.key"), "{e}");
    let e = client_verifier(&dev.jwt_secret, &[]).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::File {
                file: TlsFile::ClientCa,
                ..
            }
        ),
        "{e:?}"
    );
    let e = chain(e);
    assert!(e.contains("jwt-secret") && e.contains("client CA"), "{e}");
    // CRL files: the message names the key and the file.
    let e = client_verifier(&dev.ca_cert, &[dev.ca_cert.clone(), missing.clone()])
        .map_err(chain)
        .unwrap_err();
    assert!(
        e.contains("tls.client_crls[0]") && e.contains("ca.crt") && e.contains("no CRL"),
        "{e}"
    );
    let garbage = dev.dir.join("garbage.crl");
    fs::write(&garbage, b"0garbage").unwrap();
    let e = client_verifier(&dev.ca_cert, std::slice::from_ref(&garbage))
        .map_err(chain)
        .unwrap_err();
    assert!(
        e.contains("tls.client_crls[0]") && e.contains("garbage.crl"),
        "{e}"
    );
    let e = client_verifier(&dev.ca_cert, &[missing]).unwrap_err();
    assert!(matches!(e, TlsError::Crl { index: 0, .. }), "{e:?}");
    let e = chain(e);
    assert!(
        e.contains("tls.client_crls[0]") && e.contains("missing.crt"),
        "{e}"
    );
    assert_eq!(certificate_subject(b"not a certificate"), None);
    fs::remove_dir_all(&dev.dir).unwrap();
}

/// The dev client's handshake against a server using `verifier`.
fn dev_handshake(dev: &DevPkiPaths, verifier: &Arc<ClientVerifier>) -> Result<(), String> {
    let (mut c, mut s) = (client(dev, Some(dev)), server_with(dev, verifier.clone()));
    handshake(&mut c, &mut s)
}

#[test]
fn revoked_client_certificates_are_refused_and_a_bad_reload_keeps_the_crls() {
    install_crypto_provider();
    let dev = temp_pki("crl");
    let crl = dev.dir.join("client.crl");
    fs::write(&crl, pki::dev_crl(&dev, &[&dev.client_cert]).unwrap()).unwrap();
    let verifier = client_verifier(&dev.ca_cert, std::slice::from_ref(&crl)).unwrap();
    let err = dev_handshake(&dev, &verifier).unwrap_err();
    assert!(
        err.starts_with("server:") && err.contains("Revoked"),
        "{err}"
    );
    assert!(!verifier.crls_changed());

    // A CRL that revokes nothing: the certificate is accepted again after a reload.
    fs::write(&crl, pki::dev_crl(&dev, &[]).unwrap()).unwrap();
    assert!(verifier.crls_changed());
    assert_eq!(verifier.reload().unwrap(), 1);
    assert!(!verifier.crls_changed());
    dev_handshake(&dev, &verifier).unwrap();

    // A broken file: the reload fails, naming it, and the CRLs in force stay.
    fs::write(
        &crl,
        "-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n",
    )
    .unwrap();
    assert!(verifier.crls_changed());
    let e = chain(verifier.reload().unwrap_err());
    assert!(
        e.contains("tls.client_crls[0]") && e.contains("client.crl"),
        "{e}"
    );
    assert!(!verifier.crls_changed(), "a broken file is reported once");
    dev_handshake(&dev, &verifier).unwrap();
    fs::remove_file(&crl).unwrap();
    assert!(verifier.crls_changed());
    assert!(verifier.reload().is_err());
    dev_handshake(&dev, &verifier).unwrap();

    // DER works as well as PEM.
    let pem = pki::dev_crl(&dev, &[&dev.client_cert]).unwrap();
    let der =
        rustls_pki_types::CertificateRevocationListDer::from_pem_slice(pem.as_bytes()).unwrap();
    fs::write(&crl, der.as_ref()).unwrap();
    assert_eq!(verifier.reload().unwrap(), 1);
    assert!(dev_handshake(&dev, &verifier)
        .unwrap_err()
        .contains("Revoked"));
    fs::remove_dir_all(&dev.dir).unwrap();
}

#[test]
fn with_crls_configured_a_certificate_whose_issuer_has_none_is_refused() {
    install_crypto_provider();
    use rcgen::{CertificateParams, CertificateRevocationListParams, DnType, Issuer, KeyPair};
    let dev = temp_pki("crl-unknown");
    // An empty CRL of another CA (another name): it says nothing about the dev client.
    let mut other = CertificateParams::default();
    other
        .distinguished_name
        .push(DnType::CommonName, "Some Other CA");
    let key = KeyPair::generate().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let other_crl = CertificateRevocationListParams {
        this_update: now,
        next_update: now + time::Duration::days(1),
        crl_number: 1.into(),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::new(other, key))
    .unwrap();
    let crl = dev.dir.join("other.crl");
    fs::write(&crl, other_crl.pem().unwrap()).unwrap();
    let verifier = client_verifier(&dev.ca_cert, &[crl]).unwrap();
    let err = dev_handshake(&dev, &verifier).unwrap_err();
    assert!(err.contains("UnknownRevocationStatus"), "{err}");
    fs::remove_dir_all(&dev.dir).unwrap();
}

#[test]
fn client_certificates_must_be_meant_for_client_authentication() {
    use client_verifier::check_purpose;
    use rcgen::{
        CertificateParams, ExtendedKeyUsagePurpose as Eku, KeyPair, KeyUsagePurpose as Ku,
    };
    let cert = |eku: Vec<Eku>, ku: Vec<Ku>| {
        let mut params = CertificateParams::new(vec!["client".to_string()]).unwrap();
        params.extended_key_usages = eku;
        params.key_usages = ku;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    };
    check_purpose(&cert(vec![Eku::ClientAuth], vec![Ku::DigitalSignature])).unwrap();
    check_purpose(&cert(
        vec![Eku::ServerAuth, Eku::ClientAuth],
        vec![Ku::DigitalSignature, Ku::KeyEncipherment],
    ))
    .unwrap();
    for (eku, ku, why) in [
        (vec![], vec![Ku::DigitalSignature], "clientAuth"),
        (
            vec![Eku::ServerAuth],
            vec![Ku::DigitalSignature],
            "clientAuth",
        ),
        (vec![Eku::ClientAuth], vec![], "digitalSignature"),
        (
            vec![Eku::ClientAuth],
            vec![Ku::KeyCertSign],
            "digitalSignature",
        ),
    ] {
        let e = check_purpose(&cert(eku, ku)).unwrap_err();
        assert!(e.contains(why), "{e}");
    }
    assert!(check_purpose(b"junk").is_err());
}
