//! Collecting results: polling the run's jobs and/or receiving webhooks (each verified by the
//! library), stored once in the journal and exported to the updates file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use account_updater::CardUpdate;
use account_updater::error::ErrorKind;
use account_updater::{
    ids::{Flow, JobRef, ResultsQuery},
    provider::{JobState, Provider},
};
use account_updater_journal::Journal;

use crate::Failure;
use crate::args::ResultsOutput;
use crate::output::{RevealFile, export_updates};

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
        self.record(updates).await
    }

    /// Stores the `updates` a webhook brought that name a card of this run, and returns how
    /// many named none (not stored). A provider that only announces results by webhook
    /// (Acquired) can deliver one before the run has journaled the card's chunk as accepted
    /// (its reference is recorded then): such a result is held back, so the webhook can be
    /// answered "not yet" and delivered again, instead of being stored with no caller id.
    async fn store_delivered(&self, mut updates: Vec<CardUpdate>) -> Result<usize, Failure> {
        self.journal
            .join_caller_ids(&self.run_id, &mut updates)
            .await?;
        let (joined, unjoined): (Vec<_>, Vec<_>) =
            updates.into_iter().partition(|u| u.card_id.is_some());
        if !joined.is_empty() {
            self.record(joined).await?;
        }
        Ok(unjoined.len())
    }

    /// Stores `updates` already joined to their caller ids, and writes the reveal file.
    async fn record(&self, updates: Vec<CardUpdate>) -> Result<u64, Failure> {
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
            crate::say!(
                "{} new card numbers in clear written to {} (readable by its owner only)",
                reveal.count,
                path.display()
            );
        }
        Ok(())
    }
}

/// Collects results (polling, and the listener when there is one) until they are in or
/// `--wait` runs out, then exports the results not yet exported. Returns how many updates it
/// wrote, and how many jobs (or, for a provider that only sends webhooks, cards) are still
/// waiting for results.
pub async fn collect_and_export(
    provider: &dyn Provider,
    sink: &Sink,
    listening: bool,
    output: &ResultsOutput,
    out: &Path,
    all: bool,
) -> Result<(u64, u64), Failure> {
    let pending = collect(provider, sink, listening, output).await?;
    sink.finish()?;
    let written = export_updates(&sink.journal, &sink.run_id, out, all).await?;
    crate::say!("{written} updates written to {}", out.display());
    Ok((written, pending))
}

/// Asks whether `job` is done: a completed job (or one whose provider has no status to ask)
/// has its results fetched.
async fn poll_job(provider: &dyn Provider, sink: &Sink, job: &JobRef) -> Result<bool, Failure> {
    let completed = match provider.job_status(job).await {
        Ok(status) => {
            // A finished job is recorded, so `reconcile` knows that a card with no result in
            // a complete job has none coming (CardSync lists no unchanged cards).
            sink.journal
                .record_job_state(&sink.run_id, job, &status.state)
                .await?;
            match status.state {
                JobState::Completed => true,
                JobState::Failed => {
                    crate::say!("job {} failed at the provider", job.id);
                    return Ok(true);
                }
                _ => false,
            }
        }
        // No status to ask for this job (Acquired inquiries; CardSync Amex subscriptions,
        // whose results are announced by webhook): go on to its results.
        Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::InvalidInput) => true,
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
        // The job's results come by webhook only (an Acquired inquiry, a CardSync Amex
        // subscription): nothing to poll.
        Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::InvalidInput) => {
            tracing::debug!(job = %job.id, error = %e, "results by webhook only");
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
        crate::say!(
            "{unnamed} accepted cards are in jobs the provider did not name: their results come by webhook"
        );
    }
    if !pollable {
        crate::say!(
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
        crate::say!("{stored} new results stored in the journal");
    }
    if !pending.is_empty() {
        crate::say!(
            "{} jobs have no results yet; run `results` later",
            pending.len()
        );
    }
    let missing = awaiting_webhooks().await?;
    if missing > 0 {
        crate::say!("{missing} accepted cards have no result yet; their webhooks have not come");
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
    crate::say!("listening for webhooks on http://{bound}");
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
    // A provider that is polled has its results found by polling too; one that only
    // announces them by webhook must deliver again what this run cannot place yet.
    let webhook_only = !state.provider.capabilities().supports(Flow::FetchResults);
    let stored = if webhook_only {
        state.sink.store_delivered(updates).await.map(|unjoined| {
            if unjoined > 0 {
                tracing::warn!(
                    event = %event.id,
                    unjoined,
                    "results for cards this run has not journaled as sent: asked again"
                );
            }
            unjoined == 0
        })
    } else {
        state.sink.store(updates).await.map(|_| true)
    };
    match stored {
        Ok(true) => StatusCode::OK,
        Ok(false) => StatusCode::SERVICE_UNAVAILABLE,
        Err(e) => {
            tracing::warn!(event = %event.id, error = %e.message, "store webhook results");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
