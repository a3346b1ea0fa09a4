//! The pool's arithmetic, pure: what the calls in the window say of each number
//! ([`tally`]), whether each may place a call now ([`statuses`], with the `min_available`
//! floor on cooldowns), and the choice for one call ([`choose`]): the number that last
//! reached the lead, then one serving its area code, its state, its time zone, then any;
//! within the first tier that has a usable number, a weighted pick by pickup rate.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rand::Rng;
use serde::Serialize;

use super::config::PoolConfig;
use crate::journal::{CallerIdChoice as Choice, Outcome};

/// One call placed from a pool number.
#[derive(Debug, Clone, PartialEq)]
pub struct UsedCall {
    pub request_id: String,
    pub number: String,
    pub phone: String,
    pub at: DateTime<Utc>,
    pub outcome: Option<(Outcome, DateTime<Utc>)>,
}

/// A person picked up (the rest — voicemail, no answer, busy, failed — did not).
pub fn picked_up(o: Outcome) -> bool {
    matches!(o, Outcome::Human | Outcome::Transferred)
}

/// What the calls in the window say of one number.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NumberUse {
    pub calls_this_hour: u64,
    pub calls_today: u64,
    /// In the rolling window.
    pub calls: u64,
    pub outcomes: u64,
    pub pickups: u64,
    /// Non-pickup outcomes in a row, the latest last (since the cooldowns were cleared).
    pub streak: u32,
    #[serde(skip)]
    pub last_outcome_at: Option<DateTime<Utc>>,
    /// Pickups among the last `auto_rest.calls` outcomes since the number was brought
    /// back, and how many outcomes that is.
    #[serde(skip)]
    pub recent: (u32, u32),
}

/// Where an hour and a business day start, and end (the caps' windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub hour: DateTime<Utc>,
    pub next_hour: DateTime<Utc>,
    pub day: DateTime<Utc>,
    pub next_day: DateTime<Utc>,
}

/// The pool's use: each configured number's tally, and the pool's own pickup rate.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub numbers: BTreeMap<String, NumberUse>,
    pub pool_outcomes: u64,
    pub pool_pickups: u64,
}

/// Tallies `calls` (any order) against the configured numbers at `w`.
pub fn tally(c: &PoolConfig, calls: &[UsedCall], w: &Windows, now: DateTime<Utc>) -> Tally {
    let since = now - Duration::hours(i64::from(c.window_hours));
    let index: std::collections::HashMap<&str, usize> = c
        .numbers
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut uses = vec![NumberUse::default(); index.len()];
    let mut outcomes: Vec<Vec<(DateTime<Utc>, bool)>> = vec![Vec::new(); index.len()];
    let (mut pool_outcomes, mut pool_pickups) = (0, 0);
    for call in calls {
        let Some(&i) = index.get(call.number.as_str()) else {
            continue;
        };
        let u = &mut uses[i];
        u.calls_this_hour += u64::from(call.at >= w.hour);
        u.calls_today += u64::from(call.at >= w.day);
        if call.at < since {
            continue;
        }
        u.calls += 1;
        if let Some((o, at)) = call.outcome {
            let up = picked_up(o);
            u.outcomes += 1;
            u.pickups += u64::from(up);
            pool_outcomes += 1;
            pool_pickups += u64::from(up);
            outcomes[i].push((at, up));
        }
    }
    for ((u, mut list), cfg) in uses.iter_mut().zip(outcomes).zip(c.numbers.values()) {
        if list.is_empty() {
            continue;
        }
        list.sort_unstable_by_key(|(at, _)| *at);
        u.last_outcome_at = list.last().map(|(at, _)| *at);
        let cleared = c.cooldowns_cleared_at;
        u.streak = list
            .iter()
            .rev()
            .take_while(|(at, up)| !up && cleared.is_none_or(|x| *at > x))
            .count() as u32;
        let (mut ups, mut n) = (0, 0);
        for (_, up) in list
            .iter()
            .rev()
            .filter(|(at, _)| cfg.counted_from.is_none_or(|x| *at >= x))
            .take(c.auto_rest.calls as usize)
        {
            ups += u32::from(*up);
            n += 1;
        }
        u.recent = (ups, n);
    }
    Tally {
        numbers: c.numbers.keys().cloned().zip(uses).collect(),
        pool_outcomes,
        pool_pickups,
    }
}

/// Whether a number may place a call now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Usable,
    Disabled,
    Rested,
    HourlyCap,
    DailyCap,
    CoolingDown,
}

/// One number now: its state, until when it holds (if it ends by itself), its weight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberStatus {
    pub number: String,
    pub state: State,
    #[serde(with = "crate::clock::millis_opt")]
    pub until: Option<DateTime<Utc>>,
    #[serde(with = "crate::clock::millis_opt")]
    pub cooldown_until: Option<DateTime<Utc>>,
    pub weight: f64,
    pub pickup_rate: Option<f64>,
    #[serde(flatten)]
    pub usage: NumberUse,
}

/// Pickups smoothed toward one half (a new number's neutral weight), divided by one plus
/// the failure streak.
pub fn weight(u: &NumberUse) -> f64 {
    let rate = (u.pickups as f64 + 1.0) / (u.outcomes as f64 + 2.0);
    rate / (1.0 + f64::from(u.streak))
}

/// Every configured number's state at `now` (in the pool's order). Cooldowns give way,
/// earliest end first, while fewer than `min_available` numbers are usable.
pub fn statuses(c: &PoolConfig, t: &Tally, w: &Windows, now: DateTime<Utc>) -> Vec<NumberStatus> {
    let mut out: Vec<NumberStatus> = c
        .numbers
        .iter()
        .map(|(number, n)| {
            let u = t.numbers.get(number).cloned().unwrap_or_default();
            let cooldown_until = c.cooldown_minutes(u.streak).and_then(|m| {
                u.last_outcome_at
                    .map(|at| at + Duration::minutes(i64::from(m)))
                    .filter(|end| *end > now)
            });
            let (hourly, daily) = c.caps(n);
            let at_cap = |cap: Option<u32>, used: u64| cap.is_some_and(|x| used >= u64::from(x));
            let rested = n
                .rested
                .as_ref()
                .filter(|r| r.until.is_none_or(|u| u > now));
            let (state, until) = if !n.enabled {
                (State::Disabled, None)
            } else if let Some(r) = rested {
                (State::Rested, r.until)
            } else if at_cap(daily, u.calls_today) {
                (State::DailyCap, Some(w.next_day))
            } else if at_cap(hourly, u.calls_this_hour) {
                (State::HourlyCap, Some(w.next_hour))
            } else if cooldown_until.is_some() {
                (State::CoolingDown, cooldown_until)
            } else {
                (State::Usable, None)
            };
            NumberStatus {
                number: number.clone(),
                state,
                until,
                cooldown_until,
                weight: weight(&u),
                pickup_rate: (u.outcomes > 0).then(|| u.pickups as f64 / u.outcomes as f64),
                usage: u,
            }
        })
        .collect();
    let usable = out.iter().filter(|s| s.state == State::Usable).count();
    let short = (c.min_available as usize).saturating_sub(usable);
    let mut cooling: Vec<usize> = (0..out.len())
        .filter(|i| out[*i].state == State::CoolingDown)
        .collect();
    cooling.sort_by_key(|i| out[*i].until);
    for i in cooling.into_iter().take(short) {
        out[i].state = State::Usable;
        out[i].until = None;
    }
    out
}

/// Which rule chose the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// It last reached this lead.
    Sticky,
    AreaCode,
    State,
    TimeZone,
    Any,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::Sticky,
        Tier::AreaCode,
        Tier::State,
        Tier::TimeZone,
        Tier::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sticky => "sticky",
            Self::AreaCode => "area_code",
            Self::State => "state",
            Self::TimeZone => "time_zone",
            Self::Any => "any",
        }
    }
}

/// What a number serves: its area codes (its own and its tags), states, time zones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub area_codes: Vec<String>,
    pub states: Vec<String>,
    pub zones: Vec<Tz>,
}

/// The called party, as the pool sees them.
#[derive(Debug, Clone, Default)]
pub struct Called<'a> {
    pub area_code: Option<&'a str>,
    pub state: Option<&'a str>,
    pub zones: &'a [Tz],
    /// The pool number that last reached this lead in the window.
    pub sticky: Option<&'a str>,
}

/// The choice for a call to `called` among the usable numbers of `now`, or `None` when
/// none is usable.
pub fn choose(
    st: &[NumberStatus],
    profiles: &BTreeMap<String, Profile>,
    called: &Called<'_>,
    rng: &mut impl Rng,
) -> Option<(Choice, Tier)> {
    // The statuses and the profiles are both in the pool's order: zipped, unless they
    // came from different versions of the document.
    let same = st.len() == profiles.len();
    let mut by_index = profiles.iter();
    let best_tier = |s: &NumberStatus, p: Option<&Profile>| {
        let has = |list: &[String], v: Option<&str>| v.is_some_and(|v| list.iter().any(|x| x == v));
        if called.sticky == Some(s.number.as_str()) {
            Tier::Sticky
        } else if p.is_some_and(|p| has(&p.area_codes, called.area_code)) {
            Tier::AreaCode
        } else if p.is_some_and(|p| has(&p.states, called.state)) {
            Tier::State
        } else if p.is_some_and(|p| p.zones.iter().any(|z| called.zones.contains(z))) {
            Tier::TimeZone
        } else {
            Tier::Any
        }
    };
    let mut best: Option<Tier> = None;
    let mut tiered: Vec<&NumberStatus> = Vec::new();
    for s in st {
        let zipped = if same { by_index.next() } else { None };
        if s.state != State::Usable {
            continue;
        }
        let p = match zipped {
            Some((k, p)) if *k == s.number => Some(p),
            _ => profiles.get(&s.number),
        };
        let tier = best_tier(s, p);
        match best {
            Some(b) if (tier as u8) > (b as u8) => continue,
            Some(b) if tier == b => {}
            _ => {
                best = Some(tier);
                tiered.clear();
            }
        }
        tiered.push(s);
    }
    let tier = best?;
    let total: f64 = tiered.iter().map(|s| s.weight.max(1e-6)).sum();
    let mut r = rng.random_range(0.0..total);
    let mut pick = tiered[tiered.len() - 1];
    for s in &tiered {
        let w = s.weight.max(1e-6);
        if r < w {
            pick = s;
            break;
        }
        r -= w;
    }
    let choice = Choice {
        number: pick.number.clone(),
        tier: tier.as_str().to_string(),
        weight: (pick.weight * 1000.0).round() / 1000.0,
    };
    Some((choice, tier))
}

/// Whether the number should be rested automatically: its answered rate over its last
/// `auto_rest.calls` outcomes is below `fraction` of the pool's.
pub fn rest_reason(c: &PoolConfig, u: &NumberUse, t: &Tally) -> Option<String> {
    let (pickups, n) = u.recent;
    if !c.auto_rest.enabled || n < c.auto_rest.calls || t.pool_outcomes == 0 {
        return None;
    }
    let rate = f64::from(pickups) / f64::from(n);
    let pool = t.pool_pickups as f64 / t.pool_outcomes as f64;
    (rate < c.auto_rest.fraction * pool).then(|| {
        format!(
            "answered {pickups} of its last {n} calls ({:.0} %), below {:.0} % of the pool's {:.0} %",
            rate * 100.0,
            c.auto_rest.fraction * 100.0,
            pool * 100.0
        )
    })
}
