//! rustls server configuration with mandatory client certificates (RULES §5: mutual TLS).
//!
//! The client-certificate check itself is `client_verifier.rs`; the CRLs it uses, and their
//! reload while the server runs, are `revocation.rs`.

mod client_verifier;
mod revocation;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use client_verifier::ClientVerifier;
pub use revocation::watch as watch_crls;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: {what} file {path}: {reason}")]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS: client CRL file {path} (tls.client_crls[{index}]): {reason}")]
    Crl {
        index: usize,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS: {0}")]
    Config(String),
}

/// Installs ring as the process-wide rustls crypto provider. Call first thing in `main` and in
/// test set-up: if another dependency enables aws-lc-rs too, rustls cannot pick one and panics.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn file_err(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(what, path, e))?;
    if certs.is_empty() {
        return Err(file_err(what, path, "contains no PEM CERTIFICATE block"));
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
    let chain = load_certs("server certificate", cert_pem)?;
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| file_err("server private key", key_pem, e))?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            TlsError::Config(format!(
                "server certificate {} and key {} do not form a usable pair: {e}",
                cert_pem.display(),
                key_pem.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session resumption: a resumed handshake skips the client-certificate verifier, so a
    // certificate revoked by a reloaded CRL would keep connecting on its old tickets. Every
    // connection makes a full handshake; keep-alive is what saves handshakes here.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
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
#[path = "tls_tests.rs"]
mod tests;
