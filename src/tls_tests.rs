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
    let cfg = server_config(&p.server_cert, &p.server_key, &p.ca_cert).unwrap();
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

#[test]
fn configuration_errors_name_the_file() {
    let dev = temp_pki("errors");
    let missing = dev.dir.join("missing.crt");
    let e = server_config(&missing, &dev.server_key, &dev.ca_cert)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.crt") && e.contains("server certificate"),
        "{e}"
    );
    // A certificate where the key should be.
    let e = server_config(&dev.server_cert, &dev.server_cert, &dev.ca_cert)
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.crt") && e.contains("private key"), "{e}");
    // A key that does not belong to the certificate.
    let e = server_config(&dev.server_cert, &dev.client_key, &dev.ca_cert)
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.crt") && e.contains("client.key"), "{e}");
    let e = server_config(&dev.server_cert, &dev.server_key, &dev.jwt_secret)
        .unwrap_err()
        .to_string();
    assert!(e.contains("jwt-secret") && e.contains("client CA"), "{e}");
    assert_eq!(certificate_subject(b"not a certificate"), None);
    fs::remove_dir_all(&dev.dir).unwrap();
}
