//! # account-updater-journal
//!
//! A durable job journal for update runs: a crash never loses a card or sends one twice.
//!
//! A billing platform runs its whole card base through an updater every month, and results
//! arrive days later. [`Journal::run`] drives a streamed submission
//! ([`Provider::submit_stream`]) and records, per run: every chunk with an **intent written
//! before its request is sent**, each chunk's outcome (accepted with the job id, failed, or
//! unknown), every card's caller id and input position, every rejected card with its reason,
//! and later every result and when it was applied.
//!
//! **What survives a crash.** Run the same input again with the same run id ([`Journal::run`]
//! is the resume): chunks are planned the same way, so each gets the same number, and
//! - an accepted chunk is skipped;
//! - a failed chunk (the provider certainly did not act: it never saw the request, or refused
//!   it) is sent again;
//! - a chunk whose intent was written but whose outcome was not (the process died around the
//!   request) **may have reached the provider**: it becomes *unknown* and is never resent
//!   silently. It is reconciled when the provider's results name its cards
//!   ([`Journal::record_results`]: CardSync echoes the caller's ids), or by an operator with
//!   [`Journal::resolve_unknown`];
//! - cards never read are sent.
//!
//! No card data is stored: only caller ids, positions, states, job ids, and results' outcomes
//! with new expiries and masked new numbers. The input is the caller's to give again on resume
//! (the journal checks each chunk against what it recorded and refuses a changed input).
//!
//! **Several workers.** Workers that run the same input against one journal (PostgreSQL for a
//! fleet; SQLite works for processes on one machine) split the chunks: a chunk is claimed by
//! the insert of its intent (a primary key on run and chunk number), so exactly one worker
//! sends it; the others skip it. A run can be finished by any worker.
//!
//! **Results, applied once.** [`Journal::apply`] stores results idempotently under a stable id
//! ([`result_id`]: the same result fetched twice, or a webhook delivered twice, is stored once)
//! and hands each unapplied one to the caller's callback, marking it applied only when the
//! callback succeeds: at least once to the callback, exactly once in the journal.
//!
//! SQLite is the default (the default, a single file, no server); PostgreSQL with feature
//! `postgres`. Both through `sqlx`; the schema is versioned and migrated by the crate.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod db;
mod incoming;
mod observer;
mod operator;
mod results;
mod suppress;

pub use incoming::IncomingReport;
use observer::JournalObserver;
pub use operator::{
    JobReconciliation, OrphanResult, OverdueCard, Plan, PlanOptions, PlannedProvider, Price,
    ReconcileOptions, Reconciliation, RepeatedDelivery, expected_window,
};
pub use suppress::{SuppressReason, SuppressedCard, Suppression, SuppressionPolicy};

use std::fmt;
use std::time::Duration;

use futures::stream::BoxStream;
use sha2::{Digest, Sha256};

use account_updater::error::{Error, InputProblem, Result};
use account_updater::outcome::CardUpdate;
use account_updater::submission::{Chunk, ChunkOutcome, StreamOptions, StreamReceipt};
use account_updater::{
    ids::{JobKind, JobRef, ProviderId},
    provider::{CardToUpdate, Provider},
};

use db::Db;
pub use db::SCHEMA_VERSION;

/// Chunk states as stored (`au_chunks.state`).
mod state {
    pub const INTENT: &str = "intent";
    pub const ACCEPTED: &str = "accepted";
    pub const FAILED: &str = "failed";
    pub const UNKNOWN: &str = "unknown";
    pub const RESEND: &str = "resend";
}

/// The journal. Cheap to clone (a connection pool).
#[derive(Clone)]
pub struct Journal {
    db: Db,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("engine", &self.db.engine())
            .finish()
    }
}

/// Settings of one run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// The run's id (your own: `2026-11-cardsync`), at most 128 characters, no control
    /// characters. The same id resumes the run.
    pub run_id: String,
    /// This worker's name, recorded with the chunks it claims (default: host and process id).
    pub worker: String,
    /// An intent older than this with no outcome belongs to a worker that died: it becomes
    /// unknown when a run starts. Intents of this same worker name become unknown at once (the
    /// process that wrote them is gone). Default 15 minutes: longer than any request can take.
    pub stale_after: Duration,
    /// How the submission treats duplicate ids.
    pub stream: StreamOptions,
    /// Which cards are not sent because the journal's history says they would bring nothing
    /// (on by default: see [`Suppression`]).
    pub suppression: Suppression,
}

impl RunOptions {
    /// A run named `run_id`.
    pub fn new(run_id: impl Into<String>) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        RunOptions {
            run_id: run_id.into(),
            worker: format!("{host}-{}", std::process::id()),
            stale_after: Duration::from_secs(15 * 60),
            stream: StreamOptions::default(),
            suppression: Suppression::default(),
        }
    }

    /// Sets the worker name.
    pub fn worker(mut self, worker: impl Into<String>) -> Self {
        self.worker = worker.into();
        self
    }

    /// Sets when another worker's intent counts as abandoned.
    pub fn stale_after(mut self, after: Duration) -> Self {
        self.stale_after = after;
        self
    }

    /// Sets the submission options.
    pub fn stream(mut self, options: StreamOptions) -> Self {
        self.stream = options;
        self
    }

    /// Sets which cards are suppressed ([`Suppression::off`] sends every card).
    pub fn suppression(mut self, suppression: Suppression) -> Self {
        self.suppression = suppression;
        self
    }
}

/// Cards per state of one run, from the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunStatus {
    /// In accepted chunks.
    pub accepted: u64,
    /// In chunks being sent now (an intent without an outcome, not yet stale).
    pub in_flight: u64,
    /// In chunks that may have reached the provider: waiting for results or a decision.
    pub unknown: u64,
    /// In chunks the provider certainly did not act on: the next run sends them again.
    pub failed: u64,
    /// In unknown chunks an operator decided to resend: the next run sends them.
    pub resend: u64,
    /// Refused as input (never sent).
    pub rejected: u64,
    /// Suppressed (never sent: the history says they would bring nothing).
    pub suppressed: u64,
    /// Chunks recorded.
    pub chunks: u64,
    /// Results stored.
    pub results: u64,
    /// Results applied.
    pub applied: u64,
}

impl RunStatus {
    /// `true` when every recorded card is accepted or rejected: nothing to send or decide.
    pub fn is_settled(&self) -> bool {
        self.in_flight + self.unknown + self.failed + self.resend == 0
    }
}

/// One result in a card's history ([`Journal::history`]): what a provider said about the card
/// in one run, and whether it was applied. Card numbers are stored masked only (first six,
/// last four), never in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The run the result belongs to.
    pub run_id: String,
    /// The provider, when this crate knows the name.
    pub provider: Option<ProviderId>,
    /// The provider's name as recorded.
    pub provider_name: String,
    /// The unified outcome's stable name (`new_account_number`, `closed`, …).
    pub outcome: String,
    /// The provider's own code, verbatim.
    pub raw_code: String,
    /// The number the result was about, masked, when the provider echoed it.
    pub old_card_masked: Option<String>,
    /// The new number, masked.
    pub new_card_masked: Option<String>,
    /// The expiry the result was about (`MM/YYYY`), when the provider echoed it.
    pub old_expiry: Option<String>,
    /// The new expiry (`MM/YYYY`).
    pub new_expiry: Option<String>,
    /// The brand changed with the new number (Mastercard `B`, or old and new brands differ).
    /// `false` for results stored before schema version 4, which did not record it.
    pub brand_changed: bool,
    /// When the journal stored the result.
    pub received_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was applied (handed to `apply` or exported), if it was.
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One provider's part of a run ([`Journal::status_by_provider`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStatus {
    /// The provider, when this crate knows the name.
    pub provider: Option<ProviderId>,
    /// The provider's name as recorded.
    pub provider_name: String,
    /// Its cards per state and its results (`rejected` is always 0: see
    /// [`Journal::status_by_provider`]).
    pub status: RunStatus,
}

/// What one [`Journal::run`] call did, and the run's state after it. A run that stopped early
/// (the journal could not record an intent, or the input changed) says why in
/// `receipt.stopped`: nothing was sent past that point.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunReport {
    /// This call's submission (chunks this worker sent, and the ones it skipped).
    pub receipt: StreamReceipt,
    /// The whole run, from the journal.
    pub status: RunStatus,
}

/// A card refused as input ([`Journal::rejected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectedCard {
    /// Its position in the submission (suppressed cards are not counted).
    pub position: u64,
    /// The caller's id, escaped as stored (control characters written out).
    pub card_id: String,
    /// The rule it broke.
    pub reason: String,
}

/// One card of a recorded chunk ([`Journal::chunk_cards`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkCard {
    /// Its position in the submission.
    pub position: u64,
    /// The caller's id.
    pub card_id: String,
}

/// A chunk that may have reached the provider, waiting for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownChunk {
    /// Its number in the run.
    pub seq: u64,
    /// Number of cards.
    pub cards: u64,
    /// Why it is unknown (the error, redacted, or "the run stopped after the intent").
    pub reason: String,
}

/// An operator's decision on an unknown chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// The provider has it (seen in its portal, say), under this job id when known.
    Accepted {
        /// The provider's job id, when known.
        job_id: Option<String>,
    },
    /// The provider does not have it: the next run sends it again.
    Resend,
}

/// What [`Journal::apply`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Results newly stored by this call.
    pub stored: u64,
    /// Results handed to the callback and marked applied.
    pub applied: u64,
    /// Results skipped because the journal had them applied already.
    pub already_applied: u64,
    /// The result whose callback failed; the results after it were not handed over.
    pub failed: Option<FailedApply>,
}

/// A result whose apply callback failed ([`ApplyReport::failed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedApply {
    /// The result's stable id ([`result_id`]).
    pub result_id: String,
    /// The callback's message, redacted (every run of seven or more digits masked).
    pub message: String,
}

/// Sees a journaled run's chunks and rejected cards, each once the journal has recorded it.
/// Both methods are called inline: keep them quick (a progress bar, a line in a file).
pub trait RunObserver: Send {
    /// A chunk's outcome, as recorded: accepted, failed, unknown, or
    /// [`ChunkOutcome::Skipped`] (accepted earlier, or another worker's).
    fn chunk(&mut self, chunk: &Chunk, outcome: &ChunkOutcome) {
        let _ = (chunk, outcome);
    }

    /// The card at submission `position` was refused as input and recorded as rejected.
    /// Positions count the cards handed to the submission: suppressed cards are not among
    /// them (see [`RunObserver::suppressed`]).
    fn rejected(&mut self, position: u64, card: &CardToUpdate, error: &Error) {
        let _ = (position, card, error);
    }

    /// The card at `input_index` of the run's input (every card given, suppressed ones
    /// included) was suppressed, and recorded with its reason. Told before any rejection or
    /// chunk of a card read after it.
    fn suppressed(&mut self, input_index: u64, card: &CardToUpdate, reason: &SuppressReason) {
        let _ = (input_index, card, reason);
    }
}

impl RunObserver for () {}

/// A run the journal holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunInfo {
    /// Its id.
    pub run_id: String,
    /// Its provider, when this crate knows the name.
    pub provider: Option<ProviderId>,
    /// The provider's name as recorded.
    pub provider_name: String,
    /// When the run was first started.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A job that accepted chunks of a run were placed in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptedJobs {
    /// The job, to poll; `None` when the provider accepted the chunks without naming the job
    /// (its webhook will) or an operator accepted them without a job id.
    pub job: Option<JobRef>,
    /// Accepted chunks placed in it.
    pub chunks: u64,
    /// Cards in those chunks.
    pub cards: u64,
}

/// A result as the journal keeps it: no card data (the new number masked).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredResult {
    /// Its stable id ([`result_id`]).
    pub result_id: String,
    /// The provider's name.
    pub provider: String,
    /// The caller's card id, when the provider echoes it.
    pub card_id: Option<String>,
    /// The provider's card reference.
    pub card_ref: Option<String>,
    /// The unified outcome ([`account_updater::Outcome::as_str`]).
    pub outcome: String,
    /// The provider's own code, verbatim.
    pub raw_code: String,
    /// The new expiry (`MM/YYYY`), when there is one.
    pub new_expiry: Option<String>,
    /// The new card number masked (first 6 / last 4), when there is one.
    pub new_card_masked: Option<String>,
    /// When it was stored (Unix seconds).
    pub received_at: i64,
    /// Whether it was applied (or exported) before this read.
    pub applied: bool,
}

/// What [`Journal::export`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportReport {
    /// Results handed to the callback.
    pub exported: u64,
    /// Of those, newly marked applied.
    pub marked: u64,
}

/// The job kind as the journal stores it (`batch`, `subscription`, `inquiry`).
fn job_kind(stored: &str) -> Option<JobKind> {
    [JobKind::Batch, JobKind::Subscription, JobKind::Inquiry]
        .into_iter()
        .find(|k| format!("{k:?}").eq_ignore_ascii_case(stored))
}

/// The stable id of a result: the same result fetched twice, or delivered twice by webhook,
/// has the same id. A hash of the provider, its references, the caller's id, the raw code and
/// the new data (expiry, token, masked number); no card number in clear goes into it.
pub fn result_id(update: &CardUpdate) -> String {
    let mut h = Sha256::new();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    for part in [
        update.provider.as_str().to_owned(),
        opt(&update.provider_ref),
        opt(&update.card_id),
        opt(&update.card_ref),
        update.raw_code.clone(),
        update.new_expiry.map(|e| e.to_string()).unwrap_or_default(),
        opt(&update.new_token),
        update
            .new_card
            .as_ref()
            .map(|c| c.masked())
            .unwrap_or_default(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    crate::hex(&digest[..16])
}

fn check_run_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, InputProblem::Missing));
    }
    if id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            InputProblem::NotAllowed {
                reason: "at most 128 characters, no control characters".into(),
            },
        ));
    }
    Ok(())
}

impl Journal {
    /// Opens (creating it if needed) a SQLite journal file and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] naming the file and why in plain words when it cannot be created
    /// or opened (its directory is missing, permission denied, not a SQLite database), or when
    /// its schema is newer than this crate's or cannot be migrated.
    pub async fn open_sqlite(path: impl AsRef<std::path::Path>) -> Result<Journal> {
        let db = Db::open_sqlite(path.as_ref()).await?;
        db.migrate().await?;
        Ok(Journal { db })
    }

    /// Connects to a PostgreSQL journal (`postgres://user@host/db`) and brings its schema up to
    /// date. Several workers may connect to one database.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the server cannot be reached or refuses the connection, or
    /// when the schema is newer than this crate's or cannot be migrated (the migration runs
    /// in one transaction under an advisory lock: workers starting together all start).
    #[cfg(feature = "postgres")]
    pub async fn connect_postgres(url: &str) -> Result<Journal> {
        let db = Db::connect_postgres(url).await?;
        db.migrate().await?;
        Ok(Journal { db })
    }

    /// The schema version the database is at.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn schema_version(&self) -> Result<i64> {
        self.db.schema_version().await
    }

    /// Runs (or resumes) a run: submits `cards` through `provider`'s streamed submission with
    /// the journal recording every chunk. See the module documentation for what a resume does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad run id, before
    /// anything is written or sent; [`Error::Journal`] when the
    /// run cannot be started in the database. Once the submission runs, failures are per
    /// chunk in the report (failed: the provider did not act; unknown: it may have), and a
    /// journal that cannot record an intent stops the run before that chunk is sent
    /// (`report.receipt.stopped()`).
    ///
    /// # Cancel safety
    ///
    /// Safe to drop, in the journal's terms: each chunk's intent is committed before its
    /// request is sent, so a dropped (or killed) run leaves every chunk it may have sent as an
    /// intent. The next `run` with the same id, by a worker of the same name, records those as
    /// unknown at once (by another worker's name, once they are older than
    /// [`RunOptions::stale_after`]), and never sends them again by itself: decide with
    /// [`Journal::resolve_unknown`], or let the provider's results reconcile them. Chunks whose
    /// intent was not committed were not sent, and are sent by the next run.
    pub async fn run(
        &self,
        provider: &dyn Provider,
        options: &RunOptions,
        cards: BoxStream<'_, CardToUpdate>,
    ) -> Result<RunReport> {
        self.run_observed(provider, options, cards, &mut ()).await
    }

    /// [`Journal::run`], telling `observer` what happens to each chunk and rejected card once
    /// the journal has recorded it (a progress display, a rejects file).
    ///
    /// # Errors
    ///
    /// As [`Journal::run`].
    ///
    /// # Cancel safety
    ///
    /// As [`Journal::run`].
    pub async fn run_observed(
        &self,
        provider: &dyn Provider,
        options: &RunOptions,
        cards: BoxStream<'_, CardToUpdate>,
        observer: &mut dyn RunObserver,
    ) -> Result<RunReport> {
        check_run_id("run_id", &options.run_id)?;
        check_run_id("worker", &options.worker)?;
        self.db
            .start_run(&options.run_id, provider.id().as_str())
            .await?;
        self.db
            .abandon_stale_intents(&options.run_id, &options.worker, options.stale_after)
            .await?;
        // Suppression decides from the journal as it stood when the run was first started,
        // so a resume suppresses the same cards and plans the same chunks.
        let started = self
            .runs()
            .await?
            .into_iter()
            .find(|r| r.run_id == options.run_id)
            .and_then(|r| r.created_at)
            .unwrap_or_else(chrono::Utc::now);
        let suppressor =
            suppress::Suppressor::load(&self.db, &options.run_id, started, &options.suppression)
                .await?;
        let queue = suppress::SuppressedQueue::default();
        let cards = match suppressor {
            Some(s) => suppress::filter(cards, s, queue.clone()),
            None => cards,
        };
        let mut journal_observer = JournalObserver {
            db: &self.db,
            run_id: &options.run_id,
            worker: &options.worker,
            observer,
            suppressed: queue,
        };
        let receipt = provider
            .submit_stream(cards, options.stream.clone(), &mut journal_observer)
            .await?;
        // Cards suppressed after the last chunk was claimed.
        journal_observer.record_suppressed().await?;
        let status = self.status(&options.run_id).await?;
        Ok(RunReport { receipt, status })
    }

    /// Every run the journal holds, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn runs(&self) -> Result<Vec<RunInfo>> {
        Ok(self
            .db
            .runs()
            .await?
            .into_iter()
            .map(|(run_id, provider, created_at)| RunInfo {
                provider: ProviderId::named(&provider),
                provider_name: provider,
                run_id,
                created_at: chrono::DateTime::from_timestamp(created_at, 0),
            })
            .collect())
    }

    /// The jobs the run's accepted chunks were placed in, to poll for status and results (in
    /// the order their first chunk was sent).
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn accepted_jobs(&self, run_id: &str) -> Result<Vec<AcceptedJobs>> {
        let provider = self
            .runs()
            .await?
            .into_iter()
            .find(|r| r.run_id == run_id)
            .and_then(|r| r.provider);
        Ok(self
            .db
            .accepted_jobs(run_id)
            .await?
            .into_iter()
            .map(|(kind, job_id, chunk_provider, chunks, cards)| {
                let kind = job_kind(&kind);
                // A chunk names the provider it went to (a routed run's jobs are at several);
                // chunks recorded before it did belong to the run's provider.
                let provider = chunk_provider
                    .as_deref()
                    .and_then(ProviderId::named)
                    .or(provider);
                AcceptedJobs {
                    job: match (provider, kind, job_id) {
                        (Some(p), Some(k), Some(id)) => Some(JobRef::new(p, k, id)),
                        _ => None,
                    },
                    chunks: u64::try_from(chunks).unwrap_or(0),
                    cards: u64::try_from(cards).unwrap_or(0),
                }
            })
            .collect())
    }

    /// The run's rejected cards, by submission position.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn rejected(&self, run_id: &str) -> Result<Vec<RejectedCard>> {
        Ok(self
            .db
            .rejected(run_id)
            .await?
            .into_iter()
            .map(|(position, card_id, reason)| RejectedCard {
                position,
                card_id,
                reason,
            })
            .collect())
    }

    /// Every result stored for the caller's card `card_id`, across runs and providers,
    /// oldest first: what each provider said, when it arrived and when it was applied.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn history(&self, card_id: &str) -> Result<Vec<HistoryEntry>> {
        let at = |t: i64| chrono::DateTime::from_timestamp(t, 0);
        Ok(self
            .db
            .history(card_id)
            .await?
            .into_iter()
            .map(
                |(
                    run_id,
                    provider,
                    outcome,
                    raw_code,
                    old_card_masked,
                    new_card_masked,
                    old_expiry,
                    new_expiry,
                    brand_changed,
                    received_at,
                    applied_at,
                )| HistoryEntry {
                    run_id,
                    provider: ProviderId::named(&provider),
                    provider_name: provider,
                    outcome,
                    raw_code,
                    old_card_masked,
                    new_card_masked,
                    old_expiry,
                    new_expiry,
                    brand_changed: brand_changed.unwrap_or(0) != 0,
                    received_at: at(received_at),
                    applied_at: applied_at.and_then(at),
                },
            )
            .collect())
    }

    /// The run's cards per state.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn status(&self, run_id: &str) -> Result<RunStatus> {
        self.db.status(run_id).await
    }

    /// The run's cards per state and its results, per provider (a routed run's chunks are at
    /// several), in provider-name order. Rejected cards were sent to no provider: they are
    /// counted in [`Journal::status`] only. Chunks recorded by a journal older than schema
    /// version 3 name no provider and are counted under the run's.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn status_by_provider(&self, run_id: &str) -> Result<Vec<ProviderStatus>> {
        let run_provider = self
            .runs()
            .await?
            .into_iter()
            .find(|r| r.run_id == run_id)
            .map(|r| r.provider_name);
        let mut merged: std::collections::BTreeMap<String, RunStatus> = Default::default();
        for (provider, status) in self.db.status_by_provider(run_id).await? {
            let name = provider
                .or_else(|| run_provider.clone())
                .unwrap_or_default();
            let into = merged.entry(name).or_default();
            into.accepted += status.accepted;
            into.in_flight += status.in_flight;
            into.unknown += status.unknown;
            into.failed += status.failed;
            into.resend += status.resend;
            into.chunks += status.chunks;
            into.results += status.results;
            into.applied += status.applied;
        }
        Ok(merged
            .into_iter()
            .map(|(name, status)| ProviderStatus {
                provider: ProviderId::named(&name),
                provider_name: name,
                status,
            })
            .collect())
    }

    /// The run's chunks that may have reached the provider, waiting for a decision.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn unknown_chunks(&self, run_id: &str) -> Result<Vec<UnknownChunk>> {
        self.db.unknown_chunks(run_id).await
    }

    /// The cards of one chunk of a run: submission positions and caller ids (no card data:
    /// the journal stores none).
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn chunk_cards(&self, run_id: &str, seq: u64) -> Result<Vec<ChunkCard>> {
        Ok(self
            .db
            .chunk_cards(run_id, seq)
            .await?
            .into_iter()
            .map(|(position, card_id)| ChunkCard { position, card_id })
            .collect())
    }

    /// Records an operator's decision on an unknown chunk. Refused (an input error) when the
    /// chunk is not unknown.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the chunk is not an unknown chunk of the run (nothing is
    /// changed); [`Error::Journal`] when the database cannot be written.
    pub async fn resolve_unknown(
        &self,
        run_id: &str,
        seq: u64,
        resolution: Resolution,
    ) -> Result<()> {
        let changed = match resolution {
            Resolution::Accepted { job_id } => {
                self.db
                    .set_unknown(run_id, seq, state::ACCEPTED, job_id.as_deref())
                    .await?
            }
            Resolution::Resend => {
                self.db
                    .set_unknown(run_id, seq, state::RESEND, None)
                    .await?
            }
        };
        if changed == 0 {
            return Err(Error::invalid(
                format!("chunk {seq}"),
                InputProblem::NotAllowed {
                    reason: "not an unknown chunk of this run".into(),
                },
            ));
        }
        Ok(())
    }
}

/// Lower-case hex of a digest (the journal's card-list fingerprints).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
