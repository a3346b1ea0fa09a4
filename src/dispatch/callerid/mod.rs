//! The caller-ID pool: which of our numbers each call is placed from. The numbers and
//! the pool's rules are a config document ([`config`]); what each number did is the
//! storage role [`store::PoolCalls`] (memory rebuilt from the call journal, or
//! `caller_id_calls` rows shared by every instance); the arithmetic is pure
//! ([`select`]).
//!
//! The choice is made when a call is sent, not when it is accepted (a number's caps,
//! cooldown and rest change in between): the dispatcher asks [`CallerIds::choose`], which
//! picks a number by tier and weight and counts the call against its caps in one take
//! (on the database, under the number's lock: two instances never exceed a cap
//! together). When no number is usable the call is not tried: it waits in the outbox
//! until the first number becomes usable again (the window re-check sends it back to the
//! deferred queue if its calling window closes meanwhile), `/api/admin/calls` shows why,
//! and `/health` is degraded. A try that placed nothing gives its count back; an
//! outcome feeds the pickup rates and streaks, and may rest the number automatically.
//! With no numbers configured the pool is off and `BLAND_FROM` rotates as before.

pub mod config;
mod health;
pub mod imported;
mod rest;
pub mod select;
pub mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::journal::{CallerIdChoice, Outcome};
use crate::schedule::rules::Rules;
use crate::store::document::Document;
use crate::store::StoreResult;
use config::PoolConfig;
use select::{NumberStatus, Profile, State, Tally, Tier, Windows};
use store::{PoolCalls, Take};

/// The numbers' profiles, compiled with the document.
pub type Profiles = BTreeMap<String, Profile>;

/// What the pool says for one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Chosen {
    /// No pool configured: `BLAND_FROM` as before.
    Off,
    Number(CallerIdChoice),
    /// No number may place a call now; `until`, the first instant one may (if known).
    NoneUsable {
        why: String,
        until: Option<DateTime<Utc>>,
    },
}

pub struct CallerIds {
    pub config: Document<PoolConfig, Profiles>,
    calls: Arc<dyn PoolCalls>,
    rules: Arc<Rules>,
    tz: Tz,
    clock: crate::clock::SharedClock,
    rng: Mutex<StdRng>,
    /// Per number, how many choices each tier made (since this instance started).
    hits: Mutex<BTreeMap<String, [u64; 5]>>,
    /// The last tally read (for `/health`, which does not wait on storage).
    last: Mutex<Option<Tally>>,
    /// Why calls wait for a caller id, as the dispatcher last found it.
    waiting: Mutex<Option<Wait>>,
    /// The leads the Node version's numbers last reached ([`imported`]).
    node_reached: imported::Imported,
}

/// Calls wait: no number is usable until `until` (if it ends by itself), because `why`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Wait {
    pub why: String,
    #[serde(with = "crate::clock::millis_opt")]
    pub until: Option<DateTime<Utc>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a number serves: its own area code and its tags, their states, their zones.
pub fn compile(c: &PoolConfig, rules: &Rules) -> Profiles {
    c.numbers
        .iter()
        .map(|(number, n)| {
            let own = crate::domain::PhoneNumber::from_e164_unchecked(number.clone());
            let mut p = Profile {
                area_codes: n.area_codes.clone(),
                states: n.states.iter().map(|s| s.to_ascii_uppercase()).collect(),
                zones: Vec::new(),
            };
            if let Some(npa) = own.area_code() {
                if !p.area_codes.iter().any(|a| a == npa) {
                    p.area_codes.push(npa.to_string());
                }
            }
            for npa in &p.area_codes {
                if let Some((state, zones)) = rules.area_code(npa) {
                    if !p.states.iter().any(|s| s == state) {
                        p.states.push(state.to_string());
                    }
                    for z in zones {
                        if !p.zones.contains(z) {
                            p.zones.push(*z);
                        }
                    }
                }
            }
            (number.clone(), p)
        })
        .collect()
}

impl CallerIds {
    /// The pool over its document in `docs` (its default `default`, the config file's)
    /// and its calls.
    pub async fn open(
        docs: Arc<dyn crate::store::doc_store::DocumentStore>,
        default: &Value,
        calls: Arc<dyn PoolCalls>,
        rules: Arc<Rules>,
        tz: Tz,
        clock: crate::clock::SharedClock,
    ) -> anyhow::Result<Self> {
        let default = PoolConfig::parse(default)
            .map_err(|e| anyhow::anyhow!("[[caller_ids]] / [caller_id_pool]: {e}"))?;
        let r = rules.clone();
        let parse: crate::store::document::Parse<PoolConfig, Profiles> = Box::new(move |v| {
            let c = PoolConfig::parse(v)?;
            let profiles = compile(&c, &r);
            Ok((c, profiles))
        });
        let config = Document::open(docs.clone(), config::FILE, default, parse).await?;
        let node_reached =
            imported::seed(&*docs, &*calls, config.get().doc.window_hours, clock.now()).await?;
        Ok(Self {
            config,
            calls,
            rules,
            tz,
            clock,
            rng: Mutex::new(StdRng::from_rng(&mut rand::rng())),
            hits: Mutex::new(BTreeMap::new()),
            last: Mutex::new(None),
            waiting: Mutex::new(None),
            node_reached,
        })
    }

    /// Whether any number is configured (otherwise `BLAND_FROM` rotates as before).
    pub fn active(&self) -> bool {
        !self.config.get().doc.numbers.is_empty()
    }

    pub fn windows(&self, now: DateTime<Utc>) -> Windows {
        let b = crate::dispatch::sends::budget::Budget {
            per_hour: None,
            per_day: None,
            tz: self.tz,
        };
        let w = b.windows(now);
        Windows {
            hour: w.hour,
            next_hour: w.next_hour,
            day: w.day,
            next_day: w.next_day,
        }
    }

    /// Every number's state now, with the tally it comes from.
    pub async fn status(&self, now: DateTime<Utc>) -> StoreResult<(Vec<NumberStatus>, Tally)> {
        let c = self.config.get();
        let w = self.windows(now);
        let since = (now - Duration::hours(i64::from(c.doc.window_hours))).min(w.day);
        let calls = self.calls.calls_since(since, now).await?;
        let t = select::tally(&c.doc, &calls, &w, now);
        *lock(&self.last) = Some(t.clone());
        Ok((select::statuses(&c.doc, &t, &w, now), t))
    }

    /// The pool calls to `phone` in the window, oldest first.
    pub async fn calls_to(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<select::UsedCall>> {
        let since = now - Duration::hours(i64::from(self.config.get().doc.window_hours));
        let calls = self.calls.calls_since(since, now).await?;
        Ok(calls
            .iter()
            .filter(|c| c.phone == phone && c.at >= since)
            .cloned()
            .collect())
    }

    /// The pool calls from `number` in the window, newest first, at most `limit`.
    pub async fn calls_from(
        &self,
        number: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<select::UsedCall>> {
        let since = now - Duration::hours(i64::from(self.config.get().doc.window_hours));
        let calls = self.calls.calls_since(since, now).await?;
        let mut mine: Vec<_> = calls
            .iter()
            .filter(|c| c.number == number && c.at >= since)
            .cloned()
            .collect();
        mine.reverse();
        mine.truncate(limit);
        Ok(mine)
    }

    /// The number for the call `request_id` to `phone` (E.164), counted against its caps.
    pub async fn choose(
        &self,
        request_id: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Chosen> {
        if !self.active() {
            return Ok(Chosen::Off);
        }
        let lead = crate::domain::PhoneNumber::from_e164_unchecked(phone.to_string());
        let area_code = lead.area_code();
        let place = area_code.and_then(|a| self.rules.area_code(a));
        // A take refused means another instance took the number's last place meanwhile:
        // the choice is made again over a fresh read.
        for _ in 0..4 {
            let (st, _) = self.status(now).await?;
            let c = self.config.get();
            let sticky = self.reached(phone, now).await?;
            let called = select::Called {
                area_code,
                state: place.map(|(s, _)| s),
                zones: place.map_or(&[], |(_, z)| z),
                sticky: sticky.as_deref(),
            };
            let picked = select::choose(&st, &c.compiled, &called, &mut *lock(&self.rng));
            let Some((choice, tier)) = picked else {
                return Ok(none_usable(&st));
            };
            let Some(n) = c.doc.numbers.get(&choice.number) else {
                continue;
            };
            let (hourly_cap, daily_cap) = c.doc.caps(n);
            let w = self.windows(now);
            let keep = Duration::hours(i64::from(c.doc.window_hours)).max(Duration::days(2));
            let take = Take {
                request_id,
                number: &choice.number,
                phone,
                at: now,
                hour: w.hour,
                day: w.day,
                hourly_cap,
                daily_cap,
                keep_since: now - keep,
            };
            if self.calls.take(&take).await? {
                let mut hits = lock(&self.hits);
                hits.entry(choice.number.clone()).or_default()[tier as usize] += 1;
                return Ok(Chosen::Number(choice));
            }
        }
        Ok(Chosen::NoneUsable {
            why: "every usable caller id reached its cap while this call was being placed".into(),
            until: Some(now + Duration::seconds(1)),
        })
    }

    /// The pool number that last reached `phone` (a person picked up) in the window.
    async fn reached(&self, phone: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        let calls = self.calls_to(phone, now).await?;
        let ours = calls
            .iter()
            .rev()
            .find(|c| c.outcome.is_some_and(|(o, _)| select::picked_up(o)))
            .map(|c| c.number.clone());
        Ok(ours.or_else(|| self.node_reached.reached(phone, now).map(str::to_string)))
    }

    /// A try that placed nothing gives its count back.
    pub async fn give_back(&self, request_id: &str) {
        if let Err(e) = self.calls.give_back(request_id).await {
            tracing::warn!(request_id, error = %e, "could not give a caller id's count back");
        }
    }

    /// A call's outcome: feeds its number's rate and streak, and rests the number if its
    /// answered rate fell below the pool's by the configured fraction.
    pub async fn outcome(&self, request_id: &str, outcome: Outcome, now: DateTime<Utc>) {
        if !self.active() {
            return;
        }
        let number = match self.calls.outcome(request_id, outcome, now).await {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(request_id, error = %e, "could not record a caller id's outcome");
                return;
            }
        };
        if let Err(e) = self.rest_if_failing(&number, now).await {
            tracing::warn!(number, error = %e, "could not rest a failing caller id");
        }
    }

    /// Notes whether calls must wait for a caller id (`queued`: some call waits to be
    /// sent; logged when that changes); whether some number is usable.
    pub fn note_wait(&self, st: &[NumberStatus], queued: bool) -> bool {
        let usable = st.iter().any(|s| s.state == State::Usable);
        let wait = match none_usable(st) {
            Chosen::NoneUsable { why, until } if !usable && queued => Some(Wait { why, until }),
            _ => None,
        };
        let mut w = lock(&self.waiting);
        if *w != wait {
            match &wait {
                Some(x) => tracing::warn!(reason = %x.why, "calls wait for a caller id"),
                None if w.is_some() => tracing::info!("a caller id is usable again; calls resume"),
                None => {}
            }
            *w = wait;
        }
        usable
    }

    /// Why calls wait for a caller id, if they do.
    pub fn waiting(&self) -> Option<Wait> {
        lock(&self.waiting).clone()
    }

    /// How many choices each tier made for `number` (since this instance started).
    pub fn tier_hits(&self, number: &str) -> Value {
        let hits = lock(&self.hits).get(number).copied().unwrap_or_default();
        Value::Object(
            Tier::ALL
                .iter()
                .map(|t| (t.as_str().to_string(), json!(hits[*t as usize])))
                .collect(),
        )
    }

    /// The states as of `now` from the last tally read (`/health`, metrics).
    pub fn last_statuses(&self, now: DateTime<Utc>) -> Vec<NumberStatus> {
        let c = self.config.get();
        let t = lock(&self.last).clone().unwrap_or_else(|| Tally {
            numbers: c
                .doc
                .numbers
                .keys()
                .map(|k| (k.clone(), Default::default()))
                .collect(),
            ..Tally::default()
        });
        select::statuses(&c.doc, &t, &self.windows(now), now)
    }
}

/// Why no number is usable, and the first instant one may be.
fn none_usable(st: &[NumberStatus]) -> Chosen {
    let until = st.iter().filter_map(|s| s.until).min();
    let count = |state: State| st.iter().filter(|s| s.state == state).count();
    let why = format!(
        "no caller id is usable: {} rested, {} cooling down, {} at their hourly cap, {} at their daily cap, {} disabled",
        count(State::Rested),
        count(State::CoolingDown),
        count(State::HourlyCap),
        count(State::DailyCap),
        count(State::Disabled)
    );
    Chosen::NoneUsable { why, until }
}
