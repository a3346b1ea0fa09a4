//! Decisions on the file backend: one process decides (the data directory's lock), so a
//! number's lock is one of [`STRIPES`] mutexes picked by its hash, held while the
//! pipeline runs and the writes are handed to the group-committed appenders. The unit
//! lets go of it before waiting for those writes to reach the disk, so webhooks for other
//! numbers share one fsync; the next webhook for the number already sees the decision in
//! the trackers. A released entry that was decided leaves the queue once the rest is
//! durable.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{DecisionUnit, Decisions, QueuedCall};
use crate::dispatch::outbox::{Outbox, Record};
use crate::domain::Lead;
use crate::journal::{CallEvent, Journals};
use crate::schedule::queue::{Deferral, DeferredQueue, Entry, Removal};
use crate::store::appender::Pending;
use crate::store::StoreError;
use crate::tracker::Tracker;

/// How many locks the numbers share.
pub const STRIPES: usize = 64;

pub struct FileDecisions {
    journals: Arc<Journals>,
    outbox: Arc<Outbox>,
    queue: Arc<DeferredQueue>,
    tracker: Arc<Tracker>,
    stripes: Vec<Arc<Mutex<()>>>,
}

impl FileDecisions {
    pub fn new(
        journals: Arc<Journals>,
        outbox: Arc<Outbox>,
        queue: Arc<DeferredQueue>,
        tracker: Arc<Tracker>,
    ) -> Self {
        Self {
            journals,
            outbox,
            queue,
            tracker,
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }

    fn stripe(phone: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        phone.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }
}

impl Decisions for FileDecisions {
    fn begin<'a>(
        &'a self,
        leads: &'a [&'a Lead],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Box<dyn DecisionUnit>, StoreError>> {
        Box::pin(async move {
            // In index order, so two units sharing stripes never wait for each other.
            let mut stripes: Vec<usize> = leads
                .iter()
                .map(|l| Self::stripe(l.phone.as_str()))
                .collect();
            stripes.sort_unstable();
            stripes.dedup();
            let mut guards = Vec::with_capacity(stripes.len());
            for i in stripes {
                guards.push(self.stripes[i].clone().lock_owned().await);
            }
            let unit: Box<dyn DecisionUnit> = Box::new(FileUnit {
                journals: self.journals.clone(),
                outbox: self.outbox.clone(),
                queue: self.queue.clone(),
                tracker: self.tracker.clone(),
                guards,
                pending: Vec::new(),
                released: Vec::new(),
            });
            Ok(unit)
        })
    }
}

struct FileUnit {
    journals: Arc<Journals>,
    outbox: Arc<Outbox>,
    queue: Arc<DeferredQueue>,
    tracker: Arc<Tracker>,
    guards: Vec<OwnedMutexGuard<()>>,
    pending: Vec<Pending>,
    /// Released entries that were decided, with when: they leave the queue at commit.
    released: Vec<(Entry, DateTime<Utc>)>,
}

impl DecisionUnit for FileUnit {
    fn defer<'a>(&'a mut self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>> {
        let (id, pending) = self.queue.defer(d);
        self.pending.push(pending);
        Box::pin(async move { Ok(id) })
    }

    fn finish_release<'a>(
        &'a mut self,
        entry: &'a Entry,
        now: DateTime<Utc>,
        again: Option<Deferral<'a>>,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        let id = match again {
            // The same lead and number: the queue keeps the entry and its id.
            Some(d) => {
                let (id, pending) = self.queue.defer(d);
                self.pending.push(pending);
                Some(id)
            }
            None => {
                self.released.push((entry.clone(), now));
                None
            }
        };
        Box::pin(async move { Ok(id) })
    }

    fn record<'a>(&'a mut self, decision: &'a CallEvent) -> BoxFuture<'a, Result<(), StoreError>> {
        // An accepted call holds the line from here on (before it is journaled, so the
        // next webhook for this number sees it).
        self.tracker.apply(decision);
        self.pending.push(self.journals.append_decision(decision));
        Box::pin(async { Ok(()) })
    }

    fn enqueue<'a>(&'a mut self, call: QueuedCall<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        self.pending.push(self.outbox.record(Record::Queued {
            request_id: call.request_id.to_string(),
            at: call.at,
            lead_id: call.lead_id.to_string(),
            phone: call.phone.to_string(),
            body: call.body,
        }));
        Box::pin(async { Ok(()) })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StoreError>> {
        let FileUnit {
            queue,
            guards,
            pending,
            released,
            ..
        } = *self;
        drop(guards);
        Box::pin(async move {
            for p in pending {
                p.wait().await?;
            }
            for (entry, now) in released {
                queue.remove(&entry, Removal::Released, now).wait().await?;
            }
            Ok(())
        })
    }
}
