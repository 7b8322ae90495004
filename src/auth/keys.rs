//! Trusted verification keys and the choice of key for a token.
//!
//! Only the algorithms the configured keys allow are accepted: HS256 with the shared secret,
//! RS256/PS256 with RSA keys and ES256 with P-256 keys (PEM or JWKS). A key is only ever used
//! for its own algorithm: the token header picks the algorithm, but never the key material,
//! which is what defeats algorithm-confusion attacks. HS384/HS512 (same secret, other hash),
//! RS384/RS512/PS384/PS512 and ES384 are refused: the issuers we trust sign with the 256 ones,
//! and every extra algorithm is one more way for a token to be read differently.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::Value;

use super::jwt::{ParsedToken, TokenAlg, ACCEPTED_ALGORITHMS};
use super::{AuthError, KeyError};

/// Asymmetric algorithms accepted with public keys (PEM or JWKS).
const PUBLIC_KEY_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// One trusted asymmetric key.
#[derive(Debug, Clone)]
struct Entry {
    key: DecodingKey,
    family: AlgorithmFamily,
    curve: Option<Curve>,
    /// From the JWKS only; PEM keys have none.
    kid: Option<String>,
    /// The JWK's own `alg`, when it pins one.
    alg: Option<Algorithm>,
    /// The JWK's `x5t` (SHA-1 certificate thumbprint), when it has one.
    x5t: Option<String>,
}

impl Entry {
    fn fits(&self, alg: Algorithm) -> bool {
        if self.family != alg.family() || self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        // Only P-256 keys are loaded, but say so here too: ES256 is P-256 (RFC 7518 §3.4).
        alg != Algorithm::ES256 || self.curve == Some(Curve::P256)
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct KeyRing {
    secret: Option<DecodingKey>,
    entries: Vec<Entry>,
}

/// The label of the first PEM block, e.g. "PUBLIC KEY".
fn pem_label(pem: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(text[start..start + end].to_string())
}

fn ec_curve(point: &[u8]) -> Option<Curve> {
    // Uncompressed SEC1 points: 0x04 || X || Y.
    match point.len() {
        65 => Some(Curve::P256),
        97 => Some(Curve::P384),
        _ => None,
    }
}

fn load_pem(index: usize, pem: &[u8]) -> Result<Entry, KeyError> {
    let bad = |problem: String| KeyError::PublicKey { index, problem };
    let label = pem_label(pem).ok_or_else(|| bad("is not PEM text".into()))?;
    match label.as_str() {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        l if l.contains("PRIVATE KEY") => {
            return Err(bad("is a private key; configure the public key only".into()))
        }
        "CERTIFICATE" => {
            return Err(bad("is a certificate; configure its public key \
                 (openssl x509 -pubkey -noout -in cert.pem)"
                .into()))
        }
        other => return Err(bad(format!("has unsupported PEM type \"{other}\""))),
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok(Entry {
            key,
            family: AlgorithmFamily::Rsa,
            curve: None,
            kid: None,
            alg: None,
            x5t: None,
        });
    }
    let key = DecodingKey::from_ec_pem(pem)
        .map_err(|_| bad("is neither an RSA nor an EC public key".into()))?;
    let point = key
        .try_get_as_bytes()
        .map_err(|_| bad("is an unreadable EC key".into()))?;
    let curve = match ec_curve(point) {
        Some(Curve::P256) => Curve::P256,
        Some(Curve::P384) => {
            return Err(bad(format!(
                "is a P-384 key, for ES384 tokens, which are not accepted \
                 (accepted: {ACCEPTED_ALGORITHMS})"
            )))
        }
        None => return Err(bad("is on an unsupported curve (use P-256)".into())),
    };
    Ok(Entry {
        key,
        family: AlgorithmFamily::Ec,
        curve: Some(curve),
        kid: None,
        alg: None,
        x5t: None,
    })
}

fn load_jwks(json: &[u8]) -> Result<Vec<Entry>, KeyError> {
    let set: JwkSet = serde_json::from_slice(json).map_err(KeyError::Jwks)?;
    let mut out = Vec::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let bad = |problem: String| KeyError::JwksKey {
            key: match &jwk.common.key_id {
                Some(kid) => format!("\"{kid}\""),
                None => format!("#{}", i + 1),
            },
            problem,
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue; // encryption keys have no business verifying signatures
        }
        let alg = match &jwk.common.key_algorithm {
            None => None,
            // An `alg` jsonwebtoken cannot verify with (e.g. RSA-OAEP) marks a non-signing key;
            // one pinned to an algorithm we do not accept (RS384, ES384, …) is of no use either.
            // A shared JWKS may hold such keys for other relying parties: skip, do not fail.
            Some(ka) => match ka.to_string().parse::<Algorithm>() {
                Ok(a) if PUBLIC_KEY_ALGORITHMS.contains(&a) => Some(a),
                _ => continue,
            },
        };
        let (key, family, curve) = match &jwk.algorithm {
            AlgorithmParameters::RSA(p) => {
                let key = DecodingKey::from_rsa_components(&p.n, &p.e)
                    .map_err(|_| bad("has an invalid RSA modulus or exponent".into()))?;
                (key, AlgorithmFamily::Rsa, None)
            }
            AlgorithmParameters::EllipticCurve(p) => {
                let curve = match p.curve {
                    EllipticCurve::P256 => Curve::P256,
                    // For ES384, not accepted; skipped like the other unusable keys.
                    EllipticCurve::P384 => continue,
                    _ => return Err(bad("is on an unsupported curve (use P-256)".into())),
                };
                let key = DecodingKey::from_ec_components(&p.x, &p.y)
                    .map_err(|_| bad("has invalid EC coordinates".into()))?;
                (key, AlgorithmFamily::Ec, Some(curve))
            }
            AlgorithmParameters::OctetKey(_) => {
                return Err(bad(
                    "is a symmetric (oct) key; HMAC tokens are only checked against \
                     the configured HS256 secret"
                        .into(),
                ))
            }
            // Ed25519 and unknown key types are not used by the registry; skip them.
            _ => continue,
        };
        if alg.is_some_and(|a| a.family() != family) {
            return Err(bad("has an \"alg\" that does not match its key type".into()));
        }
        out.push(Entry {
            key,
            family,
            curve,
            kid: jwk.common.key_id.clone(),
            alg,
            x5t: jwk.common.x509_sha1_fingerprint.clone(),
        });
    }
    Ok(out)
}

impl KeyRing {
    pub(crate) fn load(
        secret: Option<&[u8]>,
        pems: &[Vec<u8>],
        jwks: Option<&[u8]>,
    ) -> Result<KeyRing, KeyError> {
        let secret = match secret {
            Some([]) => return Err(KeyError::EmptySecret),
            Some(s) => Some(DecodingKey::from_secret(s)),
            None => None,
        };
        let mut entries = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| load_pem(i, pem))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(json) = jwks {
            let jwk_entries = load_jwks(json)?;
            if jwk_entries.is_empty() {
                return Err(KeyError::NoUsableJwksKey);
            }
            entries.extend(jwk_entries);
        }
        Ok(KeyRing { secret, entries })
    }

    /// This ring plus the keys of a JWKS fetched from `auth.jwks_url`; the JWKS must hold at
    /// least one usable key.
    pub(crate) fn with_jwks(&self, json: &[u8]) -> Result<KeyRing, KeyError> {
        let fetched = load_jwks(json)?;
        if fetched.is_empty() {
            return Err(KeyError::NoUsableJwksKey);
        }
        let mut ring = self.clone();
        ring.entries.extend(fetched);
        Ok(ring)
    }

    /// Whether a key with this `kid` is trusted.
    pub(crate) fn knows_kid(&self, kid: &str) -> bool {
        self.entries.iter().any(|e| e.kid.as_deref() == Some(kid))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.secret.is_none() && self.entries.is_empty()
    }

    /// Verifies the signature with the keys allowed for the token's algorithm; returns claims.
    pub(crate) fn verify_signature(&self, token: &ParsedToken<'_>) -> Result<Value, AuthError> {
        let TokenAlg::Signed(alg) = token.alg else {
            return Err(AuthError::InvalidToken(
                "the token is not signed".to_string(),
            ));
        };
        let candidates: Vec<&DecodingKey> = match alg {
            Algorithm::HS256 => match &self.secret {
                Some(secret) => vec![secret],
                None => {
                    return Err(AuthError::InvalidToken(
                        "HMAC-signed (HS256) tokens are not accepted: no shared secret is \
                         configured"
                            .to_string(),
                    ))
                }
            },
            a if PUBLIC_KEY_ALGORITHMS.contains(&a) => self
                .entries
                .iter()
                .filter(|e| e.fits(alg))
                // With a kid, only the key of that id (or keys without an id, i.e. PEM keys).
                .filter(|e| match (&token.kid, &e.kid) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                })
                // With an x5t, a key that has one must have the same.
                .filter(|e| match (&token.x5t, &e.x5t) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                })
                .map(|e| &e.key)
                .collect(),
            // HS384/HS512 with the HS256 secret, RS384, ES384, …: refused whatever the keys.
            _ => {
                return Err(AuthError::InvalidToken(format!(
                    "the token's signing algorithm {alg:?} is not accepted (accepted: \
                     {ACCEPTED_ALGORITHMS})"
                )))
            }
        };
        if candidates.is_empty() {
            let with_kid = if token.kid.is_some() {
                " with the token's key id"
            } else {
                ""
            };
            return Err(AuthError::InvalidToken(format!(
                "no trusted key{with_kid} is configured for the token's algorithm {alg:?}"
            )));
        }

        // Claims are checked by hand afterwards (jwt::ClaimChecks), the same way as for
        // unsigned tokens, so jsonwebtoken only verifies the signature here.
        let mut validation = Validation::new(alg);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;

        for key in candidates {
            match jsonwebtoken::decode::<Value>(token.token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => match e.kind() {
                    // Wrong key (or a mangled signature): try the next trusted key.
                    ErrorKind::InvalidSignature
                    | ErrorKind::Base64(_)
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidRsaKey(_) => continue,
                    _ => {
                        return Err(AuthError::InvalidToken(
                            "the token could not be decoded for verification".to_string(),
                        ))
                    }
                },
            }
        }
        Err(AuthError::InvalidToken(
            "the token's signature does not match any trusted key".to_string(),
        ))
    }
}
