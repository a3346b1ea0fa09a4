//! Resting a number (by hand, or automatically when it answers far below the pool),
//! bringing it back, and clearing the cooldowns: each a change of the pool's document,
//! so it holds on every instance and across restarts.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::config::{self, PoolConfig};
use super::select::{self, State};
use super::CallerIds;
use crate::store::document::{Invalid, UpdateError};

impl CallerIds {
    pub(super) async fn rest_if_failing(
        &self,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<(), UpdateError> {
        let (st, t) = self.status(now).await?;
        let c = self.config.get();
        let Some(u) = t.numbers.get(number) else {
            return Ok(());
        };
        let Some(reason) = select::rest_reason(&c.doc, u, &t) else {
            return Ok(());
        };
        let left = st
            .iter()
            .filter(|s| s.number != number && !matches!(s.state, State::Disabled | State::Rested))
            .count();
        if left < c.doc.min_available as usize {
            tracing::warn!(number, reason, "a failing caller id is kept: resting it would leave fewer than min_available numbers");
            return Ok(());
        }
        tracing::warn!(number, reason, "caller id rested automatically");
        self.rest(number, &reason, None, "automatic", now)
            .await
            .map(|_| ())
    }

    /// Rests `number` (`until`: none = until an admin brings it back).
    pub async fn rest(
        &self,
        number: &str,
        reason: &str,
        until: Option<DateTime<Utc>>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<PoolConfig, UpdateError> {
        self.known(number)?;
        let rest = config::Rest {
            reason: reason.to_string(),
            until,
            at: now,
            by: by.to_string(),
        };
        let rest = serde_json::to_value(rest).map_err(|e| Invalid(e.to_string()))?;
        self.config
            .update(&json!({"numbers": {number: {"rested": rest}}}))
            .await
    }

    /// Brings `number` back: not rested, and its earlier calls no longer count toward
    /// the automatic rest.
    pub async fn unrest(
        &self,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<PoolConfig, UpdateError> {
        self.known(number)?;
        let from = crate::clock::format_instant(now);
        self.config
            .update(&json!({"numbers": {number: {"rested": null, "counted_from": from}}}))
            .await
    }

    /// Ends every cooldown: streaks count only outcomes after `now`.
    pub async fn clear_cooldowns(&self, now: DateTime<Utc>) -> Result<PoolConfig, UpdateError> {
        let at = crate::clock::format_instant(now);
        self.config
            .update(&json!({"cooldowns_cleared_at": at}))
            .await
    }

    pub(super) fn known(&self, number: &str) -> Result<(), UpdateError> {
        if self.config.get().doc.numbers.contains_key(number) {
            Ok(())
        } else {
            Err(UpdateError::Invalid(Invalid(format!(
                "`{number}` is not in the caller-ID pool"
            ))))
        }
    }
}
