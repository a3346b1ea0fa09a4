//! E.164 phone numbers. A hand-written NANP fast path handles the US/Canada spellings a
//! dialer sends (`305-555-1234`, `(305) 555-1234`, `13055551234`, `+1 305 555 1234`);
//! every other country goes through [`libphone`], libphonenumber's parse run on the
//! `phonenumber` crate's metadata (the crate's own parser strips the default country's
//! national prefix from numbers that carry their own country code, and dials São Paulo's
//! `+55 11 2345-6789` as `+5523456789`). `tests/data/phone_spellings.csv`, generated with
//! libphonenumber itself, is the test: every spelling gives its number or is refused.
//!
//! Extensions (`ext 9`, `x9`, `#9`) are refused: Bland cannot dial them, and dropping
//! them silently would call (or block) the main line in the caller's name.
//!
//! "Possible" here means libphonenumber's notion: a known country code and a national
//! number of a length that country uses. Whether a NANP area code or exchange is assigned
//! is a protection rule, not a parse error.

use std::fmt;

use serde::{Serialize, Serializer};

mod libphone;

/// A phone number in E.164 form (`+13055551234`).
///
/// ```
/// use callgate::domain::PhoneNumber;
///
/// let a = PhoneNumber::parse("(305) 555-1234", "US").unwrap();
/// let b = PhoneNumber::parse("+1 305 555 1234", "US").unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "+13055551234");
/// assert_eq!(a.area_code(), Some("305"));
/// assert!(PhoneNumber::parse("555-1234", "US").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("`{0}` contains characters that are not part of a phone number")]
    BadCharacters(String),
    #[error("`{0}` is not a possible phone number ({1})")]
    NotPossible(String, &'static str),
    #[error("`{0}` has an extension; extensions cannot be dialled, give the number alone")]
    Extension(String),
    #[error("`{0}` is too long for a phone number (at most {MAX_INPUT} characters)")]
    TooLong(String),
}

/// The longest spelling we read (the longest E.164 number is 16 characters).
pub const MAX_INPUT: usize = 64;

/// Characters a human puts between digits.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\t')
}

impl PhoneNumber {
    /// Parses any common spelling; numbers without a country code take `default_country`
    /// (ISO 3166 alpha-2, e.g. `US`).
    pub fn parse(input: &str, default_country: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if trimmed.len() > MAX_INPUT {
            let shown: String = trimmed.chars().take(24).collect();
            return Err(PhoneError::TooLong(format!("{shown}…")));
        }
        let Some((plus, digits)) = compact_digits(trimmed) else {
            return Err(if has_extension(trimmed) {
                PhoneError::Extension(trimmed.into())
            } else {
                PhoneError::BadCharacters(trimmed.into())
            });
        };
        let nanp_default = is_nanp_region(default_country);
        let national = match (plus, digits.len()) {
            (true, 11) if digits.starts_with('1') => &digits[1..],
            (false, 10) if nanp_default => &digits[..],
            (false, 11) if nanp_default && digits.starts_with('1') => &digits[1..],
            (false, n) if nanp_default && n < 10 => {
                return Err(PhoneError::NotPossible(trimmed.into(), "too short"))
            }
            (true, _) if digits.starts_with('1') => {
                return Err(PhoneError::NotPossible(
                    trimmed.into(),
                    "NANP numbers have 10 digits after +1",
                ))
            }
            _ => return libphone::parse(trimmed, plus, &digits, default_country).map(Self),
        };
        Ok(Self(format!("+1{national}")))
    }

    /// The E.164 string, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for +1 numbers (US, Canada and the other NANP countries).
    pub fn is_nanp(&self) -> bool {
        self.0.starts_with("+1") && self.0.len() == 12
    }

    /// Whether libphonenumber's metadata (the copy the `phonenumber` crate ships) holds a
    /// number pattern of its country that this number matches — fixed line, mobile, toll
    /// free and the rest. Every NANP number answers true here: the NANP's own rules are
    /// the protection check's (`tracker::numbers`). Costs a few µs behind the crate's
    /// lock, so it is asked only for other countries.
    pub fn is_valid_for_country(&self) -> bool {
        if self.0.starts_with("+1") {
            return true;
        }
        phonenumber::parse(None, &self.0).is_ok_and(|n| phonenumber::is_valid(&n))
    }

    /// The three-digit NANP area code, if this is a NANP number.
    pub fn area_code(&self) -> Option<&str> {
        self.is_nanp().then(|| &self.0[2..5])
    }

    /// Wraps a string already known to be E.164 (e.g. read back from our own files).
    pub fn from_e164_unchecked(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// `12 34 ext 5`, `12 34 x5`, `12 34 #5`, `12 34;ext=5`.
fn has_extension(input: &str) -> bool {
    let lower = input.to_ascii_lowercase();
    lower.contains("ext") || lower.contains('#') || lower.contains('x')
}

/// `Some((had_plus, digits))` when the input is digits and separators only.
fn compact_digits(input: &str) -> Option<(bool, String)> {
    let (plus, rest) = match input.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !is_separator(c) {
            return None;
        }
    }
    Some((plus, digits))
}

/// The regions of calling code 1 (libphonenumber's list), without a metadata lookup.
fn is_nanp_region(country: &str) -> bool {
    const NANP: [&str; 25] = [
        "US", "CA", "AG", "AI", "AS", "BB", "BM", "BS", "DM", "DO", "GD", "GU", "JM", "KN", "KY",
        "LC", "MP", "MS", "PR", "SX", "TC", "TT", "VC", "VG", "VI",
    ];
    NANP.iter().any(|r| r.eq_ignore_ascii_case(country))
}

/// The calling code of an ISO country (`US` → 1), or `None` if unknown.
pub fn country_calling_code(country: &str) -> Option<u16> {
    libphone::region(country).map(|m| m.country_code())
}

/// Decodes the phone metadata now, so the first request does not pay for it.
pub fn warm_up() {
    let _ = PhoneNumber::parse("+44 20 7946 0958", "US");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_us_spelling_is_one_number() {
        for s in [
            "305-555-1234",
            "(305) 555-1234",
            "305.555.1234",
            "3055551234",
            "13055551234",
            "+1 305 555 1234",
            "+13055551234",
            " 1-305-555-1234 ",
        ] {
            assert_eq!(
                PhoneNumber::parse(s, "US").map(|p| p.0),
                Ok("+13055551234".into()),
                "{s}"
            );
        }
    }

    #[test]
    fn international_numbers_normalise() {
        let p = PhoneNumber::parse("+44 20 7946 0958", "US").expect("UK number");
        assert_eq!(p.as_str(), "+442079460958");
        assert!(!p.is_nanp());
        let p = PhoneNumber::parse("020 7946 0958", "GB").expect("UK national");
        assert_eq!(p.as_str(), "+442079460958");
    }

    #[test]
    fn impossible_numbers_are_refused() {
        for s in [
            "",
            "12345",
            "555-1234",
            "abc",
            "+1 305 555 12345",
            "30555512345678",
            "+999 1234",
            "(312) 222-0100 ext 9",
            "312-222-0100 x9",
            "+44 20 7946 0958 #12",
        ] {
            assert!(
                PhoneNumber::parse(s, "US").is_err(),
                "{s} should be refused"
            );
        }
    }

    #[test]
    fn the_nanp_region_list_is_libphonenumbers() {
        for region in ["US", "ca", "PR", "VI", "JM"] {
            assert!(is_nanp_region(region));
            assert_eq!(country_calling_code(&region.to_uppercase()), Some(1));
        }
        assert!(!is_nanp_region("GB") && !is_nanp_region("MX"));
    }

    #[test]
    fn area_code_of_nanp_numbers() {
        let p = PhoneNumber::parse("(915) 555-0100", "US").expect("valid");
        assert_eq!(p.area_code(), Some("915"));
    }
}

#[cfg(test)]
mod libphonenumber_table;
