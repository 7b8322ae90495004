//! A business identifier as a FHIR token, `[system|]value`: in search (`identifier=`) and in
//! conditional create (`If-None-Exist: identifier=`). `system|value` matches that system only,
//! `|value` an identifier with no system, and a bare `value` any system.

/// A parsed identifier token. `system` None matches any system; `Some("")` means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierToken {
    pub system: Option<String>,
    pub value: String,
}

impl IdentifierToken {
    /// Reads `[system|]value`; the error says what is wrong, for the caller to wrap.
    pub fn parse(text: &str) -> Result<IdentifierToken, &'static str> {
        match text.split_once('|') {
            Some((_, "")) => Err("needs a value after '|'"),
            Some((system, value)) => Ok(IdentifierToken {
                system: Some(system.to_string()),
                value: value.to_string(),
            }),
            None if text.is_empty() => Err("has no value"),
            None => Ok(IdentifierToken {
                system: None,
                value: text.to_string(),
            }),
        }
    }

    /// The token as a search parameter value, as [`parse`](Self::parse) reads it.
    pub fn to_param(&self) -> String {
        match &self.system {
            Some(system) => format!("{system}|{}", self.value),
            None => self.value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdentifierToken;

    #[test]
    fn forms() {
        let t = IdentifierToken::parse("urn:x|v").unwrap();
        assert_eq!(
            (t.system.as_deref(), t.value.as_str()),
            (Some("urn:x"), "v")
        );
        let t = IdentifierToken::parse("|v").unwrap();
        assert_eq!((t.system.as_deref(), t.value.as_str()), (Some(""), "v"));
        let t = IdentifierToken::parse("v").unwrap();
        assert_eq!((t.system.clone(), t.to_param()), (None, "v".to_string()));
        assert!(IdentifierToken::parse("urn:x|").is_err());
        assert!(IdentifierToken::parse("").is_err());
        assert_eq!(IdentifierToken::parse("a|b|c").unwrap().to_param(), "a|b|c");
    }
}
