//! The unified layer: the [`Provider`] trait, what each provider can do ([`Capabilities`],
//! [`Flow`]), and the request and receipt types the flows exchange.
//!
//! The trait is object safe, so a billing platform can hold `Arc<dyn Provider>` values and route
//! cards between backends at run time. A flow a provider lacks returns [`Error::Unsupported`]
//! (the default body of every flow method), and [`Provider::capabilities`] says so up front.

mod receipts;
mod requests;

pub use receipts::*;
pub use requests::*;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, Result};
pub use crate::ids::{Flow, JobKind, JobRef, ProviderId, ResultsQuery};
use crate::outcome::CardUpdate;
use crate::submission::{ChunkObserver, StreamOptions, StreamReceipt};
use crate::webhook::event::{WebhookEvent, WebhookRequest};
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

/// The one rule every provider applies to a caller's list of cards before its own: the list is
/// not empty, every id is acceptable ([`check_caller_id`]) and none is given twice (the error
/// names the repeated id: `cards[id=…].id`). Ids are borrowed, never copied.
#[cfg_attr(
    not(any(feature = "payconex", feature = "cardsync", feature = "acquired")),
    allow(dead_code)
)]
pub(crate) fn check_card_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let ids = ids.into_iter();
    let mut seen: HashSet<&str, foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(ids.size_hint().0, Default::default());
    for (index, id) in ids.enumerate() {
        check_caller_id(index, id)?;
        if !seen.insert(id) {
            return Err(Error::invalid(
                format!("cards[id={id}].id"),
                crate::error::InputProblem::Duplicate,
            ));
        }
    }
    if seen.is_empty() {
        return Err(Error::invalid("cards", crate::error::InputProblem::Empty));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn refused(ids: &[&str]) -> String {
        let error = check_card_ids(ids.iter().copied()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        match error {
            Error::InvalidInput(e) => format!("{} {:?}", e.field, e.problem),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_card_list_rule_for_every_provider() {
        assert!(check_card_ids(["a", "b", "c"]).is_ok());
        assert_eq!(refused(&[]), "cards Empty");
        assert_eq!(refused(&["a", "", "c"]), "cards[1].id Missing");
        assert!(refused(&["a", "b\nforged"]).starts_with("cards[1].id Format"));
        assert_eq!(refused(&["a", "b", "a"]), "cards[id=a].id Duplicate");
    }
}
