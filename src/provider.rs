//! The unified layer: the [`Provider`] trait, what each provider can do ([`Capabilities`],
//! [`Flow`]), and the request and receipt types the flows exchange.
//!
//! The trait is object safe, so a billing platform can hold `Arc<dyn Provider>` values and route
//! cards between backends at run time. A flow a provider lacks returns [`Error::Unsupported`]
//! (the default body of every flow method), and [`Provider::capabilities`] says so up front.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use chrono::NaiveDate;
use secrecy::SecretString;
use url::Url;

use crate::card::{CardNumber, Expiry};
use crate::error::{Error, Result};
pub use crate::ids::{Flow, JobKind, JobRef, ProviderId, ResultsQuery};
use crate::outcome::CardUpdate;
use crate::submission::{ChunkObserver, StreamOptions, StreamReceipt};
use crate::webhook::{WebhookEvent, WebhookRequest};
use futures::stream::BoxStream;

/// A boxed, sendable future: what the object-safe [`Provider`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The set of flows a provider supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    bits: u16,
}

impl Capabilities {
    /// No flow at all.
    pub const fn none() -> Self {
        Capabilities { bits: 0 }
    }

    /// The set of the given flows.
    pub fn of(flows: &[Flow]) -> Self {
        flows.iter().fold(Self::none(), |c, f| c.with(*f))
    }

    /// This set plus `flow`.
    pub const fn with(self, flow: Flow) -> Self {
        Capabilities {
            bits: self.bits | (1 << flow as u16),
        }
    }

    /// Whether `flow` is supported.
    pub const fn supports(self, flow: Flow) -> bool {
        self.bits & (1 << flow as u16) != 0
    }

    /// The supported flows, in [`Flow::ALL`] order.
    pub fn flows(self) -> impl Iterator<Item = Flow> {
        Flow::ALL.into_iter().filter(move |f| self.supports(*f))
    }
}

/// How the caller holds a card.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardSource {
    /// The card number itself (kept secret by [`CardNumber`]).
    Pan(CardNumber),
    /// A provider token standing for the card (PayConex transaction id, Acquired INIT
    /// `transaction_id`, AccountVault `accountID`).
    Token(String),
}

impl fmt::Debug for CardSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CardSource::Pan(p) => write!(f, "Pan({p:?})"),
            CardSource::Token(t) => write!(f, "Token({t:?})"),
        }
    }
}

/// One card submitted for updates, identified by the caller's own `id` (echoed in results and
/// receipts so that every card can be joined back).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CardToUpdate {
    /// The caller's identifier, unique within a request.
    pub id: String,
    /// The card or token.
    pub source: CardSource,
    /// Current expiry on file (required by most providers for PANs).
    pub expiry: Option<Expiry>,
    /// American Express Service Establishment number, required by CardSync for Amex cards.
    pub amex_se_number: Option<String>,
}

impl CardToUpdate {
    /// A card given by its number and expiry.
    pub fn pan(id: impl Into<String>, number: CardNumber, expiry: Expiry) -> Self {
        CardToUpdate {
            id: id.into(),
            source: CardSource::Pan(number),
            expiry: Some(expiry),
            amex_se_number: None,
        }
    }

    /// A card given by a provider token.
    pub fn token(id: impl Into<String>, token: impl Into<String>) -> Self {
        CardToUpdate {
            id: id.into(),
            source: CardSource::Token(token.into()),
            expiry: None,
            amex_se_number: None,
        }
    }

    /// Sets the expiry on file.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Sets the Amex SE number (CardSync Amex subscriptions).
    pub fn with_amex_se_number(mut self, se: impl Into<String>) -> Self {
        self.amex_se_number = Some(se.into());
        self
    }
}

/// How often a subscription is refreshed. Providers that refresh on their own schedule
/// (CardSync Amex) ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cadence {
    /// Every week.
    Weekly,
    /// Every two weeks.
    EveryTwoWeeks,
    /// Every month.
    Monthly,
    /// Every two months.
    EveryTwoMonths,
    /// Every three months.
    Quarterly,
    /// Every six months.
    HalfYearly,
    /// Every year.
    Yearly,
}

/// Subscribe cards for ongoing updates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SubscribeRequest {
    /// The cards.
    pub cards: Vec<CardToUpdate>,
    /// How often to refresh (default monthly where a provider needs one).
    pub cadence: Cadence,
    /// When the schedule starts (default: today). PayConex advises about ten business days
    /// before the updated data is needed.
    pub starts_on: Option<NaiveDate>,
}

impl SubscribeRequest {
    /// Subscribe `cards` monthly, starting today.
    pub fn new(cards: Vec<CardToUpdate>) -> Self {
        SubscribeRequest {
            cards,
            cadence: Cadence::Monthly,
            starts_on: None,
        }
    }

    /// Sets the cadence.
    pub fn cadence(mut self, cadence: Cadence) -> Self {
        self.cadence = cadence;
        self
    }

    /// Sets the start date.
    pub fn starts_on(mut self, date: NaiveDate) -> Self {
        self.starts_on = Some(date);
        self
    }
}

/// A card as placed in a job: the caller's id and, when the provider assigns one, its own
/// record reference (PayConex `cssr_…`, Acquired token), needed to remove the card later and to
/// join results back to the caller's id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlacedCard {
    /// The caller's id.
    pub id: String,
    /// The provider's record reference, when it gives one and the crate could tell which of the
    /// provider's records is this card's.
    pub provider_ref: Option<String>,
    /// `false` when the provider accepted the card but its answer did not say which record is
    /// this card's (PayConex answers PAN records with ShieldConex tokens in place of the card
    /// numbers, and gives no position guarantee): "placed, unconfirmed". The card is in the
    /// job, `provider_ref` is `None`, and the crate did not guess.
    pub confirmed: bool,
}

impl PlacedCard {
    /// A card placed under the provider's reference `provider_ref` (or none, for providers
    /// that key cards by the caller's id).
    pub fn new(id: impl Into<String>, provider_ref: Option<String>) -> Self {
        PlacedCard {
            id: id.into(),
            provider_ref,
            confirmed: true,
        }
    }

    /// A card the provider accepted without saying which of its records is this card's.
    pub fn unconfirmed(id: impl Into<String>) -> Self {
        PlacedCard {
            id: id.into(),
            provider_ref: None,
            confirmed: false,
        }
    }
}

/// A job the provider accepted, with the cards it holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AcceptedJob {
    /// The job.
    pub job: JobRef,
    /// The cards it holds.
    pub cards: Vec<PlacedCard>,
    /// Its state when accepted.
    pub state: JobState,
}

/// A group of cards whose request failed. Resubmit exactly these to retry.
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedChunk {
    /// What was being created.
    pub kind: JobKind,
    /// The caller's ids of the cards in the failed request.
    pub card_ids: Vec<String>,
    /// Why it failed (check [`Error::may_have_reached_provider`] before resubmitting).
    pub error: Error,
}

/// Where every submitted card went: each card id appears exactly once, in an accepted job or in
/// a failed chunk.
#[derive(Debug)]
#[non_exhaustive]
pub struct SubmissionReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// Jobs the provider accepted.
    pub accepted: Vec<AcceptedJob>,
    /// Requests that failed.
    pub failed: Vec<FailedChunk>,
}

impl SubmissionReceipt {
    /// An empty receipt.
    pub fn new(provider: ProviderId) -> Self {
        SubmissionReceipt {
            provider,
            accepted: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Number of cards placed in accepted jobs.
    pub fn accepted_cards(&self) -> usize {
        self.accepted.iter().map(|j| j.cards.len()).sum()
    }

    /// Number of cards in failed chunks.
    pub fn failed_cards(&self) -> usize {
        self.failed.iter().map(|c| c.card_ids.len()).sum()
    }

    /// `true` when nothing failed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// The caller's id of the card the provider knows as `provider_ref` (a PayConex record id).
    pub fn caller_id(&self, provider_ref: &str) -> Option<&str> {
        let wanted = canonical_ref(self.provider, provider_ref);
        self.accepted
            .iter()
            .flat_map(|j| &j.cards)
            .find(|c| {
                c.provider_ref
                    .as_deref()
                    .is_some_and(|r| canonical_ref(self.provider, r) == wanted)
            })
            .map(|c| c.id.as_str())
    }

    /// Fills each update's `card_id` with the caller's id of the card this receipt placed under
    /// the update's [`CardUpdate::card_ref`], for providers that do not echo the caller's id
    /// (PayConex records, Acquired tokens). The same for every provider: an update whose
    /// `card_id` is already known keeps it; one whose `card_ref` is not in this receipt stays
    /// `None`. Provider references are compared as the provider canonicalises them (PayConex
    /// answers a token `"7"` as `"000000000007"`: see [`canonical_ref`]).
    pub fn join_card_ids(&self, updates: &mut [CardUpdate]) {
        let by_ref: std::collections::HashMap<String, &str> = self
            .accepted
            .iter()
            .flat_map(|j| &j.cards)
            .filter_map(|c| {
                let r = c.provider_ref.as_deref()?;
                Some((canonical_ref(self.provider, r), c.id.as_str()))
            })
            .collect();
        for u in updates.iter_mut().filter(|u| u.card_id.is_none()) {
            if let Some(r) = &u.card_ref {
                if let Some(id) = by_ref.get(&canonical_ref(u.provider, r)) {
                    u.card_id = Some((*id).to_owned());
                }
            }
        }
    }
}

/// What [`Provider::remove_cards`] did, card by card: every card given appears exactly once,
/// in `removed` or in `failed`, so a partial failure says which cards are out of updates and
/// which are not.
#[derive(Debug)]
#[non_exhaustive]
pub struct RemovalReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// Caller ids of the cards taken out of updates (or found already gone after a retried
    /// request).
    pub removed: Vec<String>,
    /// Cards whose removal failed.
    pub failed: Vec<FailedRemoval>,
}

impl RemovalReceipt {
    /// An empty receipt.
    pub fn new(provider: ProviderId) -> Self {
        RemovalReceipt {
            provider,
            removed: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// `true` when every card was removed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// The cards of one removal request that failed (one card for PayConex and Acquired, which
/// remove card by card; up to 10,000 for a CardSync unsubscribe).
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedRemoval {
    /// The caller's ids.
    pub card_ids: Vec<String>,
    /// The provider's references the request was sent for (Acquired tokens, PayConex records);
    /// empty where the provider takes the cards themselves (CardSync).
    pub provider_refs: Vec<String>,
    /// Why (check [`Error::may_have_reached_provider`] before trying again).
    pub error: Error,
}

/// A job's lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobState {
    /// Accepted, no results yet.
    Pending,
    /// Active and refreshing on a schedule (subscriptions).
    Active,
    /// Disabled (a paused subscription).
    Disabled,
    /// Finished; results can be fetched.
    Completed,
    /// Failed on the provider side.
    Failed,
    /// A state this crate does not know, verbatim.
    Other(String),
}

/// Per-outcome counters a provider reports for a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobCounts {
    /// Cards submitted.
    pub submitted: Option<u64>,
    /// New account numbers.
    pub new_account_number: Option<u64>,
    /// New expiries.
    pub new_expiry: Option<u64>,
    /// Closed accounts.
    pub closed: Option<u64>,
    /// Contact the cardholder.
    pub contact: Option<u64>,
    /// Valid.
    pub valid: Option<u64>,
    /// No change.
    pub no_change: Option<u64>,
    /// No match.
    pub no_match: Option<u64>,
}

/// What [`Provider::job_status`] answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobReport {
    /// The job asked about.
    pub job: JobRef,
    /// Its state.
    pub state: JobState,
    /// Counters, when the provider gives them.
    pub counts: JobCounts,
}

/// New card data for a stored account.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewCardData {
    /// The new number, if it changed.
    pub number: Option<CardNumber>,
    /// The new expiry.
    pub expiry: Option<Expiry>,
    /// The security code, when the provider wants one for the change (Acquired's zero-amount
    /// authorisation). Never logged.
    pub security_code: Option<SecretString>,
    /// The cardholder name printed on the card.
    pub holder_name: Option<String>,
}

impl NewCardData {
    /// New card data with the given number and expiry.
    pub fn new(number: Option<CardNumber>, expiry: Option<Expiry>) -> Self {
        NewCardData {
            number,
            expiry,
            security_code: None,
            holder_name: None,
        }
    }

    /// Sets the security code.
    pub fn with_security_code(mut self, code: SecretString) -> Self {
        self.security_code = Some(code);
        self
    }

    /// Sets the cardholder name.
    pub fn with_holder_name(mut self, name: impl Into<String>) -> Self {
        self.holder_name = Some(name.into());
        self
    }
}

impl fmt::Debug for NewCardData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCardData")
            .field("number", &self.number)
            .field("expiry", &self.expiry)
            .field(
                "security_code",
                &self.security_code.as_ref().map(|_| "[REDACTED]"),
            )
            .field("holder_name", &self.holder_name)
            .finish()
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Address {
    /// First line.
    pub line1: Option<String>,
    /// Second line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State / region code.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code (`US`, `GB`); providers that want the numeric code
    /// (AccountVault) convert it.
    pub country: Option<String>,
}

/// Holder (customer) data on a stored account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HolderData {
    /// Given name.
    pub first_name: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company name (instead of a person's name where the provider allows).
    pub company: Option<String>,
    /// Billing address.
    pub address: Option<Address>,
    /// Phone number (digits; providers apply their own rules).
    pub phone: Option<String>,
    /// Phone country calling code (`1`, `44`).
    pub phone_country_code: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// Update a stored account: new card data and/or new holder data.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountUpdateRequest {
    /// The provider's id for the stored account (AccountVault `accountID`, Acquired INIT
    /// `transaction_id`).
    pub account_id: String,
    /// New card data.
    pub card: Option<NewCardData>,
    /// New holder data.
    pub holder: Option<HolderData>,
}

impl AccountUpdateRequest {
    /// An update of `account_id` with nothing in it yet.
    pub fn new(account_id: impl Into<String>) -> Self {
        AccountUpdateRequest {
            account_id: account_id.into(),
            card: None,
            holder: None,
        }
    }

    /// Sets the new card data.
    pub fn card(mut self, card: NewCardData) -> Self {
        self.card = Some(card);
        self
    }

    /// Sets the new holder data.
    pub fn holder(mut self, holder: HolderData) -> Self {
        self.holder = Some(holder);
        self
    }
}

/// What an account update returned.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountUpdateReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// The account updated.
    pub account_id: String,
    /// The provider's success code, verbatim (`SC`/`EC`, `response_code`).
    pub raw_code: String,
    /// A warning the provider attached to a success (AccountVault 207: duplicate check failed).
    pub warning: Option<String>,
    /// The provider's transaction / reference id for the change, when it gives one.
    pub reference: Option<String>,
}

/// Register a webhook URL.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookRegistration {
    /// Where the provider should POST.
    pub url: Url,
}

impl WebhookRegistration {
    /// Register `url` for every account-updater event the provider has.
    pub fn new(url: Url) -> Self {
        WebhookRegistration { url }
    }
}

/// What registering a webhook returned.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// Provider ids of the registrations (PayConex `wbh_…`); empty when the provider gives none.
    pub ids: Vec<String>,
    /// The events registered, in the provider's words.
    pub events: Vec<String>,
}

/// A provider reference in the form the provider compares it: PayConex tokens are digit strings
/// it answers zero-padded to 12 digits (`"7"` comes back as `"000000000007"`), so all-digit
/// references lose their leading zeros; everything else is kept as it is.
pub fn canonical_ref(provider: ProviderId, reference: &str) -> String {
    if provider == ProviderId::PayConex
        && !reference.is_empty()
        && reference.bytes().all(|b| b.is_ascii_digit())
    {
        let trimmed = reference.trim_start_matches('0');
        return if trimmed.is_empty() { "0" } else { trimmed }.to_owned();
    }
    reference.to_owned()
}

/// Longest caller id accepted, in characters. No provider documents a limit for the ids it
/// echoes (CardSync `id`); 128 holds any UUID, database key or composite id a billing platform
/// uses, and keeps error field paths short.
pub const MAX_CALLER_ID_CHARS: usize = 128;

/// Refuses a caller id that is empty, longer than [`MAX_CALLER_ID_CHARS`], or holds a control
/// character (ids are echoed into request bodies, logs and error field paths, where a newline or
/// an escape sequence could forge a line). The error names the card by its position, never by
/// the refused id.
#[cfg_attr(
    not(any(feature = "payconex", feature = "cardsync", feature = "acquired")),
    allow(dead_code)
)]
pub(crate) fn check_caller_id(index: usize, id: &str) -> Result<()> {
    let field = || format!("cards[{index}].id");
    if id.is_empty() {
        return Err(Error::invalid(field(), crate::error::InputProblem::Missing));
    }
    if id.chars().count() > MAX_CALLER_ID_CHARS || id.chars().any(char::is_control) {
        return Err(Error::invalid(
            field(),
            crate::error::InputProblem::Format {
                expected: format!(
                    "1 to {MAX_CALLER_ID_CHARS} characters with no control characters"
                ),
            },
        ));
    }
    Ok(())
}

fn unsupported<'a, T: Send + 'a>(provider: ProviderId, flow: Flow) -> BoxFuture<'a, Result<T>> {
    Box::pin(async move { Err(Error::Unsupported { provider, flow }) })
}

/// One interface over every account updater. Object safe: use it as `Arc<dyn Provider>`.
///
/// Every flow has a default body returning [`Error::Unsupported`]; a provider overrides what it
/// supports and declares the same set in [`Provider::capabilities`].
///
/// A one-off inquiry, its status and its results, through the trait only (here on the embedded
/// CardSync emulator, with one of CardSync's sandbox cards):
///
/// ```
/// # #[cfg(all(feature = "emulator", feature = "cardsync"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use account_updater::emulator::cardsync::CardSyncEmulator;
/// use account_updater::provider::{CardToUpdate, JobState, ResultsQuery};
/// use account_updater::providers::cardsync::CardSyncClient;
/// use account_updater::{CardNumber, Expiry, Flow, Outcome, Provider};
///
/// let emulator = CardSyncEmulator::start().await?;
/// let (_, merchant_key) = emulator.add_merchant();
/// let provider: Arc<dyn Provider> = Arc::new(
///     CardSyncClient::builder(merchant_key)
///         .base_url(emulator.base_url())
///         .build_merchant()?,
/// );
/// assert!(provider.capabilities().supports(Flow::Submit));
///
/// let card = CardNumber::parse("4457010000000009")?;
/// let receipt = provider
///     .submit(vec![CardToUpdate::pan("cust-1", card, Expiry::new(1, 2030)?)])
///     .await?;
/// assert!(receipt.is_complete());
/// let job = &receipt.accepted[0].job;
/// assert_eq!(provider.job_status(job).await?.state, JobState::Completed);
///
/// let updates = provider.fetch_results(&ResultsQuery::Job(job.clone())).await?;
/// assert_eq!(updates[0].card_id.as_deref(), Some("cust-1"));
/// assert_eq!(updates[0].outcome, Outcome::NewAccountNumber);
/// // The new number is masked wherever it is shown.
/// assert!(updates[0].masked_card().unwrap().starts_with("445701******"));
/// # Ok(()) }
/// # #[cfg(not(all(feature = "emulator", feature = "cardsync")))]
/// # fn main() {}
/// ```
pub trait Provider: Send + Sync + fmt::Debug {
    /// Which provider this is.
    fn id(&self) -> ProviderId;

    /// The flows this provider supports.
    fn capabilities(&self) -> Capabilities;

    /// Enroll cards for ongoing updates.
    fn subscribe(&self, request: SubscribeRequest) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        let _ = request;
        unsupported(self.id(), Flow::Subscribe)
    }

    /// Add cards to an existing subscription.
    fn add_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<CardToUpdate>,
    ) -> BoxFuture<'a, Result<SubmissionReceipt>> {
        let _ = (job, cards);
        unsupported(self.id(), Flow::AddCards)
    }

    /// Remove cards from updates. `cards` are [`PlacedCard`]s from a receipt (the provider's
    /// record reference is used where it needs one) or cards given again in full. Input is
    /// checked for every card before any request; then each card's outcome is in the receipt.
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        let _ = (job, cards);
        unsupported(self.id(), Flow::RemoveCards)
    }

    /// Cancel a whole subscription.
    fn cancel<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<()>> {
        let _ = job;
        unsupported(self.id(), Flow::Cancel)
    }

    /// A one-off inquiry for any number of cards, split by the provider's rules.
    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        let _ = cards;
        unsupported(self.id(), Flow::Submit)
    }

    /// The streamed form of [`Provider::submit`]: cards are pulled from `cards` as chunks are
    /// filled, each chunk's request waits for [`ChunkObserver::sending`], and its outcome goes
    /// to [`ChunkObserver::done`]. A card that breaks a rule is handed to
    /// [`ChunkObserver::rejected`] and the rest go on. The receipt keeps one record per chunk,
    /// not one per card. See [`crate::submission`].
    fn submit_stream<'a>(
        &'a self,
        cards: BoxStream<'a, CardToUpdate>,
        options: StreamOptions,
        observer: &'a mut dyn ChunkObserver,
    ) -> BoxFuture<'a, Result<StreamReceipt>> {
        let _ = (cards, options, observer);
        unsupported(self.id(), Flow::Submit)
    }

    /// Ask how a job is doing.
    fn job_status<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<JobReport>> {
        let _ = job;
        unsupported(self.id(), Flow::JobStatus)
    }

    /// Fetch per-card results.
    fn fetch_results<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<CardUpdate>>> {
        let _ = query;
        unsupported(self.id(), Flow::FetchResults)
    }

    /// Change a stored account's card or holder data.
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        let _ = request;
        unsupported(self.id(), Flow::UpdateAccount)
    }

    /// Register a webhook URL with the provider.
    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        let _ = registration;
        unsupported(self.id(), Flow::RegisterWebhook)
    }

    /// Parse, and verify where the provider signs, an incoming webhook.
    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        let _ = request;
        Err(Error::Unsupported {
            provider: self.id(),
            flow: Flow::ParseWebhook,
        })
    }
}

/// A card to take out of updates.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoveCard {
    /// A card placed by an earlier receipt (the provider's record reference is used).
    Placed(PlacedCard),
    /// A card given again in full (CardSync Amex unsubscribe needs the card and SE number).
    Card(CardToUpdate),
}

impl fmt::Debug for RemoveCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveCard::Placed(p) => write!(f, "Placed({p:?})"),
            RemoveCard::Card(c) => write!(f, "Card({c:?})"),
        }
    }
}
