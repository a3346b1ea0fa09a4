//! Blocklist writes: add, remove, update, enable/disable, bulk and migration imports.
//! Each is made durable by the [`super::store::FlagStore`] before it returns; this layer
//! builds the flag, logs the change and counts it.

use super::flag::{self, Flag, FlagError, FlagRecord};
use super::{Added, Blocklist, BlocklistError, FlagPatch};
use crate::metrics::OpLabels;

impl Blocklist {
    fn after_write(&self, op: &'static str) {
        self.metrics
            .blocklist_writes
            .get_or_create(&OpLabels { op })
            .inc();
        self.metrics.blocklist_flags.set(self.len() as i64);
    }

    /// Adds a flag, or returns the live flag that already has this field and value.
    pub async fn add(&self, mut record: FlagRecord) -> Result<Added, BlocklistError> {
        let now = self.now_ms();
        record.added_at = None;
        let flag = self.fresh_flag(record, now)?;
        let (flag, already_existed) = self.store.add(&self.index, flag, self.clock.now()).await?;
        if !already_existed {
            tracing::info!(id = %flag.id(), field = %flag.field, value = %flag.value(),
                reason = flag.reason.as_deref().unwrap_or(""), "blocklist flag added");
            self.after_write("add");
        }
        Ok(Added {
            flag,
            already_existed,
        })
    }

    /// Removes a flag by id.
    pub async fn remove(&self, id: &str) -> Result<Flag, BlocklistError> {
        let flag = self.store.remove(&self.index, id, self.clock.now()).await?;
        tracing::info!(id = %flag.id(), field = %flag.field, value = %flag.value(),
            reason = flag.reason.as_deref().unwrap_or(""), "blocklist flag removed");
        self.after_write("remove");
        Ok(flag)
    }

    /// Changes a flag's reason, expiry or value (re-normalised; a clash is a conflict).
    pub async fn update(&self, id: &str, patch: FlagPatch) -> Result<Flag, BlocklistError> {
        let now = self.now_ms();
        let apply =
            |index: &super::FlagIndex, current: &Flag| self.patched(index, current, &patch, now);
        let updated = self
            .store
            .update(&self.index, id, &apply, self.clock.now())
            .await?;
        tracing::info!(id = %updated.id(), field = %updated.field, value = %updated.value(),
            reason = updated.reason.as_deref().unwrap_or(""), "blocklist flag updated");
        self.after_write("update");
        Ok(updated)
    }

    /// `current` with `patch` applied (a value re-normalised; a clash is a conflict).
    fn patched(
        &self,
        index: &super::FlagIndex,
        current: &Flag,
        patch: &FlagPatch,
        now: i64,
    ) -> Result<Flag, BlocklistError> {
        let mut next = current.clone();
        if let Some(reason) = &patch.reason {
            next.reason = reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(Into::into);
        }
        if let Some(expires) = &patch.expires_at {
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
                .find(|f| f.id() != next.id())
            {
                return Err(BlocklistError::Conflict(other.id().to_string()));
            }
            next.set_value(&value);
        }
        next.updated_at = Some(now);
        Ok(next)
    }

    /// Turns all matching on or off; persisted like any other change.
    pub async fn set_enabled(&self, enabled: bool) -> Result<(), BlocklistError> {
        self.store
            .set_enabled(&self.index, enabled, self.clock.now())
            .await?;
        tracing::info!(enabled, "blocklist enabled flag changed");
        self.after_write("enabled");
        Ok(())
    }

    /// Adds many flags as durable batches: returns how many were added and which already
    /// existed (by field and value, including repeats within the batch).
    pub async fn add_many(
        &self,
        records: Vec<FlagRecord>,
    ) -> Result<(Vec<Flag>, Vec<Flag>), BlocklistError> {
        let now = self.now_ms();
        let mut flags = Vec::with_capacity(records.len());
        for mut record in records {
            record.id = None;
            record.updated_at = None;
            flags.push(record.into_flag(&self.country, now, || flag::new_flag_id(now))?);
        }
        let (added, _, existing) = self
            .store
            .add_many(&self.index, flags, false, self.clock.now())
            .await?;
        tracing::info!(
            added = added.len(),
            existing = existing.len(),
            "blocklist bulk import"
        );
        if !added.is_empty() {
            self.after_write("bulk");
        }
        Ok((added, existing))
    }

    /// Imports flags from another system keeping their ids and timestamps (migration).
    /// Returns (added, already here by id, merged into a flag with the same field and value).
    pub async fn import_kept(
        &self,
        flags: Vec<Flag>,
    ) -> Result<(usize, usize, usize), BlocklistError> {
        let (added, same_id, merged) = self
            .store
            .add_many(&self.index, flags, true, self.clock.now())
            .await?;
        if !added.is_empty() {
            self.after_write("import");
        }
        Ok((added.len(), same_id, merged.len()))
    }

    /// A new flag from a record, with a fresh id (the shared path of `add` and bulk).
    fn fresh_flag(&self, mut record: FlagRecord, now: i64) -> Result<Flag, FlagError> {
        record.id = None;
        record.updated_at = None;
        record.into_flag(&self.country, now, || flag::new_flag_id(now))
    }
}
