//! Building the components from [`Settings`] for either backend: the files in `DATA_DIR`
//! (locked to this process), or PostgreSQL (`DATABASE_URL`, shared by every instance; no
//! lock, `DATA_DIR` holds only this instance's quarantine file and rule overrides).

use std::sync::Arc;

use anyhow::Context;

use crate::blocklist::file::FileFlags;
use crate::blocklist::Blocklist;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::dispatch::callerid::store::{DbCalls as DbPoolCalls, FileCalls, PoolCalls};
use crate::dispatch::callerid::CallerIds;
use crate::feeds::copies::{DbCopies, FeedCopies, FileCopies};
use crate::feeds::Feeds;
use crate::journal::Journals;
use crate::lists::versions::{DbVersions, FileVersions, ListVersions};
use crate::metrics::Metrics;
use crate::schedule::Scheduler;
use crate::stats::Statistics;
use crate::store::doc_store::{DbDocuments, DocumentStore, FileDocuments};
use crate::store::lease::{DbLeases, Leases, OneProcess};
use crate::store::quarantine::Quarantine;
use crate::store::DataDirLock;
use crate::tracker::Tracker;

/// Everything the server is made of, but the gateway.
pub(super) struct Components {
    pub db: Option<Db>,
    pub lock: Option<DataDirLock>,
    pub quarantine: Arc<Quarantine>,
    pub metrics: Arc<Metrics>,
    pub leases: Arc<dyn Leases>,
    pub blocklist: Arc<Blocklist>,
    /// The file backend's blocklist files (folded and watched for hand edits).
    pub blocklist_files: Option<Arc<FileFlags>>,
    pub lists: Arc<crate::lists::Lists>,
    pub journals: Arc<Journals>,
    pub stats: Arc<Statistics>,
    pub feeds: Arc<Feeds>,
    pub scheduler: Arc<Scheduler>,
    pub tracker: Arc<Tracker>,
    pub caller_ids: Arc<CallerIds>,
}

pub(super) async fn build(settings: &Settings, clock: &SharedClock) -> anyhow::Result<Components> {
    let db = match &settings.database_url {
        None => None,
        Some(url) => Some(
            Db::connect(url.expose(), settings.database_max_connections)
                .await
                .context("DATABASE_URL: cannot connect to the database or migrate its schema")?,
        ),
    };
    let lock = match db {
        None => Some(DataDirLock::acquire(&settings.data_dir)?),
        Some(_) => {
            std::fs::create_dir_all(&settings.data_dir)
                .context("DATA_DIR: cannot create the directory")?;
            None
        }
    };
    let quarantine = Arc::new(
        Quarantine::open(&settings.data_dir)
            .context("DATA_DIR: cannot open the quarantine file")?,
    );
    crate::domain::phone::warm_up();
    let metrics = Arc::new(Metrics::new());
    let (leases, copies): (Arc<dyn Leases>, Arc<dyn FeedCopies>) = match &db {
        None => (
            Arc::new(OneProcess),
            Arc::new(FileCopies::new(&settings.data_dir)),
        ),
        Some(db) => (
            Arc::new(DbLeases::new(db.clone())),
            Arc::new(DbCopies(db.clone())),
        ),
    };
    let feeds = Feeds::open(
        &settings.feeds,
        &settings.content,
        &settings.default_country,
        clock.clone(),
        metrics.clone(),
        copies,
        leases.clone(),
    )
    .await;
    let feeds = Arc::new(feeds);
    let ((blocklist, blocklist_files), journals, scheduler, tracker, caller_ids) = match &db {
        None => files(settings, clock, &metrics, &quarantine).await?,
        Some(db) => rows(db, settings, clock, &metrics).await?,
    };
    let stats = Arc::new(Statistics::new(journals.clone()).with_quarantine(quarantine.clone()));
    let versions: Arc<dyn ListVersions> = match &db {
        None => Arc::new(FileVersions::in_data_dir(&settings.data_dir)),
        Some(db) => Arc::new(DbVersions::new(db.clone())),
    };
    let lists = crate::lists::Lists::load(
        &settings.data_dir,
        &settings.lists,
        clock.clone(),
        settings.timezone,
        versions,
    )
    .await
    .context("cannot load the do-not-call lists")?;
    let lists = Arc::new(lists);
    Ok(Components {
        db,
        lock,
        quarantine,
        metrics,
        leases,
        blocklist,
        blocklist_files,
        lists,
        journals,
        stats,
        feeds,
        scheduler,
        tracker,
        caller_ids,
    })
}

/// The blocklist (with its files, for the file backend's fold and hand-edit tasks), the
/// journals, the scheduler and the trackers.
type Stores = (
    (Arc<Blocklist>, Option<Arc<FileFlags>>),
    Arc<Journals>,
    Arc<Scheduler>,
    Arc<Tracker>,
    Arc<CallerIds>,
);

/// The file backend: the blocklist document and its change log, the daily journals, the
/// config documents, and the trackers rebuilt from yesterday's and today's journals.
async fn files(
    settings: &Settings,
    clock: &SharedClock,
    metrics: &Arc<Metrics>,
    quarantine: &Arc<Quarantine>,
) -> anyhow::Result<Stores> {
    let (blocklist, blocklist_files) = Blocklist::open_files(
        &settings.data_dir,
        &settings.default_country,
        settings.blocklist_compact_after,
        clock.clone(),
        metrics.clone(),
    )
    .context("cannot load the blocklist; refusing to start without it")?;
    let blocklist = (Arc::new(blocklist), Some(blocklist_files));
    let journals = Arc::new(
        Journals::open(&settings.data_dir, settings.timezone)
            .context("DATA_DIR: cannot open the journals")?,
    );
    let today = crate::clock::business_date(clock.now(), settings.timezone);
    let days: Vec<_> = [today.pred_opt(), Some(today)]
        .into_iter()
        .flatten()
        .collect();
    journals
        .restore_attempts(&days)
        .await
        .context("DATA_DIR: cannot restore the attempts journal from the call journal")?;
    let docs = Arc::new(FileDocuments::new(&settings.data_dir));
    let (scheduler, tracker) = configured(settings, docs.clone()).await?;
    let calls = file_pool_calls(settings, clock, &journals, quarantine)?;
    let caller_ids = caller_ids(settings, clock, docs, calls, &scheduler).await?;
    let events = tracker
        .rebuild(&settings.data_dir, clock.now(), quarantine)
        .context("DATA_DIR: cannot rebuild the call trackers from the call journal")?;
    let (numbers, leads) = tracker.size();
    tracing::info!(
        events,
        numbers,
        leads,
        "call trackers rebuilt from the call journal"
    );
    Ok((blocklist, journals, scheduler, tracker, caller_ids))
}

/// The pool's calls on files: the call journal's days in the window replayed.
fn file_pool_calls(
    settings: &Settings,
    clock: &SharedClock,
    journals: &Journals,
    quarantine: &Quarantine,
) -> anyhow::Result<Arc<dyn PoolCalls>> {
    let window = settings
        .caller_id_pool
        .get("window_hours")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(48)
        .clamp(48, 24 * 30);
    let now = clock.now();
    let from =
        crate::clock::business_date(now - chrono::Duration::hours(window), settings.timezone);
    let to = crate::clock::business_date(now, settings.timezone);
    let calls = FileCalls::rebuild(journals, from, to, quarantine)
        .context("DATA_DIR: cannot rebuild the caller-ID pool's calls from the call journal")?;
    Ok(Arc::new(calls))
}

/// The caller-ID pool over its document and calls.
async fn caller_ids(
    settings: &Settings,
    clock: &SharedClock,
    docs: Arc<dyn DocumentStore>,
    calls: Arc<dyn PoolCalls>,
    scheduler: &Scheduler,
) -> anyhow::Result<Arc<CallerIds>> {
    let default = crate::dispatch::callerid::config::from_settings(
        &settings.caller_ids,
        &settings.caller_id_pool,
    );
    let rules = scheduler.rules.clone();
    let pool = CallerIds::open(
        docs,
        &default,
        calls,
        rules,
        settings.timezone,
        clock.clone(),
    )
    .await
    .context("cannot load the caller-ID pool")?;
    Ok(Arc::new(pool))
}

/// The database backend: flags, journals and config documents are rows; the trackers
/// start empty and read a number's history from the journal rows at each decision.
async fn rows(
    db: &Db,
    settings: &Settings,
    clock: &SharedClock,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Stores> {
    let blocklist = Arc::new(
        Blocklist::open_db(
            db.clone(),
            &settings.default_country,
            clock.clone(),
            metrics.clone(),
        )
        .await
        .context("cannot load the blocklist from the database; refusing to start without it")?,
    );
    let blocklist = (blocklist, None);
    let journals = Arc::new(Journals::open_db(
        db.clone(),
        &settings.data_dir,
        settings.timezone,
    ));
    let docs = Arc::new(DbDocuments::new(db.clone(), clock.clone()));
    let (scheduler, tracker) = configured(settings, docs.clone()).await?;
    let calls: Arc<dyn PoolCalls> = Arc::new(DbPoolCalls::new(db.clone()));
    let caller_ids = caller_ids(settings, clock, docs, calls, &scheduler).await?;
    Ok((blocklist, journals, scheduler, tracker, caller_ids))
}

/// The scheduler and the trackers, their config documents in `docs`.
async fn configured(
    settings: &Settings,
    docs: Arc<dyn DocumentStore>,
) -> anyhow::Result<(Arc<Scheduler>, Arc<Tracker>)> {
    let scheduler = Scheduler::open(
        &settings.data_dir,
        settings.timezone,
        settings.lead_fields.state.clone(),
        docs.clone(),
    )
    .await
    .context("cannot load the scheduler config or the calling-window rules")?;
    let tracker = Tracker::open(settings.timezone, docs)
        .await
        .context("cannot load the answering-machine or protection config")?;
    Ok((Arc::new(scheduler), Arc::new(tracker)))
}

/// The storage probe of `/health` and `/health/ready`.
pub(super) fn storage_probe(
    settings: &Settings,
    db: Option<&Db>,
) -> Arc<dyn crate::store::probe::StorageProbe> {
    use crate::store::probe::{DbProbe, FileProbe};
    match db {
        None => Arc::new(FileProbe::new(&settings.data_dir)),
        Some(db) => Arc::new(DbProbe::new(db.clone(), &settings.data_dir)),
    }
}
