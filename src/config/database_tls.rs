//! The TLS keys of `database.url`, with libpq's names and meaning: `sslmode`, `sslrootcert`,
//! `sslcert` and `sslkey` (and, in a URI, JDBC's `ssl=true`, which libpq reads as
//! `sslmode=require`). tokio-postgres's parser knows `sslmode` only as disable | prefer |
//! require and none of the others, so they are taken out of the connection string here, in
//! either form, and the rest goes to it unchanged; [`pg_config`] then sets its TLS mode.
//!
//! Every message here names keys, and the values of these keys only (paths, modes): never a
//! password or any other value of the string.

use std::borrow::Cow;
use std::path::PathBuf;

/// libpq's `sslmode` (without `allow`, which tokio-postgres cannot do). The default, as in
/// libpq, is `prefer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, else plain. The certificate is checked only when
    /// `sslrootcert` is given (then as `verify-ca`).
    #[default]
    Prefer,
    /// TLS or no connection. Encrypts without checking the certificate, unless `sslrootcert`
    /// is given: then as `verify-ca` (libpq's rule).
    Require,
    /// TLS, the server's certificate chaining to `sslrootcert`; any host name.
    VerifyCa,
    /// TLS, the server's certificate chaining to `sslrootcert` and issued for the host being
    /// connected to (each host of a multi-host URL in turn).
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(
                    "sslmode=allow is not supported (a plain attempt first, TLS only \
                            if the server insists): use disable, prefer, require, verify-ca or \
                            verify-full"
                        .into(),
                )
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, \
                     verify-full"
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// What `database.url` asks of TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgTls {
    pub mode: SslMode,
    /// `sslrootcert`: PEM file of the CA(s) the server's certificate must chain to.
    pub root_cert: Option<PathBuf>,
    /// `sslcert`: PEM client certificate (chain), for `cert` authentication.
    pub client_cert: Option<PathBuf>,
    /// `sslkey`: the client certificate's PEM private key (unencrypted).
    pub client_key: Option<PathBuf>,
}

impl PgTls {
    /// Whether the server's certificate must chain to `sslrootcert`: `verify-ca`,
    /// `verify-full`, and (libpq's rule) `prefer` or `require` when `sslrootcert` is given.
    pub fn verifies_chain(&self) -> bool {
        self.mode != SslMode::Disable && self.root_cert.is_some()
    }

    /// Whether the server's certificate must also name the host connected to.
    pub fn verifies_host(&self) -> bool {
        self.mode == SslMode::VerifyFull
    }

    /// What is checked, for messages: `sslmode=verify-full: the server's certificate must chain
    /// to sslrootcert /etc/…/ca.pem and name the host`.
    pub fn describe(&self) -> String {
        let mode = self.mode.as_str();
        match (&self.root_cert, self.mode) {
            (_, SslMode::Disable) => format!("sslmode={mode}: no TLS"),
            (Some(root), _) => format!(
                "sslmode={mode}: {}the server's certificate must chain to sslrootcert {}{}",
                // libpq's prefer: a server (or anyone between) that offers no TLS is talked to
                // in plain text, certificate or not.
                if self.mode == SslMode::Prefer {
                    "plain text if the server offers no TLS; with TLS, "
                } else {
                    ""
                },
                root.display(),
                if self.verifies_host() {
                    " and name the host connected to"
                } else {
                    " (any host name)"
                }
            ),
            (None, SslMode::Prefer) => format!(
                "sslmode={mode}: TLS if the server offers it, its certificate not checked \
                 (no sslrootcert)"
            ),
            (None, _) => format!(
                "sslmode={mode}: TLS, the server's certificate not checked (no sslrootcert)"
            ),
        }
    }

    /// The combinations that cannot work, refused with what to write instead.
    fn check(&self) -> Result<(), String> {
        if matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull) && self.root_cert.is_none()
        {
            return Err(format!(
                "sslmode={} needs sslrootcert=<PEM file of the CA that signed the server's \
                 certificate> (the registry reads no ~/.postgresql/root.crt)",
                self.mode.as_str()
            ));
        }
        if self.root_cert.as_deref() == Some(std::path::Path::new("system")) {
            return Err(
                "sslrootcert=system (the system's trust store) is not supported: give \
                        the path of the CA's PEM file"
                    .into(),
            );
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(
                "sslcert and sslkey go together: the client certificate and its key".into(),
            );
        }
        Ok(())
    }
}

/// `database.url` without its TLS keys, and what they asked.
#[derive(Debug)]
pub struct SplitUrl {
    /// The connection string tokio-postgres parses. It may hold a password: never show it.
    pub rest: String,
    pub tls: PgTls,
}

/// Splits `url` (a `postgresql://` URI or a libpq `key=value` string) into the part
/// tokio-postgres parses and the TLS settings; refuses settings that cannot work together.
pub fn split_tls(url: &str) -> Result<SplitUrl, String> {
    let mut tls = PgTls::default();
    let rest = match ["postgresql://", "postgres://"]
        .iter()
        .find(|scheme| url.starts_with(**scheme))
    {
        Some(scheme) => split_uri(url, scheme.len(), &mut tls)?,
        None => split_keywords(url, &mut tls)?,
    };
    tls.check()?;
    Ok(SplitUrl { rest, tls })
}

/// The tokio-postgres configuration of `url` with its TLS mode set (verify-* connect as its
/// `require`, the checking is the rustls configuration's), and the TLS settings.
pub fn pg_config(url: &str) -> Result<(postgres::Config, PgTls), String> {
    let split = split_tls(url)?;
    let mut config: postgres::Config = split.rest.parse().map_err(|e: postgres::Error| {
        // Its messages name an option, never a value.
        format!(
            "not a PostgreSQL connection string: {}",
            crate::error_chain::chain(&e)
        )
    })?;
    config.ssl_mode(match split.tls.mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    });
    Ok((config, split.tls))
}

/// Takes `key = value` into `tls` when it is a TLS key; false when it is not one.
fn take(tls: &mut PgTls, key: &str, value: &str) -> Result<bool, String> {
    let path = |v: &str| (!v.is_empty()).then(|| PathBuf::from(v));
    match key {
        "sslmode" => tls.mode = SslMode::parse(value)?,
        "sslrootcert" => tls.root_cert = path(value),
        "sslcert" => tls.client_cert = path(value),
        "sslkey" => tls.client_key = path(value),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The query parameters of a URI: the TLS ones taken out, the others kept as written.
fn split_uri(url: &str, scheme_len: usize, tls: &mut PgTls) -> Result<String, String> {
    let body = &url[scheme_len..];
    // As tokio-postgres reads it: credentials up to the first '@', then hosts and path up to
    // the first '?'. libpq ends the credentials at an '@' before the first '/' only, so a
    // later '@' would make the two read different hosts, users and TLS keys: refused.
    let at = body.find('@');
    if let Some(at) = at {
        if body[..at].contains(['/', '?']) {
            return Err(
                "an '@' after the host or in the query: write it as %40 (a password \
                        holding '/', '?' or '@' is written percent-encoded too)"
                    .into(),
            );
        }
    }
    let after_credentials = at.map_or(0, |at| at + 1);
    let Some(query_at) = body[after_credentials..]
        .find('?')
        .map(|q| scheme_len + after_credentials + q)
    else {
        return Ok(url.to_string());
    };
    let mut kept = Vec::new();
    for pair in url[query_at + 1..].split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            // Malformed: left for tokio-postgres to refuse.
            kept.push(pair);
            continue;
        };
        let key = decode(key);
        let taken = match key.as_deref() {
            Some("ssl") => {
                // JDBC's spelling, which libpq accepts in a URI.
                if decode(value).as_deref() != Some("true") {
                    return Err("ssl: only ssl=true (sslmode=require) is understood".into());
                }
                tls.mode = SslMode::Require;
                true
            }
            Some(key @ ("sslmode" | "sslrootcert" | "sslcert" | "sslkey")) => {
                let value = decode(value)
                    .ok_or_else(|| format!("{key} is not UTF-8 once percent-decoded"))?;
                take(tls, key, &value)?
            }
            _ => false,
        };
        if !taken {
            kept.push(pair);
        }
    }
    let head = &url[..query_at];
    Ok(if kept.is_empty() {
        head.to_string()
    } else {
        format!("{head}?{}", kept.join("&"))
    })
}

fn decode(s: &str) -> Option<Cow<'_, str>> {
    percent_encoding::percent_decode_str(s).decode_utf8().ok()
}

/// The pairs of a `key=value` string (libpq's syntax: spaces around `=` allowed, values
/// single-quoted or not, `\` escaping the next character): the TLS ones taken out, the others
/// written back, each value quoted.
fn split_keywords(url: &str, tls: &mut PgTls) -> Result<String, String> {
    // Never quote the text: an unquoted password with a space in it would show here.
    const SYNTAX: &str = "not a key=value connection string (quote a value that holds spaces: \
                          key='a b')";
    let mut kept = Vec::new();
    let mut rest = url.trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        let after_key = rest[key_end..].trim_start();
        let Some(after_eq) = after_key.strip_prefix('=') else {
            return Err(SYNTAX.into());
        };
        if key.is_empty() {
            return Err(SYNTAX.into());
        }
        let (value, remaining) = keyword_value(after_eq.trim_start()).ok_or(SYNTAX)?;
        if !take(tls, key, &value)? {
            kept.push(format!("{key}={}", quote(&value)));
        }
        rest = remaining.trim_start();
    }
    Ok(kept.join(" "))
}

/// The value at the start of `s`, unescaped, and what follows it; None for an unterminated
/// quote.
fn keyword_value(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let quoted = s.starts_with('\'');
    let mut chars = s.char_indices().skip(usize::from(quoted));
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    value.push(next);
                }
            }
            '\'' if quoted => return Some((value, &s[i + 1..])),
            c if c.is_whitespace() && !quoted => return Some((value, &s[i..])),
            c => value.push(c),
        }
    }
    (!quoted).then_some((value, ""))
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests;
