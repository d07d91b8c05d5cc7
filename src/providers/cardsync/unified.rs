//! CardSync through the unified [`Provider`] trait: capabilities, the mapping of its statuses
//! and result lines onto [`CardUpdate`], and the flows in terms of the native client.

use super::bulk::BulkPlanner;
use super::client::register_all_triggers;
use super::validate::check_brand;
use super::wire::{AmexCard, BatchState, ResultCard, Stats};
use super::{CardSyncClient, CardSyncPartner, MAX_CARDS_PER_REQUEST, PROVIDER, parse_webhook};
use crate::card::{CardBrand, CardNumber, NewNumberProblem};
use crate::codes::{self, CodeScheme};
use crate::error::{Error, InputProblem, Result};
use crate::outcome::{CardUpdate, CardUpdates};
use crate::submission::{ChunkObserver, Planner, StreamOptions, StreamReceipt};
use crate::webhook::{WebhookEvent, WebhookRequest};
use crate::{
    ids::{Flow, JobKind, JobRef, ProviderId, ResultsQuery},
    provider::{
        BoxFuture, Capabilities, CardSource, CardToUpdate, JobCounts, JobReport, JobState,
        Provider, RemovalReceipt, RemoveCard, SubmissionReceipt, SubscribeRequest, WebhookReceipt,
        WebhookRegistration,
    },
};
use futures::stream::BoxStream;

/// The partner client as a provider: it registers webhooks (with the partner key, before any
/// merchant exists, as the documents order it) and parses them. Batches and subscriptions need
/// a merchant: [`CardSyncPartner::merchant`].
impl CardSyncPartner {
    /// The flows this client offers (its [`Provider::capabilities`]), known before one is
    /// built: the command line asks it to say what a provider can do without credentials.
    pub const CAPABILITIES: Capabilities =
        Capabilities::of(&[Flow::RegisterWebhook, Flow::ParseWebhook]);
}

impl Provider for CardSyncPartner {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        Box::pin(async move { register_all_triggers(Some(self), None, &registration).await })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        parse_webhook(request.body)
    }
}

/// Maps one result card onto the unified [`CardUpdate`], joined back by the caller's `id`.
/// For `updated_card` / `updated_expiry` the returned card and expiry are the new ones (the
/// card may have changed brand); otherwise they are the card on file. A "new" card that fails
/// its check digit or length rule is [`crate::Outcome::InvalidUpdate`]; an empty status is
/// valid, as CardSync documents.
pub fn card_update(card: ResultCard, provider_ref: Option<&str>) -> CardUpdate {
    let expiry = card.expiry();
    let checked = match (card.card, card.card_problem) {
        (Some(c), _) => Some(Ok(c)),
        (None, Some(problem)) => Some(Err(problem)),
        (None, None) => None,
    };
    update_from_parts(card.id, card.status, checked, expiry, provider_ref)
}

/// The mapping behind [`card_update`], from parts (the compact results build no `ResultCard`):
/// `card` is the answer's card number as [`CardNumber::parse_new_number`] read it.
pub(crate) fn update_from_parts(
    id: String,
    status: String,
    card: Option<std::result::Result<CardNumber, NewNumberProblem>>,
    expiry: Option<crate::card::Expiry>,
    provider_ref: Option<&str>,
) -> CardUpdate {
    let outcome = codes::outcome(CodeScheme::CardSyncStatus, &status);
    let mut out = CardUpdate::new(PROVIDER, outcome, status);
    // CardSync echoes the caller's own id.
    out.card_id = Some(id).filter(|id| !id.is_empty());
    if out.outcome.has_new_card_data() {
        out.new_expiry = expiry;
        match card {
            Some(checked) => out.offer_checked_number(checked),
            // `updated_card` without a number ("the updated card information is returned",
            // CardSync v2): nothing that could be applied.
            None if out.outcome == crate::Outcome::NewAccountNumber => {
                out.offer_checked_number(Err(NewNumberProblem::Missing));
            }
            None => {}
        }
    } else {
        out.previous_card = card.and_then(std::result::Result::ok);
        out.previous_expiry = expiry;
    }
    out.provider_ref = provider_ref.map(str::to_owned);
    out
}

pub(super) fn counts(stats: &Stats) -> JobCounts {
    let u = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
    JobCounts {
        submitted: u(stats.number_submitted),
        new_account_number: u(stats.updated_card),
        new_expiry: u(stats.updated_expiry),
        closed: u(stats.closed),
        contact: u(stats.contact),
        valid: u(stats.valid),
        no_change: u(stats.no_change),
        no_match: u(stats.no_match),
    }
}

pub(super) fn job_state(state: Option<&BatchState>) -> JobState {
    match state {
        Some(BatchState::Pending) | None => JobState::Pending,
        Some(BatchState::Completed) => JobState::Completed,
        Some(BatchState::Other(s)) if s == "error" || s == "failed" => JobState::Failed,
        Some(BatchState::Other(s)) => JobState::Other(s.clone()),
    }
}

/// Refuses a job that is not a CardSync Amex subscription: its id is an SE number, and a batch
/// id sent as an SE number would unsubscribe nothing (or the wrong merchant's cards).
pub(super) fn require_amex_subscription(job: &JobRef) -> Result<()> {
    if job.kind != JobKind::Subscription || job.provider != PROVIDER {
        return Err(Error::invalid(
            "job",
            InputProblem::NotAllowed {
                reason: "not a CardSync Amex subscription".into(),
            },
        ));
    }
    Ok(())
}

/// The cards of an Amex subscription job (whose id is the SE number): a card's own SE number
/// must be the job's when it gives one.
pub(super) fn amex_cards(job: &JobRef, cards: Vec<CardToUpdate>) -> Result<Vec<AmexCard>> {
    cards
        .into_iter()
        .enumerate()
        .map(|(index, c)| {
            let se = match c.amex_se_number.clone() {
                Some(own) if own != job.id => {
                    return Err(Error::invalid(
                        format!("cards[{index}].se_number"),
                        InputProblem::Conflicts {
                            other: "the subscription job's SE number".into(),
                        },
                    ));
                }
                _ => job.id.clone(),
            };
            match c.source {
                CardSource::Pan(card) => Ok(AmexCard {
                    se_number: se,
                    id: c.id.clone(),
                    card,
                    exp: c.expiry.ok_or_else(|| {
                        Error::invalid(format!("cards[id={}].exp", c.id), InputProblem::Missing)
                    })?,
                }),
                CardSource::Token { .. } => Err(Error::invalid(
                    format!("cards[id={}].card", c.id),
                    InputProblem::NotAllowed {
                        reason: "CardSync takes card numbers, not tokens".into(),
                    },
                )),
            }
        })
        .collect()
}

impl CardSyncClient {
    /// The flows this client offers (its [`Provider::capabilities`]), known before one is
    /// built: the command line asks it to say what a provider can do without credentials.
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[
        Flow::Subscribe,
        Flow::AddCards,
        Flow::RemoveCards,
        Flow::Submit,
        Flow::JobStatus,
        Flow::FetchResults,
        Flow::RegisterWebhook,
        Flow::ParseWebhook,
    ]);
}

impl Provider for CardSyncClient {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    /// Cancel is not offered: CardSync has no subscription object to delete, only card / SE
    /// pairs, so stopping updates is [`Provider::remove_cards`] with the cards.
    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    /// The bulk planner's checks (card numbers with expiries; Visa, Mastercard and Discover
    /// without an SE number, Amex with one); a subscription takes Amex cards only.
    fn check_card(&self, flow: Flow, card: &CardToUpdate) -> Result<()> {
        BulkPlanner::default().check(0, card)?;
        if flow == Flow::Subscribe {
            if let CardSource::Pan(p) = &card.source {
                if p.brand() != CardBrand::Amex {
                    check_brand(&card.id, p.brand(), true)?;
                }
            }
        }
        Ok(())
    }

    /// Amex cards only, each with its SE number; grouped per SE (one job per SE number).
    fn subscribe(&self, request: SubscribeRequest) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            for c in &request.cards {
                if let CardSource::Pan(p) = &c.source {
                    if p.brand() != CardBrand::Amex {
                        check_brand(&c.id, p.brand(), true)?;
                    }
                }
            }
            self.submit_cards(request.cards).await
        })
    }

    /// Subscribes more Amex cards under the job's SE number (a card's own SE number wins).
    fn add_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<CardToUpdate>,
    ) -> BoxFuture<'a, Result<SubmissionReceipt>> {
        Box::pin(async move {
            require_amex_subscription(job)?;
            let cards = cards
                .into_iter()
                .map(|c| {
                    let se = c.amex_se_number.clone().unwrap_or_else(|| job.id.clone());
                    c.with_amex_se_number(se)
                })
                .collect();
            self.subscribe(SubscribeRequest::new(cards)).await
        })
    }

    /// `DELETE /v2/subscribe` for the given cards (full card data needed: CardSync identifies a
    /// subscription by card / SE pair). The job's id is the SE number unless a card has its own.
    /// Requests of up to 10,000 cards run in order and stop at the first failure.
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        Box::pin(async move {
            require_amex_subscription(job)?;
            if cards.is_empty() {
                return Err(Error::invalid("cards", InputProblem::Empty));
            }
            let mut full = Vec::with_capacity(cards.len());
            for c in cards {
                match c {
                    RemoveCard::Card(card) => full.push(card),
                    RemoveCard::Placed(p) => {
                        return Err(Error::invalid(
                            format!("cards[id={}]", p.id),
                            InputProblem::NotAllowed {
                                reason: "CardSync unsubscribes by card and SE number; pass RemoveCard::Card".into(),
                            },
                        ));
                    }
                }
            }
            let amex = amex_cards(job, full)?;
            let mut receipt = RemovalReceipt::new(PROVIDER);
            for chunk in amex.chunks(MAX_CARDS_PER_REQUEST) {
                let ids = chunk.iter().map(|c| c.id.clone()).collect();
                let answer = self.unsubscribe_amex(chunk).await;
                receipt.record(ids, Vec::new(), answer);
            }
            Ok(receipt)
        })
    }

    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(self.submit_cards(cards))
    }

    fn streams_on_the_crate_driver(&self) -> bool {
        true
    }

    fn submit_stream<'a>(
        &'a self,
        cards: BoxStream<'a, CardToUpdate>,
        options: StreamOptions,
        observer: &'a mut dyn ChunkObserver,
    ) -> BoxFuture<'a, Result<StreamReceipt>> {
        Box::pin(
            async move { Ok(CardSyncClient::submit_stream(self, cards, options, observer).await) },
        )
    }

    /// Batches only: CardSync has no status for Amex subscriptions (updates arrive by webhook).
    fn job_status<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<JobReport>> {
        Box::pin(async move {
            if job.kind != JobKind::Batch || job.provider != PROVIDER {
                return Err(Error::invalid(
                    "job",
                    InputProblem::NotAllowed {
                        reason: "CardSync reports status for batches only".into(),
                    },
                ));
            }
            let b = self.batch_status(&job.id).await?;
            Ok(JobReport {
                job: job.clone(),
                state: job_state(b.status.as_ref()),
                counts: counts(&b.stats),
            })
        })
    }

    fn fetch_results<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<CardUpdate>>> {
        Box::pin(async move {
            let (results, reference) = self.compact_results_for(query).await?;
            // Decoded compactly, then mapped one card at a time into a vector sized once.
            let mut updates = Vec::with_capacity(results.len());
            updates.extend(results.card_updates(Some(&reference)));
            Ok(updates)
        })
    }

    fn fetch_results_iter<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<CardUpdates>> {
        Box::pin(async move {
            let (results, reference) = self.compact_results_for(query).await?;
            let len = results.len();
            Ok(CardUpdates::new(
                len,
                results.into_card_updates(Some(reference)),
            ))
        })
    }

    /// Registers the URL for all four triggers (20–23).
    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        Box::pin(async move {
            // Which key registers webhooks is not documented; the documents register them
            // before any merchant exists, so the partner key is tried first when this client
            // has one, and the merchant key if the partner key is refused.
            register_all_triggers(self.partner.as_ref(), Some(self), &registration).await
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        parse_webhook(request.body)
    }
}

impl CardSyncClient {
    /// The compact results a unified results query asks for, with the reference each update
    /// carries (the batch id for a batch, however fetched; the event id for an Amex event).
    async fn compact_results_for(
        &self,
        query: &ResultsQuery,
    ) -> Result<(super::CompactResults, String)> {
        let (results, reference) = match query {
            ResultsQuery::Job(job)
                if job.provider == PROVIDER && job.kind == JobKind::Batch =>
            {
                (
                    self.batch_results_compact(&job.id, None).await?,
                    job.id.clone(),
                )
            }
            ResultsQuery::Event {
                provider,
                kind: JobKind::Batch,
                event_id,
                job_id: Some(batch),
            } if *provider == PROVIDER => {
                let event = Some(event_id.as_str()).filter(|e| !e.is_empty());
                // The batch id, not the event's: a batch's results are the same whether
                // a poll fetched them by batch or a webhook announced them, so they carry
                // the same reference (and a journal stores them once).
                (
                    self.batch_results_compact(batch, event).await?,
                    batch.clone(),
                )
            }
            ResultsQuery::Event {
                provider,
                kind: JobKind::Subscription,
                event_id,
                ..
            } if *provider == PROVIDER => (
                self.subscription_results_compact(event_id).await?,
                event_id.clone(),
            ),
            _ => {
                return Err(Error::invalid(
                    "query",
                    InputProblem::NotAllowed {
                        reason: "CardSync results are per batch, or per webhook event for Amex"
                            .into(),
                    },
                ));
            }
        };
        Ok((results, reference))
    }
}
