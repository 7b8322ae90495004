//! Trusted verification keys and the choice of key for a token.
//!
//! A key is only ever used for its own algorithm family: the HMAC secret for HS*, RSA keys for
//! RS*/PS*, EC keys (of the matching curve) for ES*. The token header picks the algorithm, but
//! never the key material, which is what defeats algorithm-confusion attacks.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::Value;

use super::jwt::{ParsedToken, TokenAlg};
use super::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// One trusted asymmetric key.
#[derive(Debug)]
struct Entry {
    key: DecodingKey,
    family: AlgorithmFamily,
    curve: Option<Curve>,
    /// From the JWKS only; PEM keys have none.
    kid: Option<String>,
    /// The JWK's own `alg`, when it pins one.
    alg: Option<Algorithm>,
}

impl Entry {
    fn fits(&self, alg: Algorithm) -> bool {
        if self.family != alg.family() || self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        match (alg, self.curve) {
            (Algorithm::ES256, Some(c)) => c == Curve::P256,
            (Algorithm::ES384, Some(c)) => c == Curve::P384,
            _ => true,
        }
    }
}

#[derive(Debug, Default)]
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

fn load_pem(index: usize, pem: &[u8]) -> Result<Entry, String> {
    let name = format!("auth: public key #{}", index + 1);
    let label = pem_label(pem).ok_or_else(|| format!("{name} is not PEM text"))?;
    match label.as_str() {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        l if l.contains("PRIVATE KEY") => {
            return Err(format!(
                "{name} is a private key; configure the public key only"
            ))
        }
        "CERTIFICATE" => {
            return Err(format!(
                "{name} is a certificate; configure its public key \
                 (openssl x509 -pubkey -noout -in cert.pem)"
            ))
        }
        other => return Err(format!("{name} has unsupported PEM type \"{other}\"")),
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok(Entry {
            key,
            family: AlgorithmFamily::Rsa,
            curve: None,
            kid: None,
            alg: None,
        });
    }
    let key = DecodingKey::from_ec_pem(pem)
        .map_err(|_| format!("{name} is neither an RSA nor an EC public key"))?;
    let point = key
        .try_get_as_bytes()
        .map_err(|_| format!("{name}: unreadable EC key"))?;
    let curve = ec_curve(point)
        .ok_or_else(|| format!("{name} is on an unsupported curve (use P-256 or P-384)"))?;
    Ok(Entry {
        key,
        family: AlgorithmFamily::Ec,
        curve: Some(curve),
        kid: None,
        alg: None,
    })
}

fn load_jwks(json: &[u8]) -> Result<Vec<Entry>, String> {
    let set: JwkSet = serde_json::from_slice(json)
        .map_err(|e| format!("auth: the JWKS is not a valid JWK set: {e}"))?;
    let mut out = Vec::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let name = match &jwk.common.key_id {
            Some(kid) => format!("auth: JWKS key \"{kid}\""),
            None => format!("auth: JWKS key #{}", i + 1),
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue; // encryption keys have no business verifying signatures
        }
        let alg = match &jwk.common.key_algorithm {
            None => None,
            // An `alg` jsonwebtoken cannot verify with (e.g. RSA-OAEP) marks a non-signing key.
            Some(ka) => match ka.to_string().parse::<Algorithm>() {
                Ok(a) => Some(a),
                Err(_) => continue,
            },
        };
        let (key, family, curve) = match &jwk.algorithm {
            AlgorithmParameters::RSA(p) => {
                let key = DecodingKey::from_rsa_components(&p.n, &p.e)
                    .map_err(|_| format!("{name}: invalid RSA modulus or exponent"))?;
                (key, AlgorithmFamily::Rsa, None)
            }
            AlgorithmParameters::EllipticCurve(p) => {
                let curve = match p.curve {
                    EllipticCurve::P256 => Curve::P256,
                    EllipticCurve::P384 => Curve::P384,
                    _ => return Err(format!("{name}: unsupported curve (use P-256 or P-384)")),
                };
                let key = DecodingKey::from_ec_components(&p.x, &p.y)
                    .map_err(|_| format!("{name}: invalid EC coordinates"))?;
                (key, AlgorithmFamily::Ec, Some(curve))
            }
            AlgorithmParameters::OctetKey(_) => {
                return Err(format!(
                    "{name} is a symmetric (oct) key; HMAC tokens are only checked against \
                     the configured HS256 secret"
                ))
            }
            // Ed25519 and unknown key types are not used by the registry; skip them.
            _ => continue,
        };
        if alg.is_some_and(|a| a.family() != family) {
            return Err(format!("{name}: its \"alg\" does not match its key type"));
        }
        out.push(Entry {
            key,
            family,
            curve,
            kid: jwk.common.key_id.clone(),
            alg,
        });
    }
    Ok(out)
}

impl KeyRing {
    pub(crate) fn load(
        secret: Option<&[u8]>,
        pems: &[Vec<u8>],
        jwks: Option<&[u8]>,
    ) -> Result<KeyRing, String> {
        let secret = match secret {
            Some([]) => return Err("auth: the HS256 secret is empty".to_string()),
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
                return Err("auth: the JWKS holds no usable RSA or EC signing key".to_string());
            }
            entries.extend(jwk_entries);
        }
        Ok(KeyRing { secret, entries })
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
        let candidates: Vec<&DecodingKey> = match alg.family() {
            AlgorithmFamily::Hmac => match &self.secret {
                Some(secret) => vec![secret],
                None => {
                    return Err(AuthError::InvalidToken(
                        "HMAC-signed (HS256) tokens are not accepted: no shared secret is \
                         configured"
                            .to_string(),
                    ))
                }
            },
            AlgorithmFamily::Rsa | AlgorithmFamily::Ec => self
                .entries
                .iter()
                .filter(|e| e.fits(alg))
                // With a kid, only the key of that id (or keys without an id, i.e. PEM keys).
                .filter(|e| match (&token.kid, &e.kid) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                })
                .map(|e| &e.key)
                .collect(),
            _ => {
                return Err(AuthError::InvalidToken(
                    "the token's signing algorithm is not supported".to_string(),
                ))
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
