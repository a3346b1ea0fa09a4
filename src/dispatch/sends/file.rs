//! The file backend's sends: one process sends, so the ids it was told wait here in
//! order, a semaphore counts the calls in flight and the spacing between starts is kept
//! here too. A call is handed out once its `attempt` record is on disk.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::budget::{Budget, Use};
use super::{wait_for, Claim, Claimed, Pause, PauseCell, Sends};
use crate::config::BlandSettings;
use crate::dispatch::outbox::{Outbox, Record};
use crate::dispatch::Wake;
use crate::store::StoreError;

pub struct FileSends {
    outbox: Arc<Outbox>,
    slots: Arc<Semaphore>,
    spacing: Duration,
    state: Mutex<State>,
    /// This process is the only sender: the pause lives here (a restart forgets it, and
    /// the next 429 sets it again).
    pause: PauseCell,
    budget: Budget,
    /// When the tries of the budget's windows started, oldest first: the outbox's count
    /// at startup, then each claim.
    tries: Mutex<VecDeque<DateTime<Utc>>>,
}

#[derive(Default)]
struct State {
    wanted: VecDeque<String>,
    next_start: Option<Instant>,
}

impl FileSends {
    pub fn new(outbox: Arc<Outbox>, bland: &BlandSettings, tz: chrono_tz::Tz) -> Self {
        let tries = outbox.tries_before_startup().iter().copied().collect();
        Self {
            budget: Budget {
                per_hour: bland.max_calls_per_hour,
                per_day: bland.max_calls_per_day,
                tz,
            },
            tries: Mutex::new(tries),
            outbox,
            slots: Arc::new(Semaphore::new(bland.max_concurrent.max(1))),
            spacing: Duration::from_secs_f64(1.0 / bland.max_calls_per_second),
            state: Mutex::new(State::default()),
            pause: PauseCell::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The budget's use at `now` (the tries of windows that ended are let go).
    fn budget_use(&self, now: DateTime<Utc>) -> Use {
        let w = self.budget.windows(now);
        let mut tries = self.tries.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = w.day.min(w.hour);
        while tries.front().is_some_and(|t| *t < oldest) {
            tries.pop_front();
        }
        let in_window =
            |from: DateTime<Utc>| tries.iter().filter(|t| **t >= from && **t <= now).count() as u64;
        self.budget.check(&w, in_window(w.hour), in_window(w.day))
    }

    /// The next id to send, with a slot, once the spacing allows.
    fn take(&self) -> Result<(String, tokio::sync::OwnedSemaphorePermit), Claim> {
        let mut s = self.state();
        if s.wanted.is_empty() {
            return Err(Claim::Nothing);
        }
        let now = Instant::now();
        if let Some(wait) = s.next_start.and_then(|t| t.checked_duration_since(now)) {
            if !wait.is_zero() {
                return Err(Claim::Wait(wait));
            }
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Err(Claim::Full);
        };
        let id = s.wanted.pop_front().ok_or(Claim::Nothing)?;
        s.next_start = Some(s.next_start.map_or(now, |t| t.max(now)) + self.spacing);
        Ok((id, slot))
    }

    /// Records the try before the request leaves; on failure the entry says why.
    async fn attempt(&self, request_id: &str, at: DateTime<Utc>, n: u32) -> bool {
        let tried = Record::Attempt {
            request_id: request_id.into(),
            at,
            n,
        };
        match self.outbox.record(tried).wait().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(request_id, error = %e, "could not record a dispatch attempt");
                let _ = self.outbox.record(Record::Retry {
                    request_id: request_id.into(),
                    at,
                    n,
                    error: "could not record the attempt".into(),
                });
                false
            }
        }
    }
}

impl Sends for FileSends {
    fn told(&self, wake: Wake) {
        let (Wake::Queued(id) | Wake::Retry(id)) = wake;
        self.state().wanted.push_back(id);
    }

    fn claim(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Claim, StoreError>> {
        Box::pin(async move {
            if let Some(p) = self.pause.active(now) {
                return Ok(wait_for(&p, now));
            }
            if self.budget.is_set() {
                if let Some(until) = self.budget_use(now).held_until {
                    return Ok(Claim::Wait((until - now).to_std().unwrap_or_default()));
                }
            }
            loop {
                let (request_id, slot) = match self.take() {
                    Ok(taken) => taken,
                    Err(claim) => return Ok(claim),
                };
                // Settled, in flight or gone since it was queued: nothing to send.
                let Some(next) = self.outbox.next_attempt(&request_id) else {
                    continue;
                };
                if !self.attempt(&request_id, now, next.n).await {
                    continue;
                }
                self.tries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_back(now);
                let slot = Some(slot);
                return Ok(Claim::Claimed(Box::new(Claimed {
                    request_id,
                    next,
                    slot,
                })));
            }
        })
    }

    fn pause<'a>(
        &'a self,
        until: DateTime<Utc>,
        why: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.pause.set(Pause {
            until,
            why: why.to_string(),
        });
        Box::pin(async { Ok(()) })
    }

    fn paused(&self, now: DateTime<Utc>) -> Option<Pause> {
        self.pause.active(now)
    }

    fn capacity(&self, now: DateTime<Utc>) -> Option<Use> {
        self.budget.is_set().then(|| self.budget_use(now))
    }
}
