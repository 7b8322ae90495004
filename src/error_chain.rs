//! An error and its causes as one line, for logs and the terminal: `outer: inner: innermost`,
//! like anyhow's `{:#}`. A cause already written out by the message above it is left out (some
//! errors, rusqlite's and reqwest's among them, print their source in their own message too).

/// `e` and every `source()` under it.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut above = out.clone();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !above.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        above = text;
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner: {0}")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn causes_in_order_each_once() {
        let e = Outer(Inner(std::io::Error::other("disk")));
        // Inner already says "disk": the io error is not written twice.
        assert_eq!(super::chain(&e), "outer: inner: disk");
    }
}
