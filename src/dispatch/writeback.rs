//! The loop back to Convoso: after a call's outcome (and, if configured, a block by chosen
//! stages) the lead is updated in Convoso with a status mapped from the outcome and the
//! call's details; an outcome that says do-not-call also flags the number here at once and,
//! if configured, inserts it into Convoso's DNC list. The writes go through their own
//! durable outbox ([`crate::convoso::writes`]; rows in database mode) and a sender task
//! that retries with backoff; `GET /api/admin/convoso/pending` shows what is open.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::SharedClock;
use crate::config::convoso::ConvosoSettings;
use crate::convoso::writes::WriteStore;
use crate::convoso::{ConvosoClient, Write, WriteState};
use crate::metrics::{Metrics, WriteLabels};
use crate::store::StoreError;

/// How often the sender looks for due writes when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);
/// Writes sent per pass.
const BATCH: usize = 50;
/// `/health` is `degraded` once a write has been failing this long.
pub const DEGRADED_AFTER: TimeDelta = TimeDelta::minutes(10);

pub struct Writeback {
    store: Box<dyn WriteStore>,
    client: ConvosoClient,
    settings: ConvosoSettings,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    wake: tokio::sync::Notify,
    /// The oldest `failing_since` among open writes, as of the sender's last look.
    failing_since: Mutex<Option<DateTime<Utc>>>,
}

impl Writeback {
    pub fn new(
        store: Box<dyn WriteStore>,
        settings: &ConvosoSettings,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            store,
            client: ConvosoClient::new(settings)?,
            settings: settings.clone(),
            clock,
            metrics,
            wake: tokio::sync::Notify::new(),
            failing_since: Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &ConvosoSettings {
        &self.settings
    }

    /// Queues a write (durable on return) unless one with its id exists; wakes the sender.
    pub async fn enqueue(&self, w: Write) -> Result<bool, StoreError> {
        let queued = self.store.enqueue(w).await?;
        if queued {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// The open writes: queued, failing (with the last error), given up.
    pub async fn pending(&self) -> Result<Vec<Write>, StoreError> {
        self.store.open_writes().await
    }

    /// An admin's retry of an open write (due now, a fresh run of tries); `None` when no
    /// open write has that id, `Err` while it is being sent.
    pub async fn retry(&self, id: &str) -> Result<Option<Write>, AdminError> {
        self.admin(id, |w, now| w.requeue(now)).await
    }

    /// An admin sets an open write aside (it is not sent).
    pub async fn dismiss(&self, id: &str) -> Result<Option<Write>, AdminError> {
        self.admin(id, |w, _| w.state = WriteState::Dismissed).await
    }

    async fn admin(
        &self,
        id: &str,
        change: impl FnOnce(&mut Write, DateTime<Utc>),
    ) -> Result<Option<Write>, AdminError> {
        if self.store.is_taken(id) {
            return Err(AdminError::Busy);
        }
        let Some(mut w) = self.store.get(id).await?.filter(Write::is_open) else {
            return Ok(None);
        };
        change(&mut w, self.clock.now());
        self.store.save(&w).await?;
        self.wake.notify_one();
        Ok(Some(w))
    }

    /// Sends due writes until `shutdown`.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut looked = None::<DateTime<Utc>>;
        loop {
            let now = self.clock.now();
            let mut pause = POLL;
            match self.store.take_due(now, BATCH).await {
                Ok(writes) => {
                    for w in writes {
                        self.send(w).await;
                    }
                }
                Err(e) => {
                    // The store is away (the database, most likely): look again in a while
                    // rather than logging twice a second.
                    tracing::error!(error = %e, "cannot read the Convoso writes");
                    pause = POLL * 10;
                }
            }
            // The health figure, every few seconds.
            if looked.is_none_or(|t| now - t >= TimeDelta::seconds(5)) {
                looked = Some(now);
                if let Ok(open) = self.pending().await {
                    let oldest = open.iter().filter_map(|w| w.failing_since).min();
                    *self
                        .failing_since
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = oldest;
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn send(&self, mut w: Write) {
        let sent = self.client.send(w.kind, &w.params).await;
        let now = self.clock.now();
        w.settle(sent.as_ref(), now, &self.settings);
        let result = match (&sent, w.state) {
            (None, _) => {
                tracing::info!(write = %w.id, kind = w.kind.as_str(), params = ?w.params, "dry-run: CONVOSO_AUTH_TOKEN is not set; this write was not sent");
                "dry_run"
            }
            (_, WriteState::Done) => "done",
            (_, WriteState::GaveUp) => {
                tracing::error!(write = %w.id, error = w.last_error.as_deref().unwrap_or(""), "a Convoso write gave up; it waits for an admin's retry");
                "gave_up"
            }
            _ => {
                tracing::warn!(write = %w.id, attempts = w.attempts, error = w.last_error.as_deref().unwrap_or(""), "a Convoso write failed; it will be tried again");
                "retry"
            }
        };
        self.metrics
            .convoso_writes
            .get_or_create(&WriteLabels {
                kind: w.kind.as_str(),
                result,
            })
            .inc();
        if w.failing_since.is_some() {
            let mut worst = self
                .failing_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *worst = worst.min(w.failing_since).or(w.failing_since);
        }
        if let Err(e) = self.store.save(&w).await {
            tracing::error!(write = %w.id, error = %e, "cannot record a Convoso write's result; it will be sent again");
        }
    }
}

/// Why an admin's change of a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("it is being sent right now; try again in a moment")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::health::HealthSource for Writeback {
    fn name(&self) -> &'static str {
        "convoso"
    }

    /// `degraded` while a write has been failing for more than ten minutes.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let since = *self
            .failing_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        let late = since.is_some_and(|s| now - s > DEGRADED_AFTER);
        let mut r = ComponentReport::new(if late {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        })
        .with("dry_run", self.client.dry_run());
        if let Some(s) = since {
            r = r.with("failing_since", s.to_rfc3339());
        }
        if late {
            r = r.with(
                "error",
                "writes to Convoso have been failing for more than 10 minutes: see GET /api/admin/convoso/pending",
            );
        }
        r
    }
}
