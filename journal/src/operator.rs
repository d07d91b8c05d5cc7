//! The operator's view of a run before and after it: a plan with its cost ([`Journal::plan`])
//! and the reconciliation of what was sent with what came back ([`Journal::reconcile`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, ready};
use futures::stream::BoxStream;

use account_updater::error::{Error, Result};
use account_updater::ids::{JobRef, ProviderId};
use account_updater::provider::{CardToUpdate, JobState, Provider};
use account_updater::routing::Router;
use account_updater::submission::{Chunk, ChunkObserver, ChunkOutcome, Proceed, StreamOptions};
use std::sync::Arc;

use crate::suppress::{self, SuppressedQueue, Suppression};
use crate::{Journal, check_run_id};

/// What one provider charges, for a plan's cost preview. Prices are in the operator's
/// currency units (`0.25` for 25 cents); the preview is an estimate, never an invoice.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Price {
    /// Charged for every card sent, hit or not (0 when the provider bills hits only).
    pub per_card: f64,
    /// Charged for every billable result (a new number or expiry, closed, contact the
    /// cardholder: the networks' A/E/C/Q and R/B/E/C).
    pub per_hit: f64,
    /// The hit rate to assume when the journal has no history at this provider (0.0–1.0).
    pub hit_rate: Option<f64>,
    /// The currency's name, for display.
    pub currency: String,
}

impl Price {
    /// `per_hit` for each billable result, nothing per card, no assumed hit rate.
    pub fn per_hit(per_hit: f64, currency: impl Into<String>) -> Self {
        Price {
            per_card: 0.0,
            per_hit,
            hit_rate: None,
            currency: currency.into(),
        }
    }

    /// Sets the charge per card sent.
    pub fn per_card(mut self, per_card: f64) -> Self {
        self.per_card = per_card;
        self
    }

    /// Sets the hit rate assumed without history.
    pub fn hit_rate(mut self, rate: f64) -> Self {
        self.hit_rate = Some(rate.clamp(0.0, 1.0));
        self
    }
}

/// Settings of a plan: the same submission and suppression settings the run will have, and
/// the price table.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PlanOptions {
    /// How the submission treats duplicate ids (as the run will).
    pub stream: StreamOptions,
    /// Which cards are suppressed (as the run will).
    pub suppression: Suppression,
    /// Prices per provider name.
    pub prices: HashMap<String, Price>,
    /// The router the plan's provider is, when it is one: suppressed and rejected cards are
    /// then counted at the provider of the first rule that takes them.
    pub router: Option<Arc<Router>>,
}

impl PlanOptions {
    /// Default settings, no prices.
    pub fn new() -> Self {
        PlanOptions::default()
    }

    /// Sets the submission options.
    pub fn stream(mut self, options: StreamOptions) -> Self {
        self.stream = options;
        self
    }

    /// Sets the suppression.
    pub fn suppression(mut self, suppression: Suppression) -> Self {
        self.suppression = suppression;
        self
    }

    /// Sets `provider`'s price.
    pub fn price(mut self, provider: ProviderId, price: Price) -> Self {
        self.prices.insert(provider.as_str().to_owned(), price);
        self
    }

    /// Counts suppressed and rejected cards per provider by `router`'s rules (give the router
    /// the plan runs through).
    pub fn router(mut self, router: &Arc<Router>) -> Self {
        self.router = Some(router.clone());
        self
    }

    /// The provider a card belongs to: the plan's provider, or the provider of the first
    /// rule of the router that takes the card (`None`: no rule does).
    fn provider_of(&self, provider: ProviderId, card: &CardToUpdate) -> Option<ProviderId> {
        match &self.router {
            Some(router) => router
                .rules()
                .iter()
                .find(|rule| rule.takes(card))
                .map(|rule| rule.provider()),
            None => Some(provider),
        }
    }
}

/// One provider's part of a plan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlannedProvider {
    /// The provider's name.
    pub provider_name: String,
    /// The provider, when this crate knows the name.
    pub provider: Option<ProviderId>,
    /// Cards that would be sent.
    pub cards: u64,
    /// Requests (chunks) they would go in.
    pub chunks: u64,
    /// Its cards suppressed, per reason code.
    pub suppressed: BTreeMap<String, u64>,
    /// Its cards refused as input, per reason.
    pub rejected: BTreeMap<String, u64>,
    /// The hit rate the estimate uses.
    pub hit_rate: Option<f64>,
    /// Where the hit rate comes from: `history` (this provider's own past runs in the
    /// journal), `price table` (the configured rate) or `none`.
    pub hit_rate_source: &'static str,
    /// Cards and billable results of past runs at this provider (the history's rate).
    pub history: (u64, u64),
    /// Expected billable hits (`cards × hit_rate`).
    pub expected_hits: Option<f64>,
    /// Expected cost: `cards × per_card + expected_hits × per_hit`, when a price is set.
    pub estimated_cost: Option<f64>,
    /// The price's currency.
    pub currency: Option<String>,
}

/// What a run of the same input would do, with nothing sent ([`Journal::plan`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Plan {
    /// Per provider, in name order.
    pub providers: Vec<PlannedProvider>,
    /// Cards read.
    pub cards_read: u64,
    /// Cards that would be sent (all providers).
    pub to_send: u64,
    /// Cards suppressed, per reason code ([`crate::SuppressReason::code`]).
    pub suppressed: BTreeMap<String, u64>,
    /// Cards refused as input, per reason (the input rule broken, without the card's id).
    pub rejected: BTreeMap<String, u64>,
    /// Of those, the cards no rule takes (a routed plan), per reason: they belong to no
    /// provider.
    pub unrouted: BTreeMap<String, u64>,
}

impl Plan {
    /// All suppressed cards.
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed.values().sum()
    }

    /// All rejected cards.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Expected hits over all providers with a hit rate.
    pub fn expected_hits(&self) -> f64 {
        self.providers.iter().filter_map(|p| p.expected_hits).sum()
    }

    /// Expected cost over all providers with a price.
    pub fn estimated_cost(&self) -> f64 {
        self.providers.iter().filter_map(|p| p.estimated_cost).sum()
    }
}

/// One provider's counts in a plan: cards and chunks that would go, suppressed and rejected
/// cards per reason.
#[derive(Default)]
struct Counts {
    cards: u64,
    chunks: u64,
    suppressed: BTreeMap<String, u64>,
    rejected: BTreeMap<String, u64>,
}

/// Counts what the submission would do, and sends nothing: every chunk is skipped.
struct Dry<'p> {
    /// Per provider name ("" for cards no rule takes).
    per_provider: BTreeMap<String, Counts>,
    options: &'p PlanOptions,
    provider: ProviderId,
}

impl Dry<'_> {
    fn counts_for(&mut self, card: &CardToUpdate) -> &mut Counts {
        let name = self
            .options
            .provider_of(self.provider, card)
            .map_or_else(String::new, |p| p.as_str().to_owned());
        self.per_provider.entry(name).or_default()
    }
}

/// A rejection's reason without the card's id (the rule, not the card).
fn reason_of(error: &Error) -> String {
    match error {
        Error::InvalidInput(input) => {
            // `cards[id=…].exp` → `exp`; the bracket holds the caller's id, which may hold
            // dots: only what follows the last `]` names the field.
            let field = match input.field.rsplit_once(']') {
                Some((_, rest)) => rest.trim_start_matches('.'),
                None => input.field.as_str(),
            };
            let field = if field.is_empty() { "card" } else { field };
            format!("{field}: {}", input.problem)
        }
        other => other.code().to_owned(),
    }
}

impl ChunkObserver for Dry<'_> {
    fn sending<'a>(&'a mut self, chunk: &'a Chunk) -> BoxFuture<'a, Result<Proceed>> {
        let name = chunk
            .provider()
            .map_or_else(String::new, |p| p.as_str().to_owned());
        let counts = self.per_provider.entry(name).or_default();
        counts.cards += chunk.len() as u64;
        counts.chunks += 1;
        Box::pin(ready(Ok(Proceed::Skip)))
    }

    fn done<'a>(&'a mut self, _: Chunk, _: &'a ChunkOutcome) -> BoxFuture<'a, Result<()>> {
        Box::pin(ready(Ok(())))
    }

    fn rejected<'a>(
        &'a mut self,
        _: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<()>> {
        *self
            .counts_for(&card)
            .rejected
            .entry(reason_of(error))
            .or_default() += 1;
        Box::pin(ready(Ok(())))
    }
}

/// The documented time a provider takes to deliver results, from accepting a card to its
/// result: past it, a missing result is overdue.
///
/// - CardSync: production batches take 3–5 calendar days ("approximately 5 business days");
///   7 days.
/// - PayConex: issuers take 5–10 business days (PayConex advises scheduling ten business days
///   ahead); 14 days.
/// - Acquired: the result comes by webhook, retried every 10 minutes for an hour; the
///   inquiry itself is a real-time VAU/ABU check. 1 day.
/// - Any other provider: 14 days.
pub fn expected_window(provider: ProviderId) -> Duration {
    match provider {
        ProviderId::CardSync => Duration::from_secs(7 * DAY),
        ProviderId::Acquired => Duration::from_secs(DAY),
        _ => DEFAULT_WINDOW,
    }
}

const DAY: u64 = 24 * 3600;

/// The window of a provider whose documents say nothing this crate knows.
const DEFAULT_WINDOW: Duration = Duration::from_secs(14 * DAY);

/// Settings of a reconciliation: each provider's window (default [`expected_window`]) and
/// the time to judge lateness at (default now).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReconcileOptions {
    /// Windows that replace the defaults, per provider name.
    pub windows: HashMap<String, Duration>,
    /// When to judge at (`None`: now).
    pub at: Option<DateTime<Utc>>,
}

impl ReconcileOptions {
    /// The default windows, judged now.
    pub fn new() -> Self {
        ReconcileOptions::default()
    }

    /// Sets `provider`'s window.
    pub fn window(mut self, provider: ProviderId, window: Duration) -> Self {
        self.windows.insert(provider.as_str().to_owned(), window);
        self
    }

    /// Judges lateness at `at`.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    fn window_of(&self, provider: &str) -> Duration {
        self.windows
            .get(provider)
            .copied()
            .unwrap_or_else(|| ProviderId::named(provider).map_or(DEFAULT_WINDOW, expected_window))
    }
}

/// One job of a run, reconciled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobReconciliation {
    /// The provider's name.
    pub provider_name: String,
    /// The job id (`None`: the provider accepted its cards without naming a job).
    pub job_id: Option<String>,
    /// What the provider last said of the job: `complete`, `failed`, or `None` (not
    /// finished, or not asked).
    pub state: Option<String>,
    /// When its first chunk was accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When its results are due (accepted + the provider's window).
    pub due_at: Option<DateTime<Utc>>,
    /// Cards sent in it.
    pub submitted: u64,
    /// Cards with a result.
    pub results_in: u64,
    /// Cards without a result in a job the provider reported complete: it has nothing for
    /// them (CardSync lists no line for an unchanged card).
    pub complete_without_result: u64,
    /// Cards without a result in a job the provider reported failed.
    pub failed: u64,
    /// Cards without a result, still within the window.
    pub waiting: u64,
    /// Cards without a result past the window.
    pub overdue: u64,
}

/// A card whose result is late.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OverdueCard {
    /// The caller's id.
    pub card_id: String,
    /// Its position in the submission.
    pub position: u64,
    /// The provider's name.
    pub provider_name: String,
    /// The job it was sent in.
    pub job_id: Option<String>,
    /// When its result was due.
    pub due_at: DateTime<Utc>,
}

/// A result for a card the run never sent (or that names no card the journal can join).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrphanResult {
    /// Its stable id.
    pub result_id: String,
    /// The provider's name.
    pub provider_name: String,
    /// The caller id it names, if any.
    pub card_id: Option<String>,
    /// The provider's card reference, if any.
    pub card_ref: Option<String>,
}

/// A result delivered (or fetched) more than once: stored once, counted each time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepeatedDelivery {
    /// Its stable id.
    pub result_id: String,
    /// The caller id it names, if any.
    pub card_id: Option<String>,
    /// How many times it arrived.
    pub deliveries: u64,
}

/// A run's cards sent against its results ([`Journal::reconcile`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Reconciliation {
    /// The run.
    pub run_id: String,
    /// When lateness was judged.
    pub at: Option<DateTime<Utc>>,
    /// Per job, in the order its first chunk was sent.
    pub jobs: Vec<JobReconciliation>,
    /// Every card whose result is overdue, in submission order.
    pub overdue: Vec<OverdueCard>,
    /// Results for cards the run never sent.
    pub orphans: Vec<OrphanResult>,
    /// Results that arrived more than once.
    pub repeated: Vec<RepeatedDelivery>,
}

impl Reconciliation {
    /// Cards sent (in accepted chunks).
    pub fn submitted(&self) -> u64 {
        self.jobs.iter().map(|j| j.submitted).sum()
    }

    /// Cards with a result.
    pub fn results_in(&self) -> u64 {
        self.jobs.iter().map(|j| j.results_in).sum()
    }

    /// Cards still within their window.
    pub fn waiting(&self) -> u64 {
        self.jobs.iter().map(|j| j.waiting).sum()
    }

    /// `true` when some result is overdue.
    pub fn is_overdue(&self) -> bool {
        !self.overdue.is_empty()
    }
}

impl Journal {
    /// What a run of `cards` through `provider` would do, with **nothing sent** and nothing
    /// written: the same input checks, routing, duplicate-id rule and suppression a run
    /// applies (the same streamed submission, every chunk skipped before its request), and
    /// per provider the cards that would go, the hits to expect and their cost. The hit rate
    /// is the provider's own in the journal's past runs when it has some, else the price
    /// table's.
    ///
    /// Suppression judges from the journal as it stands now; a run started right after
    /// judges from the same history, so its totals are the plan's.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the journal cannot be read; the provider's own
    /// [`Provider::submit_stream`] errors before its first chunk (none sends anything).
    pub async fn plan(
        &self,
        provider: &dyn Provider,
        options: &PlanOptions,
        cards: BoxStream<'_, CardToUpdate>,
    ) -> Result<Plan> {
        let suppressor =
            suppress::Suppressor::load(&self.db, "", Utc::now(), &options.suppression).await?;
        let queue = SuppressedQueue::default();
        let cards = match suppressor {
            Some(s) => suppress::filter(cards, s, queue.clone()),
            None => cards,
        };
        let mut dry = Dry {
            per_provider: BTreeMap::new(),
            options,
            provider: provider.id(),
        };
        let receipt = provider
            .submit_stream(cards, options.stream.clone(), &mut dry)
            .await?;
        for (_, card, reason) in queue.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            *dry.counts_for(&card)
                .suppressed
                .entry(reason.code().to_owned())
                .or_default() += 1;
        }
        let mut plan = Plan::default();
        let history = self.db.hit_history("").await?;
        for (name, counts) in dry.per_provider {
            for (reason, n) in &counts.suppressed {
                *plan.suppressed.entry(reason.clone()).or_default() += n;
            }
            for (reason, n) in &counts.rejected {
                *plan.rejected.entry(reason.clone()).or_default() += n;
            }
            plan.to_send += counts.cards;
            if name.is_empty() {
                plan.unrouted = counts.rejected;
                continue;
            }
            let cards = counts.cards;
            let price = options.prices.get(&name);
            let past = history.get(&name).copied().unwrap_or((0, 0));
            let (hit_rate, source) = if past.0 > 0 {
                (Some(past.1 as f64 / past.0 as f64), "history")
            } else if let Some(rate) = price.and_then(|p| p.hit_rate) {
                (Some(rate), "price table")
            } else {
                (None, "none")
            };
            let expected_hits = hit_rate.map(|r| r * cards as f64);
            plan.providers.push(PlannedProvider {
                provider: ProviderId::named(&name),
                estimated_cost: price
                    .map(|p| cards as f64 * p.per_card + expected_hits.unwrap_or(0.0) * p.per_hit),
                currency: price.map(|p| p.currency.clone()),
                provider_name: name,
                cards,
                chunks: counts.chunks,
                suppressed: counts.suppressed,
                rejected: counts.rejected,
                hit_rate,
                hit_rate_source: source,
                history: past,
                expected_hits,
            });
        }
        plan.cards_read = receipt.cards_read() + plan.suppressed_total();
        Ok(plan)
    }

    /// Records what `job`'s provider said of it, when it says the job is finished
    /// ([`JobState::Completed`] or [`JobState::Failed`]; other states are not recorded).
    /// [`Journal::reconcile`] then knows that a card without a result in a complete job has
    /// none coming, rather than being late.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be written.
    pub async fn record_job_state(
        &self,
        run_id: &str,
        job: &JobRef,
        state: &JobState,
    ) -> Result<()> {
        let stored = match state {
            JobState::Completed => "complete",
            JobState::Failed => "failed",
            _ => return Ok(()),
        };
        self.db
            .record_job_state(run_id, job.provider.as_str(), &job.id, stored)
            .await
    }

    /// The run's cards sent against its results: per job, the cards sent, with a result,
    /// without one in a finished job, waiting, and **overdue** (no result past the provider's
    /// window, [`expected_window`] unless overridden); results for ids the run never sent
    /// (orphans); results delivered more than once.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad run id; [`Error::Journal`] when the journal cannot be
    /// read.
    pub async fn reconcile(
        &self,
        run_id: &str,
        options: &ReconcileOptions,
    ) -> Result<Reconciliation> {
        check_run_id("run_id", run_id)?;
        let at = options.at.unwrap_or_else(Utc::now);
        let run_provider = self
            .runs()
            .await?
            .into_iter()
            .find(|r| r.run_id == run_id)
            .map(|r| r.provider_name)
            .unwrap_or_default();
        let results = self.db.run_results(run_id).await?;
        let answered: HashSet<&str> = results
            .iter()
            .filter_map(|(_, _, card_id, _, _)| card_id.as_deref())
            .collect();
        let states = self.db.job_states(run_id).await?;
        let mut report = Reconciliation {
            run_id: run_id.to_owned(),
            at: Some(at),
            ..Reconciliation::default()
        };
        let mut sent: HashSet<String> = HashSet::new();
        let mut job_index: HashMap<(String, Option<String>), usize> = HashMap::new();
        for (provider, job_id, cards, accepted_at) in self.db.accepted_chunks(run_id).await? {
            let provider = provider.unwrap_or_else(|| run_provider.clone());
            let accepted = DateTime::from_timestamp(accepted_at, 0);
            let window = chrono::Duration::from_std(options.window_of(&provider))
                .unwrap_or(chrono::Duration::MAX);
            let due = accepted.map(|a| {
                a.checked_add_signed(window)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            });
            let state = job_id
                .as_ref()
                .and_then(|id| states.get(&(provider.clone(), id.clone())).cloned());
            let key = (provider.clone(), job_id.clone());
            let index = *job_index.entry(key).or_insert_with(|| {
                report.jobs.push(JobReconciliation {
                    provider_name: provider.clone(),
                    job_id: job_id.clone(),
                    state: state.clone(),
                    accepted_at: accepted,
                    due_at: due,
                    submitted: 0,
                    results_in: 0,
                    complete_without_result: 0,
                    failed: 0,
                    waiting: 0,
                    overdue: 0,
                });
                report.jobs.len() - 1
            });
            for (position, id) in crate::db::decode_cards(&cards)? {
                let job = &mut report.jobs[index];
                job.submitted += 1;
                if answered.contains(id.as_str()) {
                    job.results_in += 1;
                } else if state.as_deref() == Some("complete") {
                    job.complete_without_result += 1;
                } else if state.as_deref() == Some("failed") {
                    job.failed += 1;
                } else if due.is_some_and(|due| at > due) {
                    job.overdue += 1;
                    report.overdue.push(OverdueCard {
                        card_id: id.clone(),
                        position,
                        provider_name: provider.clone(),
                        job_id: job_id.clone(),
                        due_at: due.unwrap_or(at),
                    });
                } else {
                    job.waiting += 1;
                }
                sent.insert(id);
            }
        }
        report.overdue.sort_by_key(|c| c.position);
        for (result_id, provider, card_id, card_ref, deliveries) in results {
            if card_id.as_deref().is_none_or(|id| !sent.contains(id)) {
                report.orphans.push(OrphanResult {
                    result_id: result_id.clone(),
                    provider_name: provider,
                    card_id: card_id.clone(),
                    card_ref,
                });
            }
            if deliveries > 1 {
                report.repeated.push(RepeatedDelivery {
                    result_id,
                    card_id,
                    deliveries: u64::try_from(deliveries).unwrap_or(0),
                });
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_updater::error::InputProblem;

    /// A rejection's reason names the rule and the field, never the caller's id (which may
    /// hold dots and brackets of its own).
    #[test]
    fn reasons_hold_no_caller_id() {
        let reason = |field: &str| reason_of(&Error::invalid(field, InputProblem::Duplicate));
        assert_eq!(
            reason("cards[id=a.b].id"),
            "id: is used more than once in the same request"
        );
        assert_eq!(
            reason("cards[id=x]"),
            "card: is used more than once in the same request"
        );
        assert_eq!(
            reason("cards[id=secret.exp]"),
            "card: is used more than once in the same request"
        );
    }
}
