//! The commands on a journal: run, resume, status, results, resolve.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use account_updater::error::ErrorKind;
use account_updater::journal::{Journal, Resolution, RunObserver, RunOptions, RunStatus};
use account_updater::provider::{CardToUpdate, JobState, Provider, ResultsQuery};
use account_updater::submission::{Chunk, ChunkOutcome, DuplicateIds, StreamOptions, card_stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::connect::{self, Connected};
use crate::input::{CsvCards, SharedRejects, count_rows};
use crate::output::{RevealFile, export_updates};
use crate::{
    Exit, Failure, JournalArgs, ResolveArgs, ResultsArgs, ResultsOutput, ResumeArgs, RunArgs,
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
                "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} cards placed, {per_sec}, ETA {eta}  {msg}",
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

    fn message(&self) {
        self.bar.set_message(format!(
            "chunks: {} accepted, {} failed, {} unknown, {} done before; {} rejected",
            self.accepted,
            self.failed,
            self.unknown,
            self.skipped,
            self.rejects.lock().count()
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
    let connected = connect::connect(args.provider, args.emulator).await?;
    let run_id = args
        .run_id
        .unwrap_or_else(|| format!("run-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
    let journal = open_journal(&args.submit.journal).await?;
    submit_and_collect(&journal, &connected, &run_id, &args.submit).await
}

/// `resume`: the run's provider from the journal, its client from the environment.
pub async fn resume(args: ResumeArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.submit.journal).await?;
    let run = journal
        .runs()
        .await?
        .into_iter()
        .find(|r| r.run_id == args.run_id)
        .ok_or_else(|| Failure::error(format!("the journal has no run {:?}", args.run_id)))?;
    let provider = run.provider.ok_or_else(|| {
        Failure::error(format!(
            "run {:?} belongs to provider {:?}, which this program does not know",
            run.run_id, run.provider_name
        ))
    })?;
    let connected = connect::connect(provider, false).await?;
    submit_and_collect(&journal, &connected, &args.run_id, &args.submit).await
}

/// Submits the input through the journal, then collects and writes results.
pub async fn submit_and_collect(
    journal: &Journal,
    connected: &Connected,
    run_id: &str,
    args: &SubmitArgs,
) -> Result<Exit, Failure> {
    let provider = connected.provider.as_ref();
    let rows = count_rows(&args.input)?;
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| beside(&args.input, ".rejects.csv"));
    let rejects = SharedRejects::create(&rejects_path)?;
    let mut progress = Progress::new(rows, !args.no_progress, rejects.clone());
    let bar = progress.bar.clone();
    let cards = CsvCards::open(&args.input, rejects.clone(), Box::new(move || bar.inc(1)))?;
    let options = RunOptions::new(run_id).worker(args.worker.clone()).stream(
        StreamOptions::default().duplicate_ids(if args.ids_unique {
            DuplicateIds::CallerGuarantees
        } else {
            DuplicateIds::Refuse
        }),
    );
    println!(
        "run {run_id}: {rows} rows from {} to {}",
        args.input.display(),
        provider.id()
    );
    let started = Instant::now();
    let report = journal
        .run_observed(provider, &options, card_stream(cards), &mut progress)
        .await?;
    progress.bar.finish_and_clear();
    let (finished, rejected, read_error) = {
        let mut log = rejects.lock();
        (log.finish(), log.count(), log.read_error.take())
    };
    finished?;
    let receipt = &report.receipt;
    println!(
        "submitted in {:.1} s: {} cards accepted now, {} accepted before, {} failed, {} unknown; {} rows rejected (see {})",
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
    if let Some(stopped) = &receipt.stopped {
        return Err(Failure::error(format!(
            "the run stopped: {stopped}; nothing past that point was sent"
        )));
    }
    let out = args
        .results
        .out
        .clone()
        .unwrap_or_else(|| beside(&args.input, ".updates.csv"));
    let pending = collect_and_export(journal, provider, run_id, &args.results, &out, false).await?;
    let status = journal.status(run_id).await?;
    print_status(&status);
    Ok(exit_for(&status, pending, rejected))
}

/// The demo's rejects are deliberate: a run whose only flaw is them is done.
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
    } else if status.failed + status.resend + status.in_flight > 0 {
        Exit::ProviderFailed
    } else if results_pending > 0 {
        Exit::ResultsPending
    } else if rejected > 0 || status.rejected > 0 {
        Exit::Rejected
    } else {
        Exit::Done
    }
}

/// Polls the run's jobs until their results are in (or `--wait` runs out), stores the
/// results, writes new numbers when asked, then exports the results not yet exported.
/// Returns how many jobs are still pending.
async fn collect_and_export(
    journal: &Journal,
    provider: &dyn Provider,
    run_id: &str,
    output: &ResultsOutput,
    out: &Path,
    all: bool,
) -> Result<u64, Failure> {
    let mut reveal = output
        .reveal_new_numbers
        .as_deref()
        .map(RevealFile::create)
        .transpose()?;
    let pending = collect(journal, provider, run_id, output, reveal.as_mut()).await?;
    if let Some(reveal) = reveal.as_mut() {
        reveal.finish()?;
        println!(
            "{} new card numbers in clear written to {} (readable by its owner only)",
            reveal.count,
            output
                .reveal_new_numbers
                .as_deref()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }
    let written = export_updates(journal, run_id, out, all).await?;
    println!("{written} updates written to {}", out.display());
    Ok(pending)
}

/// One pass over the run's jobs per poll: a job whose status is completed has its results
/// fetched and stored. Returns the jobs still pending when the wait ends.
async fn collect(
    journal: &Journal,
    provider: &dyn Provider,
    run_id: &str,
    output: &ResultsOutput,
    mut reveal: Option<&mut RevealFile>,
) -> Result<u64, Failure> {
    let deadline = Instant::now() + output.wait;
    let jobs = journal.accepted_jobs(run_id).await?;
    let unnamed: u64 = jobs
        .iter()
        .filter(|j| j.job.is_none())
        .map(|j| j.cards)
        .sum();
    if unnamed > 0 {
        println!(
            "{unnamed} accepted cards are in jobs the provider did not name: their results come by webhook"
        );
    }
    let mut pending: Vec<_> = jobs.into_iter().filter_map(|j| j.job).collect();
    let mut stored = 0;
    loop {
        let mut still = Vec::new();
        for job in pending {
            let completed = match provider.job_status(&job).await {
                Ok(status) => match status.state {
                    JobState::Completed => true,
                    JobState::Failed => {
                        println!("job {} failed at the provider", job.id);
                        continue;
                    }
                    _ => false,
                },
                // No status to ask: ask for results directly.
                Err(e) if e.kind() == ErrorKind::Unsupported => true,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "job status");
                    false
                }
            };
            if !completed {
                still.push(job);
                continue;
            }
            match provider
                .fetch_results(&ResultsQuery::Job(job.clone()))
                .await
            {
                Ok(updates) => {
                    stored += journal.record_results(run_id, &updates).await?;
                    if let Some(reveal) = reveal.as_deref_mut() {
                        reveal.write(&updates)?;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    println!(
                        "{} sends results by webhook only: job {} has none to fetch",
                        provider.id(),
                        job.id
                    );
                }
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "fetch results");
                    still.push(job);
                }
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        let nap = output
            .poll_interval
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(nap.max(Duration::from_millis(10))).await;
    }
    if stored > 0 {
        println!("{stored} new results stored in the journal");
    }
    if !pending.is_empty() {
        println!(
            "{} jobs have no results yet; run `results` later",
            pending.len()
        );
    }
    Ok(pending.len() as u64)
}

fn print_status(status: &RunStatus) {
    println!(
        "cards: {} accepted, {} in flight, {} unknown, {} failed, {} to resend, {} refused by the provider's rules; {} chunks; results: {} stored, {} exported",
        status.accepted,
        status.in_flight,
        status.unknown,
        status.failed,
        status.resend,
        status.rejected,
        status.chunks,
        status.results,
        status.applied
    );
}

/// `status`.
pub async fn status(args: StatusArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let Some(run_id) = args.run_id else {
        let runs = journal.runs().await?;
        if runs.is_empty() {
            println!("no runs");
        }
        for run in runs {
            let status = journal.status(&run.run_id).await?;
            println!(
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
        return Ok(Exit::Done);
    };
    if !journal.runs().await?.iter().any(|r| r.run_id == run_id) {
        return Err(Failure::error(format!("the journal has no run {run_id:?}")));
    }
    let status = journal.status(&run_id).await?;
    print_status(&status);
    for chunk in journal.unknown_chunks(&run_id).await? {
        println!(
            "unknown chunk {} ({} cards): {}\n  decide: account-updater resolve --run {run_id} --chunk {} (--resend | --accepted [--job-id ID])",
            chunk.seq, chunk.cards, chunk.reason, chunk.seq
        );
    }
    Ok(exit_for(&status, 0, 0))
}

/// `results`.
pub async fn results(args: ResultsArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let run = journal
        .runs()
        .await?
        .into_iter()
        .find(|r| r.run_id == args.run_id)
        .ok_or_else(|| Failure::error(format!("the journal has no run {:?}", args.run_id)))?;
    let out = args
        .results
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.updates.csv", args.run_id)));
    if args.no_fetch {
        let written = export_updates(&journal, &args.run_id, &out, args.all).await?;
        println!("{written} updates written to {}", out.display());
        return Ok(Exit::Done);
    }
    let provider = run
        .provider
        .ok_or_else(|| Failure::error(format!("unknown provider {:?}", run.provider_name)))?;
    let connected = connect::connect(provider, false).await?;
    let pending = collect_and_export(
        &journal,
        connected.provider.as_ref(),
        &args.run_id,
        &args.results,
        &out,
        args.all,
    )
    .await?;
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
    println!(
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
