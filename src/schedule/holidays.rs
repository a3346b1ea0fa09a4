//! Holiday dates written as rules, so the rules file stays right year after year:
//!
//! - `MM-DD` — a fixed date; with `observed`, also the Friday before when it falls on a
//!   Saturday and the Monday after when it falls on a Sunday (5 U.S.C. 6103). Both the
//!   actual and the observed date count.
//! - `3rd mon jan`, `last mon may` — the n-th (1st–5th, last) weekday of a month,
//!   optionally shifted by whole days: `4th thu nov +1` is the day after Thanksgiving.
//! - `easter -2` — days from Western Easter Sunday (Good Friday).
//! - `YYYY-MM-DD` — one date (a proclamation, an election day).

use crate::store::document::Invalid;
use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// One holiday as written in the rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaySpec {
    pub name: String,
    pub date: String,
    #[serde(default)]
    pub observed: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Fixed {
        month: u32,
        day: u32,
    },
    Nth {
        n: i8,
        weekday: Weekday,
        month: u32,
        shift: i64,
    },
    Easter {
        shift: i64,
    },
    Once(NaiveDate),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month(text: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == text).map(|i| i as u32 + 1)
}

fn weekday(text: &str) -> Option<Weekday> {
    text.parse::<Weekday>().ok()
}

fn shift(text: Option<&str>) -> Result<i64, ()> {
    match text {
        None => Ok(0),
        Some(t) if t.starts_with('+') || t.starts_with('-') => t.parse().map_err(|_| ()),
        Some(_) => Err(()),
    }
}

fn parse(spec: &str) -> Result<Rule, Invalid> {
    let bad = || {
        Invalid(format!(
            "`{spec}` is not a holiday rule (MM-DD, `3rd mon jan`, `last mon may +1`, `easter -2` or YYYY-MM-DD)"
        ))
    };
    let text = spec.trim().to_ascii_lowercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [date] if date.len() == 10 => NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(Rule::Once)
            .map_err(|_| bad()),
        [date] if date.len() == 5 => {
            let (m, d) = date.split_once('-').ok_or_else(bad)?;
            let (month, day) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
            // 2024 is a leap year, so 02-29 is accepted (and only exists in leap years).
            NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(bad)?;
            Ok(Rule::Fixed { month, day })
        }
        ["easter", rest @ ..] if rest.len() <= 1 => Ok(Rule::Easter {
            shift: shift(rest.first().copied()).map_err(|_| bad())?,
        }),
        [nth, wd, mon, rest @ ..] if rest.len() <= 1 => {
            let n = match *nth {
                "1st" => 1,
                "2nd" => 2,
                "3rd" => 3,
                "4th" => 4,
                "5th" => 5,
                "last" => -1,
                _ => return Err(bad()),
            };
            Ok(Rule::Nth {
                n,
                weekday: weekday(wd).ok_or_else(bad)?,
                month: month(mon).ok_or_else(bad)?,
                shift: shift(rest.first().copied()).map_err(|_| bad())?,
            })
        }
        _ => Err(bad()),
    }
}

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm.
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

fn dates(rule: &Rule, observed: bool, year: i32) -> Vec<NaiveDate> {
    let date = match rule {
        Rule::Once(d) => return if d.year() == year { vec![*d] } else { vec![] },
        Rule::Fixed { month, day } => NaiveDate::from_ymd_opt(year, *month, *day),
        Rule::Nth {
            n,
            weekday,
            month,
            shift,
        } => {
            let found = if *n > 0 {
                NaiveDate::from_weekday_of_month_opt(year, *month, *weekday, *n as u8)
            } else {
                (1..=5)
                    .rev()
                    .find_map(|k| NaiveDate::from_weekday_of_month_opt(year, *month, *weekday, k))
            };
            found.map(|d| d + Duration::days(*shift))
        }
        Rule::Easter { shift } => easter(year).map(|d| d + Duration::days(*shift)),
    };
    let Some(date) = date else {
        return vec![];
    };
    let mut out = vec![date];
    if observed {
        match date.weekday() {
            Weekday::Sat => out.push(date - Duration::days(1)),
            Weekday::Sun => out.push(date + Duration::days(1)),
            _ => {}
        }
    }
    out
}

/// Checks every spec; the error names the holiday.
pub fn validate(specs: &[HolidaySpec]) -> Result<(), Invalid> {
    for s in specs {
        parse(&s.date).map_err(|e| format!("holiday `{}`: {e}", s.name))?;
    }
    Ok(())
}

/// The first and last year holiday calendars are expanded for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Every date of `specs` in [`YEARS`], with the holiday's name (an observed date is named
/// "… (observed)").
pub fn calendar(specs: &[HolidaySpec]) -> Result<HashMap<NaiveDate, String>, Invalid> {
    let mut out = HashMap::new();
    for s in specs {
        let rule = parse(&s.date).map_err(|e| format!("holiday `{}`: {e}", s.name))?;
        for year in YEARS {
            for (i, d) in dates(&rule, s.observed, year).into_iter().enumerate() {
                let name = if i == 0 {
                    s.name.clone()
                } else {
                    format!("{} (observed)", s.name)
                };
                out.entry(d).or_insert(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn spec(date: &str, observed: bool) -> HolidaySpec {
        HolidaySpec {
            name: "x".into(),
            date: date.into(),
            observed,
        }
    }

    #[test]
    fn rules_expand_to_the_published_dates() {
        let cal = |s: &str, obs: bool| calendar(&[spec(s, obs)]).expect("valid");
        assert!(cal("3rd mon jan", false).contains_key(&d("2026-01-19")));
        assert!(cal("last mon may", false).contains_key(&d("2027-05-31")));
        assert!(cal("4th thu nov", false).contains_key(&d("2026-11-26")));
        assert!(cal("4th thu nov +1", false).contains_key(&d("2026-11-27")));
        assert!(cal("easter -2", false).contains_key(&d("2026-04-03")));
        assert!(cal("easter -47", false).contains_key(&d("2026-02-17")));
        // Independence Day 2026 is a Saturday: observed Friday 3 July; both dates count.
        let july = cal("07-04", true);
        assert!(july.contains_key(&d("2026-07-03")) && july.contains_key(&d("2026-07-04")));
        // New Year 2028 is a Saturday: observed Friday 31 December 2027.
        assert!(cal("01-01", true).contains_key(&d("2027-12-31")));
        assert!(cal("2026-11-03", false).contains_key(&d("2026-11-03")));
        assert_eq!(cal("2026-11-03", false).len(), 1);
    }

    #[test]
    fn easter_matches_known_years() {
        for (year, date) in [
            (2024, "2024-03-31"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
        ] {
            assert_eq!(easter(year), Some(d(date)));
        }
    }

    #[test]
    fn bad_rules_name_the_holiday() {
        for bad in [
            "13-01",
            "02-30",
            "6th mon jan",
            "3rd xyz jan",
            "easter 2",
            "soon",
        ] {
            let err = validate(&[spec(bad, false)]).expect_err(bad);
            assert!(err.0.starts_with("holiday `x`"), "{err}");
        }
    }
}
