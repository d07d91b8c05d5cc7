//! The unified layer: the [`Provider`] trait, what each provider can do ([`Capabilities`],
//! [`Flow`]), and the request and receipt types the flows exchange.
//!
//! The trait is object safe, so a billing platform can hold `Arc<dyn Provider>` values and route
//! cards between backends at run time. A flow a provider lacks returns [`Error::Unsupported`]
//! (the default body of every flow method), and [`Provider::capabilities`] says so up front.

use crate::ids::{Flow, JobRef, ProviderId, ResultsQuery};
pub use crate::model::BoxFuture;
pub use crate::model::receipts::*;
pub use crate::model::requests::*;
pub use crate::model::{MAX_CALLER_ID_CHARS, check_caller_id, check_card_ids};

use std::fmt;

use crate::error::{Error, Result};
use crate::model::{ChunkObserver, StreamOptions, StreamReceipt, WebhookEvent, WebhookRequest};
use crate::outcome::CardUpdate;
use futures::stream::BoxStream;

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

    /// The set of the given flows (a `const fn`: each client states its set as a constant,
    /// known before a client is built).
    pub const fn of(flows: &[Flow]) -> Self {
        let mut set = Self::none();
        let mut i = 0;
        while i < flows.len() {
            set = set.with(flows[i]);
            i += 1;
        }
        set
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
/// # #[cfg(feature = "cardsync")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use account_updater_emulator::cardsync::CardSyncEmulator;
/// use account_updater::{provider::{CardToUpdate, JobState}, ids::{ResultsQuery}};
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
/// let job = receipt.accepted()[0].job();
/// assert_eq!(provider.job_status(job).await?.state, JobState::Completed);
///
/// let updates = provider.fetch_results(&ResultsQuery::Job(job.clone())).await?;
/// assert_eq!(updates[0].card_id.as_deref(), Some("cust-1"));
/// assert_eq!(updates[0].outcome, Outcome::NewAccountNumber);
/// // The new number is masked wherever it is shown.
/// assert!(updates[0].masked_card().unwrap().starts_with("445701******"));
/// # Ok(()) }
/// # #[cfg(not(feature = "cardsync"))]
/// # fn main() {}
/// ```
pub trait Provider: Send + Sync + fmt::Debug {
    /// Which provider this is.
    fn id(&self) -> ProviderId;

    /// The flows this provider supports.
    fn capabilities(&self) -> Capabilities;

    /// Enroll cards for ongoing updates.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] before any request when a card breaks the provider's rules
    /// ([`Provider::check_card`] with [`Flow::Subscribe`]) or two share an id. Once requests
    /// start, each chunk's outcome is in the receipt; a chunk the provider may have acted on
    /// is marked so and never sent again by the crate.
    fn subscribe(&self, request: SubscribeRequest) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        let _ = request;
        unsupported(self.id(), Flow::Subscribe)
    }

    /// Add cards to an existing subscription.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] before any request when `job` is not one of this provider's
    /// subscriptions or a card breaks its rules; then as [`Provider::subscribe`].
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
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] for a card or `job` that breaks the provider's rules, before
    /// any request; after that, each card's outcome (removed, not found, failed) is in the
    /// receipt.
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        let _ = (job, cards);
        unsupported(self.id(), Flow::RemoveCards)
    }

    /// Cancel a whole subscription.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] when `job` is not a subscription of this provider. Cancelling
    /// one already cancelled is success where the provider answers 404 or 410 to a retry.
    fn cancel<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<()>> {
        let _ = job;
        unsupported(self.id(), Flow::Cancel)
    }

    /// A one-off inquiry for any number of cards, split by the provider's rules.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] before the first request when any card breaks the provider's
    /// rules or two share an id: the `Vec` form checks everything first. Once requests start,
    /// each chunk's outcome is in the receipt, as in [`Provider::submit_stream`].
    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        let _ = cards;
        unsupported(self.id(), Flow::Submit)
    }

    /// The streamed form of [`Provider::submit`]: cards are pulled from `cards` as chunks are
    /// filled, each chunk's request waits for [`ChunkObserver::sending`], and its outcome goes
    /// to [`ChunkObserver::done`]. A card that breaks a rule is handed to
    /// [`ChunkObserver::rejected`] and the rest go on. The receipt keeps one record per chunk,
    /// not one per card. See [`crate::submission`].
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider takes no bulk inquiries. Everything that goes
    /// wrong once the submission runs is in the receipt instead, chunk by chunk: a chunk the
    /// provider certainly did not act on is [`ChunkOutcome::Failed`](crate::submission::ChunkOutcome::Failed)
    /// (send it again), one it **may have acted on** (a timeout after sending, a 5xx, an
    /// unreadable answer) is [`ChunkOutcome::Unknown`](crate::submission::ChunkOutcome::Unknown)
    /// (check before sending again), and an observer error stops the submission
    /// ([`StreamReceipt::stopped`](crate::submission::StreamReceipt::stopped)): no chunk is
    /// sent after it.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, and no dropped future can be: dropping it aborts the requests in
    /// flight, and a request aborted after it was written may still have reached the provider.
    /// What was sent is what the observer was told: every chunk whose
    /// [`ChunkObserver::sending`] returned [`Proceed::Send`](crate::submission::Proceed::Send)
    /// and whose [`ChunkObserver::done`] was not called may have reached the provider. An
    /// observer that writes the intent in `sending` (as the journal does) has exactly those
    /// chunks as intents without an outcome, and a resumed run treats them as unknown, never
    /// sending them again on its own.
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
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] or [`Error::Unsupported`] when `job` is not this provider's, or
    /// is of a kind it keeps no status for (an Acquired inquiry, a CardSync Amex subscription).
    /// A status is read only: the provider changed nothing.
    fn job_status<'a>(&'a self, job: &'a JobRef) -> BoxFuture<'a, Result<JobReport>> {
        let _ = job;
        unsupported(self.id(), Flow::JobStatus)
    }

    /// Fetch per-card results.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] for a query this provider cannot answer (another provider's
    /// job, a missing id). Results are read only: the provider changed nothing, and the
    /// same query can be asked again.
    fn fetch_results<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<CardUpdate>>> {
        let _ = query;
        unsupported(self.id(), Flow::FetchResults)
    }

    /// Change a stored account's card or holder data.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] before any request when the new data breaks the provider's
    /// rules (an expired card, a token another provider issued, an empty change);
    /// [`Error::Conflict`] where the provider refuses a duplicate card.
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        let _ = request;
        unsupported(self.id(), Flow::UpdateAccount)
    }

    /// Register a webhook URL with the provider.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider lacks the flow (nothing is sent). Every
    /// answer and failure is classified by one error type whatever the vendor:
    /// [`Error::provider_may_have_acted`] says whether the provider may have done what was
    /// asked despite the error (a timeout after sending, a 5xx, an unreadable answer), so
    /// that nothing is resent blindly.
    /// [`Error::InvalidInput`] before any request for a registration the provider's rules
    /// refuse. Registering the same URL again asks for the same registration.
    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        let _ = registration;
        unsupported(self.id(), Flow::RegisterWebhook)
    }

    /// Parse, and verify where the provider signs, an incoming webhook.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the provider sends no webhooks; [`Error::Integrity`] for a
    /// signed webhook whose signature or hash does not verify (or is stale);
    /// [`Error::Decode`] for a body that is not the provider's webhook. No request is made.
    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        let _ = request;
        Err(Error::Unsupported {
            provider: self.id(),
            flow: Flow::ParseWebhook,
        })
    }

    /// Checks one card by this provider's input rules for `flow` ([`Flow::Submit`] or
    /// [`Flow::Subscribe`]) with no request: the same checks the flow itself makes before
    /// sending (a token another provider issued, a card number a provider does not take, an
    /// Amex card without its SE number…). A router uses it to let a refused card fall through
    /// to its next rule before anything was sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the field and the rule it breaks. The default body
    /// accepts every card: a provider that does not override it checks cards when they are
    /// submitted, and refuses them there.
    fn check_card(&self, flow: Flow, card: &CardToUpdate) -> Result<()> {
        let _ = (flow, card);
        Ok(())
    }
}
