//! The commands on a journal: run, resume, status, results, resolve.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use account_updater::error::ErrorKind;
use account_updater::journal::{Journal, Resolution, RunObserver, RunOptions, RunStatus};
use account_updater::provider::{CardToUpdate, Flow, JobRef, JobState, Provider, ResultsQuery};
use account_updater::submission::{
    Chunk, ChunkOutcome, DuplicateIds, StreamOptions, StreamReceipt, card_stream,
};
use account_updater::{CardUpdate, ProviderId};
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
        self.bar.set_message(format!(
            "{pace}chunks: {} accepted, {} failed, {} unknown, {} recorded before | {} rejected",
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
    let provider = run_provider(&journal, &args.run_id).await?;
    let connected = connect::connect(provider, false).await?;
    submit_and_collect(&journal, &connected, &args.run_id, &args.submit).await
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
    report_submission(
        &report.receipt,
        started,
        rejected,
        &rejects_path,
        read_error,
    )?;
    let out = args
        .results
        .out
        .clone()
        .unwrap_or_else(|| beside(&args.input, ".updates.csv"));
    let pending = collect_and_export(
        provider,
        &sink,
        args.results.listen.is_some(),
        &args.results,
        &out,
        false,
    )
    .await?;
    let status = journal.status(run_id).await?;
    print_status(&status);
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
    println!(
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
    if let Some(stopped) = &receipt.stopped {
        return Err(Failure::error(format!(
            "the run stopped: {stopped}; nothing past that point was sent"
        )));
    }
    Ok(())
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

/// Where results go, from polling and from the webhook listener alike: the journal (joined
/// to the caller's ids, stored once), and the reveal file when one was asked for.
#[derive(Clone)]
pub struct Sink {
    journal: Journal,
    run_id: Arc<str>,
    reveal: Arc<Mutex<Option<RevealFile>>>,
    reveal_path: Option<PathBuf>,
}

impl Sink {
    /// A sink for `run_id`, creating the reveal file (owner-only) when asked for.
    pub fn new(journal: &Journal, run_id: &str, output: &ResultsOutput) -> Result<Self, Failure> {
        let reveal = output
            .reveal_new_numbers
            .as_deref()
            .map(RevealFile::create)
            .transpose()?;
        Ok(Sink {
            journal: journal.clone(),
            run_id: run_id.into(),
            reveal: Arc::new(Mutex::new(reveal)),
            reveal_path: output.reveal_new_numbers.clone(),
        })
    }

    /// Stores `updates`; returns how many were new to the journal.
    pub async fn store(&self, mut updates: Vec<CardUpdate>) -> Result<u64, Failure> {
        self.journal
            .join_caller_ids(&self.run_id, &mut updates)
            .await?;
        let stored = self.journal.record_results(&self.run_id, &updates).await?;
        if let Some(reveal) = self
            .reveal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            reveal.write(&updates)?;
        }
        Ok(stored)
    }

    /// Flushes the reveal file and says where it is.
    fn finish(&self) -> Result<(), Failure> {
        let mut guard = self.reveal.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(reveal), Some(path)) = (guard.as_mut(), &self.reveal_path) {
            reveal.finish()?;
            println!(
                "{} new card numbers in clear written to {} (readable by its owner only)",
                reveal.count,
                path.display()
            );
        }
        Ok(())
    }
}

/// Collects results (polling, and the listener when there is one) until they are in or
/// `--wait` runs out, then exports the results not yet exported. Returns how many jobs (or,
/// for a provider that only sends webhooks, cards) are still waiting for results.
async fn collect_and_export(
    provider: &dyn Provider,
    sink: &Sink,
    listening: bool,
    output: &ResultsOutput,
    out: &Path,
    all: bool,
) -> Result<u64, Failure> {
    let pending = collect(provider, sink, listening, output).await?;
    sink.finish()?;
    let written = export_updates(&sink.journal, &sink.run_id, out, all).await?;
    println!("{written} updates written to {}", out.display());
    Ok(pending)
}

/// Asks whether `job` is done: a completed job (or one whose provider has no status to ask)
/// has its results fetched.
async fn poll_job(provider: &dyn Provider, sink: &Sink, job: &JobRef) -> Result<bool, Failure> {
    let completed = match provider.job_status(job).await {
        Ok(status) => match status.state {
            JobState::Completed => true,
            JobState::Failed => {
                println!("job {} failed at the provider", job.id);
                return Ok(true);
            }
            _ => false,
        },
        Err(e) if e.kind() == ErrorKind::Unsupported => true,
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "job status");
            false
        }
    };
    if !completed {
        return Ok(false);
    }
    match provider
        .fetch_results(&ResultsQuery::Job(job.clone()))
        .await
    {
        Ok(updates) => {
            sink.store(updates).await?;
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "fetch results");
            Ok(false)
        }
    }
}

/// One pass over the run's jobs per poll until none is pending (and, for a provider that
/// sends results only by webhook, until the listener has a result for every accepted card)
/// or the wait ends.
async fn collect(
    provider: &dyn Provider,
    sink: &Sink,
    listening: bool,
    output: &ResultsOutput,
) -> Result<u64, Failure> {
    let journal = &sink.journal;
    let run_id = &*sink.run_id;
    let deadline = Instant::now() + output.wait;
    let pollable = provider.capabilities().supports(Flow::FetchResults);
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
    if !pollable {
        println!(
            "{} sends results by webhook only{}",
            provider.id(),
            if listening {
                ""
            } else {
                ": give --listen ADDR (the address the provider delivers to) to receive them"
            }
        );
    }
    let mut pending: Vec<JobRef> = if pollable {
        jobs.into_iter().filter_map(|j| j.job).collect()
    } else {
        Vec::new()
    };
    let before = journal.status(run_id).await?.results;
    let awaiting_webhooks = || async {
        if pollable {
            return Ok::<u64, Failure>(0);
        }
        let status = journal.status(run_id).await?;
        Ok(status.accepted.saturating_sub(status.results))
    };
    loop {
        let mut still = Vec::new();
        for job in pending {
            if !poll_job(provider, sink, &job).await? {
                still.push(job);
            }
        }
        pending = still;
        let waiting = listening && awaiting_webhooks().await? > 0;
        if (pending.is_empty() && !waiting) || Instant::now() >= deadline {
            break;
        }
        let nap = output
            .poll_interval
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(nap.max(Duration::from_millis(10))).await;
    }
    let stored = journal.status(run_id).await?.results.saturating_sub(before);
    if stored > 0 {
        println!("{stored} new results stored in the journal");
    }
    if !pending.is_empty() {
        println!(
            "{} jobs have no results yet; run `results` later",
            pending.len()
        );
    }
    let missing = awaiting_webhooks().await?;
    if missing > 0 {
        println!("{missing} accepted cards have no result yet; their webhooks have not come");
    }
    Ok(pending.len() as u64 + missing)
}

/// The state the webhook listener's handler shares.
#[derive(Clone)]
struct Listening {
    provider: Arc<dyn Provider>,
    sink: Sink,
}

/// Serves `POST` webhooks on `addr` for the run: each delivery is verified by the provider's
/// rules ([`account_updater::webhook::receive`]), the results it carries or announces are
/// stored, and it is answered 200 only once they are (so the provider delivers it again
/// otherwise). Returns the address it listens on.
pub async fn listen(
    addr: std::net::SocketAddr,
    provider: Arc<dyn Provider>,
    sink: Sink,
) -> Result<std::net::SocketAddr, Failure> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::error(format!("could not listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::error(format!("could not listen on {addr}: {e}")))?;
    let app = axum::Router::new()
        .fallback(axum::routing::post(deliver))
        .with_state(Listening { provider, sink });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "webhook listener stopped");
        }
    });
    println!("listening for webhooks on http://{bound}");
    Ok(bound)
}

async fn deliver(
    axum::extract::State(state): axum::extract::State<Listening>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    let event = match account_updater::webhook::receive(state.provider.as_ref(), &headers, &body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "webhook refused");
            return StatusCode::BAD_REQUEST;
        }
    };
    let mut updates = event.updates;
    if let Some(query) = &event.results {
        match state.provider.fetch_results(query).await {
            Ok(mut fetched) => updates.append(&mut fetched),
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Err(e) => {
                tracing::warn!(event = %event.id, error = %e, "fetch announced results");
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
    }
    if updates.is_empty() {
        return StatusCode::OK;
    }
    match state.sink.store(updates).await {
        Ok(_) => StatusCode::OK,
        Err(e) => {
            tracing::warn!(event = %event.id, error = %e.message, "store webhook results");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
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
    run_provider(&journal, &run_id).await?;
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
    let provider = run_provider(&journal, &args.run_id).await?;
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
    let connected = connect::connect(provider, false).await?;
    let sink = Sink::new(&journal, &args.run_id, &args.results)?;
    if let Some(addr) = args.results.listen {
        listen(addr, connected.provider.clone(), sink.clone()).await?;
    }
    let pending = collect_and_export(
        connected.provider.as_ref(),
        &sink,
        args.results.listen.is_some(),
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
