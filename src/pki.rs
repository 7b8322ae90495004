//! Development PKI: a private CA, a `localhost` server certificate and one client certificate,
//! so the registry can run with mutual TLS out of the box. Not for production use.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// Password of the generated `client.p12` bundle (well known on purpose: dev only).
pub const CLIENT_P12_PASSWORD: &str = "changeit";
pub const CA_COMMON_NAME: &str = "Appointment Registry Dev CA";
pub const CLIENT_COMMON_NAME: &str = "appointment-registry-dev-client";
pub const CLIENT_ORGANIZATION: &str = "Appointment Registry dev";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPkiPaths {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// PKCS#12 bundle of client certificate, key and CA; password `changeit`
    /// ([`CLIENT_P12_PASSWORD`]).
    pub client_p12: PathBuf,
    /// 32 random bytes, hex-encoded: a ready-made HS256 secret for local tokens.
    pub jwt_secret: PathBuf,
}

impl DevPkiPaths {
    fn files(&self) -> [&PathBuf; 8] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
            &self.client_cert,
            &self.client_key,
            &self.client_p12,
            &self.jwt_secret,
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("dev PKI: cannot write {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dev PKI: cannot read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dev PKI: cannot generate the {what}")]
    Generate {
        what: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn gen_err<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> PkiError {
    move |e| PkiError::Generate {
        what,
        source: Box::new(e),
    }
}

/// Where the files of a dev PKI in `dir` live.
pub fn paths(dir: &Path) -> DevPkiPaths {
    DevPkiPaths {
        dir: dir.to_path_buf(),
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
        client_p12: dir.join("client.p12"),
        jwt_secret: dir.join("jwt-secret"),
    }
}

/// Generates the dev PKI only when one of its files is missing; `true` when it did.
pub fn ensure(dir: &Path) -> Result<(DevPkiPaths, bool), PkiError> {
    let p = paths(dir);
    if p.files().iter().all(|f| f.is_file()) {
        return Ok((p, false));
    }
    generate(dir).map(|p| (p, true))
}

/// Creates `dir` and writes a fresh CA, server and client certificate (PEM, keys mode 0600),
/// the client PKCS#12 bundle (password `changeit`) and a random JWT secret.
pub fn generate(dir: &Path) -> Result<DevPkiPaths, PkiError> {
    let p = paths(dir);
    fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_path_buf(),
        source,
    })?;

    // Back-dated a day so that small clock differences between hosts do not matter.
    let not_before = OffsetDateTime::now_utc() - Duration::days(1);
    let not_after = OffsetDateTime::now_utc() + Duration::days(730);
    let base = |cn: &str| {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        params
    };

    let ca_key = KeyPair::generate().map_err(gen_err("CA key"))?;
    let mut ca_params = ca_params();
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(gen_err("CA certificate"))?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let server_key = KeyPair::generate().map_err(gen_err("server key"))?;
    let mut server_params = base("localhost");
    // CertificateParams::new turns each name into a DNS or IP subject alternative name.
    server_params.subject_alt_names = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(gen_err("server certificate"))?
    .subject_alt_names;
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(gen_err("server certificate"))?;

    let client_key = KeyPair::generate().map_err(gen_err("client key"))?;
    let mut client_params = base(CLIENT_COMMON_NAME);
    client_params
        .distinguished_name
        .push(DnType::OrganizationName, CLIENT_ORGANIZATION);
    client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .map_err(gen_err("client certificate"))?;

    let p12 = client_p12(
        client_key.serialized_der(),
        client_cert.der(),
        ca_cert.der(),
    )?;
    let secret: [u8; 32] = p12_keystore::rand::random();
    let secret_hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();

    write(&p.ca_cert, ca_cert.pem().as_bytes(), false)?;
    write(&p.ca_key, ca_key.serialize_pem().as_bytes(), true)?;
    write(&p.server_cert, server_cert.pem().as_bytes(), false)?;
    write(&p.server_key, server_key.serialize_pem().as_bytes(), true)?;
    write(&p.client_cert, client_cert.pem().as_bytes(), false)?;
    write(&p.client_key, client_key.serialize_pem().as_bytes(), true)?;
    write(&p.client_p12, &p12, true)?;
    write(&p.jwt_secret, format!("{secret_hex}\n").as_bytes(), true)?;
    Ok(p)
}

/// The dev CA's name, key usages and key-identifier method: what an [`Issuer`] needs. Validity
/// is left at rcgen's default; `generate` sets it.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// The dev CA of an existing dev PKI (its `ca.key`), as an rcgen [`Issuer`]: for signing a CRL
/// (`CertificateRevocationListParams::signed_by`) or further certificates, e.g. to try
/// revocation or a client certificate without the clientAuth purpose against a running server.
pub fn dev_ca_issuer(p: &DevPkiPaths) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let pem = fs::read_to_string(&p.ca_key).map_err(|source| PkiError::Read {
        path: p.ca_key.clone(),
        source,
    })?;
    let key = KeyPair::from_pem(&pem).map_err(gen_err("CA key (from ca.key)"))?;
    // The name is rebuilt exactly as `generate` wrote it, so the issuer name of what this signs
    // matches the CA certificate byte for byte.
    Ok(Issuer::new(ca_params(), key))
}

/// A CRL of the dev CA (PEM) revoking the certificates in the PEM files `revoked` (none: a
/// CRL that revokes nothing). For trying `tls.client_crls` with the dev PKI.
pub fn dev_crl(p: &DevPkiPaths, revoked: &[&Path]) -> Result<String, PkiError> {
    let issuer = dev_ca_issuer(p)?;
    let now = OffsetDateTime::now_utc();
    let mut revoked_certs = Vec::new();
    for path in revoked {
        let pem = fs::read(path).map_err(|source| PkiError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = || PkiError::Generate {
            what: "CRL",
            source: format!("{} is not a PEM certificate", path.display()).into(),
        };
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
            .map_err(|_| bad())?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|_| bad())?;
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(cert.raw_serial()),
            revocation_time: now - Duration::minutes(1),
            reason_code: None,
            invalidity_date: None,
        });
    }
    let params = CertificateRevocationListParams {
        this_update: now - Duration::minutes(1),
        next_update: now + Duration::days(7),
        // Increases with every CRL written (at second precision, enough for a dev PKI).
        crl_number: SerialNumber::from(now.unix_timestamp() as u64),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(&issuer)
        .and_then(|crl| crl.pem())
        .map_err(gen_err("CRL"))
}

fn client_p12(key_der: &[u8], cert_der: &[u8], ca_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let what = "client PKCS#12 bundle";
    let key = PrivateKey::from_der(key_der).map_err(gen_err(what))?;
    let cert = Certificate::from_der(cert_der).map_err(gen_err(what))?;
    let ca = Certificate::from_der(ca_der).map_err(gen_err(what))?;
    let chain = PrivateKeyChain::new(CLIENT_COMMON_NAME, key, [cert, ca]);
    let mut store = KeyStore::new();
    store.add_entry(CLIENT_COMMON_NAME, KeyStoreEntry::PrivateKeyChain(chain));
    store
        .writer(CLIENT_P12_PASSWORD)
        .write()
        .map_err(gen_err(what))
}

/// Writes a file from scratch; secrets are created 0600 so they are never readable by others,
/// not even briefly.
fn write(path: &Path, contents: &[u8], secret: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(if secret { 0o600 } else { 0o644 });
        // An existing file keeps its old mode on open, so tighten it first.
        if secret && path.exists() {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(contents).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests;
