//! rustls server configuration with mandatory client certificates (RULES §5: mutual TLS).
//!
//! The client-certificate check itself is `client_verifier.rs`; the CRLs it uses, and their
//! reload while the server runs, are `revocation.rs`.

mod client_verifier;
mod crl_reload;
mod postgres_client;
mod revocation;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use client_verifier::ClientVerifier;
pub use crl_reload::watch as watch_crls;
pub use postgres_client::postgres_client_config;

/// Why the TLS files cannot be used. Each names the file; the source says what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: {file} file {}", path.display())]
    File {
        file: TlsFile,
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// `tls.client_crls[index]`.
    #[error("TLS: client CRL file {} (tls.client_crls[{index}])", path.display())]
    Crl {
        index: usize,
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// rustls refused the CRLs as a set (each file was readable and parsed).
    #[error("TLS: tls.client_crls cannot be used")]
    Crls(#[source] rustls::server::VerifierBuilderError),
    #[error(
        "TLS: server certificate {} and key {} do not form a usable pair",
        cert.display(),
        key.display()
    )]
    KeyPair {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("TLS: no protocol version is usable")]
    Versions(#[source] rustls::Error),
    /// `database.url`'s `sslcert` and `sslkey`.
    #[error(
        "TLS: PostgreSQL client certificate {} and key {} (database.url sslcert, sslkey) do not \
         form a usable pair",
        cert.display(),
        key.display()
    )]
    PostgresKeyPair {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// TLS settings of `database.url` that cannot be used together.
    #[error("TLS to PostgreSQL: database.url: {0}")]
    PostgresSetting(String),
}

/// What went wrong with a file: an I/O or parse error, or what we found in it.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// The TLS files the registry reads (besides the CRLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    ServerCertificate,
    ServerKey,
    ClientCa,
    /// `auth.jwks_ca`: the CA of the JWKS endpoint.
    JwksCa,
    /// `database.url`'s `sslrootcert`.
    PostgresRootCertificate,
    /// `database.url`'s `sslcert`.
    PostgresClientCertificate,
    /// `database.url`'s `sslkey`.
    PostgresClientKey,
}

impl std::fmt::Display for TlsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsFile::ServerCertificate => "server certificate",
            TlsFile::ServerKey => "server private key",
            TlsFile::ClientCa => "client CA certificate",
            TlsFile::JwksCa => "JWKS endpoint CA certificate",
            TlsFile::PostgresRootCertificate => {
                "PostgreSQL CA certificate (database.url sslrootcert)"
            }
            TlsFile::PostgresClientCertificate => {
                "PostgreSQL client certificate (database.url sslcert)"
            }
            TlsFile::PostgresClientKey => "PostgreSQL client key (database.url sslkey)",
        })
    }
}

/// Installs ring as the process-wide rustls crypto provider. Call first thing in `main` and in
/// test set-up: if another dependency enables aws-lc-rs too, rustls cannot pick one and panics.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn file_err(file: TlsFile, path: &Path, source: impl Into<Cause>) -> TlsError {
    TlsError::File {
        file,
        path: path.to_path_buf(),
        source: source.into(),
    }
}

/// The PEM certificates of `path`; at least one, else an error naming the file.
pub fn load_certs(file: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(file, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(file, path, e))?;
    if certs.is_empty() {
        return Err(file_err(file, path, "contains no PEM CERTIFICATE block"));
    }
    Ok(certs)
}

/// The client-certificate verifier: chains to `client_ca_pem`, not revoked by `client_crls`
/// (PEM or DER CRL files, reloadable), meant for client authentication.
pub fn client_verifier(
    client_ca_pem: &Path,
    client_crls: &[PathBuf],
) -> Result<Arc<ClientVerifier>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ClientVerifier::new(client_ca_pem, client_crls, provider).map(Arc::new)
}

/// Server config that demands a client certificate accepted by `client_verifier`.
///
/// The certificate file may hold the full chain (leaf first). ALPN offers only `http/1.1`.
/// The ring provider is passed explicitly, so this works whether or not
/// [`install_crypto_provider`] was called.
pub fn server_config(
    cert_pem: &Path,
    key_pem: &Path,
    client_verifier: Arc<ClientVerifier>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = load_certs(TlsFile::ServerCertificate, cert_pem)?;
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| file_err(TlsFile::ServerKey, key_pem, e))?;

    let revocation = !client_verifier.crl_files().is_empty();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::KeyPair {
            cert: cert_pem.to_path_buf(),
            key: key_pem.to_path_buf(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if revocation {
        // With CRLs, no session resumption: a resumed handshake skips the client-certificate
        // verifier, so a certificate revoked by a reloaded CRL would keep connecting on its
        // old tickets. Every connection then makes a full handshake (about a third slower for
        // clients that open a connection per request; keep-alive clients do not notice).
        // Without CRLs nothing can be revoked, and a resumed session comes from a full
        // handshake that passed every check, so rustls' resumption stays on.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(config)
}

/// Subject DN of a DER certificate as text, e.g. `CN=appointment-registry-dev-client, O=...`.
pub fn certificate_subject(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    cert.subject()
        .to_string_with_registry(x509_parser::objects::oid_registry())
        .ok()
}

#[cfg(test)]
mod tests;
