//! FHIR search `date` values (`date`, `created`): a prefix and a value whose precision makes it
//! an interval. `2019-02` is all of February: `[2019-02-01T00:00:00.000Z, 2019-03-01T00:00:00.000Z)`.

use crate::fhir::datetime;
use crate::registry::instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const PREFIXES: [(&str, Prefix); 6] = [
    ("eq", Prefix::Eq),
    ("ne", Prefix::Ne),
    ("lt", Prefix::Lt),
    ("le", Prefix::Le),
    ("gt", Prefix::Gt),
    ("ge", Prefix::Ge),
];

/// One condition on an instant column: the column's value compared with the interval
/// `[lo, hi)` the parameter's value covers. Both ends are column text (`instant::to_column`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateBound {
    pub prefix: Prefix,
    pub lo: String,
    /// None when the interval runs past the end of year 9999 (no column value reaches it).
    pub hi: Option<String>,
    /// The parameter's value as given (links repeat it).
    pub text: String,
}

/// Parses `[prefix]value`; None when it is not a FHIR search date within 0001–9999. A value
/// without a zone (every date, and times given without one) is taken as UTC: the registry
/// stores UTC, and FHIR leaves the server to choose for zoneless values.
pub fn parse(text: &str) -> Option<DateBound> {
    let (prefix, value) = PREFIXES
        .iter()
        .find_map(|(name, prefix)| text.strip_prefix(name).map(|rest| (*prefix, rest)))
        .unwrap_or((Prefix::Eq, text));
    let value = datetime::parse(value).ok()?;
    Some(DateBound {
        prefix,
        lo: instant::to_column(value.start_millis()),
        hi: value.end().map(instant::to_column),
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(text: &str) -> (Prefix, String, Option<String>) {
        let b = parse(text).unwrap_or_else(|| panic!("{text}"));
        (b.prefix, b.lo, b.hi)
    }

    #[test]
    fn each_precision_is_an_interval() {
        let cases = [
            (
                "2019",
                "2019-01-01T00:00:00.000Z",
                "2020-01-01T00:00:00.000Z",
            ),
            (
                "2019-02",
                "2019-02-01T00:00:00.000Z",
                "2019-03-01T00:00:00.000Z",
            ),
            (
                "2019-12",
                "2019-12-01T00:00:00.000Z",
                "2020-01-01T00:00:00.000Z",
            ),
            (
                "2019-02-28",
                "2019-02-28T00:00:00.000Z",
                "2019-03-01T00:00:00.000Z",
            ),
            (
                "2019-02-01T10:00",
                "2019-02-01T10:00:00.000Z",
                "2019-02-01T10:01:00.000Z",
            ),
            (
                "2019-02-01T10:00:05Z",
                "2019-02-01T10:00:05.000Z",
                "2019-02-01T10:00:06.000Z",
            ),
            (
                "2019-02-01T10:00:05.1234+01:00",
                "2019-02-01T09:00:05.123Z",
                "2019-02-01T09:00:05.124Z",
            ),
        ];
        for (text, lo, hi) in cases {
            assert_eq!(
                bound(text),
                (Prefix::Eq, lo.into(), Some(hi.into())),
                "{text}"
            );
        }
        assert_eq!(bound("9999").2, None);
        assert_eq!(bound("9999-12-31T23:59:59.999Z").2, None);
    }

    #[test]
    fn prefixes() {
        for (p, want) in PREFIXES {
            assert_eq!(bound(&format!("{p}2019")).0, want);
        }
    }

    /// What a date value may be is `fhir::datetime`'s (tested there); here, what search adds.
    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "sa2019",
            "ap2019",
            "gt",
            "2019-02-01 10:00",
            "9999-12-31T23:00-14:00",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
