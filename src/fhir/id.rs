//! The FHIR `id` type (STU3: `[A-Za-z0-9\-\.]{1,64}`): resource ids in bodies, URLs and paging
//! tokens are all checked here.

/// Whether `text` is a FHIR id.
pub fn is_valid(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids() {
        for ok in [
            "a",
            "0193e3f5-7c1a-7d2e-9d4f-3a2b1c0d9e8f",
            "A.b-9",
            &"x".repeat(64),
        ] {
            assert!(super::is_valid(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a_b", "é", &"x".repeat(65)] {
            assert!(!super::is_valid(bad), "{bad}");
        }
    }
}
