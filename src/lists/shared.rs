//! Database mode: every load is stored in `list_versions` (snapshot bytes and record), and
//! each instance installs a newer version another one stored — at startup and every
//! [`FOLLOW_EVERY`] after — checking the snapshot's SHA-256 first. A version that cannot be
//! read is logged and the one in force stays (at startup: a gated list stops startup).

use sha2::{Digest, Sha256};

use super::set::NumberSet;
use super::store::{hex, install, Lists, Meta};

/// Database mode: how often an instance looks for a newer version another one loaded.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Lists {
    /// Database mode: the lists' versions live in the database, shared by every instance
    /// (no file in `DATA_DIR/lists` is read or written). Loads the stored versions now; one
    /// that cannot be read stops startup for a gated list (fail closed) and leaves any
    /// other list empty, with an error logged.
    pub async fn open_db(
        data_dir: &std::path::Path,
        settings: &[crate::config::lists::ListSettings],
        clock: crate::clock::SharedClock,
        tz: chrono_tz::Tz,
        db: crate::db::Db,
    ) -> anyhow::Result<Self> {
        let mut lists = Self::unloaded(data_dir, settings, clock, tz);
        lists.shared = Some((db, tokio::runtime::Handle::current()));
        for (name, e) in lists.adopt().await {
            if lists
                .settings(&name)
                .is_some_and(|s| s.max_age_days.is_some())
            {
                anyhow::bail!("list `{name}`: {e}; refusing to start without it (it is gated)");
            }
        }
        Ok(lists)
    }

    /// Installs every stored version newer than the one in force here.
    pub async fn adopt_newer(&self) {
        self.adopt().await;
    }

    /// [`Lists::adopt_newer`], returning the lists whose stored version could not be read.
    async fn adopt(&self) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        let Some((db, _)) = &self.shared else {
            return failed;
        };
        for l in &self.lists {
            let name = &l.settings.name;
            let ours = l
                .current
                .load()
                .as_ref()
                .map_or(0, |v| v.meta.version as i64);
            match db.list_version(name).await {
                Ok(Some(v)) if v > ours => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(list = %name, error = %e, "cannot read the shared list version");
                    failed.push((name.clone(), e.to_string()));
                    continue;
                }
            }
            match db
                .list_snapshot(name)
                .await
                .map_err(|e| e.to_string())
                .and_then(|found| {
                    let (record, bytes) = found.ok_or("the stored version went away")?;
                    let meta: Meta = serde_json::from_value(record).map_err(|e| e.to_string())?;
                    if hex(&Sha256::digest(&bytes)) != meta.snapshot_sha256 {
                        return Err("the stored snapshot fails its checksum".to_string());
                    }
                    let set = NumberSet::read_from(bytes.as_slice()).map_err(|e| e.to_string())?;
                    Ok((meta, set))
                }) {
                Ok((meta, set)) => {
                    tracing::info!(list = %name, version = meta.version, count = meta.count, "list version loaded from the database");
                    install(l, meta, set);
                }
                Err(e) => {
                    tracing::error!(list = %name, error = %e, "a shared list version cannot be read; the version in force stays");
                    failed.push((name.clone(), e));
                }
            }
        }
        failed
    }

    /// Database mode: follows the other instances' loads until `shutdown`.
    pub async fn follow(&self, shutdown: impl std::future::Future<Output = ()>) {
        if self.shared.is_none() || self.lists.is_empty() {
            return;
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
            self.adopt_newer().await;
        }
    }
}
