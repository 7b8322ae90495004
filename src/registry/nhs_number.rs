//! NHS number: 10 digits whose last is a Modulus 11 check digit.

use crate::error::Problem;
use crate::spine::SpineCode;

/// True when `candidate` is ten ASCII digits with a valid Modulus 11 check digit.
pub fn is_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if candidate.len() != 10 || digits.len() != 10 {
        return false;
    }
    check_digit(&digits[..9]) == Some(digits[9])
}

/// The check digit of the first nine digits: weights 10..2; check = 11 − (sum mod 11);
/// 11 → 0; 10 → None (no valid number has those nine digits).
pub fn check_digit(first_nine: &[u32]) -> Option<u32> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

/// NHS numbers failing Modulus 11 get their own Spine code.
pub fn check(path: &str, nhs: &str, problems: &mut Vec<Problem>) -> bool {
    if is_valid(nhs) {
        return true;
    }
    problems.push(
        Problem::new(
            "value",
            SpineCode::InvalidNhsNumber,
            format!("'{nhs}' is not a valid NHS number (10 digits with a Modulus 11 check digit)"),
        )
        .at(path),
    );
    false
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn sample_body_number_passes_and_page_example_fails() {
        assert!(is_valid("1234554321"));
        assert!(!is_valid("1234567890"));
    }

    #[test]
    fn known_valid_numbers() {
        // Published test numbers, and one whose remainder is 0 (check digit 0 from 11).
        for n in ["9000000009", "9434765919", "4010232137", "9999999999"] {
            assert!(is_valid(n), "{n}");
        }
    }

    #[test]
    fn wrong_check_digit_length_or_characters_fail() {
        for n in [
            "9000000008",
            "900000000",
            "90000000090",
            "90000000O9",
            "",
            "+900000009",
            "١٢٣٤٥٥٤٣٢١",
        ] {
            assert!(!is_valid(n), "{n}");
        }
    }

    #[test]
    fn remainder_one_is_never_valid() {
        // 5 × weight 9 = 45; 45 mod 11 = 1; 11 − 1 = 10: no check digit can make this valid.
        for last in 0..=9 {
            assert!(!is_valid(&format!("050000000{last}")));
        }
    }
}
