//! Bearer-token (JWT) authentication for the registry (RULES §5).
//!
//! `Verifier::new` parses every configured key once at start-up; `Verifier::verify` then checks
//! the `Authorization` header of a request and returns the `Caller` or an `AuthError` whose
//! message is safe to show to the client (it never contains the token).

mod jwt;
mod keys;
mod remote;
mod scope;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::json;

pub use remote::{JwksSource, DEFAULT_JWKS_REFRESH_SECONDS, UNKNOWN_KID_INTERVAL};
pub use scope::{
    Permissions, ACCREDITED_SYSTEM, DEFAULT_ORGANISATION_CLAIM, DEFAULT_SCOPE_CLAIM,
    ODS_ORGANIZATION_CODE,
};

/// Default of `auth.max_token_lifetime_seconds`: one hour, what NHS issuers mint.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS: u64 = 3600;

/// How the registry validates bearer tokens.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The token's `aud` must equal this (or be an array containing it).
    pub audience: String,
    /// When set, the token's `iss` must equal this.
    pub issuer: Option<String>,
    /// Shared secret for HS256 tokens (local testing). None: HMAC tokens are refused.
    /// HS384/HS512 are refused even with it.
    pub hs256_secret: Option<Vec<u8>>,
    /// PEM public keys (RSA for RS256/PS256, EC P-256 for ES256).
    pub public_key_pems: Vec<Vec<u8>>,
    /// A JWKS document; keys are picked by `kid` when the token has one, else by family.
    pub jwks_json: Option<Vec<u8>>,
    /// Accept unsigned (`alg: none`) Spine-style tokens; their claims are still checked.
    pub allow_unsigned: bool,
    /// Clock skew allowed when checking `exp`, `nbf` and `iat`.
    pub leeway_seconds: u64,
    /// Longest lifetime (`exp - iat`) a token may have; `iat` is required.
    pub max_lifetime_seconds: u64,
    /// Which claims carry the permissions and the organisation, and what grants what.
    pub permissions: Permissions,
    /// Keys fetched from a URL and refreshed while serving (see `Verifier::keep_jwks_fresh`).
    pub jwks_source: Option<JwksSource>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            audience: String::new(),
            issuer: None,
            hs256_secret: None,
            public_key_pems: Vec::new(),
            jwks_json: None,
            allow_unsigned: false,
            leeway_seconds: 0,
            max_lifetime_seconds: DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
            permissions: Permissions::default(),
            jwks_source: None,
        }
    }
}

/// What the request wants to do, which decides the scope it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Who is calling, as far as the token says.
#[derive(Debug, Clone)]
pub struct Caller {
    /// ODS code of the requesting organisation (else the token's `sub`).
    pub org: Option<String>,
    /// ASID of the requesting system.
    pub system: Option<String>,
    pub subject: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no Authorization header; a Bearer token is required")]
    MissingHeader,
    #[error("the Authorization header is malformed: {0}")]
    MalformedHeader(String),
    #[error("the bearer token is not valid: {0}")]
    InvalidToken(String),
    #[error("the bearer token lacks the scope this request needs: {0}")]
    InsufficientScope(String),
}

/// Why `Verifier::new` cannot use the configured keys. The variants say which setting is at
/// fault (the caller knows which file it read it from); the message names the key and why.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("auth: the expected token audience is empty")]
    EmptyAudience,
    #[error(
        "auth: no HS256 secret, public key or JWKS is configured, and unsigned tokens are not \
         allowed, so no token could ever be accepted"
    )]
    NoKeys,
    #[error("auth: the HS256 secret is empty")]
    EmptySecret,
    /// `public_key_pems[index]`.
    #[error("auth: public key #{} {problem}", .index + 1)]
    PublicKey { index: usize, problem: String },
    #[error("auth: the JWKS is not a valid JWK set")]
    Jwks(#[source] serde_json::Error),
    /// A key of the JWKS: `"kid"` when it has one, else `#n` (from 1).
    #[error("auth: JWKS key {key} {problem}")]
    JwksKey { key: String, problem: String },
    #[error(
        "auth: the JWKS holds no usable signing key (RSA, or EC P-256; accepted: \
         {})",
        jwt::ACCEPTED_ALGORITHMS
    )]
    NoUsableJwksKey,
    /// `auth.jwks_url` / `auth.jwks_ca` cannot be used (not a fetch failure: those are retried).
    #[error("auth: the client for auth.jwks_url cannot be set up: {0}")]
    JwksClient(String),
}

impl AuthError {
    /// True when the header itself is absent or unusable (Spine code `MISSING_OR_INVALID_HEADER`
    /// rather than `ACCESS_DENIED`).
    pub fn is_header_problem(&self) -> bool {
        matches!(
            self,
            AuthError::MissingHeader | AuthError::MalformedHeader(_)
        )
    }
}

/// Checks bearer tokens against the keys and claims configured in `AuthSettings`.
#[derive(Debug)]
pub struct Verifier {
    /// The keys in force; swapped whole when a JWKS is fetched.
    keys: RwLock<Arc<keys::KeyRing>>,
    /// The keys from configuration files, to which each fetched JWKS is added.
    configured: keys::KeyRing,
    remote: Option<remote::Remote>,
    /// Bumped after each swap of `keys`: a remembered token counts only for the key set it was
    /// verified with (so a withdrawn key's tokens are not remembered past the swap).
    generation: AtomicU64,
    audience: String,
    issuer: Option<String>,
    allow_unsigned: bool,
    leeway: u64,
    max_lifetime: u64,
    permissions: Permissions,
    /// Tokens already verified, by their exact text. Callers reuse a token for many requests,
    /// and checking a signature and parsing claims was about a quarter of a search's work.
    /// Hashed with foldhash (randomly seeded), not SipHash: a token is hundreds of bytes, and
    /// SipHash over it cost more than the rest of a cached check. Only verified tokens are
    /// stored, so a caller cannot fill the map with keys chosen to collide.
    verified: Mutex<foldhash::HashMap<String, Verified>>,
}

/// A verified token: who it names, and the window (leeway included) in which it stays valid.
#[derive(Debug, Clone)]
struct Verified {
    /// Shared with every request that presents the token: no copy of its strings per request.
    caller: Arc<Caller>,
    generation: u64,
    valid_from: f64,
    valid_until: f64,
}

/// Bound on remembered tokens; past it the memory starts afresh (no token is ever trusted
/// beyond its own exp, so forgetting is always safe).
const VERIFIED_CAPACITY: usize = 4096;

impl Verifier {
    /// Parses the configured keys; the error names the key that is wrong and why.
    pub fn new(s: &AuthSettings) -> Result<Verifier, KeyError> {
        if s.audience.trim().is_empty() {
            return Err(KeyError::EmptyAudience);
        }
        let keys = keys::KeyRing::load(
            s.hs256_secret.as_deref(),
            &s.public_key_pems,
            s.jwks_json.as_deref(),
        )?;
        if keys.is_empty() && !s.allow_unsigned && s.jwks_source.is_none() {
            return Err(KeyError::NoKeys);
        }
        let remote = match &s.jwks_source {
            Some(source) => Some(remote::Remote::new(source).map_err(KeyError::JwksClient)?),
            None => None,
        };
        Ok(Verifier {
            keys: RwLock::new(Arc::new(keys.clone())),
            configured: keys,
            remote,
            generation: AtomicU64::new(0),
            audience: s.audience.clone(),
            issuer: s.issuer.clone(),
            allow_unsigned: s.allow_unsigned,
            leeway: s.leeway_seconds,
            max_lifetime: s.max_lifetime_seconds,
            permissions: s.permissions.clone(),
            verified: Mutex::new(foldhash::HashMap::default()),
        })
    }

    /// Verifies the `Authorization` header value and the scope needed for `access`.
    pub fn verify(
        &self,
        authorization_header: Option<&str>,
        access: Access,
    ) -> Result<Arc<Caller>, AuthError> {
        let header = authorization_header.ok_or(AuthError::MissingHeader)?;
        let token = jwt::bearer_scheme(header)?;
        let now = jwt::now_seconds() as f64;
        // Read before the keys: see `generation`.
        let generation = self.generation.load(Ordering::Acquire);
        let remembered = self
            .verified
            .lock()
            .ok()
            .and_then(|cache| cache.get(token).cloned());
        if let Some(v) = remembered {
            if now >= v.valid_from && now <= v.valid_until && v.generation == generation {
                scope::require(&v.caller.scopes, access, &self.permissions)?;
                return Ok(v.caller);
            }
        }
        jwt::no_whitespace(token)?;
        let parsed = jwt::parse(token)?;
        let claims = if parsed.is_unsigned() {
            if !self.allow_unsigned {
                return Err(AuthError::InvalidToken(
                    "unsigned tokens (alg \"none\") are not accepted by this server".to_string(),
                ));
            }
            parsed.unsigned_claims()?
        } else {
            self.ring().verify_signature(&parsed)?
        };
        let checks = jwt::ClaimChecks {
            audience: &self.audience,
            issuer: self.issuer.as_deref(),
            leeway: self.leeway,
            max_lifetime: self.max_lifetime,
            now: jwt::now_seconds(),
        };
        checks.check(&claims)?;
        let caller = Arc::new(scope::caller_from_claims(&claims, &self.permissions));
        self.remember(token, &claims, &caller, generation);
        scope::require(&caller.scopes, access, &self.permissions)?;
        Ok(caller)
    }

    /// The keys in force (a pointer copy under a read lock).
    fn ring(&self) -> Arc<keys::KeyRing> {
        match self.keys.read() {
            Ok(ring) => ring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// As `verify`; with `auth.jwks_url`, a token whose `kid` is not among the keys makes the
    /// JWKS be fetched again first (at most once every `UNKNOWN_KID_INTERVAL`), so a key the
    /// identity provider has just rotated in is accepted without waiting for the refresh.
    pub async fn verify_fetching(
        &self,
        authorization_header: Option<&str>,
        access: Access,
    ) -> Result<Arc<Caller>, AuthError> {
        let first = self.verify(authorization_header, access);
        let Some(remote) = &self.remote else {
            return first;
        };
        if !matches!(first, Err(AuthError::InvalidToken(_))) {
            return first;
        }
        let unknown_kid = authorization_header
            .and_then(|h| jwt::bearer_token(h).ok())
            .and_then(|t| jwt::parse(t).ok())
            .filter(|p| !p.is_unsigned())
            .and_then(|p| p.kid)
            .is_some_and(|kid| !self.ring().knows_kid(&kid));
        if !unknown_kid || !remote.may_fetch_on_demand() {
            return first;
        }
        log::info!(
            "auth: a token names a key id not among the trusted keys; fetching auth.jwks_url again"
        );
        if self.refresh_jwks().await.is_err() {
            return first;
        }
        self.verify(authorization_header, access)
    }

    /// Fetches `auth.jwks_url` and, when it holds usable keys, puts them in force (with the
    /// configured ones) and forgets the tokens verified so far. On failure the keys in force
    /// stay, and the error (logged) says why.
    pub async fn refresh_jwks(&self) -> Result<(), String> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let _one_at_a_time = remote.fetching.lock().await;
        let url = &remote.source.url;
        let result = match remote.fetch().await {
            Ok(body) => self.configured.with_jwks(&body).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let loaded = self.not_ready().is_none();
        match result {
            Ok(ring) => {
                match self.keys.write() {
                    Ok(mut keys) => *keys = Arc::new(ring),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
                }
                self.generation.fetch_add(1, Ordering::AcqRel);
                // A withdrawn key must not keep its tokens alive through the memory.
                if let Ok(mut cache) = self.verified.lock() {
                    cache.clear();
                }
                if let Ok(mut reason) = remote.not_ready.lock() {
                    *reason = None;
                }
                log::info!("auth: keys loaded from auth.jwks_url {url}");
                Ok(())
            }
            Err(e) => {
                let why = format!("auth.jwks_url {url}: {e}");
                if loaded {
                    log::warn!("auth: JWKS refresh failed, keeping the last good keys: {why}");
                } else {
                    log::error!("auth: no keys loaded yet: {why}");
                    if let Ok(mut reason) = remote.not_ready.lock() {
                        *reason = Some(format!("no token keys loaded yet: {why}"));
                    }
                }
                Err(why)
            }
        }
    }

    /// Why the registry cannot accept signed tokens yet: `auth.jwks_url` has not been fetched
    /// successfully. None when it has (or is not configured).
    pub fn not_ready(&self) -> Option<String> {
        let remote = self.remote.as_ref()?;
        remote.not_ready.lock().ok().and_then(|r| r.clone())
    }

    /// With `auth.jwks_url`: fetches the JWKS now and every `auth.jwks_refresh_seconds`;
    /// while fetches fail, retries with back-off (1 s doubling, at most 5 minutes and the
    /// refresh period). Never returns; without a URL, returns at once.
    pub async fn keep_jwks_fresh(&self) {
        let Some(remote) = &self.remote else { return };
        let refresh = remote.source.refresh;
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.refresh_jwks().await {
                Ok(()) => {
                    backoff = Duration::from_secs(1);
                    tokio::time::sleep(refresh).await;
                }
                Err(_) => {
                    tokio::time::sleep(backoff.min(refresh)).await;
                    backoff = remote::next_backoff(backoff, refresh);
                }
            }
        }
    }

    fn remember(
        &self,
        token: &str,
        claims: &serde_json::Value,
        caller: &Arc<Caller>,
        generation: u64,
    ) {
        let leeway = self.leeway as f64;
        let seconds = |name: &str| claims.get(name).and_then(serde_json::Value::as_f64);
        // `check` has just required exp (and iat, with exp - iat at most the maximum lifetime,
        // and iat not in the future), so no token is remembered for longer than that lifetime
        // plus twice the leeway; without exp nothing is remembered.
        let Some(exp) = seconds("exp") else { return };
        let entry = Verified {
            caller: caller.clone(),
            generation,
            valid_from: seconds("nbf").map_or(f64::MIN, |nbf| nbf - leeway),
            valid_until: exp + leeway,
        };
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= VERIFIED_CAPACITY {
                cache.clear();
            }
            cache.insert(token.to_string(), entry);
        }
    }
}

/// Makes an HS256 token for local testing, valid for `ttl_seconds` from now.
///
/// Claims: iat, exp, aud, iss (if given), sub (= org), scope and requested_scope (both = `scope`),
/// requesting_organization (= org), requesting_system "200000000001".
pub fn dev_token(
    secret: &[u8],
    audience: &str,
    issuer: Option<&str>,
    scope: &str,
    org: &str,
    ttl_seconds: u64,
) -> String {
    let now = jwt::now_seconds();
    let mut claims = json!({
        "iat": now,
        "exp": now.saturating_add(ttl_seconds),
        "aud": audience,
        "sub": org,
        "scope": scope,
        "requested_scope": scope,
        "requesting_organization": org,
        "requesting_system": "200000000001",
    });
    if let (Some(iss), Some(map)) = (issuer, claims.as_object_mut()) {
        map.insert("iss".to_string(), json!(iss));
    }
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    // HMAC signing of a JSON value cannot fail; an empty string (always refused) is the
    // harmless fallback rather than a panic.
    jsonwebtoken::encode(&header, &claims, &key).unwrap_or_default()
}
