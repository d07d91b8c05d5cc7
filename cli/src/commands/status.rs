//! `status`: a run's cards per state and provider, or every run.

use account_updater_journal::{Journal, RunStatus};
use clap::Args;

use crate::args::{Format, JournalArgs};
use crate::submit::{exit_for, open_journal, print_json, run_provider};
use crate::{Exit, Failure};

/// `status`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct StatusArgs {
    /// The run (default: list every run).
    #[arg(long = "run")]
    pub(crate) run_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
}

pub fn print_status(status: &RunStatus) {
    crate::say!(
        "cards: {} accepted, {} in flight, {} unknown, {} failed, {} to resend, {} refused by the provider's rules, {} suppressed; {} chunks; results: {} stored, {} exported",
        status.accepted,
        status.in_flight,
        status.unknown,
        status.failed,
        status.resend,
        status.rejected,
        status.suppressed,
        status.chunks,
        status.results,
        status.applied
    );
}

/// Prints a run's status: a line per provider when the run went to several (a routed run),
/// then the total.
pub async fn print_run_status(journal: &Journal, run_id: &str) -> Result<RunStatus, Failure> {
    let status = journal.status(run_id).await?;
    let per_provider = journal.status_by_provider(run_id).await?;
    if per_provider.len() > 1 {
        for p in &per_provider {
            let s = &p.status;
            crate::say!(
                "{}: {} accepted, {} in flight, {} unknown, {} failed, {} to resend; {} chunks; results: {} stored, {} exported",
                p.provider_name,
                s.accepted,
                s.in_flight,
                s.unknown,
                s.failed,
                s.resend,
                s.chunks,
                s.results,
                s.applied
            );
        }
        if !crate::QUIET.load(std::sync::atomic::Ordering::Relaxed) {
            print!("total ");
        }
    }
    print_status(&status);
    Ok(status)
}

/// A run's counts as JSON (the README's "Machine-readable output" schema).
pub fn status_json(status: &RunStatus) -> serde_json::Value {
    serde_json::json!({
        "accepted": status.accepted,
        "in_flight": status.in_flight,
        "unknown": status.unknown,
        "failed": status.failed,
        "resend": status.resend,
        "rejected": status.rejected,
        "suppressed": status.suppressed,
        "chunks": status.chunks,
        "results": status.results,
        "applied": status.applied,
    })
}

/// `status`.
pub async fn status(args: StatusArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let json = args.format == Format::Json;
    let Some(run_id) = args.run_id else {
        let runs = journal.runs().await?;
        let mut listed = Vec::new();
        if runs.is_empty() && !json {
            crate::say!("no runs");
        }
        for run in runs {
            let status = journal.status(&run.run_id).await?;
            if json {
                listed.push(serde_json::json!({
                    "run_id": run.run_id,
                    "provider": run.provider_name,
                    "created_at": run.created_at.map(|t| t.to_rfc3339()),
                    "status": status_json(&status),
                }));
                continue;
            }
            crate::say!(
                "{}\t{}\t{}\t{} cards accepted, {} rejected, {} unknown, {} failed",
                run.run_id,
                run.provider_name,
                run.created_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                status.accepted,
                status.rejected,
                status.unknown,
                status.failed + status.resend
            );
        }
        if json {
            print_json(&serde_json::json!({ "runs": listed }))?;
        }
        return Ok(Exit::Done);
    };
    run_provider(&journal, &run_id).await?;
    let unknown = journal.unknown_chunks(&run_id).await?;
    // Overdue by the providers' documented windows (`reconcile` takes others).
    let overdue = crate::commands::reconcile::reconcile_run(&journal, &run_id, &[], &[])
        .await?
        .overdue
        .len() as u64;
    let status = if json {
        let status = journal.status(&run_id).await?;
        let providers: Vec<serde_json::Value> = journal
            .status_by_provider(&run_id)
            .await?
            .into_iter()
            .map(|p| {
                let mut v = status_json(&p.status);
                v["provider"] = serde_json::json!(p.provider_name);
                v
            })
            .collect();
        print_json(&serde_json::json!({
            "run_id": run_id,
            "overdue": overdue,
            "total": status_json(&status),
            "providers": providers,
            "unknown_chunks": unknown.iter().map(|c| serde_json::json!({
                "chunk": c.seq,
                "cards": c.cards,
                "reason": c.reason,
            })).collect::<Vec<_>>(),
        }))?;
        status
    } else {
        let status = print_run_status(&journal, &run_id).await?;
        if overdue > 0 {
            crate::say!(
                "{overdue} accepted cards have no result past their provider's window: `reconcile --run {run_id}` lists them"
            );
        }
        for chunk in &unknown {
            crate::say!(
                "unknown chunk {} ({} cards): {}\n  decide: account-updater resolve --run {run_id} --chunk {} (--resend | --accepted [--job-id ID])",
                chunk.seq,
                chunk.cards,
                chunk.reason,
                chunk.seq
            );
        }
        status
    };
    Ok(match exit_for(&status, 0, 0) {
        Exit::Done if overdue > 0 => Exit::Overdue,
        exit => exit,
    })
}
