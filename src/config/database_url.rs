//! `database.url`: how it is shown (never with its password). What it asks of TLS is
//! `database_tls.rs`.

/// `url` with any password replaced by `***`: the `user:password@` of a URI, a `password=`
/// query parameter, or a `password=` pair of a `key=value` string.
pub fn mask_password(url: &str) -> String {
    const MASK: &str = "***";
    let uri = url.starts_with("postgresql://") || url.starts_with("postgres://");
    if !uri {
        // key = value pairs; values may be single-quoted with backslash escapes.
        let mut out = String::with_capacity(url.len());
        let mut rest = url;
        while let Some(at) = find_key(rest, "password") {
            out.push_str(&rest[..at]);
            let after = &rest[at + "password".len()..];
            let eq = after.len() - after.trim_start().len();
            let Some(value) = after.trim_start().strip_prefix('=') else {
                out.push_str(&rest[at..at + "password".len()]);
                rest = after;
                continue;
            };
            let value_ws = value.len() - value.trim_start().len();
            let value = value.trim_start();
            let end = if let Some(quoted) = value.strip_prefix('\'') {
                let mut escaped = false;
                let mut end = quoted.len();
                for (i, c) in quoted.char_indices() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '\'' => {
                            end = i + 1;
                            break;
                        }
                        _ => {}
                    }
                }
                1 + end.min(quoted.len())
            } else {
                value.find(char::is_whitespace).unwrap_or(value.len())
            };
            out.push_str(&format!(
                "password{}={}{MASK}",
                &after[..eq],
                " ".repeat(value_ws)
            ));
            rest = &value[end.min(value.len())..];
        }
        out.push_str(rest);
        return out;
    }
    let (scheme, body) = url.split_once("://").unwrap_or(("", url));
    // The credentials end at the first '@' wherever it is, as the PostgreSQL client reads them:
    // a raw '/' or '?' in a password stays behind the mask.
    let (userinfo, rest) = match body.find('@') {
        Some(at) => (Some(&body[..at]), &body[at + 1..]),
        None => (None, body),
    };
    let userinfo = match userinfo {
        Some(userinfo) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{MASK}@"),
            None => format!("{userinfo}@"),
        },
        None => String::new(),
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://{userinfo}{main}");
    if let Some(query) = query {
        // Keys compared as the client reads them: percent-decoded (`passw%6Frd` too).
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _))
                    if percent_encoding::percent_decode_str(k).decode_utf8_lossy()
                        == "password" =>
                {
                    format!("{k}={MASK}")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Where `key` starts as a whole word in a `key=value` string.
fn find_key(s: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(key) {
        let at = from + i;
        let before_ok = at == 0 || s[..at].ends_with(char::is_whitespace);
        let after = &s[at + key.len()..];
        if before_ok && after.trim_start().starts_with('=') {
            return Some(at);
        }
        from = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn passwords_are_masked_in_every_form() {
        for (url, want) in [
            ("", ""),
            (
                "postgresql://reg:s3cret@pg1:5432,pg2:5432/registry?target_session_attrs=read-write",
                "postgresql://reg:***@pg1:5432,pg2:5432/registry?target_session_attrs=read-write",
            ),
            ("postgres://reg@pg1/registry", "postgres://reg@pg1/registry"),
            (
                "postgresql://pg1/registry?user=reg&password=s3cret&sslmode=require",
                "postgresql://pg1/registry?user=reg&password=***&sslmode=require",
            ),
            (
                "host=pg1,pg2 user=reg password=s3cret dbname=registry",
                "host=pg1,pg2 user=reg password=*** dbname=registry",
            ),
            // Raw '/', '?' in a password: the client's credentials still end at the first '@'.
            (
                "postgresql://reg:s3/cret@pg1/registry",
                "postgresql://reg:***@pg1/registry",
            ),
            (
                "postgresql://reg:s3?cret@pg1/registry",
                "postgresql://reg:***@pg1/registry",
            ),
            // A key the client percent-decodes to `password`.
            (
                "postgresql://pg1/registry?passw%6Frd=s3cret",
                "postgresql://pg1/registry?passw%6Frd=***",
            ),
            (
                "host=pg1 password = 'a b\\' c' dbname=registry",
                "host=pg1 password = *** dbname=registry",
            ),
        ] {
            let got = mask_password(url);
            assert_eq!(got, want, "{url}");
            assert!(!got.contains("s3cret"));
        }
    }
}
