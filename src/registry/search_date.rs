//! FHIR search `date` values (`date`, `created`): a prefix and a value whose precision makes it
//! an interval. `2019-02` is all of February: `[2019-02-01T00:00:00.000Z, 2019-03-01T00:00:00.000Z)`.

use std::sync::LazyLock;

use regex::Regex;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::registry::instant;

static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(eq|ne|lt|le|gt|ge)?([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})",
        r"(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]{1,9})?)?",
        r"(Z|([+-])([0-9]{2}):([0-9]{2}))?)?)?)?$"
    ))
    .expect("static regex")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One condition on an instant column: the column's value compared with the interval
/// `[lo, hi)` the parameter's value covers. Both ends are column text (`instant::to_column`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateBound {
    pub prefix: Prefix,
    pub lo: String,
    /// None when the interval runs past the end of year 9999 (no column value reaches it).
    pub hi: Option<String>,
}

/// Parses `[prefix]value`; None when it is not a FHIR search date.
pub fn parse(text: &str) -> Option<DateBound> {
    let caps = VALUE.captures(text)?;
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let prefix = match caps.get(1).map(|m| m.as_str()) {
        None | Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("lt") => Prefix::Lt,
        Some("le") => Prefix::Le,
        Some("gt") => Prefix::Gt,
        _ => Prefix::Ge,
    };
    let year = i32::try_from(num(2)?).ok()?;
    let month = match num(3) {
        Some(m) => Month::try_from(u8::try_from(m).ok()?).ok()?,
        None => Month::January,
    };
    let day = u8::try_from(num(4).unwrap_or(1)).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let nanos = match caps.get(8) {
        // Columns hold milliseconds, so a finer fraction is cut to the millisecond it lies in.
        Some(m) => {
            let digits = format!("{:0<9}", &m.as_str()[1..]);
            digits.parse::<u32>().ok()? / 1_000_000 * 1_000_000
        }
        None => 0,
    };
    let time = Time::from_hms_nano(
        u8::try_from(num(5).unwrap_or(0)).ok()?,
        u8::try_from(num(6).unwrap_or(0)).ok()?,
        u8::try_from(num(7).unwrap_or(0)).ok()?,
        nanos,
    )
    .ok()?;
    // A value without a zone (every date, and times given without one) is taken as UTC: the
    // registry stores UTC, and FHIR leaves the server to choose for zoneless values.
    let offset = match caps.get(10) {
        None => UtcOffset::UTC,
        Some(sign) => instant::zone(sign.as_str(), num(11)?, num(12)?)?,
    };
    let lo = PrimitiveDateTime::new(date, time).assume_offset(offset);
    let hi = if caps.get(8).is_some() {
        lo.checked_add(Duration::milliseconds(1))
    } else if caps.get(7).is_some() {
        lo.checked_add(Duration::seconds(1))
    } else if caps.get(5).is_some() {
        lo.checked_add(Duration::minutes(1))
    } else if caps.get(4).is_some() {
        date.next_day().map(midnight)
    } else if caps.get(3).is_some() {
        let (y, m) = match month {
            Month::December => (year + 1, Month::January),
            m => (year, m.next()),
        };
        Date::from_calendar_date(y, m, 1).ok().map(midnight)
    } else {
        Date::from_calendar_date(year + 1, Month::January, 1)
            .ok()
            .map(midnight)
    };
    // Column text is fixed-width only for years 0001–9999: a value starting beyond them is
    // refused, and an interval running past 9999 is open at the top.
    let lo = instant::in_range(lo)?;
    let hi = hi.and_then(instant::in_range);
    Some(DateBound {
        prefix,
        lo: instant::to_column(lo),
        hi: hi.map(instant::to_column),
    })
}

fn midnight(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc()
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
        for (p, want) in [
            ("eq", Prefix::Eq),
            ("ne", Prefix::Ne),
            ("lt", Prefix::Lt),
            ("le", Prefix::Le),
            ("gt", Prefix::Gt),
            ("ge", Prefix::Ge),
        ] {
            assert_eq!(bound(&format!("{p}2019")).0, want);
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "",
            "19",
            "2019-2",
            "2019-13",
            "2019-02-30",
            "2019-02-01T10",
            "2019-02-01T25:00",
            "sa2019",
            "ap2019",
            "2019-02-01Z",
            "2019-02-01T10:00+15:00",
            "2019-02-01 10:00",
            "gt",
            "2019-02-01T10:00:00.Z",
            "9999-12-31T23:00-14:00",
            "9999-12-31T23:59:59-01:00",
            "0000",
            "0000-12-31T23:00-01:00",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
