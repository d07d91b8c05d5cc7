//! The commands on a journal: run, resume, status, results, resolve.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use account_updater::ProviderId;
use account_updater::provider::CardToUpdate;
use account_updater::submission::{
    Chunk, ChunkOutcome, DuplicateIds, StreamOptions, StreamReceipt, card_stream,
};
use account_updater_journal::{Journal, Resolution, RunObserver, RunOptions, RunStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::collect::{Sink, collect_and_export, listen};
use crate::connect::{self, Connected};
use crate::input::{CsvCards, SharedRejects, count_rows};
use crate::output::export_updates;
use crate::{
    Exit, Failure, Format, HistoryArgs, JournalArgs, ResolveArgs, ResultsArgs, ResumeArgs, RunArgs,
    StatusArgs, SubmitArgs,
};

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
    let settings = crate::operator::settings_of(args.route.as_deref())?;
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

/// `resume`: the run's provider from the journal, its client from the environment.
pub async fn resume(args: ResumeArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.submit.journal).await?;
    let connected = connect_run(&journal, &args.run_id, args.route.as_deref()).await?;
    let settings = crate::operator::settings_of(args.route.as_deref())?;
    submit_and_collect(
        &journal,
        &connected,
        &args.run_id,
        &args.submit,
        &settings.rule_suppression,
    )
    .await
}

/// The client a recorded run needs: its provider's, or, for a routed run, the router its
/// rules file builds (which must then be given).
async fn connect_run(
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
async fn run_provider(journal: &Journal, run_id: &str) -> Result<ProviderId, Failure> {
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
        .suppression(crate::operator::suppression(
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
fn report_submission(
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
fn exit_for(status: &RunStatus, results_pending: u64, rejected: u64) -> Exit {
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

fn print_status(status: &RunStatus) {
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
async fn print_run_status(journal: &Journal, run_id: &str) -> Result<RunStatus, Failure> {
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
fn status_json(status: &RunStatus) -> serde_json::Value {
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

pub fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::error(format!("could not write JSON: {e}")))?;
    println!("{text}");
    Ok(())
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
    let overdue = crate::operator::reconcile_run(&journal, &run_id, &[], &[])
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

/// `history`.
pub async fn history(args: HistoryArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let entries = journal.history(&args.id).await?;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    if args.format == Format::Json {
        let results: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "run_id": e.run_id,
                    "provider": e.provider_name,
                    "outcome": e.outcome,
                    "raw_code": e.raw_code,
                    "old_card_masked": e.old_card_masked,
                    "new_card_masked": e.new_card_masked,
                    "old_expiry": e.old_expiry,
                    "new_expiry": e.new_expiry,
                    "brand_changed": e.brand_changed,
                    "received_at": time(e.received_at),
                    "applied_at": time(e.applied_at),
                })
            })
            .collect();
        print_json(&serde_json::json!({ "card_id": args.id, "results": results }))?;
        return Ok(Exit::Done);
    }
    if entries.is_empty() {
        crate::say!("no results for card {:?}", args.id);
    }
    for e in &entries {
        crate::say!(
            "{}\t{}\t{}\t{}\t{} -> {}\t{} -> {}{}\treceived {}\t{}",
            e.run_id,
            e.provider_name,
            e.outcome,
            e.raw_code,
            e.old_card_masked.as_deref().unwrap_or("-"),
            e.new_card_masked.as_deref().unwrap_or("-"),
            e.old_expiry.as_deref().unwrap_or("-"),
            e.new_expiry.as_deref().unwrap_or("-"),
            if e.brand_changed {
                "\tbrand changed"
            } else {
                ""
            },
            time(e.received_at).unwrap_or_default(),
            match time(e.applied_at) {
                Some(t) => format!("applied {t}"),
                None => "not applied".to_owned(),
            }
        );
    }
    Ok(Exit::Done)
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
