//! What `run`, `resume` and `demo` share: the journal, the progress display, the submission
//! and its collection, and the exit code a run's state maps to.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use account_updater::ProviderId;
use account_updater::provider::CardToUpdate;
use account_updater::submission::{
    Chunk, ChunkOutcome, DuplicateIds, StreamOptions, StreamReceipt, card_stream,
};
use account_updater_journal::{Journal, RunObserver, RunOptions, RunStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{JournalArgs, SubmitArgs};
use crate::collect::{Sink, collect_and_export, listen};
use crate::commands::status::print_run_status;
use crate::connect::{self, Connected};
use crate::input::{CsvCards, SharedRejects, count_rows};
use crate::{Exit, Failure};

/// Opens the journal the arguments name.
pub async fn open_journal(args: &JournalArgs) -> Result<Journal, Failure> {
    match (&args.postgres, &args.journal) {
        (Some(url), _) => Ok(Journal::connect_postgres(url).await?),
        (None, Some(path)) => Ok(Journal::open_sqlite(path).await?),
        (None, None) => Err(Failure::error("give --journal FILE or --postgres URL")),
    }
}

/// `input` with its extension replaced by `suffix` (`cards.csv` → `cards.updates.csv`).
pub fn beside(input: &Path, suffix: &str) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cards".into());
    input.with_file_name(format!("{stem}{suffix}"))
}

/// The progress display and the run's counters: a [`RunObserver`].
struct Progress {
    bar: ProgressBar,
    rejects: SharedRejects,
    accepted: u64,
    failed: u64,
    unknown: u64,
    skipped: u64,
}

impl Progress {
    fn new(rows: u64, show: bool, rejects: SharedRejects) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(rows),
            if show {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:24}] {human_pos}/{human_len} cards {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress {
            bar,
            rejects,
            accepted: 0,
            failed: 0,
            unknown: 0,
            skipped: 0,
        }
    }

    /// Rate and time left (shown once there is a rate to speak of), chunk outcomes, rejects.
    fn message(&self) {
        let rate = self.bar.per_sec();
        let pace = if self.bar.elapsed() >= Duration::from_secs(1) && rate >= 1.0 {
            format!(
                "{:.0}/s, ETA {} | ",
                rate,
                indicatif::HumanDuration(self.bar.eta())
            )
        } else {
            String::new()
        };
        let (rejected, suppressed) = {
            let log = self.rejects.lock();
            (log.count(), log.suppressed())
        };
        self.bar.set_message(format!(
            "{pace}chunks: {} accepted, {} failed, {} unknown, {} recorded before | {} rejected, {} suppressed",
            self.accepted,
            self.failed,
            self.unknown,
            self.skipped,
            rejected,
            suppressed
        ));
    }
}

impl RunObserver for Progress {
    fn chunk(&mut self, chunk: &Chunk, outcome: &ChunkOutcome) {
        match outcome {
            ChunkOutcome::Accepted { .. } => self.accepted += 1,
            ChunkOutcome::Failed(_) => self.failed += 1,
            ChunkOutcome::Unknown(_) => self.unknown += 1,
            _ => self.skipped += 1,
        }
        self.bar.inc(chunk.len() as u64);
        self.message();
    }

    fn suppressed(
        &mut self,
        input_index: u64,
        card: &CardToUpdate,
        reason: &account_updater_journal::SuppressReason,
    ) {
        self.rejects
            .lock()
            .suppress(input_index, &card.id, reason.code(), &reason.to_string());
        self.bar.inc(1);
        self.message();
    }

    fn rejected(&mut self, position: u64, card: &CardToUpdate, error: &account_updater::Error) {
        let mut log = self.rejects.lock();
        let row = log.row_of(position);
        log.reject(row, &card.id, &error.to_string());
        drop(log);
        self.bar.inc(1);
        self.message();
    }
}

/// The client a recorded run needs: its provider's, or, for a routed run, the router its
/// rules file builds (which must then be given).
pub async fn connect_run(
    journal: &Journal,
    run_id: &str,
    route: Option<&Path>,
) -> Result<Connected, Failure> {
    let provider = run_provider(journal, run_id).await?;
    match (provider == account_updater::routing::ROUTED, route) {
        (true, Some(file)) => crate::route::connect_routed(file, false).await,
        (true, None) => Err(Failure::error(format!(
            "run {run_id:?} is a routed run: give its rules with --route FILE"
        ))),
        (false, Some(_)) => Err(Failure::error(format!(
            "run {run_id:?} went to {provider} alone: --route is for routed runs"
        ))),
        (false, None) => connect::connect(provider, false).await,
    }
}

/// The provider a run of the journal belongs to; an error when the journal has no such run
/// or names a provider this program does not know.
pub async fn run_provider(journal: &Journal, run_id: &str) -> Result<ProviderId, Failure> {
    let run = journal
        .runs()
        .await?
        .into_iter()
        .find(|r| r.run_id == run_id)
        .ok_or_else(|| Failure::error(format!("the journal has no run {run_id:?}")))?;
    run.provider.ok_or_else(|| {
        Failure::error(format!(
            "run {:?} belongs to provider {:?}, which this program does not know",
            run.run_id, run.provider_name
        ))
    })
}

/// Submits the input through the journal, then collects and writes results.
pub async fn submit_and_collect(
    journal: &Journal,
    connected: &Connected,
    run_id: &str,
    args: &SubmitArgs,
    rule_suppression: &[(String, crate::route::RuleSuppression)],
) -> Result<Exit, Failure> {
    let provider = connected.provider.as_ref();
    let rows = count_rows(&args.input)?;
    let sink = Sink::new(journal, run_id, &args.results)?;
    if let Some(addr) = args.results.listen {
        listen(addr, connected.provider.clone(), sink.clone()).await?;
    }
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| beside(&args.input, ".rejects.csv"));
    let suppressed_path = args
        .suppression
        .suppressed
        .clone()
        .unwrap_or_else(|| beside(&args.input, ".suppressed.csv"));
    let rejects = SharedRejects::create(&rejects_path, &suppressed_path)?;
    let mut progress = Progress::new(rows, !args.no_progress, rejects.clone());
    let bar = progress.bar.clone();
    let cards = CsvCards::open(
        &args.input,
        connected.provider.id(),
        rejects.clone(),
        Box::new(move || bar.inc(1)),
    )?;
    let options = RunOptions::new(run_id)
        .worker(args.worker.clone())
        .stream(StreamOptions::default().duplicate_ids(if args.ids_unique {
            DuplicateIds::CallerGuarantees
        } else {
            DuplicateIds::Refuse
        }))
        .suppression(crate::suppression::suppression(
            &args.suppression,
            connected,
            rule_suppression,
        ));
    crate::say!(
        "run {run_id}: {rows} rows from {} to {}",
        args.input.display(),
        provider.id()
    );
    let started = Instant::now();
    let report = journal
        .run_observed(provider, &options, card_stream(cards), &mut progress)
        .await?;
    progress.bar.finish_and_clear();
    let (finished, rejected, suppressed, read_error) = {
        let mut log = rejects.lock();
        (
            log.finish(),
            log.count(),
            log.suppressed(),
            log.read_error.take(),
        )
    };
    finished?;
    report_submission(
        &report.receipt,
        started,
        rejected,
        &rejects_path,
        read_error,
    )?;
    crate::say!(
        "{suppressed} cards suppressed (not sent: see {}; --no-suppress sends them)",
        suppressed_path.display()
    );
    let out = args
        .results
        .out
        .clone()
        .unwrap_or_else(|| beside(&args.input, ".updates.csv"));
    let (_, pending) = collect_and_export(
        provider,
        &sink,
        args.results.listen.is_some(),
        &args.results,
        &out,
        false,
    )
    .await?;
    let status = print_run_status(journal, run_id).await?;
    Ok(exit_for(&status, pending, rejected))
}

/// Prints what the submission did; an unreadable input or a stopped run is the error.
pub fn report_submission(
    receipt: &StreamReceipt,
    started: Instant,
    rejected: u64,
    rejects_path: &Path,
    read_error: Option<String>,
) -> Result<(), Failure> {
    crate::say!(
        "submitted in {:.1} s: {} cards accepted now, {} in chunks recorded before (skipped), {} failed, {} unknown; {} rows rejected (see {})",
        started.elapsed().as_secs_f64(),
        receipt.accepted_cards(),
        receipt.skipped_cards(),
        receipt.failed_cards(),
        receipt.unknown_cards(),
        rejected,
        rejects_path.display()
    );
    if let Some(e) = read_error {
        return Err(Failure::error(format!(
            "the input could not be read past {e}; fix it and `resume`"
        )));
    }
    if let Some(stopped) = &receipt.stopped() {
        return Err(Failure::error(format!(
            "the run stopped: {stopped}; nothing past that point was sent"
        )));
    }
    Ok(())
}

/// The demo's rejects are deliberate: a run whose only flaw is them is done.
#[cfg(feature = "emulator")]
pub fn exit_for_demo(exit: Exit) -> Exit {
    if exit == Exit::Rejected {
        Exit::Done
    } else {
        exit
    }
}

/// The exit code for a run's state: the most urgent first.
pub fn exit_for(status: &RunStatus, results_pending: u64, rejected: u64) -> Exit {
    if status.unknown > 0 {
        Exit::Unknown
    } else if status.failed + status.resend > 0 {
        Exit::ProviderFailed
    } else if status.in_flight > 0 {
        // Another worker's chunks, still being sent (this worker's own are settled when
        // its run returns): nothing failed.
        Exit::InFlight
    } else if results_pending > 0 {
        Exit::ResultsPending
    } else if rejected > 0 || status.rejected > 0 {
        Exit::Rejected
    } else {
        Exit::Done
    }
}

pub fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::error(format!("could not write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(f: impl FnOnce(&mut RunStatus)) -> RunStatus {
        let mut s = RunStatus::default();
        f(&mut s);
        s
    }

    /// The most urgent state decides; another worker's chunks in flight are not a failure.
    #[test]
    fn exit_codes_by_state() {
        assert_eq!(exit_for(&status(|_| ()), 0, 0), Exit::Done);
        assert_eq!(
            exit_for(&status(|s| s.in_flight = 10_000), 0, 0),
            Exit::InFlight
        );
        assert_eq!(
            exit_for(&status(|s| s.in_flight = 10_000), 0, 3),
            Exit::InFlight
        );
        assert_eq!(
            exit_for(
                &status(|s| {
                    s.in_flight = 1;
                    s.failed = 1
                }),
                0,
                0
            ),
            Exit::ProviderFailed
        );
        assert_eq!(
            exit_for(
                &status(|s| {
                    s.unknown = 1;
                    s.failed = 1
                }),
                0,
                0
            ),
            Exit::Unknown
        );
        assert_eq!(exit_for(&status(|_| ()), 2, 3), Exit::ResultsPending);
        assert_eq!(exit_for(&status(|_| ()), 0, 3), Exit::Rejected);
    }
}
