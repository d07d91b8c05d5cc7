//! One run, every provider: each card routed by rule to the provider and flow that can update
//! it, with the guarantees of a single-provider run.
//!
//! A billing platform's cards do not all belong to one updater: Amex cards are refreshed
//! through CardSync's subscriptions (per SE number), Visa, Mastercard and Discover numbers
//! through CardSync batches or PayConex subscriptions, an Acquired token only by Acquired's
//! `ACCOUNT_UPDATER`, a PayConex token only by PayConex. A [`Router`] holds the providers and
//! an ordered list of [`Rule`]s; the first rule that takes a card decides where it goes. A card
//! no rule takes is rejected with the reason (handed to
//! [`ChunkObserver::rejected`] like any refused
//! card), never dropped. A token goes only to the provider that issued it
//! ([`CardSource::Token`]).
//!
//! A router is a [`Provider`]: the streamed submission, the `Vec` one, a journal's run, job
//! status, results, removal and webhooks take it where they take one provider. Jobs and
//! results keep the provider that made them ([`JobRef::provider`]), so status, results and
//! cancellation go to that provider.
//!
//! ```
//! # #[cfg(all(feature = "cardsync", feature = "acquired"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater::provider::{CardToUpdate, Provider};
//! use account_updater::providers::{acquired::AcquiredClient, cardsync::CardSyncClient};
//! use account_updater::routing::{Condition, Router, Rule};
//! use account_updater::{CardBrand, CardNumber, Expiry, Flow, ProviderId};
//! use account_updater_emulator::{acquired::AcquiredEmulator, cardsync::CardSyncEmulator};
//!
//! let (cardsync_emulator, acquired_emulator) =
//!     (CardSyncEmulator::start().await?, AcquiredEmulator::start().await?);
//! let cardsync = CardSyncClient::builder(cardsync_emulator.add_merchant().1)
//!     .base_url(cardsync_emulator.base_url())
//!     .build_merchant()?;
//! let acquired = AcquiredClient::builder(acquired_emulator.credentials())
//!     .base_url(acquired_emulator.base_url())
//!     .build()?;
//!
//! let router = Router::builder()
//!     .provider(cardsync.clone())
//!     .provider(acquired)
//!     // A token only ever goes to the provider that issued it.
//!     .rule(Rule::new("acquired-tokens", ProviderId::Acquired, Flow::Submit).when(Condition::Token))
//!     .rule(Rule::new("cards", ProviderId::CardSync, Flow::Submit).when(Condition::CardNumber))
//!     .build()?;
//!
//! let expiry = Expiry::new(1, 2030)?;
//! let token = acquired_emulator.create_token(&CardNumber::parse("4111111111111111")?, expiry);
//! let receipt = router
//!     .submit(vec![
//!         CardToUpdate::pan("visa-1", CardNumber::parse("4457010000000009")?, expiry),
//!         CardToUpdate::token("acq-1", ProviderId::Acquired, token),
//!     ])
//!     .await?;
//! // One job at each provider; each job keeps the provider that made it.
//! let mut providers: Vec<ProviderId> = receipt.accepted().iter().map(|j| j.job().provider).collect();
//! providers.sort();
//! assert_eq!(providers, [ProviderId::CardSync, ProviderId::Acquired]);
//!
//! // A rule that can never match is refused when the router is built.
//! let refused = Router::builder()
//!     .provider(cardsync)
//!     .rule(Rule::new("cards", ProviderId::CardSync, Flow::Submit).when(Condition::CardNumber))
//!     .rule(Rule::new("visa", ProviderId::CardSync, Flow::Submit).when(Condition::Brand(CardBrand::Visa)))
//!     .build();
//! assert!(refused.is_err());
//! # Ok(()) }
//! # #[cfg(not(all(feature = "cardsync", feature = "acquired")))]
//! # fn main() {}
//! ```
//!
//! # How a routed run is numbered
//!
//! Each distinct provider and flow of the rules is a *lane*, numbered in the order the rules
//! first name it. A lane's chunks are numbered from `lane × 2⁴⁰`, and every card keeps the
//! input position the router read it at, so a journal records a routed run's chunks exactly as
//! a single provider's, and a resumed run with the same rules and input plans the same chunks.
//! Changing the rules between a run and its resume changes the plan; the journal then refuses
//! the chunks that differ.
//!
//! # Duplicate ids in a routed run
//!
//! With [`DuplicateIds::Refuse`](crate::submission::DuplicateIds::Refuse), a card whose id a
//! routed card before it holds is rejected as a duplicate, across every lane. A card no rule
//! takes holds no id. With several lanes the router checks ids as it reads, so the first
//! routed card with an id is the one sent, even if its provider then refuses it; a router with
//! one lane leaves ids to its provider's driver, which checks them as each chunk closes, as a
//! direct run does.

mod rules;
mod run;

pub use rules::{Condition, Route, RouteError, Rule};

use std::sync::Arc;

use futures::stream::BoxStream;

use crate::error::{Error, InputProblem, Result};
use crate::ids::{Flow, JobRef, ProviderId, ResultsQuery};
use crate::model::{
    AccountUpdateReceipt, AccountUpdateRequest, BoxFuture, CardSource, CardToUpdate, ChunkObserver,
    JobReport, RemovalReceipt, RemoveCard, StreamOptions, StreamReceipt, SubmissionReceipt,
    SubscribeRequest, WebhookEvent, WebhookReceipt, WebhookRegistration, WebhookRequest,
};
use crate::outcome::{CardUpdate, CardUpdates};
use crate::provider::{Capabilities, Provider};

/// The id a router reports as its own ([`Provider::id`]): the jobs it creates keep their
/// providers' ids.
pub const ROUTED: ProviderId = ProviderId::custom("routed");

/// How many cards a routed run puts in one subscribe request of a subscription lane (a
/// provider's own limits still apply inside it).
pub const DEFAULT_SUBSCRIPTION_CHUNK: usize = 1_000;

/// Providers and the ordered rules that route cards between them. Built by
/// [`Router::builder`]; a [`Provider`] itself.
pub struct Router {
    providers: Vec<Arc<dyn Provider>>,
    rules: Vec<Rule>,
    /// Per rule: its lane.
    rule_lane: Vec<usize>,
    /// Per lane: the provider's index in `providers`, and the flow.
    lanes: Vec<(usize, Flow)>,
    /// The rule every card number goes to, if no rule looks at the number
    /// ([`rules::rule_for_every_number`]).
    every_number_rule: Option<usize>,
    capabilities: Capabilities,
    subscription_chunk: usize,
    subscription: SubscribeRequest,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field(
                "providers",
                &self.providers.iter().map(|p| p.id()).collect::<Vec<_>>(),
            )
            .field("rules", &self.rules)
            .finish()
    }
}

/// Builds a [`Router`]: providers, then rules in the order they are tried.
#[derive(Default)]
pub struct RouterBuilder {
    providers: Vec<Arc<dyn Provider>>,
    rules: Vec<Rule>,
    subscription_chunk: Option<usize>,
    subscription: Option<SubscribeRequest>,
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl RouterBuilder {
    /// Adds a provider the rules may name.
    pub fn provider(mut self, provider: impl Provider + 'static) -> Self {
        self.providers.push(Arc::new(provider));
        self
    }

    /// Adds a provider already shared.
    pub fn shared_provider(mut self, provider: Arc<dyn Provider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Adds a rule, tried after those already added.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds a last rule taking every card (`provider`'s `flow`), for the cards no other rule
    /// takes. Optional: without it such cards are rejected with the reason.
    pub fn default_rule(self, provider: ProviderId, flow: Flow) -> Self {
        self.rule(Rule::new("default", provider, flow))
    }

    /// Cards per subscribe request in a subscription lane ([`DEFAULT_SUBSCRIPTION_CHUNK`]).
    pub fn subscription_chunk(mut self, cards: usize) -> Self {
        self.subscription_chunk = Some(cards.max(1));
        self
    }

    /// The cadence and start date of the subscriptions a run creates (the request's cards are
    /// ignored; each chunk's cards take their place).
    pub fn subscription(mut self, request: SubscribeRequest) -> Self {
        self.subscription = Some(request);
        self
    }

    /// Checks the rules against the providers and builds the router.
    ///
    /// # Errors
    ///
    /// A [`RouteError`] naming the rule: no rules, a provider added twice, two rules with
    /// one name, a rule naming a provider not added or a flow that does not take cards or
    /// that its provider lacks, a rule whose conditions contradict each other, or one that an
    /// earlier rule (without [`Rule::fall_through`]) shadows.
    pub fn build(self) -> std::result::Result<Router, RouteError> {
        if self.rules.is_empty() {
            return Err(RouteError::NoRules);
        }
        for (i, p) in self.providers.iter().enumerate() {
            if self.providers[..i].iter().any(|q| q.id() == p.id()) {
                return Err(RouteError::DuplicateProvider(p.id()));
            }
        }
        let mut lanes: Vec<(usize, Flow)> = Vec::new();
        let mut rule_lane = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            if self.rules[..i].iter().any(|r| r.name == rule.name) {
                return Err(RouteError::DuplicateName(rule.name.clone()));
            }
            let Some(index) = self.providers.iter().position(|p| p.id() == rule.provider) else {
                return Err(RouteError::UnknownProvider {
                    rule: rule.name.clone(),
                    provider: rule.provider,
                });
            };
            if !matches!(rule.flow, Flow::Submit | Flow::Subscribe) {
                return Err(RouteError::NotACardFlow {
                    rule: rule.name.clone(),
                    flow: rule.flow,
                });
            }
            if !self.providers[index].capabilities().supports(rule.flow) {
                return Err(RouteError::MissingFlow {
                    rule: rule.name.clone(),
                    provider: rule.provider,
                    flow: rule.flow,
                });
            }
            if let Some(why) = rule.contradiction() {
                return Err(RouteError::Contradictory {
                    rule: rule.name.clone(),
                    why,
                });
            }
            if let Some(earlier) = self.rules[..i]
                .iter()
                .find(|e| !e.fall_through && e.covers(rule))
            {
                return Err(RouteError::Shadowed {
                    rule: rule.name.clone(),
                    earlier: earlier.name.clone(),
                });
            }
            let lane = match lanes.iter().position(|l| *l == (index, rule.flow)) {
                Some(l) => l,
                None => {
                    lanes.push((index, rule.flow));
                    lanes.len() - 1
                }
            };
            rule_lane.push(lane);
        }
        let capabilities = self.providers.iter().fold(Capabilities::none(), |c, p| {
            p.capabilities().flows().fold(c, |c, f| c.with(f))
        });
        Ok(Router {
            providers: self.providers,
            every_number_rule: rules::rule_for_every_number(&self.rules),
            rules: self.rules,
            rule_lane,
            lanes,
            capabilities,
            subscription_chunk: self
                .subscription_chunk
                .unwrap_or(DEFAULT_SUBSCRIPTION_CHUNK),
            subscription: self
                .subscription
                .unwrap_or_else(|| SubscribeRequest::new(Vec::new())),
        })
    }
}

impl Router {
    /// A builder with no providers and no rules.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The provider with id `id`, if the router holds it.
    pub fn provider(&self, id: ProviderId) -> Option<&Arc<dyn Provider>> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// The providers, in the order they were added.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.iter()
    }

    /// Where `card` goes: the first rule that takes it and whose provider accepts it as input
    /// ([`Provider::check_card`]; a rule with [`Rule::fall_through`] passes a refused card on to
    /// the next rule that takes it). No request is made.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`]: [`InputProblem::NoRoute`] when no rule takes the card, or the
    /// provider's own input error when the rule that took it does not fall through (or no
    /// later rule takes it).
    pub fn route(&self, card: &CardToUpdate) -> Result<Route<'_>> {
        self.route_index(card, true).map(|i| Route {
            rule: &self.rules[i],
        })
    }

    /// The check a one-lane run's driver makes of each card it reads (see
    /// [`Provider::streams_on_the_crate_driver`]): its caller id, then its route, as a
    /// one-lane router's own stream checks them. The driver outlives no borrow, so the check
    /// holds a copy of the rules and providers (a few `Arc`s), made once per run.
    pub(crate) fn route_check(&self) -> crate::model::stream::RouteCheck {
        let router = Router {
            providers: self.providers.clone(),
            rules: self.rules.clone(),
            rule_lane: self.rule_lane.clone(),
            lanes: self.lanes.clone(),
            every_number_rule: self.every_number_rule,
            capabilities: self.capabilities,
            subscription_chunk: self.subscription_chunk,
            subscription: SubscribeRequest::new(Vec::new()),
        };
        crate::model::stream::RouteCheck(Arc::new(move |position, card| {
            crate::model::check_caller_id(position as usize, &card.id)?;
            router.route_index(card, false).map(drop)
        }))
    }

    /// The index of the rule that takes `card`. The provider's input check runs for rules that
    /// fall through (it decides where the card goes) and, with `check_all`, for the rule that
    /// takes it too; in a stream it is left to the lane, whose provider makes the same check
    /// and rejects the card with the same error, so no card is checked twice on the hot path.
    pub(crate) fn route_index(&self, card: &CardToUpdate, check_all: bool) -> Result<usize> {
        // The common case, without a provider check: the rule every card number goes to, or
        // the first rule that takes the card and does not fall through. Kept small enough to
        // inline into a routed stream's card loop.
        if !check_all {
            if let (Some(i), CardSource::Pan(_)) = (self.every_number_rule, &card.source) {
                return Ok(i);
            }
            if let Some(i) = self.rules.iter().position(|r| r.takes(card)) {
                if !self.rules[i].fall_through {
                    return Ok(i);
                }
            }
        }
        self.route_index_checked(card, check_all)
    }

    /// [`Router::route_index`] the long way: every rule that takes the card, the provider's
    /// check where it decides, and the error when none does.
    #[cold]
    fn route_index_checked(&self, card: &CardToUpdate, check_all: bool) -> Result<usize> {
        let mut refused = None;
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.takes(card) {
                continue;
            }
            if !rule.fall_through && !check_all {
                return Ok(i);
            }
            let provider = &self.providers[self.lanes[self.rule_lane[i]].0];
            match provider.check_card(rule.flow, card) {
                Ok(()) => return Ok(i),
                Err(e) if rule.fall_through => refused = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(refused.unwrap_or_else(|| {
            Error::invalid(
                format!("cards[id={}]", card.id),
                InputProblem::NoRoute {
                    card: describe(card),
                },
            )
        }))
    }

    /// The provider a results query names (its job's or its event's).
    fn answering(&self, query: &ResultsQuery) -> Result<&Arc<dyn Provider>> {
        let provider = match query {
            ResultsQuery::Job(job) => job.provider,
            ResultsQuery::Event { provider, .. } => *provider,
        };
        self.by_id(provider, Flow::FetchResults)
    }

    fn by_id(&self, provider: ProviderId, flow: Flow) -> Result<&Arc<dyn Provider>> {
        self.provider(provider)
            .ok_or(Error::Unsupported { provider, flow })
    }

    /// The one provider that supports `flow`, for flows whose request names no provider.
    fn only_one(&self, flow: Flow) -> Result<&Arc<dyn Provider>> {
        let mut with = self
            .providers
            .iter()
            .filter(|p| p.capabilities().supports(flow));
        match (with.next(), with.next()) {
            (Some(p), None) => Ok(p),
            _ => Err(Error::Unsupported {
                provider: ROUTED,
                flow,
            }),
        }
    }

    /// Parses (and verifies, where the provider signs) a webhook received on a path of
    /// `provider`'s: the way to receive webhooks for a routed set when each provider posts to
    /// its own URL.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the router does not hold `provider`; otherwise that
    /// provider's [`Provider::parse_webhook`] errors.
    pub fn parse_webhook_from(
        &self,
        provider: ProviderId,
        request: &WebhookRequest<'_>,
    ) -> Result<WebhookEvent> {
        self.by_id(provider, Flow::ParseWebhook)?
            .parse_webhook(request)
    }

    /// Each routed card's provider, in input order, without sending anything: for a plan or
    /// a test of the rules.
    pub fn plan<'c>(
        &self,
        cards: impl IntoIterator<Item = &'c CardToUpdate>,
    ) -> Vec<Result<Route<'_>>> {
        cards.into_iter().map(|c| self.route(c)).collect()
    }
}

/// What a card is, for a rejection: never its number.
fn describe(card: &CardToUpdate) -> String {
    let what = match &card.source {
        CardSource::Pan(p) => {
            let se = match (p.brand(), card.amex_se_number.as_deref()) {
                (crate::card::CardBrand::Amex, Some(s)) if !s.is_empty() => " with an SE number",
                (crate::card::CardBrand::Amex, _) => " without an SE number",
                _ => "",
            };
            format!("a {} card number{se}", p.brand())
        }
        CardSource::Token { issuer, .. } => format!("a {issuer} token"),
    };
    match &card.tag {
        Some(t) => format!("{what} tagged {t:?}"),
        None => what,
    }
}

impl Provider for Router {
    fn id(&self) -> ProviderId {
        ROUTED
    }

    /// The union of the providers' flows.
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Routes every card (each to its rule's provider and flow), with the request's cadence
    /// and start date for the subscriptions it creates.
    fn subscribe(&self, request: SubscribeRequest) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            let template = SubscribeRequest {
                cards: Vec::new(),
                ..request.clone()
            };
            run::submit_all(self, request.cards, Some(template)).await
        })
    }

    /// Sent to the provider that owns the job.
    fn add_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<CardToUpdate>,
    ) -> BoxFuture<'a, Result<SubmissionReceipt>> {
        Box::pin(async move {
            self.by_id(job.provider, Flow::AddCards)?
                .add_cards(job, cards)
                .await
        })
    }

    /// Sent to the provider that owns the job.
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        Box::pin(async move {
            self.by_id(job.provider, Flow::RemoveCards)?
                .remove_cards(job, cards)
                .await
        })
    }

    /// Sent to the provider that owns the job.
    fn cancel<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.by_id(job.provider, Flow::Cancel)?.cancel(job).await })
    }

    /// Routes every card; all are checked before the first request.
    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(run::submit_all(self, cards, None))
    }

    /// Routes each card as it is read: one lane per provider and flow, each lane that
    /// provider's own streamed submission (or, for a subscription lane, subscribe requests of
    /// [`RouterBuilder::subscription_chunk`] cards), all in flight together. See the
    /// [module documentation](self) for how chunks are numbered.
    fn submit_stream<'a>(
        &'a self,
        cards: BoxStream<'a, CardToUpdate>,
        options: StreamOptions,
        observer: &'a mut dyn ChunkObserver,
    ) -> BoxFuture<'a, Result<StreamReceipt>> {
        Box::pin(run::stream(self, cards, options, observer, None))
    }

    /// Sent to the provider that owns the job.
    fn job_status<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<JobReport>> {
        Box::pin(async move {
            self.by_id(job.provider, Flow::JobStatus)?
                .job_status(job)
                .await
        })
    }

    /// Sent to the provider the query names.
    fn fetch_results<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<CardUpdate>>> {
        Box::pin(async move { self.answering(query)?.fetch_results(query).await })
    }

    /// Sent to the provider the query names.
    fn fetch_results_iter<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<CardUpdates>> {
        Box::pin(async move { self.answering(query)?.fetch_results_iter(query).await })
    }

    /// Sent to the one provider that updates stored accounts; unsupported when the router
    /// holds none or several.
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        Box::pin(async move {
            self.only_one(Flow::UpdateAccount)?
                .update_account(request)
                .await
        })
    }

    /// Sent to the one provider that registers webhooks; with several, register with each
    /// through [`Router::provider`].
    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        Box::pin(async move {
            self.only_one(Flow::RegisterWebhook)?
                .register_webhook(registration)
                .await
        })
    }

    /// By content: every provider that parses webhooks reads it, and exactly one must
    /// accept it. Where providers post to separate paths, prefer
    /// [`Router::parse_webhook_from`].
    ///
    /// # Errors
    ///
    /// When none accepts it, the most telling refusal: a failed signature or integrity check
    /// before an unreadable body. When several accept it, [`Error::InvalidInput`]: the
    /// webhook is ambiguous and must be received on a provider's own path.
    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        let mut accepted = Vec::new();
        let mut refused: Option<Error> = None;
        for p in self
            .providers
            .iter()
            .filter(|p| p.capabilities().supports(Flow::ParseWebhook))
        {
            match p.parse_webhook(request) {
                Ok(event) => accepted.push(event),
                Err(e) => {
                    let telling = |e: &Error| {
                        matches!(
                            e.kind(),
                            crate::error::ErrorKind::Auth | crate::error::ErrorKind::Integrity
                        )
                    };
                    if refused.as_ref().is_none_or(|r| !telling(r) && telling(&e)) {
                        refused = Some(e);
                    }
                }
            }
        }
        match accepted.len() {
            1 => Ok(accepted.remove(0)),
            0 => Err(refused.unwrap_or(Error::Unsupported {
                provider: ROUTED,
                flow: Flow::ParseWebhook,
            })),
            _ => Err(Error::invalid(
                "webhook",
                InputProblem::NotAllowed {
                    reason: format!(
                        "it reads as a webhook of {}; receive it on one provider's path (Router::parse_webhook_from)",
                        accepted
                            .iter()
                            .map(|e| e.provider.as_str())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                },
            )),
        }
    }

    /// Routable: some rule takes it and its provider accepts it.
    fn check_card(&self, _flow: Flow, card: &CardToUpdate) -> Result<()> {
        self.route_index(card, true).map(drop)
    }
}
