//! `account-updater`: a CSV of cards in, updates out, through a durable job journal.
//!
//! Operators run a month's card base through an account updater without writing Rust: every
//! row is validated (bad rows go to a rejects file with their reason), the rest are submitted
//! through the job journal (a crash never loses a card or sends one twice), results are
//! polled and written to an updates CSV. New card numbers appear only masked unless asked for
//! explicitly, and then only in a file only the owner can read.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod collect;
mod connect;
#[cfg(feature = "emulator")]
mod demo;
mod input;
mod operator;
mod output;
mod route;
mod run;
mod serve;

/// `--quiet`: informational lines are not printed (errors still go to stderr, and a command
/// asked for `--format json` still prints its document).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `println!` unless `--quiet` was given.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::QUIET.load(std::sync::atomic::Ordering::Relaxed) {
            println!($($arg)*);
        }
    };
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Why the program stopped, as its exit code. The one table: `--help` and the README's list
/// are generated from (and tested against) [`Exit::ALL`] and [`Exit::meaning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything submitted was accepted and its results are in (or were not waited for).
    Done = 0,
    /// The program could not do its work: configuration, journal, input file, network.
    Error = 1,
    /// Usage error (clap's own code).
    Usage = 2,
    /// Some input rows were rejected (see the rejects file); everything else is done.
    Rejected = 3,
    /// Some chunks failed at the provider (it did not act on them); `resume` sends them again.
    ProviderFailed = 4,
    /// Some chunks may have reached the provider: decide with `resolve`, then `resume`.
    Unknown = 5,
    /// Everything was accepted, but some jobs' results were not in before `--wait` ran out.
    ResultsPending = 6,
    /// Other workers of the run still have chunks in flight (nothing failed): `status` later.
    InFlight = 7,
    /// Some accepted cards' results are overdue: past their provider's window with no result
    /// (`reconcile` lists them).
    Overdue = 8,
}

impl Exit {
    /// Every exit code, in order.
    pub const ALL: [Exit; 9] = [
        Exit::Done,
        Exit::Error,
        Exit::Usage,
        Exit::Rejected,
        Exit::ProviderFailed,
        Exit::Unknown,
        Exit::ResultsPending,
        Exit::InFlight,
        Exit::Overdue,
    ];

    /// What the code tells the operator, as `--help` prints it.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Done => {
                "done: every card submitted was accepted, results written (or not waited for)"
            }
            Exit::Error => {
                "error: configuration, journal, input file or network; nothing past the error was sent"
            }
            Exit::Usage => "usage error",
            Exit::Rejected => {
                "some input rows were rejected (see the rejects file); everything else is done"
            }
            Exit::ProviderFailed => {
                "some chunks failed at the provider (it did not act on them); `resume` sends them again"
            }
            Exit::Unknown => {
                "some chunks may have reached the provider; decide with `resolve`, then `resume`"
            }
            Exit::ResultsPending => {
                "all accepted, but some results were not in before --wait ran out; `results` later"
            }
            Exit::InFlight => {
                "other workers of the run still have chunks in flight (none failed); `status` later"
            }
            Exit::Overdue => {
                "some results are overdue: past their provider's window with no result (`reconcile`)"
            }
        }
    }
}

/// The exit-code table `--help` prints, from [`Exit::ALL`].
fn exit_codes() -> String {
    let mut text = String::from("Exit codes:");
    for exit in Exit::ALL {
        text.push_str(&format!("\n  {}  {}", exit as u8, exit.meaning()));
    }
    text
}

/// A failure with the exit code it maps to. Messages never carry card data or secrets: they
/// come from the library's redacted errors or name files and variables.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What to tell the operator.
    pub message: String,
}

impl Failure {
    /// A failure with exit code [`Exit::Error`].
    pub fn error(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Error,
            message: message.into(),
        }
    }
}

impl From<account_updater::Error> for Failure {
    fn from(e: account_updater::Error) -> Self {
        Failure::error(e.to_string())
    }
}

/// Card account updates from a CSV, on any provider that takes bulk inquiries.
#[derive(Debug, Parser)]
#[command(name = "account-updater", version, about, long_about = None, after_help = exit_codes())]
struct Cli {
    /// Print nothing but errors (and a `--format json` document); the exit code says how it
    /// went.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a CSV of cards, submit it through the journal, wait for results, write updates.
    ///
    /// The input has a header row naming its columns: `id` (your own id for the card, echoed in
    /// the results), `card_number` and `expiry` (MM/YY, MM/YYYY or MMYY), or `token`, and
    /// `amex_se_number` for American Express cards on CardSync. Values are trimmed.
    #[command(after_help = exit_codes())]
    Run(RunArgs),
    /// Continue a run that stopped (a crash, a kill, failed chunks, a decision on unknown
    /// chunks): give the same input; chunks already accepted are not sent again.
    #[command(after_help = exit_codes())]
    Resume(ResumeArgs),
    /// A run's cards per state (or, without --run, every run in the journal).
    Status(StatusArgs),
    /// A card's history across runs and providers: every result, masked, and whether it was
    /// applied.
    History(HistoryArgs),
    /// Fetch what results are ready for a run's jobs, then write the results not yet exported.
    #[command(after_help = exit_codes())]
    Results(ResultsArgs),
    /// Decide on a chunk that may have reached the provider (exit code 5).
    Resolve(ResolveArgs),
    /// What a run of the input would do, with nothing sent: per provider the cards that
    /// would go, the cards suppressed or rejected by reason, and the expected hits and cost.
    Plan(PlanArgs),
    /// A run's cards sent against its results: per job, results in, waiting, overdue past
    /// the provider's window; results for cards the run never sent; repeated deliveries.
    #[command(after_help = exit_codes())]
    Reconcile(ReconcileArgs),
    /// The long-running collector: every configured provider's webhooks on one listener,
    /// polling of open jobs, each result stored once and applied once (updates file, apply
    /// command), /healthz and /metrics; SIGTERM drains and exits 0.
    Serve(serve::ServeArgs),
    /// Everything end to end on the embedded CardSync emulator with generated cards: no
    /// credentials, no network.
    #[cfg(feature = "emulator")]
    Demo(DemoArgs),
    /// Serve a CardSync emulator on loopback until interrupted, and print the variables that
    /// point `run` and `resume` at it (to try a run, a kill and a resume by hand).
    #[cfg(feature = "emulator")]
    Emulator,
}

/// Where the journal is.
#[derive(Debug, Clone, Args)]
struct JournalArgs {
    /// The SQLite journal file (created if missing).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "postgres",
        required_unless_present = "postgres"
    )]
    journal: Option<PathBuf>,
    /// A PostgreSQL journal instead (`postgres://user@host/db`), for several workers.
    #[arg(
        long,
        value_name = "URL",
        env = "ACCOUNT_UPDATER_POSTGRES_URL",
        hide_env_values = true
    )]
    postgres: Option<String>,
}

/// How results are collected and written.
#[derive(Debug, Clone, Args)]
struct ResultsOutput {
    /// The updates CSV (appended to; each result is written once across invocations).
    /// Default: the input's name with `.updates.csv`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write new card numbers in clear to FILE (created readable by its owner only).
    /// Without it new numbers appear only masked (first 6 / last 4).
    #[arg(long, value_name = "FILE")]
    reveal_new_numbers: Option<PathBuf>,
    /// How long to wait for results after submitting (`0s`: do not wait).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    wait: Duration,
    /// How often to ask the provider about unfinished jobs.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    poll_interval: Duration,
    /// Also receive the provider's webhooks on ADDR (`127.0.0.1:8080`) while waiting: each
    /// is verified by the provider's rules, and the results it carries or announces stored.
    /// Acquired sends results only this way.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

/// What `run` and `resume` share.
#[derive(Debug, Clone, Args)]
struct SubmitArgs {
    /// The CSV of cards.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The rejects CSV (row, id, reason). Default: the input's name with `.rejects.csv`.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// This worker's name in the journal. Intents left by a process of the same name become
    /// unknown at once when it starts again; give each concurrent worker its own name.
    #[arg(long, default_value = "cli")]
    worker: String,
    /// Accept ids without checking them for duplicates (memory stays flat; your ids must be
    /// unique).
    #[arg(long)]
    ids_unique: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    suppression: SuppressionArgs,
    #[command(flatten)]
    journal: JournalArgs,
    #[command(flatten)]
    results: ResultsOutput,
}

/// Which cards are not sent again (on by default; every skip is written to the suppressed
/// file with its reason).
#[derive(Debug, Clone, Args)]
struct SuppressionArgs {
    /// Send every card: no suppression (a rules file's per-rule settings are ignored too).
    #[arg(long)]
    no_suppress: bool,
    /// Skip a card whose last N results were all "contact the cardholder" (0: never).
    #[arg(long, value_name = "N", default_value_t = 3)]
    contact_limit: u32,
    /// Skip a card updated (new number or expiry) within this long before the run (`0s`:
    /// never).
    #[arg(long, value_name = "DURATION", default_value = "25days", value_parser = humantime::parse_duration)]
    cycle: Duration,
    /// The suppressed-cards CSV (row, id, reason, detail). Default: the input's name with
    /// `.suppressed.csv`.
    #[arg(long, value_name = "FILE")]
    suppressed: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
struct RunArgs {
    /// The provider: cardsync or acquired (payconex and accountvault take no bulk inquiries;
    /// route cards to PayConex subscriptions with --route).
    #[arg(long, value_parser = connect::parse_provider, required_unless_present = "route", conflicts_with = "route")]
    provider: Option<account_updater::ProviderId>,
    /// Route each card by the rules in FILE (TOML) to the provider and flow that can update
    /// it: one run across providers, each connected from its own environment variables.
    /// The input may carry `token_provider` (who issued a token) and `route` (a tag rules can
    /// match) columns.
    #[arg(long, value_name = "FILE")]
    route: Option<PathBuf>,
    /// The run's id, to resume it later (default: `run-` and the current UTC time).
    #[arg(long)]
    run_id: Option<String>,
    /// Run on the embedded emulator instead of the provider (no credentials; it lives as
    /// long as this process).
    #[arg(long)]
    emulator: bool,
    #[command(flatten)]
    submit: SubmitArgs,
}

#[derive(Debug, Clone, Args)]
struct ResumeArgs {
    /// The run to resume.
    #[arg(long = "run")]
    run_id: String,
    /// The rules file of a routed run (the same rules: a resume plans the same chunks).
    #[arg(long, value_name = "FILE")]
    route: Option<PathBuf>,
    #[command(flatten)]
    submit: SubmitArgs,
}

/// How a command prints what it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Lines for people.
    Text,
    /// One JSON document (its schema is in the README, "Machine-readable output").
    Json,
}

#[derive(Debug, Clone, Args)]
struct StatusArgs {
    /// The run (default: list every run).
    #[arg(long = "run")]
    run_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Debug, Clone, Args)]
struct HistoryArgs {
    /// The caller's card id (the input's `id` column).
    #[arg(long)]
    id: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Debug, Clone, Args)]
struct ResultsArgs {
    /// The run.
    #[arg(long = "run")]
    run_id: String,
    /// Export every stored result again, not only those not yet exported.
    #[arg(long)]
    all: bool,
    /// Do not ask the provider: export what the journal holds (no credentials needed).
    #[arg(long)]
    no_fetch: bool,
    /// The rules file of a routed run (its providers are asked for their jobs' results).
    #[arg(long, value_name = "FILE")]
    route: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    journal: JournalArgs,
    #[command(flatten)]
    results: ResultsOutput,
}

#[derive(Debug, Clone, Args)]
struct PlanArgs {
    /// The CSV of cards (as `run` reads it).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The provider (as for `run`).
    #[arg(long, value_parser = connect::parse_provider, required_unless_present = "route", conflicts_with = "route")]
    provider: Option<account_updater::ProviderId>,
    /// The rules file (as for `run --route`); its `[price.NAME]` tables price the plan.
    #[arg(long, value_name = "FILE")]
    route: Option<PathBuf>,
    /// Prices for a single-provider plan: a TOML file of `[price.NAME]` tables (`per_hit`,
    /// `per_card`, `hit_rate`, `currency`).
    #[arg(long, value_name = "FILE", conflicts_with = "route")]
    prices: Option<PathBuf>,
    /// Plan against the embedded emulator's client (as `run --emulator`).
    #[arg(long)]
    emulator: bool,
    /// Accept ids without checking them for duplicates (as the run will).
    #[arg(long)]
    ids_unique: bool,
    #[command(flatten)]
    suppression: SuppressionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Debug, Clone, Args)]
struct ReconcileArgs {
    /// The run.
    #[arg(long = "run")]
    run_id: String,
    /// A provider's window instead of its documented one (`cardsync=3d`), repeatable.
    #[arg(long, value_name = "PROVIDER=DURATION", value_parser = operator::parse_window)]
    window: Vec<(account_updater::ProviderId, Duration)>,
    /// The rules file of a routed run: its `[window]` table sets windows per provider.
    #[arg(long, value_name = "FILE")]
    route: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Debug, Clone, Args)]
struct ResolveArgs {
    /// The run.
    #[arg(long = "run")]
    run_id: String,
    /// The chunk's number (from `status`).
    #[arg(long)]
    chunk: u64,
    /// The provider does not have it: the next `resume` sends it.
    #[arg(
        long,
        conflicts_with = "accepted",
        required_unless_present = "accepted"
    )]
    resend: bool,
    /// The provider has it (seen in its portal, say).
    #[arg(long)]
    accepted: bool,
    /// The provider's job id for it, when known (with --accepted).
    #[arg(long, requires = "accepted")]
    job_id: Option<String>,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Debug, Clone, Args)]
struct DemoArgs {
    /// How many cards to generate (a few of them deliberately bad).
    #[arg(long, default_value_t = 10_000)]
    cards: u64,
    /// Where to write the CSV, journal, rejects and updates (default: a new temp directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// A mixed card base routed across the CardSync, Acquired and PayConex emulators at once
    /// (the rules file is written beside the cards).
    #[arg(long)]
    route: bool,
}

/// Logs to stderr at `RUST_LOG`'s level (default `default_level`), as lines or, for
/// `serve --log-format json`, one JSON object a line.
fn init_tracing(default_level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only for a person at a terminal, never into a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    // A JSON document is the whole of stdout: no informational line goes around it.
    let json = matches!(
        &cli.command,
        Command::Status(StatusArgs {
            format: Format::Json,
            ..
        }) | Command::History(HistoryArgs {
            format: Format::Json,
            ..
        }) | Command::Results(ResultsArgs {
            format: Format::Json,
            ..
        }) | Command::Plan(PlanArgs {
            format: Format::Json,
            ..
        }) | Command::Reconcile(ReconcileArgs {
            format: Format::Json,
            ..
        })
    );
    QUIET.store(cli.quiet || json, std::sync::atomic::Ordering::Relaxed);
    match &cli.command {
        // A service's log is how its operator watches it: info by default.
        Command::Serve(args) => init_tracing("info", args.log_format == serve::LogFormat::Json),
        _ => init_tracing("warn", false),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(Exit::Error as u8);
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Resume(args) => run::resume(args).await,
            Command::Status(args) => run::status(args).await,
            Command::History(args) => run::history(args).await,
            Command::Results(args) => run::results(args).await,
            Command::Resolve(args) => run::resolve(args).await,
            Command::Plan(args) => operator::plan(args).await,
            Command::Reconcile(args) => operator::reconcile(args).await,
            Command::Serve(args) => serve::serve(args).await,
            #[cfg(feature = "emulator")]
            Command::Demo(args) => demo::demo(args).await,
            #[cfg(feature = "emulator")]
            Command::Emulator => demo::serve_emulator().await,
        }
    });
    // A blocking task still running (an apply command that does not finish within the
    // drain) does not hold the process open.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.exit as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are 0 to 8 in order, and the README lists each with the same meaning.
    #[test]
    fn one_exit_code_table() {
        for (i, exit) in Exit::ALL.iter().enumerate() {
            assert_eq!(*exit as usize, i);
        }
        let readme = include_str!("../../README.md");
        for exit in Exit::ALL {
            let line = format!("| `{}` | {} |", exit as u8, exit.meaning());
            assert!(readme.contains(&line), "README lacks {line:?}");
        }
    }
}
