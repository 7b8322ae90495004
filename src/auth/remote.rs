//! Keys fetched from a JWKS URL (`auth.jwks_url`), refreshed while the server runs.
//!
//! The trusted keys are an `Arc<KeyRing>` behind a `RwLock`: a token check clones the `Arc`
//! (a read lock held for a pointer copy), a refresh builds a whole new ring and swaps it in.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;

/// Shortest time between two fetches caused by tokens with an unknown `kid`, so a flood of
/// made-up ids cannot hammer the identity provider.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);
/// Default of `auth.jwks_refresh_seconds`.
pub const DEFAULT_JWKS_REFRESH_SECONDS: u64 = 3600;
/// Largest JWKS document accepted (real ones are a few KB).
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// A fetch that takes longer than this fails (and is retried).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between retries while the endpoint fails.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where the keys come from and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSource {
    /// An `https://` URL.
    pub url: String,
    /// CA certificates trusted for the endpoint (`auth.jwks_ca`, read at start like every
    /// other key file); None: the system's trust store.
    pub ca: Option<Vec<CertificateDer<'static>>>,
    pub refresh: Duration,
}

/// The fetching side of a Verifier with `auth.jwks_url`.
#[derive(Debug)]
pub(crate) struct Remote {
    pub source: JwksSource,
    client: reqwest::Client,
    /// Why no key set is loaded yet (None once one is).
    pub not_ready: Mutex<Option<String>>,
    /// When the last unknown-`kid` fetch started.
    last_on_demand: Mutex<Option<Instant>>,
    /// One fetch at a time.
    pub fetching: tokio::sync::Mutex<()>,
}

impl Remote {
    pub fn new(source: &JwksSource) -> Result<Remote, String> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3));
        if let Some(certs) = &source.ca {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs {
                roots.add(cert.clone()).map_err(|e| e.to_string())?;
            }
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            builder = builder.use_preconfigured_tls(config);
        } else {
            builder = builder.tls_backend_rustls();
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(Remote {
            source: source.clone(),
            client,
            not_ready: Mutex::new(Some(format!(
                "the JWKS at auth.jwks_url {} has not been fetched yet",
                source.url
            ))),
            last_on_demand: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Takes the unknown-`kid` slot: true at most once every `UNKNOWN_KID_INTERVAL`.
    pub fn may_fetch_on_demand(&self) -> bool {
        let Ok(mut last) = self.last_on_demand.lock() else {
            return false;
        };
        match *last {
            Some(at) if at.elapsed() < UNKNOWN_KID_INTERVAL => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }

    /// The JWKS document's bytes.
    pub async fn fetch(&self) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(&self.source.url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| crate::error_chain::chain(&e))?;
        if !response.status().is_success() {
            return Err(format!("it answered HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| crate::error_chain::chain(&e))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err(format!(
                    "the document is larger than {MAX_JWKS_BYTES} bytes"
                ));
            }
        }
        Ok(body)
    }
}

/// The next wait after a failure: doubling from 1 s, at most `MAX_BACKOFF` and the refresh
/// period.
pub(crate) fn next_backoff(current: Duration, refresh: Duration) -> Duration {
    (current * 2)
        .min(MAX_BACKOFF)
        .min(refresh.max(Duration::from_secs(1)))
}
