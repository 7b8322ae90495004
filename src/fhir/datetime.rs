//! FHIR `date`, `dateTime` and `instant` values, and search dates: one reader for all of them.
//!
//! A value is read at the precision it was written with (`2019`, `2019-02`, `2019-02-01`,
//! `2019-02-01T10:00`, `…T10:00:05`, `…T10:00:05.123`), so it covers an interval: `2019-02` is
//! all of February. Zones are `Z` or `±hh:mm` up to ±14:00; a time without a zone is read as UTC
//! (search only: resource elements must carry one, which their STU3 lexical pattern demands).
//! Years are held to 0001–9999 both as written and once converted to UTC: XML Schema has no
//! year 0000, and `time` cannot convert beyond 9999 (its `to_offset` panics there).

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The parts of a value, as the pattern
/// `^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|([+-])([0-9]{2}):([0-9]{2}))?)?)?)?$`
/// captures them (group 0 unused): year, month, day, hour, minute, second, fraction, zone,
/// zone sign, zone hours, zone minutes. None when the text does not match it.
///
/// Read by hand: a regex with captures cost more than the rest of reading a date, and every
/// registration reads several. Each optional part begins with its own character (`-`, `T`,
/// `:`, `.`, `Z`/`+`/`-`) which nothing after it can begin with, so a part that begins must
/// be complete, as the pattern's backtracking would also conclude.
fn groups(text: &str) -> Option<[Option<&str>; 12]> {
    let b = text.as_bytes();
    let digits = |at: usize, n: usize| -> Option<&str> {
        let part = b.get(at..at + n)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| &text[at..at + n])
    };
    let mut g: [Option<&str>; 12] = [None; 12];
    g[1] = Some(digits(0, 4)?);
    let mut at = 4;
    if b.get(at) == Some(&b'-') {
        g[2] = Some(digits(at + 1, 2)?);
        at += 3;
        if b.get(at) == Some(&b'-') {
            g[3] = Some(digits(at + 1, 2)?);
            at += 3;
            if b.get(at) == Some(&b'T') {
                g[4] = Some(digits(at + 1, 2)?);
                if b.get(at + 3) != Some(&b':') {
                    return None;
                }
                g[5] = Some(digits(at + 4, 2)?);
                at += 6;
                if b.get(at) == Some(&b':') {
                    g[6] = Some(digits(at + 1, 2)?);
                    at += 3;
                    if b.get(at) == Some(&b'.') {
                        let start = at + 1;
                        let end =
                            start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
                        if end == start {
                            return None;
                        }
                        g[7] = Some(&text[start..end]);
                        at = end;
                    }
                }
                match b.get(at) {
                    Some(b'Z') => {
                        g[8] = Some(&text[at..at + 1]);
                        at += 1;
                    }
                    Some(b'+' | b'-') => {
                        g[9] = Some(&text[at..at + 1]);
                        g[10] = Some(digits(at + 1, 2)?);
                        if b.get(at + 3) != Some(&b':') {
                            return None;
                        }
                        g[11] = Some(digits(at + 4, 2)?);
                        g[8] = Some(&text[at..at + 6]);
                        at += 6;
                    }
                    _ => {}
                }
            }
        }
    }
    (at == b.len()).then_some(g)
}

/// How finely a value was written; it decides the interval the value covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Minute,
    Second,
    /// Any fraction of a second; intervals are cut to the millisecond (what columns hold).
    Fraction,
}

/// A date, dateTime, instant or search date as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FhirTime {
    /// The first moment the value covers, in UTC, to the nanosecond.
    pub start: OffsetDateTime,
    pub precision: Precision,
    /// Whether a zone was written.
    pub zoned: bool,
    /// Digits written after the decimal point (0 when none).
    pub fraction_digits: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateTimeError {
    #[error("not a FHIR date/time")]
    Malformed,
    #[error("outside the years 0001 to 9999 once converted to UTC")]
    OutOfRange,
}

/// Reads a value at any precision (see the module notes).
pub fn parse(text: &str) -> Result<FhirTime, DateTimeError> {
    let caps = groups(text).ok_or(DateTimeError::Malformed)?;
    let num = |i: usize| caps[i].and_then(|m| m.parse::<u8>().ok());
    let year: i32 = caps[1]
        .unwrap_or("")
        .parse()
        .map_err(|_| DateTimeError::Malformed)?;
    let month = match caps[2] {
        Some(_) => Month::try_from(num(2).ok_or(DateTimeError::Malformed)?)
            .map_err(|_| DateTimeError::Malformed)?,
        None => Month::January,
    };
    if year < 1 {
        return Err(DateTimeError::OutOfRange);
    }
    let date = Date::from_calendar_date(year, month, num(3).unwrap_or(1))
        .map_err(|_| DateTimeError::Malformed)?;
    let fraction = caps[7].unwrap_or("");
    // Nanoseconds are as fine as `time` goes; further digits cannot change a column. The
    // first nine digits, as if padded with zeros to nine.
    let nanos = match &fraction[..fraction.len().min(9)] {
        "" => 0,
        digits => {
            let scale = 10u32.pow(9 - digits.len() as u32);
            digits
                .parse::<u32>()
                .map_err(|_| DateTimeError::Malformed)?
                * scale
        }
    };
    let time = Time::from_hms_nano(
        num(4).unwrap_or(0),
        num(5).unwrap_or(0),
        num(6).unwrap_or(0),
        nanos,
    )
    .map_err(|_| DateTimeError::Malformed)?;
    let offset = match caps[9] {
        None => UtcOffset::UTC,
        Some(sign) => zone(
            sign,
            num(10).ok_or(DateTimeError::Malformed)?,
            num(11).ok_or(DateTimeError::Malformed)?,
        )
        .ok_or(DateTimeError::Malformed)?,
    };
    let start = in_range(PrimitiveDateTime::new(date, time).assume_offset(offset))
        .ok_or(DateTimeError::OutOfRange)?;
    let precision = if !fraction.is_empty() {
        Precision::Fraction
    } else if caps[6].is_some() {
        Precision::Second
    } else if caps[4].is_some() {
        Precision::Minute
    } else if caps[3].is_some() {
        Precision::Day
    } else if caps[2].is_some() {
        Precision::Month
    } else {
        Precision::Year
    };
    Ok(FhirTime {
        start,
        precision,
        zoned: caps[8].is_some(),
        fraction_digits: fraction.len(),
    })
}

impl FhirTime {
    /// The first moment after the interval the value covers; None when that is past 9999.
    /// A fraction covers the millisecond it lies in.
    pub fn end(&self) -> Option<OffsetDateTime> {
        let start = self.start;
        let next = match self.precision {
            Precision::Fraction => start
                .replace_nanosecond(start.millisecond() as u32 * 1_000_000)
                .ok()?
                .checked_add(Duration::milliseconds(1)),
            Precision::Second => start.checked_add(Duration::seconds(1)),
            Precision::Minute => start.checked_add(Duration::minutes(1)),
            Precision::Day => start.date().next_day().map(midnight),
            Precision::Month => {
                let (year, month) = match start.month() {
                    Month::December => (start.year() + 1, Month::January),
                    m => (start.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).ok().map(midnight)
            }
            Precision::Year => Date::from_calendar_date(start.year() + 1, Month::January, 1)
                .ok()
                .map(midnight),
        };
        next.and_then(in_range)
    }

    /// The start cut to the millisecond (what a column holds).
    pub fn start_millis(&self) -> OffsetDateTime {
        let ms = self.start.millisecond() as u32 * 1_000_000;
        self.start.replace_nanosecond(ms).unwrap_or(self.start)
    }
}

fn midnight(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc()
}

/// A FHIR zone `±hh:mm` as an offset; FHIR allows at most ±14:00.
fn zone(sign: &str, hours: u8, minutes: u8) -> Option<UtcOffset> {
    if minutes > 59 || hours > 14 || (hours == 14 && minutes != 0) {
        return None;
    }
    let seconds = i32::from(hours) * 3600 + i32::from(minutes) * 60;
    UtcOffset::from_whole_seconds(if sign == "-" { -seconds } else { seconds }).ok()
}

/// The moment in UTC when both its written year and its UTC year are 0001–9999; `None`
/// otherwise. Every conversion of outside input goes through here.
pub fn in_range(at: OffsetDateTime) -> Option<OffsetDateTime> {
    let years = 1..=9999;
    at.checked_to_offset(UtcOffset::UTC)
        .filter(|utc| years.contains(&utc.year()) && years.contains(&at.year()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(text: &str) -> (String, Option<String>) {
        let t = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let show = |at: OffsetDateTime| at.to_string();
        (show(t.start_millis()), t.end().map(show))
    }

    #[test]
    fn precision_makes_an_interval() {
        assert_eq!(
            interval("2019").1,
            Some("2020-01-01 0:00:00.0 +00:00:00".into())
        );
        assert_eq!(
            interval("2019-12").1,
            Some("2020-01-01 0:00:00.0 +00:00:00".into())
        );
        assert_eq!(
            interval("2024-02-29").1,
            Some("2024-03-01 0:00:00.0 +00:00:00".into())
        );
        assert_eq!(
            interval("2019-02-01T10:00:05.1239+01:00"),
            (
                "2019-02-01 9:00:05.123 +00:00:00".into(),
                Some("2019-02-01 9:00:05.124 +00:00:00".into())
            )
        );
        assert_eq!(interval("9999").1, None);
        assert_eq!(interval("9999-12-31T23:59:59.999Z").1, None);
    }

    /// The pattern `groups` reads by hand, as a regex.
    fn pattern_groups(text: &str) -> Option<Vec<Option<String>>> {
        let re = regex::Regex::new(concat!(
            r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})",
            r"(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?",
            r"(Z|([+-])([0-9]{2}):([0-9]{2}))?)?)?)?$"
        ))
        .unwrap();
        let caps = re.captures(text)?;
        Some(
            (0..12)
                .map(|i| {
                    (i > 0)
                        .then(|| caps.get(i).map(|m| m.as_str().to_string()))
                        .flatten()
                })
                .collect(),
        )
    }

    #[test]
    fn the_hand_reader_reads_what_the_pattern_reads() {
        let seeds = [
            "2019",
            "2019-02",
            "2019-02-01",
            "2019-02-01T10:00",
            "2019-02-01T10:00Z",
            "2019-02-01T10:00:05",
            "2019-02-01T10:00:05.123",
            "2019-02-01T10:00:05.123456789012Z",
            "2019-02-01T10:00:05+01:00",
            "2019-02-01T10:00:05.1-14:00",
            "2019-02-01T10:00-05:30",
        ];
        // Every seed, every prefix of it, and each with one character changed to one of the
        // characters the pattern cares about (or one it does not), or one added.
        let mut cases: Vec<String> = Vec::new();
        for seed in seeds {
            for end in 0..=seed.len() {
                cases.push(seed[..end].to_string());
            }
            for i in 0..=seed.len() {
                for c in ["0", "9", "-", "+", ":", ".", "T", "Z", "a", " ", "é", "\n"] {
                    let (head, tail) = seed.split_at(i);
                    cases.push(format!("{head}{c}{tail}"));
                    if !tail.is_empty() {
                        cases.push(format!("{head}{c}{}", &tail[1..]));
                    }
                }
            }
        }
        for case in &cases {
            let hand =
                groups(case).map(|g| g.iter().map(|p| p.map(str::to_string)).collect::<Vec<_>>());
            assert_eq!(hand, pattern_groups(case), "{case:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_date_or_lies_beyond_the_years() {
        for bad in [
            "",
            "19",
            "2019-2",
            "2019-13",
            "2019-02-30",
            "2019-02-01T10",
            "2019-02-01Z",
            "2019-02-01T25:00",
            "2019-02-01T10:00+15:00",
            "2019-02-01T10:00:00.Z",
            "-2019",
        ] {
            assert_eq!(parse(bad), Err(DateTimeError::Malformed), "{bad}");
        }
        for far in [
            "0000",
            "0000-12-31T23:00:00-01:00",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:00-14:00",
            "0001-01-01T00:00:00+00:01",
        ] {
            assert_eq!(parse(far), Err(DateTimeError::OutOfRange), "{far}");
        }
    }

    /// The hand-written reader slices the text by position: every byte position of a full
    /// dateTime replaced by a multi-byte or non-ASCII digit character, and fractions of any
    /// length, are refused or read, never a panic; the instant reader and the column check too.
    #[test]
    fn no_character_anywhere_makes_the_readers_panic() {
        let full = "2019-02-01T10:51:23.123+05:30";
        for at in 0..=full.len() {
            for odd in ["é", "２", "\u{10FFFF}", "\0", "-", ":", ".", "T", "Z", "+"] {
                let text = format!("{}{odd}{}", &full[..at], &full[at.min(full.len())..]);
                let replaced = format!("{}{odd}{}", &full[..at], full.get(at + 1..).unwrap_or(""));
                for t in [text, replaced] {
                    let _ = parse(&t);
                    let _ = crate::registry::instant::parse(&t);
                    let _ = crate::registry::instant::is_column(&t);
                }
            }
        }
        for digits in [1, 9, 10, 40, 10_000] {
            let t = format!("2019-02-01T10:51:23.{}Z", "9".repeat(digits));
            assert!(parse(&t).is_ok(), "{digits} fraction digits");
            // The registry's instants take at most nine (nanoseconds).
            let instant = crate::registry::instant::parse(&t);
            assert_eq!(instant.is_ok(), digits <= 9, "{digits}");
        }
    }
}
