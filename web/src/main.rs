//! `callrecover`: parses the subcommand, loads settings, and calls the library.

use anyhow::Context;
use clap::Parser;

use web::app::{self, Mode};
use web::cli::{Cli, Command};
use web::settings::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => return web::commands::demo::run().await,
        Command::Bench(args) => return web::commands::bench::run(args).await,
        Command::Eval(args) => return web::commands::eval::run(args).await,
        Command::CrashTest(args) => return web::commands::crash_test::run(args).await,
        _ => {}
    }
    let settings = Settings::from_env()?;
    web::telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve { no_workers } => return serve(&settings, Mode { web: true, workers: !no_workers }).await,
        Command::Worker => return serve(&settings, Mode { web: false, workers: true }).await,
        _ => {}
    }
    let pool = app::connect(&settings).await?;
    match cli.command {
        Command::Migrate => {
            workflows::migrate(&pool).await.context("migration failed")?;
            println!("migrations applied");
            Ok(())
        }
        Command::Business(cmd) => web::commands::business::run(&pool, *cmd).await,
        Command::Serve { .. }
        | Command::Worker
        | Command::Demo
        | Command::Bench(_)
        | Command::Eval(_)
        | Command::CrashTest(_) => Ok(()),
    }
}

/// Starts `mode` (waiting for a database that is restarting or still
/// booting) and runs it until Ctrl-C or SIGTERM.
async fn serve(settings: &Settings, mode: Mode) -> anyhow::Result<()> {
    let running = web::startup::start(settings, mode, web::startup::PATIENCE).await?;
    if let Some(addr) = running.addr {
        tracing::info!(%addr, workers = mode.workers, "listening");
    }
    let stop = running.shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        stop.cancel();
    });
    running.wait().await
}
