//! The background tasks, started with the server ([`spawn`]): each component's own (the
//! feeds' refresh, the Convoso write sender, the release rounds, reconciliation, the text
//! sender (on every instance: its claims give each text to one), following
//! the changes other instances make to flags, lists and config documents, and with files
//! the blocklist's fold and hand-edit watch) and the jobs that belong to no component:
//! journal retention and, in database mode, the statistics rollups. Each singleton job
//! runs on the instance holding its lease (the file backend's one process holds every
//! lease).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{until_stopped, COMPACT_IDLE};
use crate::blocklist::{file::FileFlags, watch as bl_watch, Blocklist};
use crate::dispatch;
use crate::routes::AppState;
use crate::store::lease::Leases;

/// What the background tasks work on.
pub(super) struct Background {
    pub state: web::Data<AppState>,
    pub feeds: Arc<crate::feeds::Feeds>,
    pub lists: Arc<crate::lists::Lists>,
    pub blocklist: Arc<Blocklist>,
    pub blocklist_files: Option<Arc<FileFlags>>,
    pub scheduler: Arc<crate::schedule::Scheduler>,
    pub tracker: Arc<crate::tracker::Tracker>,
    pub caller_ids: Arc<dispatch::callerid::CallerIds>,
    pub leases: Arc<dyn Leases>,
    /// The release task's and reconciliation's parts of the gateway.
    pub intake: Arc<dispatch::Intake>,
    pub reconciler: Arc<dispatch::Reconciler>,
    /// Whether to keep the statistics rollups (database mode).
    pub rollups: bool,
    /// The follow-up texts' sender.
    pub texts: Arc<dispatch::texts::send::Sender>,
}

/// Starts every background task; each stops when `stopped` turns true.
pub(super) fn spawn(b: Background, stopped: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let stop = || until_stopped(stopped.clone());
    let (sched, track, track2) = (b.scheduler, b.tracker.clone(), b.tracker);
    let (bl, lists) = (b.blocklist.clone(), b.lists);
    let (s1, s2, s3, s4) = (stop(), stop(), stop(), stop());
    let mut tasks = vec![
        tokio::spawn(b.feeds.run(stop())),
        tokio::spawn(writeback(b.state.writeback.clone(), stop())),
        tokio::spawn(dispatch::release::run(b.intake, stop())),
        tokio::spawn(dispatch::reconcile::run(b.reconciler, stop())),
        tokio::spawn(dispatch::texts::send::run(b.texts.clone(), stop())),
        tokio::spawn(lists.follow(stop())),
        tokio::spawn(async move { bl.follow(s1).await }),
        tokio::spawn(async move { sched.config.follow(s2).await }),
        tokio::spawn(async move { track.am.follow(s3).await }),
        tokio::spawn(async move { track2.protection.follow(s4).await }),
        tokio::spawn(retention(b.state.clone(), b.leases.clone(), stop())),
    ];
    let (pool, s5) = (b.caller_ids, stop());
    tasks.push(tokio::spawn(async move { pool.config.follow(s5).await }));
    let (texts, s6) = (b.texts.texts.clone(), stop());
    tasks.push(tokio::spawn(async move { texts.config.follow(s6).await }));
    if let Some(files) = b.blocklist_files {
        let dir = b.state.settings.data_dir.clone();
        tasks.push(tokio::spawn(bl_watch::watch(
            b.blocklist.clone(),
            files.clone(),
            dir,
            stop(),
        )));
        tasks.push(tokio::spawn(bl_watch::maintain(
            b.blocklist,
            files,
            COMPACT_IDLE,
            stop(),
        )));
    }
    if b.rollups {
        tasks.push(tokio::spawn(rollups(b.state, b.leases, stop())));
    }
    tasks
}

/// Sends the Convoso writes until the server stops.
async fn writeback(
    writeback: Option<Arc<dispatch::writeback::Writeback>>,
    stop: impl std::future::Future<Output = ()>,
) {
    if let Some(wb) = writeback {
        wb.run(stop).await;
    }
}

/// How often journal retention runs (the first pass at startup).
pub const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// How long the retention and rollups leases last without renewal.
const LEASE_TTL: chrono::Duration = chrono::Duration::minutes(2);

/// Retention: at startup and then every [`RETENTION_EVERY`], the instance holding the
/// `retention` lease removes the journal days older than `RETENTION_DAYS` (nothing to do
/// most passes; with several instances another takes over within two minutes when the
/// holder stops, at once after a clean stop).
pub(super) async fn retention(
    state: web::Data<AppState>,
    leases: Arc<dyn Leases>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(RETENTION_EVERY);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        let now = state.clock.now();
        let today = crate::clock::business_date(now, state.settings.timezone);
        let days = state.settings.retention_days;
        let Some(oldest_kept) = crate::journal::retention::oldest_kept(today, days) else {
            continue;
        };
        match leases.take("retention", now, LEASE_TTL).await {
            Ok(true) => {
                if let Err(e) = state.journals.store().purge_before(oldest_kept).await {
                    tracing::error!(error = %e, "journal retention failed");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot take the retention lease"),
        }
    }
    let _ = leases.give_up("retention").await;
}

/// Database mode: the instance holding the `rollups` lease makes the settled days' rollups
/// of every day retention keeps, at startup and then every ten minutes, so a statistics
/// request does not pay for reading a settled day's rows (another instance takes over
/// within two minutes; a clean stop hands over at once).
pub(super) async fn rollups(
    state: web::Data<AppState>,
    leases: Arc<dyn Leases>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        let now = state.clock.now();
        match leases.take("rollups", now, LEASE_TTL).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the rollups lease");
                continue;
            }
        }
        let today = crate::clock::business_date(now, state.settings.timezone);
        // Every day retention keeps (a year by default): after the first pass, a settled
        // day costs one index probe.
        let days = match state.settings.retention_days {
            0 => 366,
            n => u64::from(n).min(3660),
        };
        let Some(start) = today.checked_sub_days(chrono::Days::new(days)) else {
            continue;
        };
        let range = crate::stats::range::DateRange { start, end: today };
        let stats = state.stats.clone();
        match tokio::task::spawn_blocking(move || stats.warm(range, today)).await {
            Ok(Ok(days)) => tracing::debug!(days, "statistics rollups up to date"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not make the statistics rollups"),
            Err(e) => tracing::warn!(error = %e, "rollups task failed"),
        }
    }
    let _ = leases.give_up("rollups").await;
}
