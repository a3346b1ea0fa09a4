//! Day summaries in database mode: a settled day (before yesterday) is known by its last
//! line's id and read from its shared rollup; yesterday and today by their line count.

use std::io;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{fold_lines, Cached, DayCache, DaySummary};

impl<T: DaySummary> DayCache<T> {
    pub(super) fn update_rows(
        &self,
        journals: &crate::journal::Journals,
        kind: crate::journal::Kind,
        (date, today): (NaiveDate, NaiveDate),
        cached: Option<Cached<T>>,
    ) -> io::Result<Cached<T>> {
        let Some(rows) = journals.rows() else {
            return Err(io::Error::other("statistics: the journals are not rows"));
        };
        // A settled day (before yesterday: no decision is still committing into it) is
        // known by its last line's id, one index probe; yesterday and today by their count.
        let closed = today.pred_opt().is_some_and(|y| date < y);
        let count = if closed {
            rows.day_last_id(kind, date)?
        } else {
            rows.day_count(kind, date)?
        };
        if let Some(c) = cached.filter(|c| c.consumed == count) {
            return Ok(c);
        }
        if closed {
            // Another instance (or an earlier run) may have rolled this day up already.
            if let Some((lines, stored)) = rows.day_summary(kind, date)? {
                if lines == count {
                    if let Ok(summary) = serde_json::from_value::<T>(stored) {
                        return Ok(Cached {
                            consumed: count,
                            summary: Arc::new(summary),
                        });
                    }
                }
            }
        }
        let (path, bytes) = journals.day_bytes(kind, date)?;
        let mut summary = T::default();
        fold_lines(&path, 0, &bytes, &mut summary, self.quarantine.as_deref());
        if closed && count > 0 {
            let stored = serde_json::to_value(&summary)
                .map_err(io::Error::other)
                .and_then(|v| rows.store_day_summary(kind, date, count, &v));
            if let Err(e) = stored {
                tracing::warn!(%date, error = %e, "could not keep a day's rollup in the database");
            }
        }
        Ok(Cached {
            consumed: count,
            summary: Arc::new(summary),
        })
    }
}
