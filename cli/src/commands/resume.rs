//! `resume`: continue a run that stopped, sending nothing already accepted.

use std::path::PathBuf;

use clap::Args;

use crate::args::SubmitArgs;
use crate::submit::{connect_run, open_journal, submit_and_collect};
use crate::{Exit, Failure};

/// `resume`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct ResumeArgs {
    /// The run to resume.
    #[arg(long = "run")]
    pub(crate) run_id: String,
    /// The rules file of a routed run (the same rules: a resume plans the same chunks).
    #[arg(long, value_name = "FILE")]
    pub(crate) route: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) submit: SubmitArgs,
}

/// `resume`: the run's provider from the journal, its client from the environment.
pub async fn resume(args: ResumeArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.submit.journal).await?;
    let connected = connect_run(&journal, &args.run_id, args.route.as_deref()).await?;
    let settings = crate::suppression::settings_of(args.route.as_deref())?;
    submit_and_collect(
        &journal,
        &connected,
        &args.run_id,
        &args.submit,
        &settings.rule_suppression,
    )
    .await
}
