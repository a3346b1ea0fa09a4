//! The answering-machine tracker and the protection rules' state, derived only from the call
//! journal's events (accepted decisions, dispatches, outcomes, calls placed elsewhere)
//! through one function, [`Tracker::apply`]. The same function runs live and at startup
//! over yesterday's and today's journals, so a restart or a crash rebuilds every count
//! exactly.
//!
//! Per number (E.164 digits as a `u64`): the instants of accepted calls still inside the
//! rolling 24 h (or today), the call in flight, the last transfer and a not-interested tag
//! today. Per lead id + number: today's outcomes by kind and the last accepted instant.
//! Counts are per business day in `TIMEZONE`. Entries for past days are dropped when the
//! day rolls, so memory follows one day's traffic.

mod apply;
pub mod checks;
pub mod config;
pub mod numbers;
mod shared;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::clock::business_date;
use crate::journal::{CallEvent, Decision, DispatchStatus, Outcome};
use crate::schedule::window::local_instant;
use crate::store::document::Document;
use config::{normalise_tag, AmConfig, ProtectionConfig, AM_FILE, PROTECTION_FILE};

/// The E.164 digits of a number as an integer key.
pub fn phone_key(e164: &str) -> Option<u64> {
    e164.strip_prefix('+').unwrap_or(e164).parse().ok()
}

/// A call in flight on a number.
#[derive(Debug, Clone)]
pub struct Active {
    pub request_id: Box<str>,
    pub lead_id: Box<str>,
    /// Accepted, or handed to Bland (the later).
    pub since: i64,
}

/// Instants are held as seconds since 2020-01-01 in a `u32` (0 = none): a tracker holds a
/// day of traffic for up to a million numbers, so every byte per number counts.
const EPOCH: i64 = 1_577_836_800;

fn pack(secs: i64) -> u32 {
    u32::try_from(secs - EPOCH).unwrap_or(0).max(1)
}

fn unpack(t: u32) -> Option<i64> {
    (t != 0).then(|| i64::from(t) + EPOCH)
}

#[derive(Debug, Default)]
struct Line {
    /// Accepted calls, oldest first, inside the rolling window or today (exact-size: a
    /// number gets a handful a day).
    accepted: Box<[u32]>,
    active: Option<Box<Active>>,
    transferred_at: u32,
    /// A not-interested tag and the business date it came on.
    not_interested: Option<Box<(NaiveDate, Box<str>)>>,
}

#[derive(Debug, Default, Clone)]
struct LeadLine {
    /// The business date `outcomes` counts (days from the common era; 0 = none).
    day: i32,
    /// Today's outcomes, indexed like [`Outcome::ALL`].
    outcomes: [u16; 6],
    last_accepted: u32,
}

#[derive(Default)]
struct State {
    lines: HashMap<u64, Line>,
    /// Keyed by number and a 64-bit hash of the lead id.
    leads: HashMap<(u64, u64), LeadLine>,
    /// The business date the state was last pruned for.
    day: Option<NaiveDate>,
    /// Calls placed elsewhere that were recorded, by [`external_key`], with when they
    /// were placed (packed), kept as long as the accepted instants.
    external: HashMap<u64, u32>,
    /// Texts the leads sent that were recorded, by [`external_key`] over ("reply", key),
    /// with when they came (packed): a repeated inbound webhook is seen.
    replies: HashMap<u64, u32>,
}

/// A call placed elsewhere, keyed by number and the poster's (source, id).
fn external_key(phone: u64, source: &str, id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (phone, source, id).hash(&mut h);
    h.finish()
}

fn lead_key(phone: u64, lead_id: &str) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lead_id.hash(&mut h);
    (phone, h.finish())
}

fn day_number(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce()
}

/// Seconds the tracker keeps accepted instants: the rolling cap's 24 h (today's start is
/// kept too, however long ago it was).
const KEEP_SECS: i64 = 24 * 3600;

fn outcome_index(o: Outcome) -> usize {
    Outcome::ALL.iter().position(|x| *x == o).unwrap_or(0)
}

pub struct Tracker {
    tz: Tz,
    state: Mutex<State>,
    pub am: Document<AmConfig, ()>,
    pub protection: Document<ProtectionConfig, ()>,
}

/// What the checks read about one lead at one instant.
#[derive(Debug, Default, Clone)]
pub struct View {
    pub today_start: i64,
    /// Accepted calls to the number at or after `today_start`.
    pub calls_today: usize,
    /// Accepted calls to the number, newest last, within the last 25 h.
    pub recent: Vec<i64>,
    pub active: Option<Active>,
    pub transferred_at: Option<i64>,
    pub not_interested_today: Option<String>,
    /// This lead id on this number: today's outcomes and the last acceptance.
    pub outcomes_today: [u16; 6],
    pub last_accepted: Option<i64>,
}

impl Tracker {
    /// Opens the config documents from `docs`; the state starts empty (see
    /// [`Tracker::rebuild`], or, in database mode, [`Tracker::load_number`]).
    pub async fn open(
        tz: Tz,
        docs: Arc<dyn crate::store::doc_store::DocumentStore>,
    ) -> anyhow::Result<Self> {
        let am = Document::open(
            docs.clone(),
            AM_FILE,
            AmConfig::default(),
            Box::new(|v| AmConfig::parse(v).map(|c| (c, ()))),
        )
        .await?;
        let protection = Document::open(
            docs,
            PROTECTION_FILE,
            ProtectionConfig::default(),
            Box::new(|v| ProtectionConfig::parse(v).map(|c| (c, ()))),
        )
        .await?;
        Ok(Self {
            tz,
            state: Mutex::new(State::default()),
            am,
            protection,
        })
    }

    /// Replays yesterday's and today's call journals. Only decision, dispatch, outcome and
    /// external and reply lines are parsed. Returns how many events were applied.
    pub fn rebuild(
        &self,
        data_dir: &std::path::Path,
        now: DateTime<Utc>,
        quarantine: &crate::store::quarantine::Quarantine,
    ) -> std::io::Result<usize> {
        let today = business_date(now, self.tz);
        let mut applied = 0;
        for day in [today.pred_opt(), Some(today)].into_iter().flatten() {
            let path = crate::journal::calls_path(data_dir, day);
            applied +=
                crate::journal::for_each_call(&path, quarantine, |event| self.apply(&event))?;
        }
        self.prune(now);
        Ok(applied)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn today_start(&self, now: DateTime<Utc>) -> (NaiveDate, i64) {
        let date = business_date(now, self.tz);
        let start =
            local_instant(self.tz, date, 0).map_or(now.timestamp() - 86_400, |t| t.timestamp());
        (date, start)
    }

    /// Drops what no rule can look at any more, once per business day. Called with the
    /// service's own clock (the release task's tick, and at rebuild), never with an
    /// instant an admin asked about.
    pub fn prune(&self, now: DateTime<Utc>) {
        let (date, start) = self.today_start(now);
        self.prune_at(date, start, now);
    }

    fn prune_at(&self, date: NaiveDate, start: i64, now: DateTime<Utc>) {
        let mut s = self.state();
        if s.day == Some(date) {
            return;
        }
        s.day = Some(date);
        let p = self.protection.get();
        let keep_from = start.min(now.timestamp() - KEEP_SECS);
        let dup_from = now.timestamp() - i64::from(p.doc.duplicate_window_minutes) * 60;
        let line_ends = i64::from(p.doc.max_call_minutes + p.doc.active_call_margin_minutes) * 60;
        let cooldown = i64::from(p.doc.transfer_cooldown_minutes) * 60;
        let t = now.timestamp();
        let keep = pack(keep_from);
        s.lines.retain(|_, l| {
            if l.accepted.iter().any(|a| *a < keep) {
                let kept: Vec<u32> = l.accepted.iter().copied().filter(|a| *a >= keep).collect();
                l.accepted = kept.into_boxed_slice();
            }
            if l.active.as_ref().is_some_and(|a| a.since + line_ends <= t) {
                l.active = None;
            }
            if unpack(l.transferred_at).is_some_and(|x| x < start && x + cooldown <= t) {
                l.transferred_at = 0;
            }
            if l.not_interested.as_ref().is_some_and(|n| n.0 != date) {
                l.not_interested = None;
            }
            !l.accepted.is_empty()
                || l.active.is_some()
                || l.transferred_at != 0
                || l.not_interested.is_some()
        });
        s.external.retain(|_, at| *at >= keep);
        s.external.shrink_to_fit();
        s.replies.retain(|_, at| *at >= keep);
        s.replies.shrink_to_fit();
        let (today, dup) = (day_number(date), pack(dup_from));
        s.leads
            .retain(|_, l| l.day == today || (l.last_accepted != 0 && l.last_accepted >= dup));
        s.leads.shrink_to_fit();
        s.lines.shrink_to_fit();
    }

    /// Everything the checks need about `phone` (and `lead_id` on it) at `now`. Pure:
    /// `now` may be any instant (the admin `check` asks about others), so nothing is
    /// pruned here; stale entries are ignored by their dates.
    pub fn view(&self, phone: &str, lead_id: &str, now: DateTime<Utc>) -> View {
        let (date, today_start) = self.today_start(now);
        let Some(key) = phone_key(phone) else {
            return View::default();
        };
        let s = self.state();
        let mut v = View {
            today_start,
            ..View::default()
        };
        if let Some(line) = s.lines.get(&key) {
            let from = now.timestamp() - KEEP_SECS;
            let accepted = line.accepted.iter().filter_map(|a| unpack(*a));
            v.recent = accepted.clone().filter(|a| *a >= from).collect();
            v.calls_today = accepted.filter(|a| *a >= today_start).count();
            v.active = line.active.as_deref().cloned();
            v.transferred_at = unpack(line.transferred_at);
            v.not_interested_today = line
                .not_interested
                .as_ref()
                .filter(|n| n.0 == date)
                .map(|n| n.1.to_string());
        }
        if let Some(lead) = s.leads.get(&lead_key(key, lead_id)) {
            if lead.day == day_number(date) {
                v.outcomes_today = lead.outcomes;
            }
            v.last_accepted = unpack(lead.last_accepted);
        }
        v
    }

    /// Whether the call placed elsewhere that `source` calls `id` was recorded for
    /// `phone` (in database mode, once the number's history is loaded under its lock).
    pub fn has_external(&self, phone: &str, source: &str, id: &str) -> bool {
        phone_key(phone).is_some_and(|k| {
            self.state()
                .external
                .contains_key(&external_key(k, source, id))
        })
    }

    /// Whether the text `key` from `phone` was recorded (in database mode, once the
    /// number's history is loaded under its lock).
    pub fn has_reply(&self, phone: &str, key: &str) -> bool {
        phone_key(phone).is_some_and(|k| {
            self.state()
                .replies
                .contains_key(&external_key(k, "reply", key))
        })
    }

    /// Lines with a call in flight: (phone digits, the call).
    pub fn active(&self) -> Vec<(u64, Active)> {
        let s = self.state();
        s.lines
            .iter()
            .filter_map(|(k, l)| l.active.as_deref().cloned().map(|a| (*k, a)))
            .collect()
    }

    /// (numbers, lead id + number pairs) held.
    pub fn size(&self) -> (usize, usize) {
        let s = self.state();
        (s.lines.len(), s.leads.len())
    }
}

impl crate::health::HealthSource for Tracker {
    fn name(&self) -> &'static str {
        "trackers"
    }

    /// What the trackers hold (today's numbers and lead pairs, calls in flight) and which
    /// checks are on.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let (numbers, leads) = self.size();
        ComponentReport::new(HealthStatus::Ok)
            .with("answering_machine", self.am.get().doc.enabled)
            .with("protection", self.protection.get().doc.enabled)
            .with("numbers", numbers)
            .with("lead_pairs", leads)
            .with("calls_in_flight", self.active().len())
    }
}

/// A shared tracker.
pub type SharedTracker = Arc<Tracker>;

#[cfg(test)]
mod tests;
