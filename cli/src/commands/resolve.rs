//! `resolve`: an operator's decision on a chunk that may have reached the provider.

use account_updater_journal::Resolution;
use clap::Args;

use crate::args::JournalArgs;
use crate::submit::open_journal;
use crate::{Exit, Failure};

/// `resolve`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct ResolveArgs {
    /// The run.
    #[arg(long = "run")]
    pub(crate) run_id: String,
    /// The chunk's number (from `status`).
    #[arg(long)]
    pub(crate) chunk: u64,
    /// The provider does not have it: the next `resume` sends it.
    #[arg(
        long,
        conflicts_with = "accepted",
        required_unless_present = "accepted"
    )]
    pub(crate) resend: bool,
    /// The provider has it (seen in its portal, say).
    #[arg(long)]
    pub(crate) accepted: bool,
    /// The provider's job id for it, when known (with --accepted).
    #[arg(long, requires = "accepted")]
    pub(crate) job_id: Option<String>,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
}

/// `resolve`.
pub async fn resolve(args: ResolveArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let resolution = if args.resend {
        Resolution::Resend
    } else {
        Resolution::Accepted {
            job_id: args.job_id.clone(),
        }
    };
    journal
        .resolve_unknown(&args.run_id, args.chunk, resolution)
        .await?;
    crate::say!(
        "chunk {} of run {}: {}",
        args.chunk,
        args.run_id,
        if args.resend {
            "will be sent again by the next `resume`"
        } else {
            "recorded as accepted"
        }
    );
    Ok(Exit::Done)
}
