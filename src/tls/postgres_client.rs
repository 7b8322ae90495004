//! The rustls client configuration for TLS to PostgreSQL, giving `database.url`'s `sslmode`
//! libpq's meaning:
//!
//! | sslmode | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | – |
//! | `prefer` (default) | when the server offers it | not checked; with `sslrootcert` as verify-ca |
//! | `require` | always | not checked; with `sslrootcert` as verify-ca |
//! | `verify-ca` | always | chains to `sslrootcert` (any host name) |
//! | `verify-full` | always | chains to `sslrootcert` and names the host connected to |
//!
//! tokio-postgres asks for a connector per host it tries, with that host's name (the `host`,
//! also when `hostaddr` gives the address), so with several hosts `verify-full` checks the
//! one being connected to. A certificate that is not checked still has to sign the handshake:
//! the connection is encrypted to whoever holds its key, which `require` accepts as libpq does.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::{file_err, load_certs, TlsError, TlsFile};
use crate::config::{PgTls, SslMode};

/// The client configuration for `tls` (the files read now, so that a bad one stops start-up
/// naming it). Uses the ring provider explicitly, as the server's configuration does.
pub fn postgres_client_config(tls: &PgTls) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match tls.root_cert.as_deref() {
        Some(path) if tls.mode != SslMode::Disable => Some(Arc::new(root_store(path)?)),
        _ => None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = if tls.verifies_host() {
        let roots = roots.ok_or_else(|| {
            TlsError::PostgresSetting("sslmode=verify-full needs sslrootcert".into())
        })?;
        WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsError::PostgresSetting(format!("sslrootcert: {e}")))?
    } else {
        if tls.mode == SslMode::VerifyCa && roots.is_none() {
            return Err(TlsError::PostgresSetting(
                "sslmode=verify-ca needs sslrootcert".into(),
            ));
        }
        Arc::new(ChainOnly {
            roots,
            provider: provider.clone(),
        })
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(TlsFile::PostgresClientCertificate, cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_err(TlsFile::PostgresClientKey, key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|source| TlsError::PostgresKeyPair {
                    cert: cert.clone(),
                    key: key.clone(),
                    source,
                })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// The CA certificates of `sslrootcert`.
fn root_store(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(TlsFile::PostgresRootCertificate, path)? {
        roots
            .add(cert)
            .map_err(|e| file_err(TlsFile::PostgresRootCertificate, path, e))?;
    }
    Ok(roots)
}

/// `prefer` and `require` (the chain checked only with `sslrootcert`) and `verify-ca` (the
/// chain always): the host name is never checked. Handshake signatures always are.
#[derive(Debug)]
struct ChainOnly {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
