//! The `callgate` command line: `serve` (the default) and the offline admin commands.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use callgate::cli::{self, Target};
use callgate::config::Settings;
use callgate::startup::Application;

#[derive(Parser)]
#[command(
    name = "callgate",
    version,
    about = "Outbound-call gateway between Convoso and Bland AI"
)]
struct Cli {
    /// TOML settings file (else CALLGATE_CONFIG, else ./callgate.toml if present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Import or export blocklist flags.
    Blocklist {
        #[command(subcommand)]
        action: BlocklistAction,
    },
    /// Pipeline statistics per business day, read from the data directory (or the
    /// database, with DATABASE_URL).
    Stats {
        /// First day, YYYY-MM-DD (default: 6 days before --end).
        #[arg(long)]
        start: Option<String>,
        /// Last day, YYYY-MM-DD, included (default: today in TIMEZONE).
        #[arg(long)]
        end: Option<String>,
        /// CSV (one row per day, then a total row) instead of JSON.
        #[arg(long)]
        csv: bool,
    },
    /// Load or look up do-not-call lists (`[[lists]]`): on DATA_DIR, the database, or
    /// through a running server (--url).
    Lists {
        #[command(subcommand)]
        action: ListsAction,
    },
    /// Run a lead through the pipeline offline, with no side effects.
    Check {
        /// A JSON file with the webhook's fields (or `{"lead": …, "at": …}`), or `-` for stdin.
        file: String,
        /// Evaluate at this RFC 3339 instant instead of now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Import a Node orchestrator's data directory (`--from DIR`), or copy this data
    /// directory into the database named by DATABASE_URL (`--to-database`).
    Migrate {
        /// The Node version's data directory.
        #[arg(
            long,
            value_name = "DIR",
            conflicts_with = "to_database",
            required_unless_present = "to_database"
        )]
        from: Option<PathBuf>,
        /// Copy DATA_DIR (flags, journals, outbox, deferred queue, config documents) into
        /// DATABASE_URL; safe to run again.
        #[arg(long)]
        to_database: bool,
    },
}

#[derive(Subcommand)]
enum ListsAction {
    /// Replace list NAME with FILE (FTC full list, plain numbers or CSV; gzip or zip), or
    /// apply a change list.
    Import {
        name: String,
        file: PathBuf,
        /// FILE is an FTC change list (number, date, A/D) applied to the version in force.
        #[arg(long)]
        changes: bool,
        /// When the file was downloaded (YYYY-MM-DD; default: a date in the file's name,
        /// else a zip's newest entry, else today): the 31-day rule counts from it.
        #[arg(long, value_name = "DATE")]
        downloaded_at: Option<String>,
        /// The phone column of a CSV file whose header does not name one we know.
        #[arg(long)]
        column: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Which lists hold PHONE.
    Lookup { phone: String },
}

#[derive(clap::Args)]
struct Remote {
    /// Go through a running server's admin API instead of the data directory.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Admin key for --url (defaults to the first key in ADMIN_API_KEY).
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

#[derive(Subcommand)]
enum BlocklistAction {
    /// Import flags from a CSV (field,value,reason or bare numbers) or JSON file.
    Import {
        file: PathBuf,
        /// csv or json (default: by file extension).
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Export every flag as JSON (the config document) or CSV.
    Export {
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
}

fn target(remote: Remote, settings: &Settings) -> anyhow::Result<Target> {
    match remote.url {
        None => Ok(Target::DataDir),
        Some(url) => {
            let api_key = remote
                .api_key
                .or_else(|| {
                    settings
                        .admin_api_keys
                        .first()
                        .map(|k| k.expose().to_string())
                })
                .ok_or_else(|| anyhow::anyhow!("--url needs --api-key or ADMIN_API_KEY"))?;
            Ok(Target::Api { url, api_key })
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Listen for signals before anything else, so one that arrives while starting up
    // still means a graceful stop rather than the default kill.
    let signals = shutdown_signal()?;
    let app = Application::build(settings).await?;
    let handle = app.handle();
    tokio::spawn(async move {
        signals.await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await
}

/// Resolves on SIGTERM or SIGINT; the handlers are registered when this is called.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref(), &|name| std::env::var(name).ok())?;
    callgate::telemetry::init(settings.log_format, &settings.log_level);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Stats { start, end, csv } => {
            let out = cli::stats(&settings, start.as_deref(), end.as_deref(), csv).await?;
            std::io::Write::write_all(&mut std::io::stdout(), &out)?;
            Ok(())
        }
        Command::Lists {
            action:
                ListsAction::Import {
                    name,
                    file,
                    changes,
                    downloaded_at,
                    column,
                    remote,
                },
        } => {
            let target = target(remote, &settings)?;
            let job = cli::lists::Import {
                name,
                file,
                changes,
                downloaded_at,
                column,
            };
            let out = cli::lists::import(&settings, job, target).await?;
            println!("{out}");
            Ok(())
        }
        Command::Lists {
            action: ListsAction::Lookup { phone },
        } => {
            let found = cli::lists::lookup(&settings, &phone).await?;
            println!("{}", serde_json::to_string_pretty(&found)?);
            Ok(())
        }
        Command::Check { file, at } => {
            let answer = cli::check(&settings, &file, at.as_deref()).await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Command::Migrate {
            to_database: true, ..
        } => {
            let copied = callgate::migrate::to_database::to_database(&settings).await?;
            println!("{copied}");
            Ok(())
        }
        Command::Migrate { from, .. } => {
            let from = from.ok_or_else(|| anyhow::anyhow!("--from DIR or --to-database"))?;
            let report = callgate::migrate::migrate(&settings, &from).await?;
            println!("{report}");
            Ok(())
        }
        Command::Blocklist { action } => match action {
            BlocklistAction::Import {
                file,
                format,
                remote,
            } => {
                let target = target(remote, &settings)?;
                cli::import(&settings, &file, format.as_deref(), target).await
            }
            BlocklistAction::Export {
                format,
                output,
                remote,
            } => {
                let target = target(remote, &settings)?;
                cli::export(&settings, &format, output.as_deref(), target).await
            }
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
