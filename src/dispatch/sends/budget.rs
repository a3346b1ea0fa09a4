//! Bland's plan limits as budgets: `BLAND_MAX_CALLS_PER_HOUR` and
//! `BLAND_MAX_CALLS_PER_DAY` count every try started (a claim, whatever Bland answers: the
//! safe side) in the clock hour and the business day of `TIMEZONE`, for the whole
//! deployment. When one is spent the next claim waits for the next hour or day; nothing
//! is dropped. Pure: the windows of an instant and whether a try may start in them.

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::clock::business_date;
use crate::schedule::window::local_instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    pub tz: Tz,
}

/// The hour and the business day an instant falls in: `[hour, next_hour)`,
/// `[day, next_day)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub hour: DateTime<Utc>,
    pub next_hour: DateTime<Utc>,
    pub day: DateTime<Utc>,
    pub next_day: DateTime<Utc>,
}

/// What a budget allows now: tries started in the windows, and until when no more may
/// start (`None`: one may start now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub hour: u64,
    pub day: u64,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    pub held_until: Option<DateTime<Utc>>,
}

fn day_start(tz: Tz, date: NaiveDate, fallback: DateTime<Utc>) -> DateTime<Utc> {
    local_instant(tz, date, 0).unwrap_or(fallback)
}

impl Budget {
    pub fn is_set(&self) -> bool {
        self.per_hour.is_some() || self.per_day.is_some()
    }

    pub fn windows(&self, now: DateTime<Utc>) -> Windows {
        let local = now.with_timezone(&self.tz);
        let into_hour = Duration::seconds(i64::from(local.minute() * 60 + local.second()))
            + Duration::nanoseconds(i64::from(local.nanosecond()));
        let hour = now - into_hour;
        let date = business_date(now, self.tz);
        let day = day_start(self.tz, date, hour);
        let next_day = date.succ_opt().map_or(day + Duration::days(1), |d| {
            day_start(self.tz, d, day + Duration::days(1))
        });
        Windows {
            hour,
            next_hour: hour + Duration::hours(1),
            day,
            next_day,
        }
    }

    /// With `hour` and `day` tries started in `w`, what the budget allows.
    pub fn check(&self, w: &Windows, hour: u64, day: u64) -> Use {
        let spent = |limit: Option<u32>, used: u64| limit.is_some_and(|l| used >= u64::from(l));
        let held_until = if spent(self.per_day, day) {
            Some(w.next_day)
        } else if spent(self.per_hour, hour) {
            Some(w.next_hour)
        } else {
            None
        };
        Use {
            hour,
            day,
            per_hour: self.per_hour,
            per_day: self.per_day,
            held_until,
        }
    }
}

impl Use {
    /// The `capacity` details of `/health`'s dispatch component.
    pub fn report(&self) -> serde_json::Value {
        let left = |limit: Option<u32>, used: u64| limit.map(|l| u64::from(l).saturating_sub(used));
        serde_json::json!({
            "hour": {"limit": self.per_hour, "used": self.hour, "left": left(self.per_hour, self.hour)},
            "day": {"limit": self.per_day, "used": self.day, "left": left(self.per_day, self.day)},
            "held_until": self.held_until.map(crate::clock::format_instant),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn budget(per_hour: Option<u32>, per_day: Option<u32>) -> Budget {
        Budget {
            per_hour,
            per_day,
            tz: chrono_tz::America::New_York,
        }
    }

    #[test]
    fn windows_are_the_local_hour_and_business_day() {
        let w = budget(None, None).windows(at("2026-11-23T15:42:10Z"));
        assert_eq!(
            (w.hour, w.next_hour),
            (at("2026-11-23T15:00:00Z"), at("2026-11-23T16:00:00Z"))
        );
        // Midnight in New York is 05:00 UTC in November.
        assert_eq!(
            (w.day, w.next_day),
            (at("2026-11-23T05:00:00Z"), at("2026-11-24T05:00:00Z"))
        );
        // The day DST ends lasts 25 hours.
        let w = budget(None, None).windows(at("2026-11-01T12:00:00Z"));
        assert_eq!((w.next_day - w.day).num_hours(), 25);
        // A half-hour zone's hours start on the half hour.
        let kolkata = Budget {
            tz: chrono_tz::Asia::Kolkata,
            ..budget(None, None)
        };
        assert_eq!(
            kolkata.windows(at("2026-11-23T15:42:00Z")).hour,
            at("2026-11-23T15:30:00Z")
        );
    }

    #[test]
    fn a_spent_budget_holds_until_the_next_window_the_day_first() {
        let b = budget(Some(2), Some(3));
        let w = b.windows(at("2026-11-23T15:42:10Z"));
        assert_eq!(b.check(&w, 1, 1).held_until, None);
        assert_eq!(b.check(&w, 2, 2).held_until, Some(w.next_hour));
        assert_eq!(b.check(&w, 2, 3).held_until, Some(w.next_day));
        assert_eq!(budget(None, None).check(&w, 1000, 1000).held_until, None);
        let report = b.check(&w, 2, 2).report();
        assert_eq!(report["hour"]["left"], 0);
        assert_eq!(report["day"]["left"], 1);
        assert_eq!(report["held_until"], "2026-11-23T16:00:00.000Z");
    }
}
