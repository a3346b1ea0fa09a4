//! Builds every component once from [`Settings`], binds (port 0 works), runs, and shuts
//! down gracefully: stop accepting, let in-flight requests finish (bounded by
//! `SHUTDOWN_TIMEOUT_SECS`), stop background tasks, fold the blocklist change log into its
//! document, release the data-directory lock.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::dispatch;
use crate::routes::{self, auth::AdminKeys, error::extractor_configs, AppState};
use crate::store::DataDirLock;

mod gateway;
mod parts;
mod tasks;

/// How long writes must be idle before the change log is folded into the document.
pub const COMPACT_IDLE: Duration = Duration::from_secs(30);

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
    /// The queues flushed at shutdown.
    ledger: Arc<dispatch::Ledger>,
    stop_tasks: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    dispatcher: JoinHandle<()>,
    /// The data-directory lock (file backend only).
    _lock: Option<DataDirLock>,
}

/// The listener on `HOST:PORT` (port 0: any free port) and its address.
fn bind(settings: &Settings) -> anyhow::Result<(TcpListener, std::net::SocketAddr)> {
    let listener =
        TcpListener::bind((settings.host.as_str(), settings.port)).with_context(|| {
            format!(
                "HOST/PORT: cannot listen on {}:{}",
                settings.host, settings.port
            )
        })?;
    let addr = listener
        .local_addr()
        .context("HOST/PORT: no local address")?;
    Ok((listener, addr))
}

/// The components `/health` reports on, in its order.
fn health_sources(
    gateway: &dispatch::Gateway,
    blocklist: &Arc<crate::blocklist::Blocklist>,
    feeds: &Arc<crate::feeds::Feeds>,
    lists: &Arc<crate::lists::Lists>,
    quarantine: &Arc<crate::store::quarantine::Quarantine>,
) -> Vec<Arc<dyn crate::health::HealthSource>> {
    let mut health: Vec<Arc<dyn crate::health::HealthSource>> = vec![
        blocklist.clone(),
        gateway.sending.clone(),
        feeds.clone(),
        Arc::new(dispatch::SchedulerHealth(gateway.intake.clone())),
        gateway.ledger.tracker.clone(),
        quarantine.clone(),
        lists.clone(),
    ];
    if let Some(wb) = &gateway.follow_ups.writeback {
        health.push(wb.clone());
    }
    health
}

/// The HTTP server on `listener`: the console, the API, the JSON 404.
fn http_server(
    settings: &Settings,
    listener: TcpListener,
    state: web::Data<AppState>,
    gateway: &dispatch::Gateway,
) -> anyhow::Result<Server> {
    let max_body = settings.max_body_bytes;
    // Each handler is given the part of the gateway it calls, not the whole of it.
    let ledger = web::Data::from(gateway.ledger.clone());
    let intake = web::Data::from(gateway.intake.clone());
    let follow_ups = web::Data::from(gateway.follow_ups.clone());
    let reconciler = web::Data::from(gateway.reconciler.clone());
    let caller_ids = web::Data::from(gateway.sending.caller_ids.clone());
    let texts = web::Data::from(gateway.texts.texts.clone());
    let mut server = HttpServer::new(move || {
        let (json, payload, form, query, path) = extractor_configs(max_body);
        App::new()
            .app_data(state.clone())
            .app_data(ledger.clone())
            .app_data(intake.clone())
            .app_data(follow_ups.clone())
            .app_data(reconciler.clone())
            .app_data(caller_ids.clone())
            .app_data(texts.clone())
            .app_data(json)
            .app_data(payload)
            .app_data(form)
            .app_data(query)
            .app_data(path)
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(routes::middleware::observe))
            .configure(crate::console::configure)
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .disable_signals()
    .shutdown_timeout(settings.shutdown_timeout_secs);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(server
        .listen(listener)
        .context("HOST/PORT: cannot listen")?
        .run())
}

fn log_started(settings: &Settings, addr: std::net::SocketAddr) {
    if settings.admin_api_keys.is_empty() {
        tracing::warn!("no ADMIN_API_KEY: the admin API and the console answer 503 until one is set (it is never open)");
    }
    tracing::info!(
        %addr,
        data_dir = %settings.data_dir.display(),
        timezone = settings.timezone.name(),
        mode = if settings.dry_run() { "dry_run" } else { "live" },
        admin_api = !settings.admin_api_keys.is_empty(),
        "callgate listening on {addr}"
    );
}

pub(super) async fn until_stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Starts the decision batcher and the dispatcher, and queues the calls the previous run
/// left in the outbox (`ready`); the dispatcher's handle.
fn start_sending(
    gateway: &dispatch::Gateway,
    queue: tokio::sync::mpsc::UnboundedReceiver<dispatch::Wake>,
    ready: Vec<String>,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    dispatch::batch::spawn(&gateway.intake);
    let dispatcher = tokio::spawn(dispatch::worker::run(
        gateway.sending.clone(),
        queue,
        until_stopped(stopped),
    ));
    if !ready.is_empty() {
        tracing::info!(
            count = ready.len(),
            "sending calls left in the outbox by the previous run"
        );
    }
    gateway.ledger.enqueue(ready);
    dispatcher
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds the application with an injected clock (tests pin time with it).
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let components = parts::build(&settings, &clock).await?;
        let shared_settings = Arc::new(settings.clone());
        let (gateway, queue, ready) =
            gateway::build_gateway(&shared_settings, &components, &clock).await?;
        let parts::Components {
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
        } = components;
        let (listener, addr) = bind(&settings)?;
        let mut health = health_sources(&gateway, &blocklist, &feeds, &lists, &quarantine);
        health.insert(2, caller_ids.clone());
        let state = web::Data::new(AppState {
            admin_keys: AdminKeys::new(&settings.admin_api_keys),
            settings: shared_settings,
            clock,
            metrics,
            health,
            quarantine,
            started: Instant::now(),
            blocklist: blocklist.clone(),
            lists: lists.clone(),
            journals,
            stats,
            tracker: tracker.clone(),
            scheduler: scheduler.clone(),
            writeback: gateway.follow_ups.writeback.clone(),
            feeds: feeds.clone(),
            storage: parts::storage_probe(&settings, db.as_ref()),
        });
        let server = http_server(&settings, listener, state.clone(), &gateway)?;

        let (stop_tasks, stopped) = watch::channel(false);
        let tasks = tasks::spawn(
            tasks::Background {
                state: state.clone(),
                feeds,
                lists,
                blocklist,
                blocklist_files,
                scheduler,
                tracker,
                caller_ids,
                leases,
                intake: gateway.intake.clone(),
                reconciler: gateway.reconciler.clone(),
                rollups: db.is_some(),
                texts: gateway.texts.clone(),
            },
            &stopped,
        );
        let dispatcher = start_sending(&gateway, queue, ready, stopped);
        log_started(&settings, addr);
        Ok(Self {
            server,
            port: addr.port(),
            state,
            ledger: gateway.ledger.clone(),
            stop_tasks,
            tasks,
            dispatcher,
            _lock: lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully when `stop(true)` is awaited on it.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then shuts every component down in order.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            server,
            state,
            ledger,
            stop_tasks,
            tasks,
            dispatcher,
            _lock,
            ..
        } = self;
        server.await.context("HTTP server failed")?;
        // No new intake now; let sends in flight finish, then stop the background tasks.
        let _ = stop_tasks.send(true);
        let _ = dispatcher.await;
        for task in tasks {
            let _ = task.await;
        }
        if let Err(e) = ledger.deferred_store.flush().await {
            tracing::error!(error = %e, "could not flush the deferred queue at shutdown");
        }
        if let Err(e) = ledger.outbox_store.flush().await {
            tracing::error!(error = %e, "could not flush the outbox at shutdown");
        }
        if let Err(e) = state.journals.flush().wait().await {
            tracing::error!(error = %e, "could not flush the journals at shutdown");
        }
        let blocklist = state.blocklist.clone();
        match tokio::task::spawn_blocking(move || blocklist.compact()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not fold the blocklist change log at shutdown; it is replayed at the next start")
            }
            Err(e) => tracing::error!(error = %e, "shutdown compaction task failed"),
        }
        tracing::info!("callgate stopped");
        Ok(())
    }
}
