//! Raw connections for tests that must misbehave below what an HTTP client library allows:
//! TLS with the dev client certificate, then hand-written HTTP/1.1.

use std::net::SocketAddr;
use std::sync::Arc;

use appointment_registry::pki::DevPkiPaths;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The loopback address of a test server from its base URL (`https://localhost:PORT`).
pub fn server_addr(base: &str) -> SocketAddr {
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in base URL");
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A TLS connector trusting the test CA and presenting the dev client certificate.
pub fn connector(pki: &DevPkiPaths) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.ca_cert).expect("ca pem") {
        roots.add(cert.expect("ca cert")).expect("add root");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.client_cert)
        .expect("client pem")
        .map(|c| c.expect("client cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pki.client_key).expect("client key");
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    TlsConnector::from(Arc::new(config))
}

/// A mutually authenticated TLS connection to `addr` (server name `localhost`).
pub async fn tls(
    connector: &TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    connector.connect(name, tcp).await
}

/// Raises the soft open-file limit to `want` (or the hard limit if lower): thousands of
/// connections need two descriptors each here, the client's and the server's.
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < want {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    limit.rlim_cur
}
