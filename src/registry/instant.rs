//! FHIR `instant`: full date, time to the second, optional fraction, mandatory zone.
//! The registry demands it for both `start` and `created` (stricter than STU3's dateTime).

use std::sync::LazyLock;

use regex::Regex;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

static INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(Z|([+-])([0-9]{2}):([0-9]{2}))$",
    )
    .expect("static regex")
});

/// Why a text is not an instant the registry can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error(
        "not a FHIR instant: a full date and time to the second, optional fraction, and a zone \
         (Z or ±hh:mm), e.g. 2019-02-01T10:51:23.620+00:00"
    )]
    NotAnInstant,
    #[error("outside the years 0001 to 9999 once converted to UTC")]
    OutOfRange,
}

/// Parses a FHIR instant. Impossible calendar dates (`2019-02-30T10:00:00Z`) and offsets beyond
/// ±14:00 are not instants; instants whose UTC time falls outside 0001–9999 are out of range
/// (the column text is four-digit years, and `time` cannot convert beyond them).
pub fn parse(text: &str) -> Result<OffsetDateTime, InstantError> {
    lexical(text)
        .ok_or(InstantError::NotAnInstant)
        .and_then(|at| in_range(at).ok_or(InstantError::OutOfRange))
}

/// The instant in UTC when both its written year and its UTC year are 0001–9999 (XML Schema
/// has no year 0000, and the column text has four digits); `None` otherwise. Converting with
/// `to_offset` beyond that range panics, so every conversion of outside input goes through here.
pub fn in_range(at: OffsetDateTime) -> Option<OffsetDateTime> {
    let years = 1..=9999;
    at.checked_to_offset(UtcOffset::UTC)
        .filter(|utc| years.contains(&utc.year()) && years.contains(&at.year()))
}

fn lexical(text: &str) -> Option<OffsetDateTime> {
    let caps = INSTANT.captures(text)?;
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let year = i32::try_from(num(1)?).ok()?;
    let month = Month::try_from(u8::try_from(num(2)?).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(num(3)?).ok()?).ok()?;
    let nanos = match caps.get(7) {
        Some(m) => {
            let digits = &m.as_str()[1..];
            let scale = 10u32.pow(9 - digits.len() as u32);
            digits.parse::<u32>().ok()? * scale
        }
        None => 0,
    };
    let time = Time::from_hms_nano(
        u8::try_from(num(4)?).ok()?,
        u8::try_from(num(5)?).ok()?,
        u8::try_from(num(6)?).ok()?,
        nanos,
    )
    .ok()?;
    let offset = match caps.get(9) {
        None => UtcOffset::UTC,
        Some(sign) => zone(sign.as_str(), num(10)?, num(11)?)?,
    };
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// A FHIR zone `±hh:mm` as an offset; FHIR allows at most ±14:00.
pub(crate) fn zone(sign: &str, hours: u32, minutes: u32) -> Option<UtcOffset> {
    if minutes > 59 || hours > 14 || (hours == 14 && minutes != 0) {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    let seconds = if sign == "-" { -seconds } else { seconds };
    UtcOffset::from_whole_seconds(seconds).ok()
}

/// Fixed-width UTC text, `2019-02-01T10:51:23.620Z`: sorts as text, reads well in SQL.
/// Takes instants from [`parse`] or the clock; one outside 0001–9999 is clamped to the nearest
/// end rather than panicking (no such instant is ever accepted from input).
pub fn to_column(at: OffsetDateTime) -> String {
    let utc = in_range(at).unwrap_or(if at.year() < 1 {
        time::macros::datetime!(0001-01-01 00:00:00 UTC)
    } else {
        time::macros::datetime!(9999-12-31 23:59:59.999 UTC)
    });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    )
}

/// `meta.lastUpdated` for a version written now.
pub fn now_column() -> String {
    to_column(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_full_instants() {
        for ok in [
            "2019-02-01T10:51:23.620+00:00",
            "2019-02-01T10:51:23Z",
            "2019-02-01T10:51:23.123456789-05:30",
            "2024-02-29T00:00:00+14:00",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_partial_or_impossible_instants() {
        for bad in [
            "2019-02-01",
            "2019-02-01T10:51",
            "2019-02-01T10:51:23",
            "2019-02-30T10:00:00Z",
            "2019-13-01T10:00:00Z",
            "2019-02-01T24:00:00Z",
            "2019-02-01T10:60:00Z",
            "2019-02-01T10:51:23+15:00",
            "2019-02-01t10:51:23z",
            "2019-02-01 10:51:23Z",
            "2019-02-01T10:51:23.Z",
            "",
        ] {
            assert_eq!(parse(bad), Err(InstantError::NotAnInstant), "{bad}");
        }
    }

    #[test]
    fn refuses_instants_beyond_the_four_digit_years() {
        for bad in [
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:00:00-14:00",
            "0000-01-01T00:00:00+14:00",
            "0000-12-31T23:59:59Z",
            "0001-01-01T00:00:00+00:01",
            "0000-12-31T23:00:00-01:00",
        ] {
            assert_eq!(parse(bad), Err(InstantError::OutOfRange), "{bad}");
        }
        for ok in [
            "9999-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59+01:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00-14:00",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn column_of_an_out_of_range_instant_is_clamped_not_a_panic() {
        let late = time::macros::datetime!(9999-12-31 23:59:59 -01:00);
        assert_eq!(to_column(late), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn column_is_utc_fixed_width() {
        let at = parse("2019-02-01T10:51:23.62+01:00").unwrap();
        assert_eq!(to_column(at), "2019-02-01T09:51:23.620Z");
    }
}
