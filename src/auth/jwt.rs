//! Token splitting, header reading and the claim checks shared by signed and unsigned tokens.
//!
//! The token is taken apart by hand (rather than with `jsonwebtoken::decode_header`) because
//! jsonwebtoken 11 cannot represent `alg: none`, and because we want our own plain-words errors.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::AuthError;

/// The algorithms a token may be signed with, for messages.
pub(crate) const ACCEPTED_ALGORITHMS: &str =
    "HS256 with the shared secret; RS256, PS256 or ES256 with a trusted public key";

/// base64url that tolerates `=` padding, which some token producers leave in.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest token we bother to parse; real ones are a few KB, so this only stops abuse.
const MAX_TOKEN_LEN: usize = 16 * 1024;

pub(crate) fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Extracts the token from `Bearer <token>` (scheme matched case-insensitively, RFC 7235).
pub(crate) fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let token = bearer_scheme(header)?;
    no_whitespace(token)?;
    Ok(token)
}

/// The token of a `Bearer <token>` header, its whitespace not yet checked: the verifier looks
/// it up among the tokens it verified before (none of which has any) and checks a token it
/// does not find with [`no_whitespace`], sparing a known token's scan byte by byte.
pub(crate) fn bearer_scheme(header: &str) -> Result<&str, AuthError> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedHeader(
            "expected the form \"Bearer <token>\"; another scheme or no scheme was given"
                .to_string(),
        ));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::MalformedHeader(
            "the Bearer scheme is given but the token is empty".to_string(),
        ));
    }
    Ok(token)
}

/// A token with whitespace inside is refused.
pub(crate) fn no_whitespace(token: &str) -> Result<(), AuthError> {
    if contains_whitespace(token) {
        return Err(AuthError::MalformedHeader(
            "the token contains whitespace".to_string(),
        ));
    }
    Ok(())
}

/// `char::is_whitespace` anywhere in `text`; a token is ASCII, whose whitespace is tab to
/// carriage return and space, and is checked byte by byte without a branch per byte.
fn contains_whitespace(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().fold(false, |any, b| {
            any | (b == b' ') | (b.wrapping_sub(b'\t') < 5)
        })
    } else {
        text.contains(char::is_whitespace)
    }
}

/// The signing algorithm named in the token header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenAlg {
    Unsigned,
    Signed(Algorithm),
}

/// A token split into its parts, with header and claims decoded but nothing verified yet.
#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    pub token: &'a str,
    pub alg: TokenAlg,
    pub kid: Option<String>,
    /// The `x5t` header (SHA-1 thumbprint of the signing certificate), when present.
    pub x5t: Option<String>,
    signature: &'a str,
    claims: Value,
}

impl ParsedToken<'_> {
    pub(crate) fn is_unsigned(&self) -> bool {
        self.alg == TokenAlg::Unsigned
    }

    /// Claims of an `alg: none` token, which must end with an empty signature segment.
    pub(crate) fn unsigned_claims(&self) -> Result<Value, AuthError> {
        if !self.signature.is_empty() {
            return Err(AuthError::InvalidToken(
                "an unsigned (alg \"none\") token must have an empty signature segment".to_string(),
            ));
        }
        Ok(self.claims.clone())
    }
}

fn decode_json_object(segment: &str, what: &str) -> Result<Map<String, Value>, AuthError> {
    let bad = || AuthError::MalformedHeader(format!("the token {what} is not base64url JSON"));
    let bytes = B64URL.decode(segment).map_err(|_| bad())?;
    match serde_json::from_slice::<Value>(&bytes).map_err(|_| bad())? {
        Value::Object(map) => Ok(map),
        _ => Err(AuthError::MalformedHeader(format!(
            "the token {what} is not a JSON object"
        ))),
    }
}

/// Splits and decodes a compact JWS; shape problems are header problems, algorithm ones are not.
pub(crate) fn parse(token: &str) -> Result<ParsedToken<'_>, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::MalformedHeader(
            "the token is too long".to_string(),
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature] = parts[..] else {
        return Err(AuthError::MalformedHeader(
            "the token is not three dot-separated parts (a compact JWT)".to_string(),
        ));
    };
    let header = decode_json_object(header_b64, "header")?;
    let payload = decode_json_object(payload_b64, "payload")?;

    let alg_name = match header.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        _ => {
            return Err(AuthError::InvalidToken(
                "the token header has no \"alg\"".to_string(),
            ))
        }
    };
    let alg = if alg_name.eq_ignore_ascii_case("none") {
        TokenAlg::Unsigned
    } else {
        // The name is attacker-chosen, so it is not repeated back in the message.
        let alg = alg_name.parse::<Algorithm>().map_err(|_| {
            AuthError::InvalidToken(format!(
                "the token's signing algorithm is not supported (accepted: {})",
                ACCEPTED_ALGORITHMS
            ))
        })?;
        TokenAlg::Signed(alg)
    };
    // RFC 7515 §4.1.11: extensions marked critical that we do not understand must be refused.
    if header.contains_key("crit") {
        return Err(AuthError::InvalidToken(
            "the token header lists critical extensions (\"crit\") this server does not support"
                .to_string(),
        ));
    }
    let kid = match header.get("kid") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let x5t = match header.get("x5t") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(ParsedToken {
        token,
        alg,
        kid,
        x5t,
        signature,
        claims: Value::Object(payload),
    })
}

/// The registered-claim checks, done by hand so that signed and unsigned tokens get exactly
/// the same treatment.
pub(crate) struct ClaimChecks<'a> {
    pub audience: &'a str,
    pub issuer: Option<&'a str>,
    pub leeway: u64,
    /// Longest `exp - iat` accepted.
    pub max_lifetime: u64,
    pub now: u64,
}

/// A NumericDate claim: absent, a number of seconds, or something else (refused).
fn numeric_date(claims: &Value, name: &str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| {
            AuthError::InvalidToken(format!("the \"{name}\" claim is not a number of seconds"))
        }),
    }
}

impl ClaimChecks<'_> {
    pub(crate) fn check(&self, claims: &Value) -> Result<(), AuthError> {
        // f64 holds every plausible timestamp exactly and cannot overflow on hostile values.
        let now = self.now as f64;
        let leeway = self.leeway as f64;

        let exp = numeric_date(claims, "exp")?.ok_or_else(|| {
            AuthError::InvalidToken("the token has no expiry (\"exp\" claim)".to_string())
        })?;
        if now > exp + leeway {
            return Err(AuthError::InvalidToken("the token has expired".to_string()));
        }
        // iat is required: without it a token's lifetime is unknown (both the dev tokens and
        // Spine's carry it). It may be ahead of our clock by the leeway, no more.
        let iat = numeric_date(claims, "iat")?.ok_or_else(|| {
            AuthError::InvalidToken("the token has no issue time (\"iat\" claim)".to_string())
        })?;
        if iat > now + leeway {
            return Err(AuthError::InvalidToken(
                "the token's issue time (\"iat\") is in the future".to_string(),
            ));
        }
        if exp <= iat {
            return Err(AuthError::InvalidToken(
                "the token expires (\"exp\") before it was issued (\"iat\")".to_string(),
            ));
        }
        if exp - iat > self.max_lifetime as f64 {
            return Err(AuthError::InvalidToken(format!(
                "the token's lifetime (\"exp\" - \"iat\") is longer than the {} seconds this \
                 server accepts",
                self.max_lifetime
            )));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if nbf > now + leeway {
                return Err(AuthError::InvalidToken(
                    "the token is not valid yet (\"nbf\" is in the future)".to_string(),
                ));
            }
        }

        let aud_ok = match claims.get("aud") {
            None => {
                return Err(AuthError::InvalidToken(
                    "the token has no audience (\"aud\" claim)".to_string(),
                ))
            }
            Some(Value::String(s)) => s == self.audience,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(self.audience)),
            Some(_) => false,
        };
        if !aud_ok {
            return Err(AuthError::InvalidToken(
                "the token's audience (\"aud\") is not this server".to_string(),
            ));
        }

        if let Some(expected) = self.issuer {
            match claims.get("iss") {
                None => {
                    return Err(AuthError::InvalidToken(
                        "the token has no issuer (\"iss\" claim)".to_string(),
                    ))
                }
                Some(Value::String(s)) if s == expected => {}
                Some(_) => {
                    return Err(AuthError::InvalidToken(
                        "the token's issuer (\"iss\") is not the trusted issuer".to_string(),
                    ))
                }
            }
        }
        Ok(())
    }
}
