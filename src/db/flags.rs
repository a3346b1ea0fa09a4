//! Blocklist flags in PostgreSQL, and the change log every instance follows. A write
//! commits the flag and its change together and announces the change's `seq` on
//! [`CHANNEL`]; instances apply [`Db::flag_changes_since`] their last `seq`. Adding a flag
//! whose field and value already have a live flag returns that flag, decided under a
//! transaction-scoped advisory lock on the pair, so two instances adding the same number
//! at once make one flag. Flags cross this boundary as [`FlagRow`]s: the blocklist's own
//! types stay above the storage layer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Row, Transaction};

use super::{Db, DbError};

/// The `LISTEN`/`NOTIFY` channel that carries the `seq` of a new flag change.
pub const CHANNEL: &str = "callgate_flags";

/// A flag as stored (times in milliseconds since the epoch, like the blocklist's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRow {
    pub id: String,
    pub field: String,
    pub value: String,
    pub reason: Option<String>,
    pub added_by: Option<String>,
    pub added_at: i64,
    pub expires_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagChange {
    Put(FlagRow),
    Delete(String),
    Enabled(bool),
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn row_of(r: &sqlx::postgres::PgRow) -> Result<FlagRow, sqlx::Error> {
    let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
    Ok(FlagRow {
        id: r.try_get("id")?,
        field: r.try_get("field")?,
        value: r.try_get("value")?,
        reason: r.try_get("reason")?,
        added_by: r.try_get("added_by")?,
        added_at: r
            .try_get::<DateTime<Utc>, _>("added_at")?
            .timestamp_millis(),
        expires_at: ms(r.try_get("expires_at")?),
        updated_at: ms(r.try_get("updated_at")?),
    })
}

const COLUMNS: &str = "id, field, value, reason, added_by, added_at, expires_at, updated_at";

/// Serialises flag writes: every writer takes this transaction-scoped lock before it
/// appends to the change log, so changes commit in `seq` order and a follower reading
/// "after my last `seq`" can never skip one that commits late.
async fn writer_lock(tx: &mut Transaction<'_, Postgres>) -> Result<(), DbError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('callgate_flag_writes', 0))")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What [`Db::add_flags`] did with one flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Inserted,
    /// A flag with this id is already stored (`keep_ids` imports).
    SameId,
    /// A live flag already has this field and value: that flag.
    Existing(FlagRow),
}

/// Appends a change and announces it; returns its `seq`.
async fn log_change(
    tx: &mut Transaction<'_, Postgres>,
    change: &FlagChange,
    at: DateTime<Utc>,
) -> Result<i64, DbError> {
    let (op, id, flag, enabled) = match change {
        FlagChange::Put(f) => (
            "put",
            Some(f.id.clone()),
            Some(serde_json::to_value(f).map_err(|e| sqlx::Error::Encode(Box::new(e)))?),
            None,
        ),
        FlagChange::Delete(id) => ("delete", Some(id.clone()), None, None),
        FlagChange::Enabled(on) => ("enabled", None, None, Some(*on)),
    };
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO flag_changes (op, flag_id, flag, enabled, at) VALUES ($1, $2, $3, $4, $5)
         RETURNING seq",
    )
    .bind(op)
    .bind(id)
    .bind(flag)
    .bind(enabled)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(seq.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

async fn upsert(tx: &mut Transaction<'_, Postgres>, f: &FlagRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO flags (id, field, value, reason, added_by, added_at, expires_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET field = EXCLUDED.field, value = EXCLUDED.value,
           reason = EXCLUDED.reason, added_by = EXCLUDED.added_by, added_at = EXCLUDED.added_at,
           expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at",
    )
    .bind(&f.id)
    .bind(&f.field)
    .bind(&f.value)
    .bind(&f.reason)
    .bind(&f.added_by)
    .bind(instant(f.added_at))
    .bind(f.expires_at.map(instant))
    .bind(f.updated_at.map(instant))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Every flag, whether matching is on, and the last change `seq` they include.
    pub async fn load_flags(&self) -> Result<(bool, Vec<FlagRow>, i64), DbError> {
        let mut tx = self.pool.begin().await?;
        // One snapshot: the flags and the change log agree.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let enabled: bool = sqlx::query_scalar("SELECT enabled FROM blocklist_state")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM flags ORDER BY added_at, ord"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM flag_changes")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let flags = rows.iter().map(row_of).collect::<Result<_, _>>()?;
        Ok((enabled, flags, seq))
    }

    /// Adds `flag` unless a live flag (no expiry, or one after `at`) has its field and
    /// value; returns the flag that is now there and whether it already existed.
    pub async fn add_flag(
        &self,
        flag: &FlagRow,
        at: DateTime<Utc>,
    ) -> Result<(FlagRow, bool), DbError> {
        let mut tx = self.pool.begin().await?;
        writer_lock(&mut tx).await?;
        let existing = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM flags WHERE field = $1 AND value = $2
             AND (expires_at IS NULL OR expires_at > $3) ORDER BY added_at LIMIT 1"
        ))
        .bind(&flag.field)
        .bind(&flag.value)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = existing {
            tx.commit().await?;
            return Ok((row_of(&r)?, true));
        }
        upsert(&mut tx, flag).await?;
        log_change(&mut tx, &FlagChange::Put(flag.clone()), at).await?;
        tx.commit().await?;
        Ok((flag.clone(), false))
    }

    /// Writes `flag` as it is (an update of reason, expiry or value).
    pub async fn put_flag(&self, flag: &FlagRow, at: DateTime<Utc>) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        writer_lock(&mut tx).await?;
        upsert(&mut tx, flag).await?;
        log_change(&mut tx, &FlagChange::Put(flag.clone()), at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a flag; returns it, or `None` if there was none.
    pub async fn delete_flag(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<FlagRow>, DbError> {
        let mut tx = self.pool.begin().await?;
        writer_lock(&mut tx).await?;
        let gone = sqlx::query(&format!(
            "DELETE FROM flags WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = gone else {
            return Ok(None);
        };
        log_change(&mut tx, &FlagChange::Delete(id.to_string()), at).await?;
        tx.commit().await?;
        Ok(Some(row_of(&row)?))
    }

    /// Turns matching on or off for every instance.
    pub async fn set_blocklist_enabled(
        &self,
        enabled: bool,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        writer_lock(&mut tx).await?;
        sqlx::query("UPDATE blocklist_state SET enabled = $1")
            .bind(enabled)
            .execute(&mut *tx)
            .await?;
        log_change(&mut tx, &FlagChange::Enabled(enabled), at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds many flags in one transaction (bulk imports): a flag whose field and value
    /// already have a live flag is not added, nor (with `keep_ids`, a migration) one whose
    /// id is stored. Returns what happened to each, in order.
    pub async fn add_flags(
        &self,
        flags: &[FlagRow],
        at: DateTime<Utc>,
        keep_ids: bool,
    ) -> Result<Vec<Added>, DbError> {
        let mut tx = self.pool.begin().await?;
        writer_lock(&mut tx).await?;
        let fields: Vec<&str> = flags.iter().map(|f| f.field.as_str()).collect();
        let values: Vec<&str> = flags.iter().map(|f| f.value.as_str()).collect();
        let ids: Vec<&str> = flags.iter().map(|f| f.id.as_str()).collect();
        let live = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM flags WHERE (field, value) IN
               (SELECT * FROM unnest($1::text[], $2::text[]))
             AND (expires_at IS NULL OR expires_at > $3) ORDER BY added_at, ord"
        ))
        .bind(&fields)
        .bind(&values)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        let mut by_value = std::collections::HashMap::new();
        for r in &live {
            let row = row_of(r)?;
            by_value
                .entry((row.field.clone(), row.value.clone()))
                .or_insert(row);
        }
        let stored: std::collections::HashSet<String> = if keep_ids {
            sqlx::query_scalar("SELECT id FROM flags WHERE id = ANY($1::text[])")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect()
        } else {
            Default::default()
        };
        let mut outcomes = Vec::with_capacity(flags.len());
        let mut fresh: Vec<&FlagRow> = Vec::new();
        for f in flags {
            let key = (f.field.clone(), f.value.clone());
            if stored.contains(&f.id) {
                outcomes.push(Added::SameId);
            } else if let Some(existing) = by_value.get(&key) {
                outcomes.push(Added::Existing(existing.clone()));
            } else {
                by_value.insert(key, f.clone());
                outcomes.push(Added::Inserted);
                fresh.push(f);
            }
        }
        if !fresh.is_empty() {
            insert_many(&mut tx, &fresh, at).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The changes after `seq`, oldest first, with their `seq`s.
    pub async fn flag_changes_since(&self, seq: i64) -> Result<Vec<(i64, FlagChange)>, DbError> {
        let rows = sqlx::query(
            "SELECT seq, op, flag_id, flag, enabled FROM flag_changes WHERE seq > $1 ORDER BY seq",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let seq: i64 = r.try_get("seq")?;
            let op: String = r.try_get("op")?;
            let change = match op.as_str() {
                "put" => {
                    let flag: serde_json::Value = r.try_get("flag")?;
                    FlagChange::Put(
                        serde_json::from_value(flag)
                            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    )
                }
                "delete" => FlagChange::Delete(
                    r.try_get::<Option<String>, _>("flag_id")?
                        .unwrap_or_default(),
                ),
                _ => FlagChange::Enabled(r.try_get::<Option<bool>, _>("enabled")?.unwrap_or(true)),
            };
            out.push((seq, change));
        }
        Ok(out)
    }
}

/// Inserts `flags` (none stored yet) and their changes with one statement each, and one
/// announcement.
async fn insert_many(
    tx: &mut Transaction<'_, Postgres>,
    flags: &[&FlagRow],
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let col = |f: fn(&FlagRow) -> Option<String>| flags.iter().map(|r| f(r)).collect::<Vec<_>>();
    let time = |f: fn(&FlagRow) -> Option<i64>| {
        flags.iter().map(|r| f(r).map(instant)).collect::<Vec<_>>()
    };
    let docs = flags
        .iter()
        .map(|f| serde_json::to_value(f).map_err(|e| sqlx::Error::Encode(Box::new(e))))
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "INSERT INTO flags (id, field, value, reason, added_by, added_at, expires_at, updated_at)
         SELECT i, f, v, r, b, a, e, u FROM unnest($1::text[], $2::text[], $3::text[],
           $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])
           WITH ORDINALITY AS t(i, f, v, r, b, a, e, u, n) ORDER BY n",
    )
    .bind(col(|f| Some(f.id.clone())))
    .bind(col(|f| Some(f.field.clone())))
    .bind(col(|f| Some(f.value.clone())))
    .bind(col(|f| f.reason.clone()))
    .bind(col(|f| f.added_by.clone()))
    .bind(time(|f| Some(f.added_at)))
    .bind(time(|f| f.expires_at))
    .bind(time(|f| f.updated_at))
    .execute(&mut **tx)
    .await?;
    let seq: Option<i64> = sqlx::query_scalar(
        "WITH c AS (INSERT INTO flag_changes (op, flag_id, flag, at)
           SELECT 'put', i, d, $3 FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY
             AS t(i, d, n) ORDER BY n RETURNING seq)
         SELECT max(seq) FROM c",
    )
    .bind(col(|f| Some(f.id.clone())))
    .bind(&docs)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(seq.unwrap_or(0).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
