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
use crate::outcome::{CardUpdate, CardUpdates};
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
    ///
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::ProviderId;
    /// assert_eq!(provider.id(), ProviderId::PayConex);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
    fn id(&self) -> ProviderId;

    /// The flows this provider supports. A flow it lacks answers [`Error::Unsupported`]
    /// without sending anything.
    ///
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::Flow;
    /// // PayConex keeps cards in scheduled subscriptions; it takes no one-off inquiries.
    /// assert!(provider.capabilities().supports(Flow::Subscribe));
    /// assert!(!provider.capabilities().supports(Flow::Submit));
    /// let refused = provider.submit(vec![card("customer-42")]).await.unwrap_err();
    /// assert_eq!(refused.kind(), account_updater::ErrorKind::Unsupported);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
    fn capabilities(&self) -> Capabilities;

    /// `true` for the crate's own providers whose [`Provider::submit_stream`] hands its input,
    /// unwrapped, to the crate's streamed driver. A one-lane [`Router`](crate::routing::Router)
    /// then lets that driver check each card's route as it reads it, instead of reading the
    /// input through a stream of its own (issue 24 asks a routed run to cost at most 1.05 × a
    /// direct one). Any other provider, a wrapper around one of the crate's included, keeps
    /// the default: it is handed only cards a rule took.
    #[doc(hidden)]
    fn streams_on_the_crate_driver(&self) -> bool {
        false
    }

    /// Enroll cards for ongoing updates.
    ///
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::provider::SubscribeRequest;
    /// let receipt = provider.subscribe(SubscribeRequest::new(vec![card("customer-42")])).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// assert!(receipt.is_complete());
    /// assert_eq!(receipt.accepted_cards(), 1);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::provider::SubscribeRequest;
    /// let receipt = provider.subscribe(SubscribeRequest::new(vec![card("customer-42")])).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// let added = provider.add_cards(&job, vec![card("customer-43")]).await?;
    /// assert_eq!(added.accepted_cards(), 1);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::provider::SubscribeRequest;
    /// let receipt = provider.subscribe(SubscribeRequest::new(vec![card("customer-42")])).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// use account_updater::provider::RemoveCard;
    /// let placed = receipt.accepted()[0].cards()[0].clone();
    /// let removal = provider.remove_cards(&job, vec![RemoveCard::Placed(placed)]).await?;
    /// assert_eq!(removal.removed(), ["customer-42"]);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::provider::SubscribeRequest;
    /// let receipt = provider.subscribe(SubscribeRequest::new(vec![card("customer-42")])).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// provider.cancel(&job).await?;
    /// // Cancelling is idempotent where the provider says the schedule is gone.
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// let receipt = provider.submit(vec![card("customer-42")]).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// assert!(receipt.is_complete());
    /// assert_eq!(receipt.accepted_cards(), 1);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::submission::{StreamOptions, card_stream};
    /// let cards = (0..12_000).map(|i| card(&format!("customer-{i}")));
    /// let receipt = provider
    ///     .submit_stream(card_stream(cards), StreamOptions::default(), &mut ())
    ///     .await?;
    /// assert!(receipt.is_complete());
    /// assert_eq!(receipt.accepted_cards(), 12_000); // two batches: at most 10,000 a batch
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// let receipt = provider.submit(vec![card("customer-42")]).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// use account_updater::provider::JobState;
    /// assert_eq!(provider.job_status(&job).await?.state, JobState::Completed);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// let receipt = provider.submit(vec![card("customer-42")]).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// use account_updater::ids::ResultsQuery;
    /// let updates = provider.fetch_results(&ResultsQuery::Job(job)).await?;
    /// assert_eq!(updates[0].card_id.as_deref(), Some("customer-42"));
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
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

    /// Fetch per-card results one at a time: the same updates as
    /// [`Provider::fetch_results`], built as they are asked for from the provider's compact
    /// decoding of the answer (CardSync), so that memory stays near the answer's own size
    /// however many cards it holds. Providers that decode into owned results hand those out.
    ///
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// let receipt = provider.submit(vec![card("customer-42")]).await?;
    /// let job = receipt.accepted()[0].job().clone();
    /// use account_updater::ids::ResultsQuery;
    /// let mut updates = provider.fetch_results_iter(&ResultsQuery::Job(job)).await?;
    /// assert_eq!(updates.len(), 1);
    /// for update in &mut updates {
    ///     assert_eq!(update.card_id.as_deref(), Some("customer-42"));
    /// }
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`Provider::fetch_results`]: every request is made, and every answer checked,
    /// before the first update is handed out (iterating cannot fail).
    fn fetch_results_iter<'a>(
        &'a self,
        query: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<CardUpdates>> {
        Box::pin(async move { self.fetch_results(query).await.map(CardUpdates::from_vec) })
    }

    /// Change a stored account's card or holder data.
    ///
    /// ```
    /// # #[cfg(feature = "accountvault")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = account_updater::providers::accountvault::AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// use account_updater::provider::{AccountUpdateRequest, NewCardData};
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::providers::accountvault::DuplicateCheck;
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner).card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let account_id = client.create_account(&account, DuplicateCheck::Off).await?.account_id.unwrap();
    /// // The network said the card's expiry moved: store the new one.
    /// let change = AccountUpdateRequest::new(&account_id)
    ///     .card(NewCardData::new(None, Some(Expiry::new(6, 2031)?)));
    /// let receipt = provider.update_account(change).await?;
    /// assert_eq!(receipt.account_id, account_id);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "accountvault"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::provider::WebhookRegistration;
    /// let url = "https://billing.example/hooks/cardsync".parse()?;
    /// let receipt = provider.register_webhook(WebhookRegistration::new(url)).await?;
    /// assert_eq!(receipt.events.len(), 4); // CardSync's triggers 20 to 23
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "payconex")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::webhook::{WebhookKind, WebhookRequest};
    /// use account_updater::webhook::HeaderMap;
    /// let body = br#"{"event":"ACCOUNT_UPDATER_BATCH_UPDATES","updateId":"aupres_1"}"#;
    /// let event = provider.parse_webhook(&WebhookRequest::new(&HeaderMap::new(), body))?;
    /// assert_eq!(event.kind, WebhookKind::UpdatesAvailable);
    /// // Unsigned: a hint of where to look, the results are fetched from the provider.
    /// assert!(event.results_query().is_some());
    /// # Ok(()) }
    /// # #[cfg(not(feature = "payconex"))]
    /// # fn main() {}
    /// ```
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
    /// ```
    /// # #[cfg(feature = "cardsync")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::provider::{CardToUpdate, Provider};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # let (_, merchant_key) = emulator.add_merchant();
    /// # let client = account_updater::providers::cardsync::CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// # let provider: &dyn Provider = &client;
    /// # let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # let card = |id: &str| CardToUpdate::pan(id, number.clone(), Expiry::new(1, 2030).unwrap());
    /// use account_updater::{ErrorKind, Flow};
    /// let amex = CardNumber::parse(&with_check_digit("34213233556677").unwrap())?;
    /// // CardSync takes an Amex card only with its merchant's SE number: refused, nothing sent.
    /// let without_se = CardToUpdate::pan("customer-7", amex.clone(), Expiry::new(1, 2030)?);
    /// let refused = provider.check_card(Flow::Submit, &without_se).unwrap_err();
    /// assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    /// let with_se = without_se.with_amex_se_number("1234567890");
    /// provider.check_card(Flow::Submit, &with_se)?;
    /// # Ok(()) }
    /// # #[cfg(not(feature = "cardsync"))]
    /// # fn main() {}
    /// ```
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
