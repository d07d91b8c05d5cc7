//! `run`: validate a CSV of cards, submit it through the journal, collect results.

use std::path::PathBuf;

use clap::Args;

use crate::args::SubmitArgs;
use crate::connect::{self};
use crate::submit::{open_journal, submit_and_collect};
use crate::{Exit, Failure};

/// `run`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The provider: cardsync or acquired (payconex and accountvault take no bulk inquiries;
    /// route cards to PayConex subscriptions with --route).
    #[arg(long, value_parser = connect::parse_provider, required_unless_present = "route", conflicts_with = "route")]
    pub(crate) provider: Option<account_updater::ProviderId>,
    /// Route each card by the rules in FILE (TOML) to the provider and flow that can update
    /// it: one run across providers, each connected from its own environment variables.
    /// The input may carry `token_provider` (who issued a token) and `route` (a tag rules can
    /// match) columns.
    #[arg(long, value_name = "FILE")]
    pub(crate) route: Option<PathBuf>,
    /// The run's id, to resume it later (default: `run-` and the current UTC time).
    #[arg(long)]
    pub(crate) run_id: Option<String>,
    /// Run on the embedded emulator instead of the provider (no credentials; it lives as
    /// long as this process).
    #[arg(long)]
    pub(crate) emulator: bool,
    #[command(flatten)]
    pub(crate) submit: SubmitArgs,
}

/// `run`: a new run (or the same run id again, which resumes it).
pub async fn run(args: RunArgs) -> Result<Exit, Failure> {
    let connected = match (&args.route, args.provider) {
        (Some(file), _) => crate::route::connect_routed(file, args.emulator).await?,
        (None, Some(provider)) => connect::connect(provider, args.emulator).await?,
        (None, None) => return Err(Failure::error("give --provider NAME or --route FILE")),
    };
    let run_id = args
        .run_id
        .unwrap_or_else(|| format!("run-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
    let settings = crate::suppression::settings_of(args.route.as_deref())?;
    let journal = open_journal(&args.submit.journal).await?;
    submit_and_collect(
        &journal,
        &connected,
        &run_id,
        &args.submit,
        &settings.rule_suppression,
    )
    .await
}
