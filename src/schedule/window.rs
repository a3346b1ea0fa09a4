//! Weekly calling windows evaluated in an IANA zone. A [`WeekRule`] gives each weekday a
//! window or "closed", and may treat a set of dates (holidays, blackout dates) specially.
//! Start is inclusive and end exclusive, at one-second resolution: with 09:00–17:00,
//! 16:59:59 is open and 17:00:00 is closed. `24:00` as an end means midnight.

use crate::store::document::Invalid;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Seconds after local midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
}

/// Parses `HH:MM` (00:00–24:00).
pub fn parse_hhmm(text: &str) -> Result<u32, Invalid> {
    let bad = || {
        Invalid(format!(
            "`{text}` is not a time of day (HH:MM, 00:00 to 24:00)"
        ))
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

pub fn format_hhmm(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

impl Window {
    /// From `HH:MM` texts; the end must come after the start.
    pub fn parse(start: &str, end: &str) -> Result<Self, Invalid> {
        let (s, e) = (parse_hhmm(start)?, parse_hhmm(end)?);
        if s == 24 * 3600 {
            return Err("a window cannot start at 24:00".into());
        }
        if e <= s {
            return Err(Invalid(format!("end {end} is not after start {start}")));
        }
        Ok(Self { start: s, end: e })
    }

    pub fn contains(&self, secs: u32) -> bool {
        self.start <= secs && secs < self.end
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", format_hhmm(self.start), format_hhmm(self.end))
    }
}

/// One day's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Open(Window),
    Closed,
}

/// Special dates (holidays, blackout dates) with their names, and what applies on them.
#[derive(Debug, Clone)]
pub struct Special {
    pub dates: Arc<HashMap<NaiveDate, String>>,
    pub day: Day,
}

/// A weekly rule in some zone, named for reasons (`business hours`, `federal`, `FL`).
#[derive(Debug, Clone)]
pub struct WeekRule {
    pub name: String,
    /// Monday first.
    pub days: [Day; 7],
    pub special: Vec<Special>,
}

/// Why a rule is closed at an instant, for the defer/block reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub reason: String,
}

impl WeekRule {
    /// What applies on `date`, and the special date's name if one matched.
    fn day(&self, date: NaiveDate) -> (Day, Option<&str>) {
        for s in &self.special {
            if let Some(name) = s.dates.get(&date) {
                return (s.day, Some(name));
            }
        }
        (
            self.days[date.weekday().num_days_from_monday() as usize],
            None,
        )
    }

    /// `None` when open at `at` in `zone`, else why not.
    pub fn closed_at(&self, zone: Tz, at: DateTime<Utc>) -> Option<Closed> {
        let local = at.with_timezone(&zone);
        let date = local.date_naive();
        let secs = local.num_seconds_from_midnight();
        let (day, special) = self.day(date);
        if let Day::Open(w) = day {
            if w.contains(secs) {
                return None;
            }
        }
        let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
        let place = format!("{} {} in {}", weekday, local.format("%H:%M"), zone.name());
        let reason = match (day, special) {
            (Day::Closed, Some(name)) => format!("{}: no calls on {name} ({date})", self.name),
            (Day::Closed, None) => format!("{}: no calls on {weekday} ({place})", self.name),
            (Day::Open(w), Some(name)) => {
                format!("{}: {name} hours are {w}; it is {place}", self.name)
            }
            (Day::Open(w), None) => {
                format!("{}: {weekday} hours are {w}; it is {place}", self.name)
            }
        };
        Some(Closed { reason })
    }

    /// Every instant in `[from, until)` at which a window of this rule opens in `zone`.
    pub fn openings(
        &self,
        zone: Tz,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        out: &mut Vec<DateTime<Utc>>,
    ) {
        let mut date = from.with_timezone(&zone).date_naive();
        let last = until.with_timezone(&zone).date_naive();
        while date <= last {
            if let (Day::Open(w), _) = self.day(date) {
                if let Some(at) = local_instant(zone, date, w.start) {
                    if at >= from && at < until {
                        out.push(at);
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
    }
}

/// The instant at which local time in `zone` first reaches `secs` after midnight on
/// `date`: the earlier of two on a repeated hour, the end of the gap on a skipped one.
pub fn local_instant(zone: Tz, date: NaiveDate, secs: u32) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    let wanted = midnight + Duration::seconds(i64::from(secs));
    // A skipped hour: move forward minute by minute to the first local time that exists.
    for minutes in 0..=180 {
        let probe = wanted + Duration::minutes(minutes);
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, _) => return Some(a.with_timezone(&Utc)),
            LocalResult::None => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn nine_to_five() -> WeekRule {
        let w = Window::parse("09:00", "17:00").expect("window");
        let mut days = [Day::Open(w); 7];
        days[5] = Day::Closed;
        days[6] = Day::Closed;
        WeekRule {
            name: "business hours".into(),
            days,
            special: Vec::new(),
        }
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(parse_hhmm("09:30"), Ok(9 * 3600 + 1800));
        assert_eq!(parse_hhmm("24:00"), Ok(86400));
        for bad in ["9:00", "24:01", "12:60", "ab:cd", "", "12:00:00"] {
            assert!(parse_hhmm(bad).is_err(), "{bad}");
        }
        assert!(Window::parse("17:00", "09:00").is_err());
        assert!(Window::parse("09:00", "09:00").is_err());
        assert!(Window::parse("24:00", "24:00").is_err());
    }

    #[test]
    fn start_is_inclusive_and_end_exclusive() {
        let r = nine_to_five();
        // Monday 2026-11-23, EST (UTC−5).
        assert!(r.closed_at(New_York, at("2026-11-23T13:59:59Z")).is_some());
        assert!(r.closed_at(New_York, at("2026-11-23T14:00:00Z")).is_none());
        assert!(r.closed_at(New_York, at("2026-11-23T21:59:59Z")).is_none());
        let closed = r.closed_at(New_York, at("2026-11-23T22:00:00Z"));
        assert_eq!(
            closed.map(|c| c.reason),
            Some(
                "business hours: mon hours are 09:00–17:00; it is mon 17:00 in America/New_York"
                    .into()
            )
        );
    }

    #[test]
    fn openings_skip_closed_days_and_follow_dst() {
        let r = nine_to_five();
        let mut out = Vec::new();
        // Friday 2026-03-06 evening to the following Tuesday: DST starts Sunday 8 March.
        r.openings(
            New_York,
            at("2026-03-06T23:00:00Z"),
            at("2026-03-10T23:00:00Z"),
            &mut out,
        );
        assert_eq!(
            out,
            vec![at("2026-03-09T13:00:00Z"), at("2026-03-10T13:00:00Z")]
        );
    }

    #[test]
    fn a_skipped_local_time_opens_at_the_end_of_the_gap() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 8).expect("date");
        assert_eq!(
            local_instant(New_York, date, 2 * 3600 + 1800),
            Some(at("2026-03-08T07:00:00Z"))
        );
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        assert_eq!(
            local_instant(New_York, date, 3600 + 1800),
            Some(at("2026-11-01T05:30:00Z")),
            "the first of two 01:30s"
        );
    }
}
