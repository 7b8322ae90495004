//! Turning resources and errors into HTTP responses in the negotiated format.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde_json::Value;

use super::negotiate::{self, Format};
use crate::error::Error;
use crate::{fhir, outcome};

/// A resource body in `format`. `canonical_json` may carry the bytes already written (stored
/// versions are canonical JSON), which spares a re-serialisation.
pub fn body(resource: &Value, format: Format) -> Vec<u8> {
    match format {
        Format::Json => fhir::write_json(resource),
        Format::Xml => fhir::write_xml(resource),
    }
}

/// The shape every FHIR handler shares: negotiate the answer's format (a refusal to do so is
/// answered in JSON), run `work` with it, and answer any error as an OperationOutcome in that
/// format.
pub async fn negotiated<F, Fut>(req: &HttpRequest, default: Format, work: F) -> HttpResponse
where
    F: FnOnce(Format) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, Error>>,
{
    let format = match negotiate::response_format(req, default) {
        Ok(f) => f,
        Err(e) => return error(&e, Format::Json),
    };
    work(format).await.unwrap_or_else(|e| error(&e, format))
}

/// The shape of the handlers that take a resource body (create, update): the answer's format
/// defaults to the body's, and `work` gets both — the body's still as a `Result`, so that an
/// unsupported `Content-Type` is refused only after the caller is authorised.
pub async fn negotiated_with_body<F, Fut>(req: &HttpRequest, work: F) -> HttpResponse
where
    F: FnOnce(Format, Result<Format, Error>) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, Error>>,
{
    let request_format = negotiate::request_format(req);
    let default = *request_format.as_ref().unwrap_or(&Format::Json);
    negotiated(req, default, |format| work(format, request_format)).await
}

/// A body already written in `format`.
pub fn bytes(mut builder: HttpResponseBuilder, body: Vec<u8>, format: Format) -> HttpResponse {
    builder
        .insert_header((header::CONTENT_TYPE, content_type(format)))
        .body(body)
}

/// The format's Content-Type as a header value that points at the static text: from a `&str`,
/// actix parses and copies it for every response. (From a `String` it takes the buffer: the
/// other headers go in as strings.)
pub fn content_type(format: Format) -> HeaderValue {
    HeaderValue::from_static(format.content_type())
}

pub fn resource(
    mut builder: HttpResponseBuilder,
    resource: &Value,
    format: Format,
) -> HttpResponse {
    builder
        .insert_header((header::CONTENT_TYPE, content_type(format)))
        .body(body(resource, format))
}

/// An error as an OperationOutcome. A 500 logs its cause here and tells the client nothing more.
pub fn error(err: &Error, format: Format) -> HttpResponse {
    if err.status() == 500 {
        log::error!("internal error: {}", err.chain());
    }
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    if let Error::RequestTimeout(_) = err {
        // The rest of the body may still be trickling in: say the connection closes (it does:
        // see `unread_body`).
        builder.force_close();
    }
    // RFC 6750 §3: say why the bearer token failed; an authorisation refusal of a good token
    // (another organisation's appointment) is not a token problem and gets no challenge.
    let challenge = match err {
        Error::MissingOrInvalidHeader(_) => Some("Bearer"),
        Error::AccessDenied(_) => Some("Bearer error=\"invalid_token\""),
        Error::InsufficientScope(_) => Some("Bearer error=\"insufficient_scope\""),
        _ => None,
    };
    if let Some(challenge) = challenge {
        builder.insert_header((header::WWW_AUTHENTICATE, challenge));
    }
    resource(builder, &outcome::from_error(err), format)
}

/// `Last-Modified` from a stored `YYYY-MM-DDTHH:MM:SS.mmmZ` time.
pub fn http_date(last_updated: &str) -> Option<String> {
    column_http_date(last_updated).or_else(|| {
        let at = crate::registry::instant::parse(last_updated).ok()?;
        let system: std::time::SystemTime = at.into();
        // httpdate panics on a time before 1970 (a version SQL wrote by hand can hold one):
        // then there is no Last-Modified.
        if system < std::time::UNIX_EPOCH {
            return None;
        }
        Some(header::HttpDate::from(system).to_string())
    })
}

/// [`http_date`] for the registry's own column format, by hand: every read and write answers
/// with it, and parsing the instant and formatting it again cost 1.5 k instructions of a
/// read's 90 k. Anything else (a time SQL wrote by hand) takes the general path. A test checks
/// the two agree.
fn column_http_date(text: &str) -> Option<String> {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = text.as_bytes();
    let shape = b"0000-00-00T00:00:00.000Z";
    if b.len() != shape.len()
        || !b.iter().zip(shape).all(|(c, s)| {
            if *s == b'0' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
    {
        return None;
    }
    let num = |from: usize, to: usize| text[from..to].parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
        || year < 1970
    {
        return None;
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil); that day was a Thursday.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut out = String::with_capacity(29);
    out.push_str(DAYS[days.rem_euclid(7) as usize]);
    out.push_str(", ");
    out.push_str(&text[8..10]);
    out.push(' ');
    out.push_str(MONTHS[(month - 1) as usize]);
    out.push(' ');
    out.push_str(&text[0..4]);
    out.push(' ');
    out.push_str(&text[11..19]);
    out.push_str(" GMT");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(text: &str) -> Option<String> {
        let at = crate::registry::instant::parse(text).ok()?;
        let system: std::time::SystemTime = at.into();
        Some(header::HttpDate::from(system).to_string())
    }

    /// The hand-written Last-Modified is httpdate's, for every day from 1970 to 2400 (leap
    /// days and century years included) at several times of day.
    #[test]
    fn the_column_http_date_is_httpdates() {
        let mut day = time::Date::from_calendar_date(1970, time::Month::January, 1).unwrap();
        let end = time::Date::from_calendar_date(2400, time::Month::March, 1).unwrap();
        let mut n = 0u32;
        while day < end {
            let clock = ["00:00:00.000", "09:05:07.120", "23:59:59.999"][(n % 3) as usize];
            let text = format!(
                "{:04}-{:02}-{:02}T{clock}Z",
                day.year(),
                u8::from(day.month()),
                day.day()
            );
            assert_eq!(column_http_date(&text), general(&text), "{text}");
            day = day.next_day().unwrap();
            n += 1;
        }
    }

    /// Text that is not the column's format, or not a date, is left to the general path.
    #[test]
    fn other_text_takes_the_general_path() {
        for text in [
            "",
            "2025-02-29T00:00:00.000Z",
            "2025-13-01T00:00:00.000Z",
            "2025-00-01T00:00:00.000Z",
            "2025-01-00T00:00:00.000Z",
            "2025-01-01T24:00:00.000Z",
            "2025-01-01T00:60:00.000Z",
            "2025-01-01T00:00:60.000Z",
            "1969-12-31T23:59:59.000Z",
            "2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00.000+00:00",
            "2025-01-01 00:00:00.000Z",
            "２025-01-01T00:00:00.000Z",
            "+025-01-01T00:00:00.000Z",
        ] {
            assert_eq!(column_http_date(text), None, "{text}");
        }
        assert_eq!(
            http_date("2025-01-01T00:00:00+00:00").as_deref(),
            Some("Wed, 01 Jan 2025 00:00:00 GMT")
        );
        // Before 1970 there is no HTTP date (httpdate would panic): no Last-Modified.
        for text in ["1969-12-31T23:59:59.000Z", "1900-01-01T00:00:00+00:00"] {
            assert_eq!(http_date(text), None, "{text}");
        }
        assert_eq!(
            http_date("1970-01-01T00:00:00.000Z").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }
}
