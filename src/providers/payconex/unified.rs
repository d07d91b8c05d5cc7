//! PayConex through the unified [`Provider`] trait: subscriptions placed by token, PAN or
//! ShieldConex token, each card joined back to its record, results mapped onto [`CardUpdate`].

use super::validate::{check_not_empty, check_pan, check_token};
use super::wire::{
    NewValue, PanRecord, PanSubscription, PeriodDate, PeriodId, ResponseFormat, Schedule,
    TokenRecord, TokenSubscription, Update, Webhook, WebhookEventType,
};
use super::{PROVIDER, PayConexClient, wire};
use crate::card::Expiry;
use crate::codes::{self, CodeScheme};
use crate::error::{Error, InputProblem, Result};
use crate::model::check_card_ids;
use crate::outcome::CardUpdate;
use crate::providers::common::check_token_issuer;
use crate::providers::lenient;
use crate::webhook::{WebhookEvent, WebhookRequest};
use crate::{
    ids::{Flow, JobKind, JobRef, ProviderId, ResultsQuery},
    provider::{
        AcceptedJob, BoxFuture, Cadence, Capabilities, CardSource, CardToUpdate, JobCounts,
        JobReport, JobState, PlacedCard, Provider, RemovalReceipt, RemoveCard, SubmissionReceipt,
        SubscribeRequest, WebhookReceipt, WebhookRegistration,
    },
};
use std::collections::HashSet;

/// Maps one PayConex update onto the unified [`CardUpdate`] (status per [PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
pub fn card_update(update: Update) -> CardUpdate {
    let raw = update
        .status
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    // PayConex never echoes the caller's id: the record id joins the update back to it
    // (SubmissionReceipt::join_card_ids).
    let outcome = codes::outcome(CodeScheme::PayConexStatus, &raw);
    let mut out = CardUpdate::new(PROVIDER, outcome, raw);
    out.card_ref = update.account_updater_schedule_record_id;
    out.previous_token = update.old_token;
    out.previous_expiry = wire::parse_mmyy(update.old_expiry.as_deref());
    if out.outcome.has_new_card_data() {
        out.new_expiry = wire::parse_mmyy(update.new_expiry.as_deref());
        match update.new_token {
            Some(NewValue::Card(card)) => out.offer_checked_number(card.into_new_number()),
            // Format `pan` sent something that is no valid card number: never handed out.
            Some(NewValue::Invalid(problem)) => out.offer_checked_number(Err(problem)),
            Some(NewValue::Token(t)) => out.new_token = Some(t),
            None => {}
        }
    }
    out.provider_ref = update.id;
    out.updated_at = lenient::timestamp(update.updated_at.as_deref());
    out
}

pub(super) fn period_for(cadence: Cadence) -> PeriodId {
    match cadence {
        Cadence::Weekly => PeriodId::Period1W,
        Cadence::EveryTwoWeeks => PeriodId::Period2W,
        Cadence::Monthly => PeriodId::Period1M,
        Cadence::EveryTwoMonths => PeriodId::Period2M,
        Cadence::Quarterly => PeriodId::Period3M,
        Cadence::HalfYearly => PeriodId::Period6M,
        Cadence::Yearly => PeriodId::Period1Y,
    }
}

/// The unified cards split by how PayConex takes them, after validation.
pub(super) struct SplitCards {
    pans: Vec<(String, PanRecord)>,
    tokens: Vec<(String, TokenRecord)>,
}

pub(super) fn split_cards(cards: Vec<CardToUpdate>) -> Result<SplitCards> {
    check_card_ids(cards.iter().map(|c| c.id.as_str()))?;
    let mut split = SplitCards {
        pans: Vec::new(),
        tokens: Vec::new(),
    };
    for card in cards {
        let field = |f: &str| format!("cards[id={}].{f}", card.id);
        match card.source {
            CardSource::Pan(pan) => {
                check_pan(&field("card"), &pan)?;
                let expiry = card
                    .expiry
                    .ok_or_else(|| Error::invalid(field("expiry"), InputProblem::Missing))?;
                split.pans.push((
                    card.id,
                    PanRecord {
                        pan,
                        expiry,
                        enabled: None,
                    },
                ));
            }
            CardSource::Token { issuer, token } => {
                check_token_issuer(PROVIDER, field("token"), issuer)?;
                check_token(&field("token"), &token)?;
                split.tokens.push((
                    card.id,
                    TokenRecord {
                        token,
                        enabled: None,
                    },
                ));
            }
        }
    }
    Ok(split)
}

/// What was sent in one request, to join the answer's records back to it.
pub(super) enum Sent<'a> {
    /// PayConex tokens, in the order of the ids.
    Tokens(&'a [String]),
    /// Card numbers' expiries, in the order of the ids, and the schedule's records before.
    Pans(&'a [Expiry], Before),
}

/// The record ids a schedule held before the request.
pub(super) enum Before {
    /// None: a new subscription.
    Empty,
    /// These (an add to an existing schedule).
    Known(HashSet<String>),
    /// Could not be read: no PAN record can be told apart, so none is confirmed.
    Unknown,
}

/// A PayConex token as PayConex compares it: tokens are digit strings it answers zero-padded to
/// 12 digits (`"7"` comes back as `"000000000007"`), so an all-digit token loses its leading
/// zeros; anything else is kept as it is. PayConex's rule, applied where PayConex answers are
/// read; the references this provider hands out (record ids, `cssr_…`) need no such care.
fn token_key(token: &str) -> &str {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return token;
    }
    match token.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    }
}

/// Joins the records of a response back to the caller's ids, never by position alone.
///
/// - Token records by their token, compared without leading zeros: the documents answer a
///   token `7` as `"000000000007"`.
/// - PAN records come back holding a ShieldConex token in place of the number, so the only
///   thing to join on is the expiry: a card is confirmed when the answer holds exactly as many
///   new records (those not in [`Before`]) as were sent and the card's expiry is unique among
///   both. Otherwise the card is placed, unconfirmed ([`PlacedCard::unconfirmed`]): the schedule
///   holds it, and its results cannot be joined back by record id.
pub(super) fn place(schedule: &Schedule, ids: Vec<String>, sent: Sent<'_>) -> Vec<PlacedCard> {
    match sent {
        Sent::Tokens(tokens) => ids
            .into_iter()
            .zip(tokens)
            .map(|(id, t)| {
                let wanted = token_key(t);
                let record = schedule
                    .records
                    .iter()
                    .rev()
                    .find(|r| r.token.as_deref().is_some_and(|rt| token_key(rt) == wanted));
                match record {
                    Some(r) => PlacedCard::new(id, Some(r.id.clone())),
                    None => PlacedCard::unconfirmed(id),
                }
            })
            .collect(),
        Sent::Pans(expiries, before) => {
            let new: Vec<_> = schedule
                .records
                .iter()
                .filter(|r| match &before {
                    Before::Empty => true,
                    Before::Known(known) => !known.contains(&r.id),
                    Before::Unknown => false,
                })
                .collect();
            let counts_agree = !matches!(before, Before::Unknown) && new.len() == expiries.len();
            ids.into_iter()
                .zip(expiries)
                .map(|(id, e)| {
                    let unique_sent = expiries.iter().filter(|x| *x == e).count() == 1;
                    let mut matching = new.iter().filter(|r| r.expiry() == Some(*e));
                    match (matching.next(), matching.next()) {
                        (Some(r), None) if counts_agree && unique_sent => {
                            PlacedCard::new(id, Some(r.id.clone()))
                        }
                        _ => PlacedCard::unconfirmed(id),
                    }
                })
                .collect()
        }
    }
}

/// Where cards go: a new subscription on a schedule, or an existing one.
#[derive(Clone)]
pub(super) enum Target<'a> {
    /// Subscribe with this schedule and start date.
    New(PeriodId, PeriodDate),
    /// Add to this subscription.
    Existing(&'a JobRef),
}

pub(super) fn push_outcome(
    receipt: &mut SubmissionReceipt,
    result: Result<Schedule>,
    ids: Vec<String>,
    sent: Sent<'_>,
) {
    receipt.record(JobKind::Subscription, ids, result, |schedule, ids| {
        AcceptedJob {
            job: JobRef::new(PROVIDER, JobKind::Subscription, schedule.id.clone()),
            cards: place(&schedule, ids, sent),
            state: schedule_state(&schedule),
        }
    });
}

pub(super) fn schedule_state(s: &Schedule) -> JobState {
    match s.enabled {
        Some(false) => JobState::Disabled,
        _ => JobState::Active,
    }
}

pub(super) fn require_subscription(job: &JobRef) -> Result<()> {
    if job.provider != PROVIDER || job.kind != JobKind::Subscription {
        return Err(Error::invalid(
            "job",
            InputProblem::NotAllowed {
                reason: "not a PayConex subscription".into(),
            },
        ));
    }
    Ok(())
}

impl PayConexClient {
    /// The flows this client offers (its [`Provider::capabilities`]), known before one is
    /// built: the command line asks it to say what a provider can do without credentials.
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[
        Flow::Subscribe,
        Flow::AddCards,
        Flow::RemoveCards,
        Flow::Cancel,
        Flow::JobStatus,
        Flow::FetchResults,
        Flow::RegisterWebhook,
        Flow::ParseWebhook,
    ]);
}

impl Provider for PayConexClient {
    /// The subscription's checks: a PayConex token, or a card number with its expiry.
    fn check_card(&self, _flow: Flow, card: &CardToUpdate) -> Result<()> {
        split_cards(vec![card.clone()]).map(drop)
    }

    fn id(&self) -> ProviderId {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    /// PANs go to `pan/subscribe` (response format `pan`), tokens to `payconex/subscribe`
    /// (format `payconex`): a mixed request creates two subscriptions.
    fn subscribe(&self, request: SubscribeRequest) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            let split = split_cards(request.cards)?;
            let date = PeriodDate(
                request
                    .starts_on
                    .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            );
            let target = Target::New(period_for(request.cadence), date);
            let mut receipt = SubmissionReceipt::new(PROVIDER);
            self.place_pans(&mut receipt, split.pans, target.clone())
                .await;
            self.place_tokens(&mut receipt, split.tokens, target).await;
            Ok(receipt)
        })
    }

    fn add_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<CardToUpdate>,
    ) -> BoxFuture<'a, Result<SubmissionReceipt>> {
        Box::pin(async move {
            require_subscription(job)?;
            let split = split_cards(cards)?;
            let mut receipt = SubmissionReceipt::new(PROVIDER);
            let target = Target::Existing(job);
            self.place_pans(&mut receipt, split.pans, target.clone())
                .await;
            self.place_tokens(&mut receipt, split.tokens, target).await;
            Ok(receipt)
        })
    }

    /// Deletes each card's record (`provider_ref` from the receipt). All references are checked
    /// before the first request; then every record is tried in order and the receipt says which
    /// were removed and which failed (retrying a failed one is safe: a delete whose first
    /// attempt went through answers 404 on the retry and counts as removed).
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        Box::pin(async move {
            require_subscription(job)?;
            check_not_empty("cards", &cards)?;
            let mut record_ids = Vec::with_capacity(cards.len());
            for card in &cards {
                match card {
                    RemoveCard::Placed(PlacedCard {
                        id,
                        provider_ref: Some(r),
                        ..
                    }) => record_ids.push((id.to_string(), r.clone())),
                    RemoveCard::Placed(p) => {
                        return Err(Error::invalid(
                            format!("cards[id={}].provider_ref", p.id),
                            InputProblem::Missing,
                        ));
                    }
                    RemoveCard::Card(c) => {
                        return Err(Error::invalid(
                            format!("cards[id={}]", c.id),
                            InputProblem::NotAllowed {
                                reason: "PayConex removes records by their record id; pass the PlacedCard from the receipt".into(),
                            },
                        ));
                    }
                }
            }
            let mut receipt = RemovalReceipt::new(PROVIDER);
            for (id, record) in record_ids {
                let answer = self.delete_record(&job.id, &record).await;
                receipt.record(vec![id], vec![record], answer);
            }
            Ok(receipt)
        })
    }

    fn cancel<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            require_subscription(job)?;
            self.delete_subscription(&job.id).await
        })
    }

    fn job_status<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<JobReport>> {
        Box::pin(async move {
            require_subscription(job)?;
            let s = self.get_subscription(&job.id).await?;
            Ok(JobReport {
                job: job.clone(),
                state: schedule_state(&s),
                counts: JobCounts {
                    submitted: Some(s.records.len() as u64),
                    ..JobCounts::default()
                },
            })
        })
    }

    /// A job: the most recent update of each record (`schedules/{id}/results`). An event: the
    /// updates of that `updateId`.
    fn fetch_results<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<CardUpdate>>> {
        Box::pin(async move {
            match query {
                ResultsQuery::Job(job) => {
                    require_subscription(job)?;
                    let schedule = self.schedule_results(&job.id).await?;
                    Ok(schedule
                        .records
                        .into_iter()
                        .filter_map(|r| {
                            let record_id = r.id;
                            r.most_recent_update.map(|mut u| {
                                u.account_updater_schedule_record_id
                                    .get_or_insert(record_id);
                                card_update(u)
                            })
                        })
                        .collect())
                }
                ResultsQuery::Event {
                    provider, event_id, ..
                } if *provider == PROVIDER => Ok(self
                    .updates(event_id)
                    .await?
                    .into_iter()
                    .map(card_update)
                    .collect()),
                _ => Err(Error::invalid(
                    "query",
                    InputProblem::NotAllowed {
                        reason: "not a PayConex job or update".into(),
                    },
                )),
            }
        })
    }

    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        Box::pin(async move {
            let created = self
                .create_webhook(&Webhook {
                    url: registration.url.to_string(),
                    event: WebhookEventType::AccountUpdaterBatchUpdates,
                })
                .await?;
            Ok(WebhookReceipt {
                provider: PROVIDER,
                ids: vec![created.id],
                events: vec![WebhookEventType::AccountUpdaterBatchUpdates.to_string()],
            })
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        super::webhook::parse_webhook(request.body)
    }
}

impl PayConexClient {
    async fn place_pans(
        &self,
        receipt: &mut SubmissionReceipt,
        pans: Vec<(String, PanRecord)>,
        target: Target<'_>,
    ) {
        if pans.is_empty() {
            return;
        }
        let (ids, records): (Vec<_>, Vec<_>) = pans.into_iter().unzip();
        let expiries: Vec<Expiry> = records.iter().map(|r| r.expiry).collect();
        // An add answers with the whole schedule: the records it held before tell the new ones
        // apart. If they cannot be read, nothing is confirmed (no guessing).
        let before = match target {
            Target::Existing(job) => match self.get_subscription(&job.id).await {
                Ok(s) => Before::Known(s.records.into_iter().map(|r| r.id).collect()),
                Err(_) => Before::Unknown,
            },
            Target::New(..) => Before::Empty,
        };
        let result = match target {
            Target::New(period_id, date) => {
                self.subscribe_pans(&PanSubscription {
                    response_format: Some(ResponseFormat::Pan),
                    cards: records,
                    period_date: Some(date),
                    period_id,
                    enabled: None,
                })
                .await
            }
            Target::Existing(job) => self.add_pans(&job.id, &records).await,
        };
        push_outcome(receipt, result, ids, Sent::Pans(&expiries, before));
    }

    async fn place_tokens(
        &self,
        receipt: &mut SubmissionReceipt,
        tokens: Vec<(String, TokenRecord)>,
        target: Target<'_>,
    ) {
        if tokens.is_empty() {
            return;
        }
        let (ids, records): (Vec<_>, Vec<_>) = tokens.into_iter().unzip();
        let values: Vec<String> = records.iter().map(|r| r.token.clone()).collect();
        let result = match target {
            Target::New(period_id, date) => {
                self.subscribe_tokens(&TokenSubscription {
                    response_format: Some(ResponseFormat::Payconex),
                    tokens: records,
                    period_date: Some(date),
                    period_id,
                    enabled: None,
                })
                .await
            }
            Target::Existing(job) => self.add_tokens(&job.id, &records).await,
        };
        push_outcome(receipt, result, ids, Sent::Tokens(&values));
    }
}
