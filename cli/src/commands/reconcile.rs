//! `reconcile`: what a run sent against what came back, and what is overdue.

use std::path::PathBuf;
use std::time::Duration;

use account_updater::ProviderId;
use account_updater_journal::{Journal, ReconcileOptions, Reconciliation};
use clap::Args;

use crate::args::{Format, JournalArgs};
use crate::connect::{self};
use crate::submit::{open_journal, print_json};
use crate::suppression::settings_of;
use crate::{Exit, Failure};

/// `reconcile`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReconcileArgs {
    /// The run.
    #[arg(long = "run")]
    pub(crate) run_id: String,
    /// A provider's window instead of its documented one (`cardsync=3d`), repeatable.
    #[arg(long, value_name = "PROVIDER=DURATION", value_parser = parse_window)]
    pub(crate) window: Vec<(account_updater::ProviderId, Duration)>,
    /// The rules file of a routed run: its `[window]` table sets windows per provider.
    #[arg(long, value_name = "FILE")]
    pub(crate) route: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
}

/// `--window cardsync=3d`.
pub fn parse_window(text: &str) -> Result<(ProviderId, Duration), String> {
    let (name, window) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not PROVIDER=DURATION (cardsync=3d)"))?;
    let provider = connect::parse_provider(name.trim())?;
    let window =
        humantime::parse_duration(window.trim()).map_err(|e| format!("{window:?}: {e}"))?;
    Ok((provider, window))
}

/// `reconcile`.
pub async fn reconcile(args: ReconcileArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let settings = settings_of(args.route.as_deref())?;
    let report = reconcile_run(&journal, &args.run_id, &settings.windows, &args.window).await?;
    if args.format == Format::Json {
        print_json(&reconciliation_json(&report))?;
    } else {
        print_reconciliation(&report);
    }
    Ok(if report.is_overdue() {
        Exit::Overdue
    } else {
        Exit::Done
    })
}

/// Reconciles `run_id` with the file's windows, then the command line's (which win).
pub async fn reconcile_run(
    journal: &Journal,
    run_id: &str,
    file_windows: &[(ProviderId, Duration)],
    windows: &[(ProviderId, Duration)],
) -> Result<Reconciliation, Failure> {
    if !journal.runs().await?.iter().any(|r| r.run_id == run_id) {
        return Err(Failure::error(format!("the journal has no run {run_id:?}")));
    }
    let mut options = ReconcileOptions::new();
    for (provider, window) in file_windows.iter().chain(windows) {
        options = options.window(*provider, *window);
    }
    Ok(journal.reconcile(run_id, &options).await?)
}

/// A reconciliation as JSON (the README's "Machine-readable output" schema).
pub fn reconciliation_json(r: &Reconciliation) -> serde_json::Value {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    serde_json::json!({
        "run_id": r.run_id,
        "at": time(r.at),
        "submitted": r.submitted(),
        "results_in": r.results_in(),
        "waiting": r.waiting(),
        "overdue": r.overdue.len(),
        "jobs": r.jobs.iter().map(|j| serde_json::json!({
            "provider": j.provider_name,
            "job_id": j.job_id,
            "state": j.state,
            "accepted_at": time(j.accepted_at),
            "due_at": time(j.due_at),
            "submitted": j.submitted,
            "results_in": j.results_in,
            "complete_without_result": j.complete_without_result,
            "failed": j.failed,
            "waiting": j.waiting,
            "overdue": j.overdue,
        })).collect::<Vec<_>>(),
        "overdue_cards": r.overdue.iter().map(|c| serde_json::json!({
            "id": c.card_id,
            "provider": c.provider_name,
            "job_id": c.job_id,
            "due_at": c.due_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "orphans": r.orphans.iter().map(|o| serde_json::json!({
            "result_id": o.result_id,
            "provider": o.provider_name,
            "id": o.card_id,
            "card_ref": o.card_ref,
        })).collect::<Vec<_>>(),
        "repeated": r.repeated.iter().map(|d| serde_json::json!({
            "result_id": d.result_id,
            "id": d.card_id,
            "deliveries": d.deliveries,
        })).collect::<Vec<_>>(),
    })
}

pub fn print_reconciliation(r: &Reconciliation) {
    crate::say!(
        "run {}: {} cards sent, {} results in, {} waiting, {} overdue; {} orphan results, {} repeated deliveries",
        r.run_id,
        r.submitted(),
        r.results_in(),
        r.waiting(),
        r.overdue.len(),
        r.orphans.len(),
        r.repeated.len()
    );
    for j in &r.jobs {
        crate::say!(
            "  {} job {}{}: {} sent, {} in, {} complete without result, {} failed, {} waiting, {} overdue (due {})",
            j.provider_name,
            j.job_id.as_deref().unwrap_or("(unnamed)"),
            j.state
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default(),
            j.submitted,
            j.results_in,
            j.complete_without_result,
            j.failed,
            j.waiting,
            j.overdue,
            j.due_at.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
    }
    for c in &r.overdue {
        crate::say!(
            "  overdue: {} at {} (job {}), due {}",
            c.card_id,
            c.provider_name,
            c.job_id.as_deref().unwrap_or("(unnamed)"),
            c.due_at.to_rfc3339()
        );
    }
    for o in &r.orphans {
        crate::say!(
            "  orphan result {} from {} for {}",
            o.result_id,
            o.provider_name,
            o.card_id.as_deref().unwrap_or("(no id)")
        );
    }
    for d in &r.repeated {
        crate::say!(
            "  result {} for {} arrived {} times",
            d.result_id,
            d.card_id.as_deref().unwrap_or("(no id)"),
            d.deliveries
        );
    }
}
