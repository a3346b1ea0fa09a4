//! Numbers that must never be dialled, by class (calling-rules §5.1). Each class can be
//! switched off in the protection config. Numbers that are not even *possible* are refused
//! at intake (400), so they never reach this check.

use serde::{Deserialize, Serialize};

use crate::domain::PhoneNumber;

/// Which classes are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidClasses {
    /// NANP area code or exchange starting with 0 or 1.
    pub nanp_format: bool,
    /// N11 service codes (211 … 911) as area code or exchange.
    pub n11: bool,
    /// 555-0100 … 555-0199, fictional in every area code.
    pub fictional: bool,
    /// 800, 833, 844, 855, 866, 877, 888.
    pub toll_free: bool,
    /// 900.
    pub premium: bool,
    /// A number outside the NANP that matches none of its country's number patterns in
    /// libphonenumber's metadata (possible by length, not a real number).
    #[serde(default = "yes")]
    pub international: bool,
}

fn yes() -> bool {
    true
}

impl Default for InvalidClasses {
    fn default() -> Self {
        Self {
            nanp_format: true,
            n11: true,
            fictional: true,
            toll_free: true,
            premium: true,
            international: true,
        }
    }
}

pub const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

fn is_n11(code: &[u8]) -> bool {
    code.len() == 3 && code[1] == b'1' && code[2] == b'1' && code[0] != b'1' && code[0] != b'0'
}

/// Why `phone` must not be dialled, if it must not.
pub fn refuse(phone: &PhoneNumber, on: &InvalidClasses) -> Option<String> {
    if !phone.is_nanp() {
        return (on.international && !phone.is_valid_for_country()).then(|| {
            format!("invalid number: {phone} is not a valid number of its country (libphonenumber's metadata)")
        });
    }
    // +1 NPA NXX XXXX
    let digits = phone.as_str().as_bytes().get(2..)?;
    if digits.len() != 10 {
        return None;
    }
    let (npa, nxx, line) = (&digits[..3], &digits[3..6], &digits[6..]);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if on.nanp_format && matches!(npa[0], b'0' | b'1') {
        return Some(format!(
            "invalid number: area code {} starts with {}",
            text(npa),
            npa[0] as char
        ));
    }
    if on.nanp_format && matches!(nxx[0], b'0' | b'1') {
        return Some(format!(
            "invalid number: exchange {} starts with {}",
            text(nxx),
            nxx[0] as char
        ));
    }
    if on.n11 && is_n11(npa) {
        return Some(format!(
            "invalid number: {} is an N11 service code",
            text(npa)
        ));
    }
    if on.n11 && is_n11(nxx) {
        return Some(format!(
            "invalid number: exchange {} is an N11 service code",
            text(nxx)
        ));
    }
    if on.fictional && nxx == b"555" && line.starts_with(b"01") {
        return Some(format!(
            "invalid number: 555-{} is in the fictional 555-0100…0199 range",
            text(line)
        ));
    }
    let area = text(npa);
    if on.toll_free && TOLL_FREE.contains(&area.as_str()) {
        return Some(format!("invalid number: {area} is a toll-free area code"));
    }
    if on.premium && area == "900" {
        return Some("invalid number: 900 is a premium-rate area code".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(n: &str) -> Option<String> {
        refuse(
            &PhoneNumber::parse(n, "US").expect("possible"),
            &InvalidClasses::default(),
        )
    }

    #[test]
    fn each_class_is_refused_with_its_reason() {
        let cases = [
            ("+11055551234", "area code 105 starts with 1"),
            ("+12050551234", "exchange 055 starts with 0"),
            ("+14115551234", "411 is an N11"),
            ("+12059115555", "exchange 911 is an N11"),
            ("+13055550101", "fictional"),
            ("+18005551234", "800 is a toll-free"),
            ("+18885551234", "888 is a toll-free"),
            ("+19005551234", "premium-rate"),
        ];
        for (n, expected) in cases {
            let got = why(n).unwrap_or_default();
            assert!(got.contains(expected), "{n}: {got}");
        }
        for ok in [
            "+13055551234",
            "+13055550200",
            "+12125550099",
            "+442079460958",
            "+4915123456789",
        ] {
            assert_eq!(why(ok), None, "{ok}");
        }
    }

    #[test]
    fn international_numbers_that_match_no_pattern_of_their_country_are_refused() {
        // Possible by length, valid by no pattern: libphonenumber's own invalid examples
        // (`invalid_example_number` of GB, DE, IN, AU, JP in phonenumbers 9.0.43).
        for bad in [
            "+44121234567",
            "+493012",
            "+91741041012",
            "+6121234567",
            "+8131234567",
        ] {
            let n = PhoneNumber::parse(bad, "US").expect("possible");
            let got = refuse(&n, &InvalidClasses::default()).unwrap_or_default();
            assert!(
                got.contains("not a valid number of its country"),
                "{bad}: {got}"
            );
            let off = InvalidClasses {
                international: false,
                ..Default::default()
            };
            assert_eq!(refuse(&n, &off), None);
        }
    }

    #[test]
    fn each_class_can_be_switched_off() {
        let n = PhoneNumber::parse("+18005551234", "US").expect("possible");
        let off = InvalidClasses {
            toll_free: false,
            ..Default::default()
        };
        assert_eq!(refuse(&n, &off), None);
        let n = PhoneNumber::parse("+13055550150", "US").expect("possible");
        let off = InvalidClasses {
            fictional: false,
            ..Default::default()
        };
        assert_eq!(refuse(&n, &off), None);
    }
}
