//! The registry's instant rule for `start` and `created`: a full date, time to the second,
//! optional fraction (at most nine digits) and a mandatory zone — stricter than STU3's
//! dateTime — and the fixed-width UTC column text the store keeps them as. Reading the value is
//! `fhir::datetime`'s (one reader for every date, range-checked); this adds the rule.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::fhir::datetime::{self, DateTimeError, Precision};

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
/// ±14:00 are not instants; instants whose UTC time falls outside 0001–9999 are out of range.
pub fn parse(text: &str) -> Result<OffsetDateTime, InstantError> {
    match datetime::parse(text) {
        Ok(t) if t.zoned && t.precision >= Precision::Second && t.fraction_digits <= 9 => {
            Ok(t.start)
        }
        Ok(_) | Err(DateTimeError::Malformed) => Err(InstantError::NotAnInstant),
        Err(DateTimeError::OutOfRange) => Err(InstantError::OutOfRange),
    }
}

const COLUMN: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Fixed-width UTC text, `2019-02-01T10:51:23.620Z`: sorts as text, reads well in SQL.
/// Takes instants from [`parse`] or the clock; one outside 0001–9999 is clamped to the nearest
/// end rather than panicking (no such instant is ever accepted from input).
pub fn to_column(at: OffsetDateTime) -> String {
    let utc = datetime::in_range(at).unwrap_or(if at.year() < 1 {
        time::macros::datetime!(0001-01-01 00:00:00 UTC)
    } else {
        time::macros::datetime!(9999-12-31 23:59:59.999 UTC)
    });
    // COLUMN's text, written digit by digit: `time`'s formatter took more than the rest of
    // turning a registration's two instants into columns. `column_text_is_the_description_s`
    // holds the two to the same text.
    let mut text = [0u8; 24];
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for i in (at..at + width).rev() {
            text[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    // Within 0001–9999 (in_range, or the clamp above): four digits, no sign.
    put(0, utc.year().unsigned_abs(), 4);
    put(5, u32::from(u8::from(utc.month())), 2);
    put(8, u32::from(utc.day()), 2);
    put(11, u32::from(utc.hour()), 2);
    put(14, u32::from(utc.minute()), 2);
    put(17, u32::from(utc.second()), 2);
    put(20, u32::from(utc.millisecond()), 3);
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        text[at] = c;
    }
    text.iter().map(|&b| char::from(b)).collect()
}

/// Whether `text` is column text exactly as [`to_column`] writes it (paging tokens carry it).
pub fn is_column(text: &str) -> bool {
    time::PrimitiveDateTime::parse(text, COLUMN).is_ok_and(|at| to_column(at.assume_utc()) == text)
}

/// `meta.lastUpdated` for a version written now.
pub fn now_column() -> String {
    to_column(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_text_is_the_description_s() {
        use time::macros::datetime;
        for at in [
            datetime!(2019-02-01 10:51:23.620 UTC),
            datetime!(0001-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59.999_999_999 UTC),
            datetime!(2024-02-29 09:05:07.000_999 +05:30),
            datetime!(0999-10-10 23:00:00.5 -01:00),
            datetime!(2026-11-24 00:00:00.123_456_789 UTC),
        ] {
            let utc = at.to_offset(time::UtcOffset::UTC);
            assert_eq!(to_column(at), utc.format(COLUMN).unwrap(), "{at}");
        }
    }

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
    fn column_text_is_recognised_exactly() {
        assert!(is_column("2019-02-01T09:51:23.620Z"));
        for bad in [
            "2019-02-01T09:51:23.62Z",
            "2019-02-01T09:51:23.620",
            "2019-02-01 09:51:23.620Z",
            "x",
        ] {
            assert!(!is_column(bad), "{bad}");
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
