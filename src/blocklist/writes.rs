//! Blocklist writes: add, remove, update, enable/disable, bulk and migration imports.
//! Each changes memory and enqueues its change-log record under the exclusive lock, then
//! waits for the group-committed fsync after releasing it.

use std::sync::atomic::Ordering;

use super::flag::{self, Flag, FlagError, FlagRecord};
use super::persist::ChangeOut;
use super::{write, Added, Blocklist, BlocklistError, FlagPatch};
use crate::metrics::OpLabels;
use crate::store::appender::Pending;

impl Blocklist {
    pub(super) fn after_write(&self, op: &'static str, records: usize) {
        self.metrics
            .blocklist_writes
            .get_or_create(&OpLabels { op })
            .inc();
        self.metrics.blocklist_flags.set(self.len() as i64);
        let pending = self.pending.fetch_add(records, Ordering::Relaxed) + records;
        if pending >= self.compact_after {
            self.compact_wanted.notify_one();
        }
    }

    fn enqueue(&self, change: ChangeOut<'_>) -> Pending {
        self.log.append(change.to_line())
    }

    /// Adds a flag, or returns the live flag that already has this field and value.
    pub async fn add(&self, mut record: FlagRecord) -> Result<Added, BlocklistError> {
        let now = self.now_ms();
        record.added_at = None;
        let mut flag = self.fresh_flag(record, now)?;
        if let Some(shared) = &self.shared {
            return self.add_shared(&shared.db, flag).await;
        }
        let pending = {
            let mut index = write(&self.index);
            if let Some(existing) = index.live_with_value(&flag.field, &flag.value, now) {
                return Ok(Added {
                    flag: existing.clone(),
                    already_existed: true,
                });
            }
            while index.contains_id(&flag.id) {
                flag.id = flag::new_flag_id(now).into_boxed_str();
            }
            let pending = self.enqueue(ChangeOut::Put { flag: &flag });
            index.insert(flag.clone());
            pending
        };
        if let Err(e) = pending.wait().await {
            write(&self.index).remove(&flag.id);
            return Err(e.into());
        }
        tracing::info!(id = %flag.id, field = %flag.field, value = %flag.value,
            reason = flag.reason.as_deref().unwrap_or(""), "blocklist flag added");
        self.after_write("add", 1);
        Ok(Added {
            flag,
            already_existed: false,
        })
    }

    /// Removes a flag by id.
    pub async fn remove(&self, id: &str) -> Result<Flag, BlocklistError> {
        if let Some(shared) = &self.shared {
            return self.remove_shared(&shared.db, id).await;
        }
        let (flag, pending) = {
            let mut index = write(&self.index);
            let flag = index
                .remove(id)
                .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
            (flag, self.enqueue(ChangeOut::Delete { id }))
        };
        if let Err(e) = pending.wait().await {
            write(&self.index).insert(flag);
            return Err(e.into());
        }
        tracing::info!(id = %flag.id, field = %flag.field, value = %flag.value,
            reason = flag.reason.as_deref().unwrap_or(""), "blocklist flag removed");
        self.after_write("remove", 1);
        Ok(flag)
    }

    /// Changes a flag's reason, expiry or value (re-normalised; a clash is a conflict).
    pub async fn update(&self, id: &str, patch: FlagPatch) -> Result<Flag, BlocklistError> {
        if let Some(shared) = &self.shared {
            return self.update_shared(&shared.db, id, patch).await;
        }
        let (updated, pending) = {
            let mut index = write(&self.index);
            let current = index
                .get(id)
                .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
            let next = self.patched(&index, current, patch)?;
            let pending = self.enqueue(ChangeOut::Put { flag: &next });
            index.remove(id);
            index.insert(next.clone());
            (next, pending)
        };
        pending.wait().await?;
        tracing::info!(id = %updated.id, field = %updated.field, value = %updated.value,
            reason = updated.reason.as_deref().unwrap_or(""), "blocklist flag updated");
        self.after_write("update", 1);
        Ok(updated)
    }

    /// `current` with `patch` applied (a value re-normalised; a clash is a conflict).
    pub(super) fn patched(
        &self,
        index: &super::FlagIndex,
        current: &Flag,
        patch: FlagPatch,
    ) -> Result<Flag, BlocklistError> {
        let now = self.now_ms();
        {
            let mut next = current.clone();
            if let Some(reason) = patch.reason {
                next.reason = reason
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty())
                    .map(Into::into);
            }
            if let Some(expires) = patch.expires_at {
                next.expires_at = match expires.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(at) => Some(flag::parse_time("expires_at", at)?),
                };
            }
            if let Some(raw) = &patch.value {
                let text = flag::value_string(raw).ok_or(FlagError::ValueType)?;
                let value = flag::normalize_value(&next.field, &text, &self.country)?;
                if let Some(other) = index
                    .with_value(&next.field, &value)
                    .find(|f| f.id != next.id)
                {
                    return Err(BlocklistError::Conflict(other.id.to_string()));
                }
                next.value = value.into_boxed_str();
            }
            next.updated_at = Some(now);
            Ok(next)
        }
    }

    /// Turns all matching on or off; persisted like any other change.
    pub async fn set_enabled(&self, enabled: bool) -> Result<(), BlocklistError> {
        if let Some(shared) = &self.shared {
            return self.set_enabled_shared(&shared.db, enabled).await;
        }
        let pending = {
            let mut index = write(&self.index);
            index.enabled = enabled;
            self.enqueue(ChangeOut::Enabled { enabled })
        };
        pending.wait().await?;
        tracing::info!(enabled, "blocklist enabled flag changed");
        self.after_write("enabled", 1);
        Ok(())
    }

    /// Adds many flags as durable batches: returns how many were added and which already
    /// existed (by field and value, including repeats within the batch).
    pub async fn add_many(
        &self,
        records: Vec<FlagRecord>,
    ) -> Result<(Vec<Flag>, Vec<Flag>), BlocklistError> {
        const CHUNK: usize = 10_000;
        let now = self.now_ms();
        let mut added = Vec::new();
        let mut existing = Vec::new();
        let mut waits = Vec::new();
        let mut flags = Vec::with_capacity(records.len());
        for mut record in records {
            record.id = None;
            record.updated_at = None;
            if record.added_at.is_none() {
                record.added_at = None;
            }
            flags.push(record.into_flag(&self.country, now, || flag::new_flag_id(now))?);
        }
        if let Some(shared) = &self.shared {
            let (added, _, existing) = self.add_many_shared(&shared.db, flags, false).await?;
            return Ok((added, existing));
        }
        for chunk in flags.chunks(CHUNK) {
            let mut fresh = Vec::with_capacity(chunk.len());
            let mut index = write(&self.index);
            for flag in chunk {
                if let Some(found) = index.live_with_value(&flag.field, &flag.value, now) {
                    existing.push(found.clone());
                    continue;
                }
                let mut flag = flag.clone();
                while index.contains_id(&flag.id) {
                    flag.id = flag::new_flag_id(now).into_boxed_str();
                }
                index.insert(flag.clone());
                fresh.push(flag);
            }
            if !fresh.is_empty() {
                waits.push(self.enqueue(ChangeOut::PutMany { flags: &fresh }));
            }
            drop(index);
            added.extend(fresh);
        }
        for wait in waits {
            wait.wait().await?;
        }
        tracing::info!(
            added = added.len(),
            existing = existing.len(),
            "blocklist bulk import"
        );
        if !added.is_empty() {
            self.after_write("bulk", added.len());
        }
        Ok((added, existing))
    }

    /// Imports flags from another system keeping their ids and timestamps (migration).
    /// Returns (added, already here by id, merged into a flag with the same field and value).
    pub async fn import_kept(
        &self,
        flags: Vec<Flag>,
    ) -> Result<(usize, usize, usize), BlocklistError> {
        if let Some(shared) = &self.shared {
            let (added, same_id, merged) = self.add_many_shared(&shared.db, flags, true).await?;
            return Ok((added.len(), same_id, merged.len()));
        }
        let (mut same_id, mut merged) = (0, 0);
        let fresh: Vec<Flag> = {
            let mut index = write(&self.index);
            let mut fresh = Vec::new();
            for flag in flags {
                if index.contains_id(&flag.id) {
                    same_id += 1;
                } else if index.with_value(&flag.field, &flag.value).next().is_some() {
                    merged += 1;
                } else {
                    index.insert(flag.clone());
                    fresh.push(flag);
                }
            }
            fresh
        };
        if !fresh.is_empty() {
            self.enqueue(ChangeOut::PutMany { flags: &fresh })
                .wait()
                .await?;
            self.after_write("import", fresh.len());
        }
        Ok((fresh.len(), same_id, merged))
    }
}
