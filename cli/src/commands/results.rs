//! `results`: fetch what is ready for a run's jobs, export what is new.

use std::path::PathBuf;

use clap::Args;

use crate::args::{Format, JournalArgs, ResultsOutput};
use crate::collect::{Sink, collect_and_export, listen};
use crate::output::export_updates;
use crate::submit::{connect_run, open_journal, print_json, run_provider};
use crate::{Exit, Failure};

/// `results`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct ResultsArgs {
    /// The run.
    #[arg(long = "run")]
    pub(crate) run_id: String,
    /// Export every stored result again, not only those not yet exported.
    #[arg(long)]
    pub(crate) all: bool,
    /// Do not ask the provider: export what the journal holds (no credentials needed).
    #[arg(long)]
    pub(crate) no_fetch: bool,
    /// The rules file of a routed run (its providers are asked for their jobs' results).
    #[arg(long, value_name = "FILE")]
    pub(crate) route: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
    #[command(flatten)]
    pub(crate) results: ResultsOutput,
}

/// `results`.
pub async fn results(args: ResultsArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    run_provider(&journal, &args.run_id).await?;
    let out = args
        .results
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.updates.csv", args.run_id)));
    let before = journal.status(&args.run_id).await?;
    let (written, pending) = if args.no_fetch {
        let written = export_updates(&journal, &args.run_id, &out, args.all).await?;
        crate::say!("{written} updates written to {}", out.display());
        (written, 0)
    } else {
        let connected = connect_run(&journal, &args.run_id, args.route.as_deref()).await?;
        let sink = Sink::new(&journal, &args.run_id, &args.results)?;
        if let Some(addr) = args.results.listen {
            listen(addr, connected.provider.clone(), sink.clone()).await?;
        }
        collect_and_export(
            connected.provider.as_ref(),
            &sink,
            args.results.listen.is_some(),
            &args.results,
            &out,
            args.all,
        )
        .await?
    };
    if args.format == Format::Json {
        let after = journal.status(&args.run_id).await?;
        print_json(&serde_json::json!({
            "run_id": args.run_id,
            "new_results": after.results.saturating_sub(before.results),
            "results": after.results,
            "written": written,
            "out": out.display().to_string(),
            "pending": pending,
        }))?;
    }
    Ok(if pending > 0 {
        Exit::ResultsPending
    } else {
        Exit::Done
    })
}
