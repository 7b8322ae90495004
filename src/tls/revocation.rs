//! Client-certificate revocation lists (`tls.client_crls`): reading the CRL files, and reloading
//! them while the server runs, both when a file changes (its metadata is polled every
//! `tls.client_crls_poll_seconds`) and on SIGHUP (`kill -HUP <pid>`, `systemctl reload`).
//!
//! A reload that fails (a file missing or not a CRL) is logged and keeps the CRLs in force; at
//! start-up the same failure stops the server with a message naming the key.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateRevocationListDer;

use super::{Cause, TlsError};

/// What a file looked like: any write, replacement (rename over it) or `touch` changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    /// Inode and change time (unix): a file renamed into place with an old mtime still counts.
    #[cfg(unix)]
    inode: (u64, u64, i64, i64),
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        },
    })
}

pub(crate) fn stamps(files: &[PathBuf]) -> Vec<Option<FileStamp>> {
    files.iter().map(|f| stamp(f)).collect()
}

fn crl_err(index: usize, path: &Path, source: impl Into<Cause>) -> TlsError {
    TlsError::Crl {
        index,
        path: path.to_path_buf(),
        source: source.into(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("is not a valid certificate revocation list")]
struct NotACrl(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>);

/// The CRLs of one file: PEM (`-----BEGIN X509 CRL-----`, one or more) or a single DER CRL.
fn read_file(
    index: usize,
    path: &Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| crl_err(index, path, e))?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crl_err(index, path, e))?;
    let crls = if !crls.is_empty() {
        crls
    } else if bytes.first() == Some(&0x30) {
        vec![CertificateRevocationListDer::from(bytes)]
    } else {
        return Err(crl_err(
            index,
            path,
            "holds no CRL (neither a PEM \"X509 CRL\" block nor DER)",
        ));
    };
    // Parse each one now, so that a bad file is named (rustls would only say "a CRL is bad").
    for crl in &crls {
        x509_parser::parse_x509_crl(crl).map_err(|e| crl_err(index, path, NotACrl(e)))?;
    }
    Ok(crls)
}

/// Reads every CRL file. Also returns the files' stamps, taken before reading (even when the
/// reading fails): a write that races with the read is then seen as a change at the next poll.
pub(crate) fn load(
    files: &[PathBuf],
) -> (
    Vec<Option<FileStamp>>,
    Result<Vec<CertificateRevocationListDer<'static>>, TlsError>,
) {
    let stamps = stamps(files);
    let mut crls = Vec::new();
    for (index, path) in files.iter().enumerate() {
        match read_file(index, path) {
            Ok(more) => crls.extend(more),
            Err(e) => return (stamps, Err(e)),
        }
    }
    (stamps, Ok(crls))
}
