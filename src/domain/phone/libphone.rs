//! libphonenumber's parse (`PhoneNumberUtil.parseHelper`) for spellings the NANP fast path
//! does not take, on the `phonenumber` crate's metadata: the country code from a leading
//! `+` or the default country's international prefix (or from the front of a national
//! number, where only that reading is a valid number); then the national prefix and
//! carrier code stripped only where libphonenumber strips them — when the stripped number
//! is still viable and long enough. Patterns are compiled once per region, anchored.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, OnceLock, RwLock};

use phonenumber::metadata::{Metadata, DATABASE};
use regex::Regex;

use super::PhoneError;

/// A region's patterns, anchored the way libphonenumber applies them.
struct Patterns {
    /// The whole national number matches the general description.
    general: Regex,
    /// The national prefix (and carrier code), matched at the start (`lookingAt`).
    national_prefix: Option<Regex>,
    /// The default country's international prefix (`011`, `00`), at the start.
    international_prefix: Option<Regex>,
    transform: Option<String>,
    /// Possible lengths of the national number, and the local-only ones.
    lengths: (Vec<u16>, Vec<u16>),
}

/// Metadata patterns keep the XML's line breaks and indentation; libphonenumber drops
/// every white-space character before compiling them.
fn anchored(pattern: &str, whole: bool) -> Option<Regex> {
    let pattern: String = pattern.chars().filter(|c| !c.is_whitespace()).collect();
    let source = if whole {
        format!("^(?:{pattern})$")
    } else {
        format!("^(?:{pattern})")
    };
    Regex::new(&source).ok()
}

/// `$1` in a transform rule as the regex crate reads it (`${1}`: `$15` is not group 15).
fn transform_rule(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len() + 4);
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(d) if c == '$' && d.is_ascii_digit() => {
                out.push_str("${");
                out.push(*d);
                out.push('}');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn patterns(meta: &Metadata) -> Arc<Patterns> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<Patterns>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.read().ok().and_then(|c| c.get(meta.id()).cloned()) {
        return p;
    }
    let national_prefix = meta
        .national_prefix_for_parsing()
        .map(|r| r.as_str().to_string())
        .or_else(|| meta.national_prefix().map(regex::escape));
    let p = Arc::new(Patterns {
        // An unreadable pattern matches nothing: no stripping, no country code taken.
        general: anchored(
            meta.descriptors().general().national_number().as_str(),
            true,
        )
        .unwrap_or_else(|| Regex::new("$^").expect("constant pattern")),
        national_prefix: national_prefix.and_then(|p| anchored(&p, false)),
        international_prefix: meta
            .international_prefix()
            .and_then(|r| anchored(r.as_str(), false)),
        transform: meta.national_prefix_transform_rule().map(transform_rule),
        lengths: lengths(meta),
    });
    if let Ok(mut c) = cache.write() {
        c.insert(meta.id().to_string(), p.clone());
    }
    p
}

/// The metadata of a region (`US`, `GB`), if libphonenumber knows it.
pub fn region(id: &str) -> Option<&'static Metadata> {
    let id = phonenumber::country::Id::from_str(id).ok()?;
    DATABASE.by_id(id.as_ref())
}

/// The metadata libphonenumber uses for a calling code: its main country's.
fn for_code(code: u16) -> Option<&'static Metadata> {
    let all = DATABASE.by_code(&code)?;
    all.iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| all.first())
        .copied()
}

#[derive(Debug, PartialEq, Eq)]
enum Length {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

/// The lengths of every number type of a region (libphonenumber's general description
/// holds their union; the crate leaves it empty), and the local-only ones.
fn lengths(meta: &Metadata) -> (Vec<u16>, Vec<u16>) {
    let d = meta.descriptors();
    let all = [
        Some(d.general()),
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ];
    let (mut lengths, mut local) = (Vec::new(), Vec::new());
    for desc in all.into_iter().flatten() {
        lengths.extend_from_slice(desc.possible_length());
        local.extend_from_slice(desc.possible_local_length());
    }
    for v in [&mut lengths, &mut local] {
        v.sort_unstable();
        v.dedup();
    }
    local.retain(|n| !lengths.contains(n));
    (lengths, local)
}

/// libphonenumber's `testNumberLength` for an unknown number type.
fn length(meta: &Metadata, national: &str) -> Length {
    let p = patterns(meta);
    let (lengths, local) = &p.lengths;
    let n = national.len() as u16;
    let (Some(min), Some(max)) = (lengths.iter().min(), lengths.iter().max()) else {
        return Length::Invalid;
    };
    if local.contains(&n) {
        Length::LocalOnly
    } else if n < *min {
        Length::TooShort
    } else if n > *max {
        Length::TooLong
    } else if lengths.contains(&n) {
        Length::Possible
    } else {
        Length::Invalid
    }
}

/// libphonenumber's `maybeStripNationalPrefixAndCarrierCode`: the national number with its
/// prefix removed (or transformed), unless that would make a viable number unviable.
fn strip_national_prefix(p: &Patterns, national: &str) -> Option<String> {
    let re = p.national_prefix.as_ref()?;
    let caps = re.captures(national)?;
    let whole = caps.get(0)?;
    let viable = p.general.is_match(national);
    let last = caps.iter().skip(1).last().flatten();
    match (&p.transform, last) {
        (Some(rule), Some(_)) => {
            let mut out = String::new();
            caps.expand(rule, &mut out);
            out.push_str(&national[whole.end()..]);
            (!viable || p.general.is_match(&out)).then_some(out)
        }
        _ => {
            let stripped = &national[whole.end()..];
            (!viable || p.general.is_match(stripped)).then(|| stripped.to_string())
        }
    }
}

/// A leading country code of one to three digits that libphonenumber knows.
fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        DATABASE.by_code(&code).map(|_| (code, &digits[len..]))
    })
}

/// Parses `digits` (as written, `plus` if it began with `+`) the way libphonenumber does
/// with `default_country` as the region; returns the E.164 string.
pub fn parse(
    input: &str,
    plus: bool,
    digits: &str,
    default_country: &str,
) -> Result<String, PhoneError> {
    let not_possible = |why| PhoneError::NotPossible(input.into(), why);
    let default = region(default_country);
    let after_idd = (!plus)
        .then(|| {
            let p = patterns(default?);
            let m = p.international_prefix.as_ref()?.find(digits)?;
            let rest = &digits[m.end()..];
            (!rest.starts_with('0')).then_some(rest)
        })
        .flatten();
    let (code, national) = match (plus, after_idd, default) {
        (true, _, _) => split_country_code(digits).ok_or(not_possible("unknown country code"))?,
        (false, Some(rest), _) => {
            split_country_code(rest).ok_or(not_possible("unknown country code"))?
        }
        (false, None, Some(meta)) => {
            let code = meta.country_code();
            let p = patterns(meta);
            let national = digits
                .strip_prefix(&code.to_string())
                .filter(|rest| {
                    (!p.general.is_match(digits) && p.general.is_match(rest))
                        || length(meta, digits) == Length::TooLong
                })
                .unwrap_or(digits);
            (code, national)
        }
        (false, None, None) => return Err(not_possible("no country code")),
    };
    let meta = for_code(code).ok_or(not_possible("unknown country code"))?;
    let mut national = national.to_string();
    if let Some(stripped) = strip_national_prefix(&patterns(meta), &national) {
        if !matches!(
            length(meta, &stripped),
            Length::TooShort | Length::LocalOnly | Length::Invalid
        ) {
            national = stripped;
        }
    }
    if national.len() < 2 {
        return Err(not_possible("too short"));
    }
    if length(meta, &national) != Length::Possible {
        return Err(not_possible("wrong length for its country"));
    }
    if code == 1 && national.len() != 10 {
        return Err(not_possible("NANP numbers have 10 digits after +1"));
    }
    Ok(format!("+{code}{national}"))
}
