//! The arguments several commands share: where the journal is, how results are collected
//! and written, what a submission reads and suppresses, and the output format.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Where the journal is.
#[derive(Debug, Clone, Args)]
pub(crate) struct JournalArgs {
    /// The SQLite journal file (created if missing).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "postgres",
        required_unless_present = "postgres"
    )]
    pub(crate) journal: Option<PathBuf>,
    /// A PostgreSQL journal instead (`postgres://user@host/db`), for several workers.
    #[arg(
        long,
        value_name = "URL",
        env = "ACCOUNT_UPDATER_POSTGRES_URL",
        hide_env_values = true
    )]
    pub(crate) postgres: Option<String>,
}

/// How results are collected and written.
#[derive(Debug, Clone, Args)]
pub(crate) struct ResultsOutput {
    /// The updates CSV (appended to; each result is written once across invocations).
    /// Default: the input's name with `.updates.csv`.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Also write new card numbers in clear to FILE (created readable by its owner only).
    /// Without it new numbers appear only masked (first 6 / last 4).
    #[arg(long, value_name = "FILE")]
    pub(crate) reveal_new_numbers: Option<PathBuf>,
    /// How long to wait for results after submitting (`0s`: do not wait).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub(crate) wait: Duration,
    /// How often to ask the provider about unfinished jobs.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) poll_interval: Duration,
    /// Also receive the provider's webhooks on ADDR (`127.0.0.1:8080`) while waiting: each
    /// is verified by the provider's rules, and the results it carries or announces stored.
    /// Acquired sends results only this way.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
}

/// What `run` and `resume` share.
#[derive(Debug, Clone, Args)]
pub(crate) struct SubmitArgs {
    /// The CSV of cards.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// The rejects CSV (row, id, reason). Default: the input's name with `.rejects.csv`.
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
    /// This worker's name in the journal. Intents left by a process of the same name become
    /// unknown at once when it starts again; give each concurrent worker its own name.
    #[arg(long, default_value = "cli")]
    pub(crate) worker: String,
    /// Accept ids without checking them for duplicates (memory stays flat; your ids must be
    /// unique).
    #[arg(long)]
    pub(crate) ids_unique: bool,
    /// No progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
    #[command(flatten)]
    pub(crate) suppression: SuppressionArgs,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
    #[command(flatten)]
    pub(crate) results: ResultsOutput,
}

/// Which cards are not sent again (on by default; every skip is written to the suppressed
/// file with its reason).
#[derive(Debug, Clone, Args)]
pub(crate) struct SuppressionArgs {
    /// Send every card: no suppression (a rules file's per-rule settings are ignored too).
    #[arg(long)]
    pub(crate) no_suppress: bool,
    /// Skip a card whose last N results were all "contact the cardholder" (0: never).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) contact_limit: u32,
    /// Skip a card updated (new number or expiry) within this long before the run (`0s`:
    /// never).
    #[arg(long, value_name = "DURATION", default_value = "25days", value_parser = humantime::parse_duration)]
    pub(crate) cycle: Duration,
    /// The suppressed-cards CSV (row, id, reason, detail). Default: the input's name with
    /// `.suppressed.csv`.
    #[arg(long, value_name = "FILE")]
    pub(crate) suppressed: Option<PathBuf>,
}

/// How a command prints what it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Lines for people.
    Text,
    /// One JSON document (its schema is in the README, "Machine-readable output").
    Json,
}
