//! `account-updater serve`: the long-running collector.
//!
//! Updater results do not arrive while a command waits: CardSync batches take days, PayConex
//! schedules run again and again, Acquired answers only by webhook (and gives up on a webhook
//! after an hour of retries). `serve` is what an operator deploys and leaves running:
//!
//! - one listener with a path per configured provider (`POST /webhooks/cardsync`, …): each
//!   webhook verified (Acquired) or parsed (CardSync, PayConex), what it announces fetched with
//!   the provider's own credentials, every result stored once in the journal, in the run that
//!   sent its card ([`account_updater_journal::Journal::record_incoming`]);
//! - polling of every accepted job still waiting for results within its window ([`poller`]);
//! - apply once: new results to the updates file and/or the apply command ([`apply`]);
//! - `/healthz`, `/metrics` (Prometheus text), `tracing` logs (JSON with `--log-format json`);
//! - SIGTERM or Ctrl-C: stop taking webhooks, finish what is in flight, hand what is stored to
//!   the sinks once more, exit 0.
//!
//! Every configuration mistake (the file, a provider's variables, the journal, the apply
//! command) is reported before the listener opens.

pub mod apply;
pub mod config;
mod listener;
mod poller;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use account_updater::ProviderId;
use account_updater::provider::Provider;
use account_updater_journal::{IncomingReport, ReconcileOptions};
use clap::Args;

use crate::args::JournalArgs;
use crate::{Exit, Failure};
use config::{ServeSettings, ServeSpec};
use metrics::Metrics;

pub mod metrics;

/// How `serve` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

/// `serve`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The configuration file: the rules file of `run --route` (its providers are the ones
    /// served, each connected from its own environment variables) with a `[serve]` table.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Listen on ADDR instead of the file's `[serve] listen` (default 127.0.0.1:8787).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Log format (logs go to stderr; `RUST_LOG` sets the level, default info).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Serve the file's providers on embedded emulators (to try the collector offline).
    #[arg(long)]
    emulator: bool,
    #[command(flatten)]
    journal: JournalArgs,
}

/// Counts what a store of incoming results did.
fn count_results(metrics: &Metrics, report: &IncomingReport) {
    for ((provider, outcome), n) in &report.new_by_outcome {
        metrics
            .results
            .with_label_values(&[provider.as_str(), outcome])
            .inc_by(*n);
    }
    for update in &report.unmatched {
        metrics
            .unmatched
            .with_label_values(&[update.provider.as_str()])
            .inc();
    }
}

/// Runs the collector until SIGTERM or Ctrl-C.
pub async fn serve(args: ServeArgs) -> Result<Exit, Failure> {
    // Everything that can be wrong is found before the listener opens.
    let (rules, file_settings) = crate::route::read_rules(&args.config)?;
    let settings = ServeSettings::resolve(
        &args.config,
        file_settings
            .serve
            .clone()
            .unwrap_or_else(ServeSpec::default),
        args.listen,
    )?;
    let mut providers: BTreeMap<ProviderId, Arc<dyn Provider>> = BTreeMap::new();
    let mut keep_alive = Vec::new();
    for provider in crate::route::providers_of(&rules) {
        let connected = if args.emulator {
            #[cfg(feature = "emulator")]
            {
                crate::connect::emulated(provider).await?
            }
            #[cfg(not(feature = "emulator"))]
            return Err(crate::connect::no_emulators());
        } else {
            crate::connect::connect_for_routing(provider)?
        };
        providers.insert(provider, connected.provider);
        keep_alive.extend(connected.keep_alive);
    }
    if providers.is_empty() {
        return Err(Failure::error(format!(
            "{}: no rule names a provider, so there is nothing to collect",
            args.config.display()
        )));
    }
    let journal = crate::submit::open_journal(&args.journal).await?;
    let metrics = Arc::new(Metrics::new());
    for p in providers.keys() {
        metrics.webhooks_received.with_label_values(&[p.as_str()]);
        metrics.poll_errors.with_label_values(&[p.as_str()]);
    }
    let mut applier = apply::Applier::new(journal.clone(), metrics.clone(), &settings)?;
    let mut windows = ReconcileOptions::new();
    for (provider, window) in &file_settings.windows {
        windows = windows.window(*provider, *window);
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| Failure::error(format!("could not listen on {}: {e}", settings.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::error(format!("could not listen on {}: {e}", settings.listen)))?;
    if !bound.ip().is_loopback() {
        tracing::warn!(address = %bound, "listening beyond loopback: put TLS and an allow-list in front");
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(listener::Listener::new(
        journal.clone(),
        providers.clone(),
        metrics.clone(),
        &settings,
    ));
    let mut stop_server = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, state.router())
            .with_graceful_shutdown(async move {
                let _ = stop_server.wait_for(|stop| *stop).await;
            })
            .await
    });
    crate::say!("listening on http://{bound}");
    for p in providers.keys() {
        crate::say!(
            "  webhooks from {p}: POST http://{bound}/webhooks/{}",
            p.as_str()
        );
    }
    tracing::info!(address = %bound, providers = ?providers.keys().map(|p| p.as_str()).collect::<Vec<_>>(), "collector started");

    let mut poller = poller::Poller::new(
        journal.clone(),
        providers.clone(),
        metrics.clone(),
        settings.clone(),
        windows,
    );
    let mut stop_poll = stop_rx.clone();
    let polling = tokio::spawn(async move {
        loop {
            if let Err(e) = poller.pass().await {
                tracing::warn!(error = %e, "poll pass: the journal");
            }
            tokio::select! {
                _ = stop_poll.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(poller.tick()) => {}
            }
        }
    });
    let runtime = tokio::runtime::Handle::current();
    let mut stop_apply = stop_rx.clone();
    let applying = tokio::task::spawn_blocking(move || {
        loop {
            applier.pass(&runtime);
            let wait = applier.wait;
            let stopped = runtime.block_on(async {
                tokio::select! {
                    _ = stop_apply.wait_for(|stop| *stop) => true,
                    () = tokio::time::sleep(wait) => false,
                }
            });
            if stopped {
                break applier;
            }
        }
    });

    shutdown_signal().await;
    tracing::info!(drain = ?settings.drain, "stopping: draining in-flight work");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(settings.drain, async {
        let _ = server.await;
        let _ = polling.await;
        // What the last webhooks stored goes to the sinks before the process exits.
        if let Ok(mut applier) = applying.await {
            let runtime = tokio::runtime::Handle::current();
            let _ = tokio::task::spawn_blocking(move || applier.pass(&runtime)).await;
        }
    })
    .await;
    drop(keep_alive);
    match drained {
        Ok(()) => {
            tracing::info!("collector stopped");
            Ok(Exit::Done)
        }
        Err(_) => Err(Failure::error(format!(
            "in-flight work did not finish within drain ({:?}); what was stored is in the journal and is applied at the next start",
            settings.drain
        ))),
    }
}

/// SIGTERM (a service manager's stop) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not watch SIGTERM; Ctrl-C stops");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
