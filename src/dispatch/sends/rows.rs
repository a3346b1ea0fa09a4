//! Sends on PostgreSQL: each instance claims due calls from the shared outbox under the
//! deployment's limits ([`Db::claim_paced`]); the claim records the try and its lease in
//! the same commit. A retry timer of this instance asks for its call by id.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::budget::{Budget, Use};
use super::{wait_for, Claim, Claimed, Pause, PauseCell, Sends, CLAIM_MARGIN_SECS};
use crate::config::BlandSettings;
use crate::db::pace;
use crate::db::Db;
use crate::dispatch::outbox::NextAttempt;
use crate::dispatch::Wake;
use crate::store::StoreError;

pub struct DbSends {
    db: Db,
    lease: chrono::Duration,
    spacing: chrono::Duration,
    max_in_flight: i64,
    /// Calls whose retry timer fired here, claimed by id first.
    wanted: Mutex<VecDeque<String>>,
    /// The deployment's pause as this instance last read or set it.
    pause: PauseCell,
    budget: Budget,
    /// The budgets' use as this instance's last claim counted it.
    used: Mutex<Option<(super::budget::Windows, pace::Started)>>,
}

impl DbSends {
    pub fn new(db: Db, bland: &BlandSettings, tz: chrono_tz::Tz) -> Self {
        Self {
            budget: Budget {
                per_hour: bland.max_calls_per_hour,
                per_day: bland.max_calls_per_day,
                tz,
            },
            used: Mutex::new(None),
            db,
            lease: chrono::Duration::seconds(bland.timeout_secs as i64 + CLAIM_MARGIN_SECS),
            spacing: chrono::Duration::microseconds(
                (1e6 / bland.max_calls_per_second).round() as i64
            ),
            max_in_flight: bland.max_concurrent.max(1) as i64,
            wanted: Mutex::new(VecDeque::new()),
            pause: PauseCell::default(),
        }
    }

    fn wanted(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.wanted.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sends for DbSends {
    fn told(&self, wake: Wake) {
        match wake {
            // A call was queued here: the next claim takes what is due, in order.
            Wake::Queued(_) => {}
            Wake::Retry(id) => self.wanted().push_back(id),
        }
    }

    fn claim(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Claim, StoreError>> {
        Box::pin(async move {
            let w = self.budget.windows(now);
            let held_until = |hour, day| self.budget.check(&w, hour, day).held_until;
            let limits = pace::Limits {
                max_in_flight: self.max_in_flight,
                spacing: self.spacing,
                budget: self.budget.is_set().then_some(pace::BudgetCheck {
                    hour: w.hour,
                    day: w.day,
                    held_until: &held_until,
                }),
            };
            loop {
                let only = self.wanted().front().cloned();
                let (claim, started) = self
                    .db
                    .claim_paced(&self.db.holder, now, self.lease, only.as_deref(), &limits)
                    .await?;
                if let Some(mut s) = started {
                    if matches!(claim, pace::Claim::Claimed(_)) {
                        s.hour += 1;
                        s.day += 1;
                    }
                    *self.used.lock().unwrap_or_else(PoisonError::into_inner) = Some((w, s));
                }
                let done_with_only = || {
                    if only.is_some() {
                        self.wanted().pop_front();
                    }
                };
                return Ok(match claim {
                    pace::Claim::Claimed(c) => {
                        done_with_only();
                        Claim::Claimed(Box::new(claimed(c)))
                    }
                    // That retry is no longer queued: on to what is due.
                    pace::Claim::Nothing if only.is_some() => {
                        done_with_only();
                        continue;
                    }
                    pace::Claim::Nothing => Claim::Nothing,
                    pace::Claim::Full => Claim::Full,
                    pace::Claim::Wait(d) => Claim::Wait(d.min(Duration::from_secs(1))),
                    pace::Claim::Paused { until, why } => {
                        let p = Pause { until, why };
                        self.pause.set(p.clone());
                        wait_for(&p, now)
                    }
                    pace::Claim::Held { until } => {
                        Claim::Wait((until - now).to_std().unwrap_or_default())
                    }
                });
            }
        })
    }

    fn pause<'a>(
        &'a self,
        until: DateTime<Utc>,
        why: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.db.pause_dispatch(until, why).await?;
            self.pause.set(Pause {
                until,
                why: why.to_string(),
            });
            Ok(())
        })
    }

    fn paused(&self, now: DateTime<Utc>) -> Option<Pause> {
        self.pause.active(now)
    }

    /// The counts of this instance's last claim, if it fell in the windows of `now`
    /// (others' tries since are not seen until the next claim).
    fn capacity(&self, now: DateTime<Utc>) -> Option<Use> {
        if !self.budget.is_set() {
            return None;
        }
        let w = self.budget.windows(now);
        let last = *self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let (hour, day) = match last {
            Some((lw, s)) if lw == w => (s.hour, s.day),
            Some((lw, s)) if lw.day == w.day => (0, s.day),
            _ => (0, 0),
        };
        Some(self.budget.check(&w, hour, day))
    }
}

/// A claimed row as the dispatcher's claim.
fn claimed(c: crate::db::outbox::Claimed) -> Claimed {
    Claimed {
        request_id: c.request_id,
        next: NextAttempt {
            body: c.body,
            n: u32::try_from(c.n).unwrap_or(1),
            lead_id: c.lead_id,
            phone: c.phone,
            first_try: Some(c.first_try),
        },
        slot: None,
    }
}
