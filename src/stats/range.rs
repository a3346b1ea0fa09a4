//! Inclusive date ranges from `start`/`end` query parameters.

use chrono::{Days, NaiveDate};

/// The longest range a statistics request may cover.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    /// Every date from `start` to `end`, both included.
    pub fn dates(self) -> impl Iterator<Item = NaiveDate> {
        self.start.iter_days().take_while(move |d| *d <= self.end)
    }
}

/// Why a date or a range is refused (the API answers it as a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`{name}` must be a date written YYYY-MM-DD, not `{value}`")]
    NotADate { name: String, value: String },
    #[error("`{name}` must be a real date written YYYY-MM-DD, not `{value}`")]
    NoSuchDate { name: String, value: String },
    #[error("`start` ({start}) is after `end` ({end})")]
    Reversed { start: NaiveDate, end: NaiveDate },
    #[error("the range covers {days} days; at most {MAX_DAYS} are allowed")]
    TooLong { days: i64 },
}

pub fn parse_date(name: &str, value: &str) -> Result<NaiveDate, RangeError> {
    let v = value.trim();
    let (name, value) = (name.to_string(), value.to_string());
    if v.len() != 10 {
        return Err(RangeError::NotADate { name, value });
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| RangeError::NoSuchDate { name, value })
}

/// A date, or the word `today` (the business date now), as the attempts path takes it.
fn date_or_today(name: &str, value: &str, today: NaiveDate) -> Result<NaiveDate, RangeError> {
    if value.trim().eq_ignore_ascii_case("today") {
        return Ok(today);
    }
    parse_date(name, value)
}

/// Both ends inclusive, each a date or `today`. Default: the 7 days ending `today`; with
/// only `start`, up to `today`; with only `end`, the 7 days ending then.
pub fn parse_range(
    start: Option<&str>,
    end: Option<&str>,
    today: NaiveDate,
) -> Result<DateRange, RangeError> {
    let end = match end.filter(|s| !s.trim().is_empty()) {
        Some(e) => date_or_today("end", e, today)?,
        None => today,
    };
    let start = match start.filter(|s| !s.trim().is_empty()) {
        Some(s) => date_or_today("start", s, today)?,
        None => end.checked_sub_days(Days::new(6)).unwrap_or(end),
    };
    if start > end {
        return Err(RangeError::Reversed { start, end });
    }
    let days = (end - start).num_days() + 1;
    if days > MAX_DAYS {
        return Err(RangeError::TooLong { days });
    }
    Ok(DateRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn ranges_are_inclusive_with_a_seven_day_default() {
        let today = d("2026-11-23");
        let r = parse_range(None, None, today).expect("default");
        assert_eq!((r.start, r.end), (d("2026-11-17"), today));
        assert_eq!(r.dates().count(), 7);
        let r = parse_range(Some("today"), Some("Today"), today).expect("today");
        assert_eq!((r.start, r.end), (today, today));
        let r = parse_range(Some("2026-01-20"), Some("2026-01-22"), today).expect("explicit");
        let dates: Vec<String> = r.dates().map(|d| d.to_string()).collect();
        assert_eq!(dates, ["2026-01-20", "2026-01-21", "2026-01-22"]);
        assert_eq!(
            parse_range(Some("2026-11-23"), None, today)
                .expect("start only")
                .dates()
                .count(),
            1
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let today = d("2026-11-23");
        for (s, e) in [
            (Some("2026-02-30"), None),
            (Some("2026-1-5"), None),
            (None, Some("yesterday")),
            (Some("2026-11-24"), Some("2026-11-23")),
            (Some("2025-01-01"), Some("2026-11-23")),
        ] {
            assert!(parse_range(s, e, today).is_err(), "{s:?} {e:?}");
        }
        assert!(
            parse_range(Some("2025-11-23"), Some("2026-11-23"), today).is_ok(),
            "366 days"
        );
    }
}
