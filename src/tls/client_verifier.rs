//! The client-certificate check of the TLS handshake (RULES §5): the chain must lead to a
//! configured client CA, the certificate must not be revoked by a configured CRL, and it must be
//! meant for client authentication (clientAuth extended key usage and digitalSignature key
//! usage).
//!
//! rustls' `WebPkiClientVerifier` does the chain and CRL work. It is built once per set of CRLs
//! and held behind a lock, so the CRLs can be reloaded while the server runs (see
//! `revocation.rs` for when that happens): a handshake takes the current one, a reload swaps
//! in a new one, and a reload that fails leaves the previous one in place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::SignatureScheme;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};

use super::revocation::{self, FileStamp};
use super::{TlsError, TlsFile};
use crate::log_escape::escape;

/// Client-certificate verifier with reloadable CRLs and the purpose check webpki leaves out.
pub struct ClientVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    crl_files: Vec<PathBuf>,
    /// The CA names sent to clients in the CertificateRequest; the CAs never change on reload.
    hints: Vec<DistinguishedName>,
    current: RwLock<Current>,
    /// One reload at a time (the file watcher and SIGHUP may both ask).
    reloading: Mutex<()>,
}

struct Current {
    webpki: Arc<dyn ClientCertVerifier>,
    /// What the CRL files looked like when they were last read (None: missing).
    stamps: Vec<Option<FileStamp>>,
}

impl fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientVerifier")
            .field("crl_files", &self.crl_files)
            .finish_non_exhaustive()
    }
}

/// Builds the webpki verifier for `crls`.
///
/// Revocation policy, when CRLs are configured:
/// - only the end-entity (the client's own certificate) is checked: the CRLs an operator gets
///   are those of the CAs that issue client certificates; an intermediate CA is withdrawn by
///   taking it out of `tls.client_ca`, not by a CRL from its root (which we would then need too);
/// - an unknown status is NOT allowed (no `allow_unknown_revocation_status`): a client
///   certificate whose issuer has no CRL among `tls.client_crls` is refused. Failing closed means
///   a forgotten or missing CRL shows up at once, instead of silently switching revocation off
///   for that CA. Without any CRL configured no revocation check is made at all;
/// - a CRL past its nextUpdate is still used (rustls' default): it still lists what it revoked,
///   and refusing every client because a CRL download is late would be an outage.
fn build_webpki(
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<dyn ClientCertVerifier>, rustls::server::VerifierBuilderError> {
    // Without allow_unauthenticated() the verifier makes a client certificate mandatory.
    let builder = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
    if crls.is_empty() {
        builder.build()
    } else {
        builder
            .with_crls(crls)
            .only_check_end_entity_revocation()
            .build()
    }
}

impl ClientVerifier {
    /// Loads the client CAs of `client_ca_pem` and the CRL files; a bad file stops start-up.
    pub fn new(
        client_ca_pem: &Path,
        crl_files: &[PathBuf],
        provider: Arc<CryptoProvider>,
    ) -> Result<ClientVerifier, TlsError> {
        let file = TlsFile::ClientCa;
        let mut roots = RootCertStore::empty();
        for ca in super::load_certs(file, client_ca_pem)? {
            roots
                .add(ca)
                .map_err(|e| super::file_err(file, client_ca_pem, e))?;
        }
        let roots = Arc::new(roots);
        let (stamps, crls) = revocation::load(crl_files);
        // The CAs were fine above, so an error here is about the CRLs.
        let webpki = build_webpki(&roots, &provider, crls?).map_err(TlsError::Crls)?;
        Ok(ClientVerifier {
            hints: webpki.root_hint_subjects().to_vec(),
            roots,
            provider,
            crl_files: crl_files.to_vec(),
            current: RwLock::new(Current { webpki, stamps }),
            reloading: Mutex::new(()),
        })
    }

    pub fn crl_files(&self) -> &[PathBuf] {
        &self.crl_files
    }

    /// True when a CRL file was changed, replaced, removed or created since it was last read.
    pub fn crls_changed(&self) -> bool {
        let now = revocation::stamps(&self.crl_files);
        self.read_current(|c| c.stamps != now)
    }

    /// Re-reads every CRL file and swaps in a verifier built from them; returns how many CRLs
    /// were loaded. On error the previous CRLs stay in force (and the error names the file).
    pub fn reload(&self) -> Result<usize, TlsError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let (stamps, crls) = revocation::load(&self.crl_files);
        let crls = match crls {
            Ok(crls) => crls,
            Err(e) => {
                // Remember the files as they were read, so the same broken file is reported once
                // rather than at every poll; the next change is tried again.
                self.write_current(|c| c.stamps = stamps);
                return Err(e);
            }
        };
        let count = crls.len();
        match build_webpki(&self.roots, &self.provider, crls) {
            Ok(webpki) => {
                self.write_current(|c| *c = Current { webpki, stamps });
                Ok(count)
            }
            Err(e) => {
                self.write_current(|c| c.stamps = stamps);
                Err(TlsError::Crls(e))
            }
        }
    }

    fn delegate(&self) -> Arc<dyn ClientCertVerifier> {
        self.read_current(|c| c.webpki.clone())
    }

    fn read_current<T>(&self, f: impl FnOnce(&Current) -> T) -> T {
        // Nothing panics while holding the lock, but a poisoned lock still holds usable data.
        f(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write_current(&self, f: impl FnOnce(&mut Current)) {
        f(&mut self.current.write().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The certificate must say it is for TLS client authentication: extended key usage clientAuth
/// and key usage digitalSignature. webpki only refuses an EKU that lacks clientAuth and accepts
/// a certificate with no EKU at all (e.g. a CA or a signing-only certificate), hence this check.
pub(crate) fn check_purpose(end_entity: &[u8]) -> Result<(), &'static str> {
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity)
        .map_err(|_| "the certificate cannot be parsed")?;
    // A duplicated extension is an Err here, and refused like a missing one.
    match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.client_auth => {}
        _ => return Err("it lacks the clientAuth extended key usage"),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        _ => return Err("it lacks the digitalSignature key usage"),
    }
    Ok(())
}

fn refused(end_entity: &[u8], why: &str) {
    let subject = super::certificate_subject(end_entity).unwrap_or_else(|| "?".to_string());
    log::warn!(
        "TLS: client certificate \"{}\" refused: {why}",
        escape(&subject)
    );
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .delegate()
            .verify_client_cert(end_entity, intermediates, now);
        if let Err(Error::InvalidCertificate(CertificateError::Revoked)) = &verified {
            refused(end_entity, "it is revoked by a configured CRL");
        }
        let verified = verified?;
        if let Err(why) = check_purpose(end_entity) {
            refused(end_entity, why);
            return Err(Error::InvalidCertificate(CertificateError::InvalidPurpose));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.delegate().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.delegate().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.delegate().supported_verify_schemes()
    }
}
