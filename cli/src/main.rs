//! `account-updater`: a CSV of cards in, updates out, through a durable job journal.
//!
//! Operators run a month's card base through an account updater without writing Rust: every
//! row is validated (bad rows go to a rejects file with their reason), the rest are submitted
//! through the job journal (a crash never loses a card or sends one twice), results are
//! polled and written to an updates CSV. New card numbers appear only masked unless asked for
//! explicitly, and then only in a file only the owner can read.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod collect;
mod commands;
mod connect;
mod input;
mod output;
mod route;
mod submit;
mod suppression;

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

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

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
    Run(commands::run::RunArgs),
    /// Continue a run that stopped (a crash, a kill, failed chunks, a decision on unknown
    /// chunks): give the same input; chunks already accepted are not sent again.
    #[command(after_help = exit_codes())]
    Resume(commands::resume::ResumeArgs),
    /// A run's cards per state (or, without --run, every run in the journal).
    Status(commands::status::StatusArgs),
    /// A card's history across runs and providers: every result, masked, and whether it was
    /// applied.
    History(commands::history::HistoryArgs),
    /// Fetch what results are ready for a run's jobs, then write the results not yet exported.
    #[command(after_help = exit_codes())]
    Results(commands::results::ResultsArgs),
    /// Decide on a chunk that may have reached the provider (exit code 5).
    Resolve(commands::resolve::ResolveArgs),
    /// What a run of the input would do, with nothing sent: per provider the cards that
    /// would go, the cards suppressed or rejected by reason, and the expected hits and cost.
    Plan(commands::plan::PlanArgs),
    /// A run's cards sent against its results: per job, results in, waiting, overdue past
    /// the provider's window; results for cards the run never sent; repeated deliveries.
    #[command(after_help = exit_codes())]
    Reconcile(commands::reconcile::ReconcileArgs),
    /// The long-running collector: every configured provider's webhooks on one listener,
    /// polling of open jobs, each result stored once and applied once (updates file, apply
    /// command), /healthz and /metrics; SIGTERM drains and exits 0.
    Serve(commands::serve::ServeArgs),
    /// Everything end to end on the embedded CardSync emulator with generated cards: no
    /// credentials, no network.
    #[cfg(feature = "emulator")]
    Demo(commands::demo::DemoArgs),
    /// Serve a CardSync emulator on loopback until interrupted, and print the variables that
    /// point `run` and `resume` at it (to try a run, a kill and a resume by hand).
    #[cfg(feature = "emulator")]
    Emulator,
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
        Command::Status(commands::status::StatusArgs {
            format: args::Format::Json,
            ..
        }) | Command::History(commands::history::HistoryArgs {
            format: args::Format::Json,
            ..
        }) | Command::Results(commands::results::ResultsArgs {
            format: args::Format::Json,
            ..
        }) | Command::Plan(commands::plan::PlanArgs {
            format: args::Format::Json,
            ..
        }) | Command::Reconcile(commands::reconcile::ReconcileArgs {
            format: args::Format::Json,
            ..
        })
    );
    QUIET.store(cli.quiet || json, std::sync::atomic::Ordering::Relaxed);
    match &cli.command {
        // A service's log is how its operator watches it: info by default.
        Command::Serve(args) => {
            init_tracing("info", args.log_format == commands::serve::LogFormat::Json)
        }
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
            Command::Run(args) => commands::run::run(args).await,
            Command::Resume(args) => commands::resume::resume(args).await,
            Command::Status(args) => commands::status::status(args).await,
            Command::History(args) => commands::history::history(args).await,
            Command::Results(args) => commands::results::results(args).await,
            Command::Resolve(args) => commands::resolve::resolve(args).await,
            Command::Plan(args) => commands::plan::plan(args).await,
            Command::Reconcile(args) => commands::reconcile::reconcile(args).await,
            Command::Serve(args) => commands::serve::serve(args).await,
            #[cfg(feature = "emulator")]
            Command::Demo(args) => commands::demo::demo(args).await,
            #[cfg(feature = "emulator")]
            Command::Emulator => commands::emulator::serve_emulator().await,
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
