//! Test harness: the real server on port 0 with a temporary data directory, a known admin
//! key, a fixed clock and a wiremock server standing in for Bland; plus helpers that run
//! the real binary as a child process (signals, `kill -9`, startup failures).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use callgate::clock::ManualClock;
use callgate::config::{Secret, Settings};
use callgate::startup::Application;
use chrono::{DateTime, Utc};
use tempfile::TempDir;
use wiremock::MockServer;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// 2026-11-23 10:00 Eastern.
pub fn fixed_now() -> DateTime<Utc> {
    "2026-11-23T15:00:00Z".parse().expect("valid instant")
}

/// Which backend the suite runs on: `CALLGATE_TEST_BACKEND=postgres` runs every in-process
/// app on a fresh PostgreSQL database of its own (`.ci/run` runs the suite both ways).
pub fn on_postgres() -> bool {
    std::env::var("CALLGATE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// For a test of the file backend's own formats (hand edits, torn lines, files written
/// behind the server's back): true on PostgreSQL, where the test does not apply; the
/// database's equivalents are tested in `shared.rs` and `src/db/tests`.
pub fn file_backend_only() -> bool {
    on_postgres()
}

/// A test's temporary data directory and, on PostgreSQL, its database: both live as long
/// as the value (across restarts of the app), and go with it.
pub struct TestDir {
    temp: TempDir,
    pub db: Option<callgate::db::scratch::Scratch>,
}

impl std::ops::Deref for TestDir {
    type Target = TempDir;
    fn deref(&self) -> &TempDir {
        &self.temp
    }
}

impl TestDir {
    /// A directory alone (the database comes from elsewhere).
    pub fn new_plain() -> Self {
        Self {
            temp: tempfile::tempdir().expect("temp dir"),
            db: None,
        }
    }

    pub async fn new() -> Self {
        let db = if on_postgres() {
            Some(
                callgate::db::scratch::Scratch::create()
                    .await
                    .expect("CALLGATE_TEST_BACKEND=postgres needs a PostgreSQL server"),
            )
        } else {
            None
        };
        Self {
            temp: tempfile::tempdir().expect("temp dir"),
            db,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub bland: MockServer,
    pub settings: Settings,
    pub dir: Arc<TestDir>,
    /// Another app's directory (and database) this app shares.
    pub _keep: Option<Arc<TestDir>>,
    handle: ServerHandle,
    join: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `tweak` has adjusted the test settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(TestDir::new().await);
    let bland = MockServer::start().await;
    let mut settings = Settings::defaults();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.data_dir = dir.path().join("data");
    settings.admin_api_keys = vec![Secret::new(ADMIN_KEY)];
    settings.workers = 2;
    settings.shutdown_timeout_secs = 5;
    settings.bland.api_url = bland.uri();
    settings.database_url = dir.db.as_ref().map(|d| Secret::new(d.url.clone()));
    settings.database_max_connections = 8;
    tweak(&mut settings);
    let clock = Arc::new(ManualClock::new(fixed_now()));
    start(settings, dir, bland, clock).await
}

/// Two instances on one fresh PostgreSQL database (whatever `CALLGATE_TEST_BACKEND` says),
/// sharing one clock and one mock Bland (the first app's; the second's is unused).
/// `None` when no server is reachable and this is not CI (the skip is printed once).
pub async fn spawn_pair(tweak: impl Fn(&mut Settings)) -> Option<(TestApp, TestApp)> {
    let scratch = callgate::db::scratch::Scratch::create().await?;
    let url = Secret::new(scratch.url.clone());
    let clock = Arc::new(ManualClock::new(fixed_now()));
    let bland = MockServer::start().await;
    let settings = |dir: &TempDir, bland: &str| {
        let mut s = Settings::defaults();
        s.host = "127.0.0.1".into();
        s.port = 0;
        s.data_dir = dir.path().join("data");
        s.admin_api_keys = vec![Secret::new(ADMIN_KEY)];
        s.workers = 2;
        s.shutdown_timeout_secs = 5;
        s.bland.api_url = bland.to_string();
        s.database_url = Some(url.clone());
        s.database_max_connections = 8;
        tweak(&mut s);
        s
    };
    let first_dir = Arc::new(TestDir {
        temp: tempfile::tempdir().expect("temp dir"),
        db: Some(scratch),
    });
    let second_dir = Arc::new(TestDir {
        temp: tempfile::tempdir().expect("temp dir"),
        db: None,
    });
    let uri = bland.uri();
    let first_settings = settings(&first_dir, &uri);
    let first = start(first_settings, first_dir.clone(), bland, clock.clone()).await;
    let second_settings = settings(&second_dir, &uri);
    let mut second = start_with(second_settings, second_dir, clock).await;
    // The second keeps the database alive as long as the first (either may be dropped).
    second._keep = Some(first_dir);
    Some((first, second))
}

/// Starts an app from explicit settings on an existing directory (with a fresh mock Bland).
pub async fn start_with(settings: Settings, dir: Arc<TestDir>, clock: Arc<ManualClock>) -> TestApp {
    let bland = MockServer::start().await;
    start(settings, dir, bland, clock).await
}

/// Starts an app on `settings` and `dir` with the given mock Bland and clock (a test that
/// edits files between [`TestApp::stop`] and a new start uses this).
pub async fn start(
    settings: Settings,
    dir: Arc<TestDir>,
    bland: MockServer,
    clock: Arc<ManualClock>,
) -> TestApp {
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: client(),
        clock,
        bland,
        settings,
        dir,
        _keep: None,
        handle,
        join,
    }
}

impl TestApp {
    pub fn data_dir(&self) -> &Path {
        &self.settings.data_dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with the admin key.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-API-Key", ADMIN_KEY)
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let res = self
            .admin(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request");
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.expect("json body")
    }

    /// The body of an unauthenticated `GET`, as text.
    pub async fn get_text(&self, path: &str) -> String {
        let res = self.client.get(self.url(path)).send().await.expect("req");
        res.text().await.expect("text")
    }

    /// Posts a completion to `/webhooks/bland` as Bland would: its status and JSON answer.
    pub async fn post_completion(
        &self,
        payload: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let res = self
            .client
            .post(self.url("/webhooks/bland"))
            .json(payload)
            .send()
            .await
            .expect("completion");
        let status = res.status();
        (status, res.json().await.expect("json"))
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.admin(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Graceful stop: in-flight requests finish, the change log is folded in.
    pub async fn stop(self) -> (Settings, Arc<TestDir>, MockServer, Arc<ManualClock>) {
        self.handle.stop(true).await;
        self.join.await.expect("server task").expect("server ran");
        (self.settings, self.dir, self.bland, self.clock)
    }

    /// Stops and starts again on the same data directory, settings and clock.
    pub async fn restart(self) -> TestApp {
        let (settings, dir, bland, clock) = self.stop().await;
        start(settings, dir, bland, clock).await
    }
}

impl TestApp {
    /// The journals as this app keeps them: its files, or its database's rows.
    pub async fn journals(&self) -> Arc<callgate::journal::Journals> {
        let journals = match &self.settings.database_url {
            None => callgate::journal::Journals::open(self.data_dir(), self.settings.timezone)
                .expect("journals"),
            Some(url) => {
                let db = callgate::db::Db::connect(url.expose(), 2)
                    .await
                    .expect("database");
                callgate::journal::Journals::open_db(db, self.data_dir(), self.settings.timezone)
            }
        };
        Arc::new(journals)
    }

    /// The environment that points the binary at this app's state (`DATA_DIR`, and
    /// `DATABASE_URL` on PostgreSQL).
    pub fn backend_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("DATA_DIR", path_str(self.data_dir()))];
        if let Some(url) = &self.settings.database_url {
            env.push(("DATABASE_URL", url.expose().to_string()));
        }
        env
    }

    /// One business day of a journal, parsed (`date` as `YYYY-MM-DD`).
    pub async fn journal(
        &self,
        kind: callgate::journal::Kind,
        date: &str,
    ) -> Vec<serde_json::Value> {
        let journals = self.journals().await;
        let date = date.parse().expect("date");
        tokio::task::spawn_blocking(move || journals.read_day(kind, date, None))
            .await
            .expect("reader")
            .expect("journal")
            .records
    }

    /// One business day of the call journal, parsed.
    pub async fn calls(&self, date: &str) -> Vec<serde_json::Value> {
        self.journal(callgate::journal::Kind::Calls, date).await
    }
}

impl TestApp {
    /// The `/health` body, whatever its status code.
    pub async fn health(&self) -> serde_json::Value {
        let res = self
            .client
            .get(self.url("/health"))
            .send()
            .await
            .expect("health request");
        res.json().await.expect("health json")
    }

    /// Waits (at most 3 s) until `/health` reports `status`; returns the health body.
    pub async fn wait_for_health(&self, status: &str) -> serde_json::Value {
        eventually(Duration::from_secs(3), || async {
            let h: serde_json::Value = self
                .client
                .get(self.url("/health"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (h["status"] == status).then_some(h)
        })
        .await
        .unwrap_or_else(|| panic!("/health did not become {status}"))
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many release passes the server has run (`callgate_release_passes_total`).
pub async fn release_passes(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("callgate_release_passes_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the server has nothing left to do at the current instant of its clock: two
/// release passes have ended since the call (the second began after it, so every lead due
/// now was released), and the outbox holds nothing queued or in flight (every accepted
/// call was sent or settled; while a 429 pauses sending, queued calls wait for the clock). What a test asserts after this did not happen, will not
/// happen until the clock moves. Instead of sleeping "long enough".
pub async fn settled(app: &TestApp) {
    let start = release_passes(app).await;
    eventually(Duration::from_secs(10), || async {
        let passes = release_passes(app).await;
        let h = app.health().await;
        let d = &h["components"]["dispatch"];
        (passes >= start + 2 && idle(d)).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the server did not settle within 10 s"));
}

/// The dispatcher has nothing to do now: nothing in flight, and nothing queued unless
/// sending is paused (a 429), a calling budget is spent or no caller id is usable until the
/// clock moves.
fn idle(dispatch: &serde_json::Value) -> bool {
    let waits = dispatch["paused_until"].is_string()
        || dispatch["capacity"]["held_until"].is_string()
        || dispatch["waiting_for_caller_id"].is_string();
    dispatch["in_flight"] == 0 && (dispatch["queued"] == 0 || waits)
}

/// [`settled`] for two instances on one database: the release passes are the lease
/// holder's, so both instances' passes are added up; the outbox they share is idle.
pub async fn settled_pair(a: &TestApp, b: &TestApp) {
    let passes = || async { release_passes(a).await + release_passes(b).await };
    let start = passes().await;
    eventually(Duration::from_secs(10), || async {
        let done = passes().await >= start + 2;
        let mut idle = true;
        for app in [a, b] {
            let h = app.health().await;
            let d = &h["components"]["dispatch"];
            idle &= self::idle(d);
        }
        (done && idle).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the two instances did not settle within 10 s"));
}

/// Waits until the call for `request_id` is sent (Bland's `call-<request id>` from the
/// `Queued` mock).
pub async fn wait_sent(app: &TestApp, request_id: &str) {
    let call_id = format!("call-{request_id}");
    eventually(Duration::from_secs(5), || async {
        let h = app
            .get_json(&format!("/api/admin/calls/{request_id}"))
            .await;
        (h["call_id"] == call_id.as_str()).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{request_id} was never sent"));
}

/// The real `callgate` binary running as a child process.
pub struct Process {
    pub child: Child,
    pub address: String,
    /// Log lines (stderr) as they arrive.
    pub logs: mpsc::Receiver<String>,
}

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callgate"))
}

/// Starts `callgate serve` on `data_dir` with JSON logs and waits for it to listen.
// The child is handed to `Process`, whose `Drop` kills and waits for it.
#[allow(clippy::zombie_processes)]
/// The real binary runs on the wall clock. Unless a test wrote its own scheduler config,
/// business hours and the local window are switched off so its leads are callable at
/// whatever hour the suite runs.
pub fn spawn_process(data_dir: &Path, extra_env: &[(&str, &str)]) -> Process {
    let config = data_dir.join("scheduler-config.json");
    if !config.exists() {
        std::fs::create_dir_all(data_dir).expect("data dir");
        std::fs::write(
            &config,
            r#"{"enabled": false, "local_window": {"enabled": false, "unknown_zone": "block"}}"#,
        )
        .expect("scheduler config");
    }
    let mut cmd = binary();
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATA_DIR", data_dir)
        .env("ADMIN_API_KEY", ADMIN_KEY)
        .env("LOG_FORMAT", "json")
        .env("WORKERS", "2")
        .env("CALLGATE_CONFIG", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn callgate");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if let Some(addr) = v.get("addr").and_then(|a| a.as_str()) {
                    return Process {
                        child,
                        address: format!("http://{addr}"),
                        logs: rx,
                    };
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("callgate exited early: {status}");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("callgate closed stderr before listening")
            }
        }
    }
    let _ = child.kill();
    panic!("callgate did not start listening in time");
}

impl Process {
    /// Sends a signal with the system `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("callgate did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion with `args` and env, returning (success, stderr).
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, String) {
    let mut cmd = binary();
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CALLGATE_CONFIG", "/dev/null");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run callgate");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out, stderr)
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

/// Bland takes 3 s to answer, longer than the tests' 1 s timeout: every send is
/// unconfirmed.
pub async fn bland_hangs(app: &TestApp) {
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/calls"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_json(serde_json::json!({"call_id": "late"})),
        )
        .mount(&app.bland)
        .await;
}
