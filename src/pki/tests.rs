use super::*;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    std::env::temp_dir().join(format!(
        "scratch-auth-{name}-{}-{nanos}",
        std::process::id()
    ))
}

fn der(path: &Path) -> Vec<u8> {
    use rustls_pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

#[test]
fn generates_a_usable_dev_pki() {
    let dir = temp_dir("pki");
    let p = generate(&dir).unwrap();

    let ca_der = der(&p.ca_cert);
    let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
    assert!(ca.is_ca());
    assert_eq!(ca.subject().to_string(), format!("CN={CA_COMMON_NAME}"));
    let yesterday = OffsetDateTime::now_utc() - Duration::hours(20);
    assert!(ca.validity().not_before.to_datetime() < yesterday);
    assert!(
        ca.validity().not_after.to_datetime() > OffsetDateTime::now_utc() + Duration::days(700)
    );

    let server_der = der(&p.server_cert);
    let (_, server) = parse_x509_certificate(&server_der).unwrap();
    assert_eq!(server.issuer(), ca.subject());
    // Chain validity itself is exercised by the TLS handshake tests.
    let san = server.subject_alternative_name().unwrap().unwrap();
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(ip) => format!("{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names.len(), 3);
    assert_eq!(names[0], "localhost");
    assert!(
        server
            .extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .server_auth
    );

    let client_der = der(&p.client_cert);
    let (_, client) = parse_x509_certificate(&client_der).unwrap();
    assert_eq!(client.issuer(), ca.subject());
    let eku = client.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    // The registry refuses client certificates without both (tls/client_verifier.rs).
    assert!(client
        .key_usage()
        .unwrap()
        .unwrap()
        .value
        .digital_signature());
    let subject = crate::tls::certificate_subject(&client_der).unwrap();
    assert!(subject.contains(CLIENT_COMMON_NAME) && subject.contains(CLIENT_ORGANIZATION));

    let p12 = fs::read(&p.client_p12).unwrap();
    let store = p12_keystore::KeyStore::from_pkcs12(
        &p12,
        CLIENT_P12_PASSWORD,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .unwrap();
    let (_, chain) = store.private_key_chain().unwrap();
    assert_eq!(chain.certs().len(), 2);
    assert_eq!(chain.certs()[0].as_der(), client_der.as_slice());
    assert!(p12_keystore::KeyStore::from_pkcs12(&p12, "wrong", Default::default()).is_err());

    let secret = fs::read_to_string(&p.jwt_secret).unwrap();
    assert_eq!(secret.trim().len(), 64);
    assert!(secret.trim().chars().all(|c| c.is_ascii_hexdigit()));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            &p.ca_key,
            &p.server_key,
            &p.client_key,
            &p.client_p12,
            &p.jwt_secret,
        ] {
            assert_eq!(
                fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600,
                "{f:?}"
            );
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ensure_only_generates_when_something_is_missing() {
    let dir = temp_dir("ensure");
    let (p, created) = ensure(&dir).unwrap();
    assert!(created);
    let before = fs::read(&p.ca_cert).unwrap();
    let (_, created) = ensure(&dir).unwrap();
    assert!(!created);
    assert_eq!(fs::read(&p.ca_cert).unwrap(), before);
    fs::remove_file(&p.jwt_secret).unwrap();
    let (p, created) = ensure(&dir).unwrap();
    assert!(created && p.jwt_secret.is_file());
    assert_ne!(fs::read(&p.ca_cert).unwrap(), before);
    fs::remove_dir_all(&dir).unwrap();
}
