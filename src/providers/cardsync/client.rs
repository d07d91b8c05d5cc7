//! The native CardSync clients: the partner (merchant enrollment, webhooks) and the merchant
//! (batches, Amex subscriptions, results), one method per endpoint of the v2 API.

use super::auth;
use super::bulk::BulkPlanner;
use super::operations::{
    CheckedBatch, CheckedSubscribe, CreateBatch, EnrollMerchant, GetBatchResults,
    GetBatchResultsCompact, GetBatchStatus, GetMerchantStatus, GetSubscriptionResults,
    GetSubscriptionResultsCompact, SetWebhooks, SubscribeAmex, UnsubscribeAmex,
};
use super::wire::{
    AmexCard, Batch, BatchCard, Merchant, MerchantCreated, MerchantStatus, Results, Trigger,
    WebhookTarget, Webhooks,
};
use super::{CompactResults, DEFAULT_CONCURRENCY, PROVIDER, SANDBOX_URL};
use crate::error::{Error, InputProblem, Result};
use crate::outcome::CardUpdate;
use crate::submission::{
    ChunkObserver, ReceiptCollector, StreamOptions, StreamReceipt, card_stream,
    check_all, drive,
};
use crate::transport::{Transport, TransportConfig};
use crate::webhook::WebhookEvent;
use crate::{
    ids::Flow,
    provider::{
        BoxFuture, CardToUpdate, Provider, SubmissionReceipt, WebhookReceipt, WebhookRegistration,
    },
};
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use url::Url;

/// The runnable example on both clients' `execute` and `execute_with` (either key may ask for
/// a merchant's status), written once.
macro_rules! execute_example {
    () => {
        r#"```
# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
# let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
# let (merchant_id, merchant_key) = emulator.add_merchant();
# let partner = account_updater::providers::cardsync::CardSyncPartner::builder(emulator.partner_key())
#     .base_url(emulator.base_url())
#     .build_partner()?;
# let client = partner.merchant(merchant_key)?;
use account_updater::providers::cardsync::operations::GetMerchantStatus;
use account_updater::transport::{CallOptions, RetryPolicy};
// Either key may ask for a merchant's status; enrolling takes the partner's (a merchant
// client cannot even be given `EnrollMerchant`: it does not compile).
let status = client.execute(&GetMerchantStatus { merchant_id: &merchant_id }).await?;
assert!(status.status.is_some());
let once = CallOptions::default().retry(RetryPolicy::none());
partner.execute_with(&GetMerchantStatus { merchant_id: &merchant_id }, &once).await?;
# Ok(()) }
```"#
    };
}

/// The transport for `key`, at `base_url` or else the sandbox.
pub(super) fn transport(
    base_url: Option<Url>,
    key: SecretString,
    config: TransportConfig,
) -> Result<Transport> {
    let base_url = match base_url {
        Some(url) => url,
        None => crate::transport::published_url(SANDBOX_URL)?,
    };
    if key.expose_secret().is_empty() {
        return Err(Error::invalid("api_key", InputProblem::Missing));
    }
    Transport::new(PROVIDER, base_url, Arc::new(auth::signer(key)), config)
}

/// Registers `registration`'s URL for every trigger, with the partner key first when there is
/// one and then the merchant key: an [`Error::Auth`] moves on to the next key; any other error is
/// returned.
pub(super) async fn register_all_triggers(
    partner: Option<&CardSyncPartner>,
    merchant: Option<&CardSyncClient>,
    registration: &WebhookRegistration,
) -> Result<WebhookReceipt> {
    let webhooks = Webhooks {
        webhooks: Trigger::ALL
            .iter()
            .map(|t| WebhookTarget {
                trigger_id: *t,
                url: registration.url.to_string(),
            })
            .collect(),
    };
    let set = SetWebhooks {
        webhooks: &webhooks,
    };
    let receipt = || WebhookReceipt {
        provider: PROVIDER,
        ids: Vec::new(),
        events: Trigger::ALL.iter().map(|t| t.id().to_string()).collect(),
    };
    // The keys in order, each a call not yet made (a partner's and a merchant's `execute` are
    // futures of different types, so each is boxed).
    let attempts: [Option<BoxFuture<'_, Result<()>>>; 2] = [
        partner.map(|p| Box::pin(p.execute(&set)) as BoxFuture<'_, Result<()>>),
        merchant.map(|m| Box::pin(m.execute(&set)) as BoxFuture<'_, Result<()>>),
    ];
    let mut last = None;
    for attempt in attempts.into_iter().flatten() {
        match attempt.await {
            Ok(()) => return Ok(receipt()),
            Err(e @ Error::Auth { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(Error::Unsupported {
        provider: PROVIDER,
        flow: Flow::RegisterWebhook,
    }))
}

/// Which key a [`CardSyncBuilder`] holds: the partner master key
/// ([`CardSyncPartner::builder`]) or a merchant key ([`CardSyncClient::builder`]).
pub trait CardSyncKey: sealed::Sealed {}

/// The partner master key: the builder makes a [`CardSyncPartner`].
#[derive(Debug, Clone, Copy)]
pub enum PartnerKey {}

/// A merchant key: the builder makes a [`CardSyncClient`].
#[derive(Debug, Clone, Copy)]
pub enum MerchantKey {}

impl CardSyncKey for PartnerKey {}
impl CardSyncKey for MerchantKey {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::PartnerKey {}
    impl Sealed for super::MerchantKey {}
}

/// Builds a [`CardSyncPartner`] (from [`CardSyncPartner::builder`]) or a [`CardSyncClient`]
/// (from [`CardSyncClient::builder`]): the key decides which, so a merchant key can never
/// build a partner client.
///
/// ```compile_fail
/// use account_updater::SecretString;
/// use account_updater::providers::cardsync::CardSyncClient;
///
/// // A merchant key builds a merchant client only.
/// let partner = CardSyncClient::builder(SecretString::from("api_merchantKey")).build_partner();
/// ```
#[derive(Debug)]
pub struct CardSyncBuilder<K: CardSyncKey> {
    key: SecretString,
    /// `None`: the sandbox.
    base_url: Option<Url>,
    config: TransportConfig,
    concurrency: usize,
    kind: std::marker::PhantomData<K>,
}

impl<K: CardSyncKey> CardSyncBuilder<K> {
    /// Uses any base URL (production, an emulator). Plain `http` only for loopback.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Timeouts, retries, limits, or a shared [`crate::transport::HttpClient`].
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.config = config;
        self
    }

    /// Requests kept in flight by bulk submission (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

impl CardSyncBuilder<PartnerKey> {
    /// The partner-level client.
    pub fn build_partner(self) -> Result<CardSyncPartner> {
        Ok(CardSyncPartner {
            transport: transport(self.base_url, self.key, self.config)?,
            concurrency: self.concurrency,
        })
    }
}

impl CardSyncBuilder<MerchantKey> {
    /// The merchant-level client.
    pub fn build_merchant(self) -> Result<CardSyncClient> {
        Ok(CardSyncClient {
            transport: transport(self.base_url, self.key, self.config)?,
            concurrency: self.concurrency,
            partner: None,
        })
    }
}

/// The partner-level client: enrolls merchants and registers webhooks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CardSyncPartner {
    pub(super) transport: Transport,
    concurrency: usize,
}

impl CardSyncPartner {
    /// Starts a builder for the sandbox with the partner master key.
    ///
    /// ```
    /// use account_updater::SecretString;
    /// use account_updater::providers::cardsync::CardSyncPartner;
    ///
    /// let partner = CardSyncPartner::builder(SecretString::from("api_partnerKey"))
    ///     .concurrency(4) // batches in flight at once
    ///     .build_partner()?;
    /// // Each enrolled merchant's key makes a merchant client on the same connection pool.
    /// let merchant = partner.merchant(SecretString::from("api_merchantKey"))?;
    /// assert_eq!(merchant.base_url(), partner.base_url());
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    pub fn builder(partner_key: SecretString) -> CardSyncBuilder<PartnerKey> {
        CardSyncBuilder {
            key: partner_key,
            base_url: None,
            config: TransportConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            kind: std::marker::PhantomData,
        }
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    crate::providers::common::execute_methods!("CardSync", execute_example!());

    /// A client for one merchant, from the key enrollment returned. Shares this client's HTTP
    /// connection pool, base URL, timeouts and retries: no new connections are opened.
    pub fn merchant(&self, merchant_key: SecretString) -> Result<CardSyncClient> {
        if merchant_key.expose_secret().is_empty() {
            return Err(Error::invalid("merchant_key", InputProblem::Missing));
        }
        Ok(CardSyncClient {
            transport: self
                .transport
                .with_signer(Arc::new(auth::signer(merchant_key))),
            concurrency: self.concurrency,
            partner: Some(self.clone()),
        })
    }

    /// `POST /v2/webhooks`: registers URLs for triggers 20–23.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncPartner;
    /// # let client = CardSyncPartner::builder(emulator.partner_key())
    /// #     .base_url(emulator.base_url())
    /// #     .build_partner()?;
    /// use account_updater::providers::cardsync::wire::{Trigger, WebhookTarget, Webhooks};
    /// let url = "https://billing.example/hooks/cardsync";
    /// let webhooks = Webhooks::new(Trigger::ALL.iter().map(|t| WebhookTarget::new(*t, url)).collect());
    /// client.set_webhooks(&webhooks).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. CardSync **may have registered the URLs** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an unreadable
    /// answer); it offers no way to read a registration back, and the request names the whole set
    /// (one URL per trigger), so sending the same set again is how to be sure. A refusal changed
    /// nothing.
    pub async fn set_webhooks(&self, webhooks: &Webhooks) -> Result<()> {
        self.execute(&SetWebhooks { webhooks }).await
    }

    /// `POST /v2/merchant`: enrolls a merchant; returns its id and its (secret) API key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncPartner;
    /// # let client = CardSyncPartner::builder(emulator.partner_key())
    /// #     .base_url(emulator.base_url())
    /// #     .build_partner()?;
    /// use account_updater::providers::cardsync::wire::{
    ///     CardInfo, DeliveryFrequency, Merchant, PrimaryContact, User,
    /// };
    /// let merchant = Merchant::new(
    ///     PrimaryContact::default()
    ///         .first_name("Ada").last_name("Lovelace").company("Analytical Ltd")
    ///         .address_line_1("1 Main St").city("Springfield").state("IL")
    ///         .postal_code("62701").country("US").phone("5555555555").email("ada@example.com"),
    ///     User::default()
    ///         .username("ada").email("ada@example.com").status("active").role("admin")
    ///         .create_api_key(true),
    ///     CardInfo::new(DeliveryFrequency::Weekly)
    ///         .type_of_biller("both").total_number_of_records(1000).number_of_visa(600)
    ///         .number_of_mastercard(300).number_of_discover(50).number_of_amex(50)
    ///         .amex_se_number("1234567890").mcc("5968"),
    /// )
    /// .legal_business_name("Analytical Ltd").name("Analytical").description("subscriptions")
    /// .website("example.com").phone("5555555555").receipt_email("ada@example.com")
    /// .timezone("UTC").fee_schedule_id("bqoa026g10l0v8o62315");
    /// let created = client.enroll_merchant(&merchant).await?;
    /// assert!(!created.merchant_id.is_empty());
    /// // The key it answers makes that merchant's client (the key itself never prints).
    /// let merchant_client = client.merchant(created.api_key)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when a required merchant field is missing or
    /// breaks its documented format. Otherwise what CardSync answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`] (`unauthorized`, or a key refused), [`Error::Provider`]
    /// with the envelope's `status` and message (CardSync reports failures under HTTP 200 too),
    /// [`Error::NotFound`], [`Error::RateLimited`]; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. CardSync **may have enrolled
    /// the merchant** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a
    /// 5xx, an unreadable answer): ask for its status ([`CardSyncPartner::merchant_status`]) or the
    /// enrollment webhook before sending again. It is never retried once it may have reached
    /// CardSync. A refusal changed nothing.
    pub async fn enroll_merchant(&self, merchant: &Merchant) -> Result<MerchantCreated> {
        self.execute(&EnrollMerchant { merchant }).await
    }

    /// `GET /v2/merchant?merchant_id=`: enrollment status.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncPartner;
    /// # let client = CardSyncPartner::builder(emulator.partner_key())
    /// #     .base_url(emulator.base_url())
    /// #     .build_partner()?;
    /// let (merchant_id, _key) = emulator.add_merchant();
    /// let status = client.merchant_status(&merchant_id).await?;
    /// assert!(status.status.is_some());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `merchant_id` is empty or unsafe. Otherwise
    /// what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn merchant_status(&self, merchant_id: &str) -> Result<MerchantStatus> {
        self.execute(&GetMerchantStatus { merchant_id }).await
    }
}


/// The merchant-level client: batches, Amex subscriptions and results. Implements
/// [`Provider`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CardSyncClient {
    pub(super) transport: Transport,
    pub(super) concurrency: usize,
    /// The partner's transport, when the client was derived from a partner client: webhooks
    /// are registered with the partner key (see [`Provider::register_webhook`]).
    pub(super) partner: Option<CardSyncPartner>,
}

impl CardSyncClient {
    /// Starts a builder for the sandbox with a merchant key (it builds a merchant client
    /// only: [`CardSyncBuilder::build_merchant`]).
    pub fn builder(merchant_key: SecretString) -> CardSyncBuilder<MerchantKey> {
        CardSyncBuilder {
            key: merchant_key,
            base_url: None,
            config: TransportConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            kind: std::marker::PhantomData,
        }
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    crate::providers::common::execute_methods!("CardSync", execute_example!());

    /// `POST /v2/webhooks` with this merchant's key (which key the service expects is not
    /// documented; the partner client has the same call).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::{Trigger, WebhookTarget, Webhooks};
    /// let url = "https://billing.example/hooks/cardsync";
    /// let webhooks = Webhooks::new(Trigger::ALL.iter().map(|t| WebhookTarget::new(*t, url)).collect());
    /// client.set_webhooks(&webhooks).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. CardSync **may have registered the URLs** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an unreadable
    /// answer); it offers no way to read a registration back, and the request names the whole set
    /// (one URL per trigger), so sending the same set again is how to be sure. A refusal changed
    /// nothing.
    pub async fn set_webhooks(&self, webhooks: &Webhooks) -> Result<()> {
        self.execute(&SetWebhooks { webhooks }).await
    }

    /// `GET /v2/merchant?merchant_id=` with this merchant's key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// // A merchant's key reads its own enrollment.
    /// let status = client.merchant_status(&merchant_id).await?;
    /// assert!(status.status.is_some());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `merchant_id` is empty or unsafe. Otherwise
    /// what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn merchant_status(&self, merchant_id: &str) -> Result<MerchantStatus> {
        self.execute(&GetMerchantStatus { merchant_id }).await
    }

    /// `POST /v2/batch`: up to 10,000 Visa / Mastercard / Discover cards. Never retried once it
    /// may have reached the server. A success without `batch_id` (as the v2 example shows) is a
    /// success: `batch_id` is then `None`, and the "batch available" webhook names the batch.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::BatchCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let batch = client
    ///     .create_batch(&[BatchCard::new("customer-42", card, Expiry::new(1, 2030)?)])
    ///     .await?;
    /// let batch_id = batch.batch_id.expect("the emulator answers the id");
    /// assert_eq!(emulator.batch_cards_received(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when there are no cards or more than 10,000, an
    /// id is empty, repeated or unsafe, or a card is American Express (Amex goes to
    /// [`CardSyncClient::subscribe_amex`]). Otherwise what CardSync answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`] (`unauthorized`, or a key refused), [`Error::Provider`]
    /// with the envelope's `status` and message (CardSync reports failures under HTTP 200 too),
    /// [`Error::NotFound`], [`Error::RateLimited`]; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. CardSync **may have created the
    /// batch** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx,
    /// an unreadable answer): wait for the "batch available" webhook or ask CardSync before sending
    /// again. It is never retried once it may have reached CardSync. A refusal changed nothing.
    pub async fn create_batch(&self, cards: &[BatchCard]) -> Result<Batch> {
        self.execute(&CreateBatch { cards }).await
    }

    pub(super) async fn post_batch(&self, body: Vec<u8>) -> Result<Batch> {
        self.execute(&CheckedBatch { body: body.into() }).await
    }

    /// `GET /v2/batch?batch_id=`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::BatchCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let batch = client
    ///     .create_batch(&[BatchCard::new("customer-42", card, Expiry::new(1, 2030)?)])
    ///     .await?;
    /// let batch_id = batch.batch_id.expect("the emulator answers the id");
    /// use account_updater::providers::cardsync::wire::BatchState;
    /// let status = client.batch_status(&batch_id).await?;
    /// // Pending until the networks answer; the emulator answers at once.
    /// assert_eq!(status.status, Some(BatchState::Completed));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `batch_id` is empty or unsafe. Otherwise
    /// what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn batch_status(&self, batch_id: &str) -> Result<Batch> {
        self.execute(&GetBatchStatus { batch_id }).await
    }

    /// `GET /v2/batch/results?batch_id=&event_id=` (`event_id` optional once completed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::BatchCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let batch = client
    ///     .create_batch(&[BatchCard::new("customer-42", card, Expiry::new(1, 2030)?)])
    ///     .await?;
    /// let batch_id = batch.batch_id.expect("the emulator answers the id");
    /// let results = client.batch_results(&batch_id, None).await?;
    /// assert_eq!(results.cards.len(), 1);
    /// assert_eq!(results.cards[0].id, "customer-42");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `batch_id` (or a given `event_id`) is empty
    /// or unsafe. Otherwise what CardSync answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`] (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's
    /// `status` and message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn batch_results(&self, batch_id: &str, event_id: Option<&str>) -> Result<Results> {
        self.execute(&GetBatchResults { batch_id, event_id }).await
    }

    /// [`CardSyncClient::batch_results`] decoded compactly: the body is kept with a 24-byte
    /// index per card instead of one owned struct per card (see [`CompactResults`]), for the
    /// 10,000-card pages of a large batch. Same request, same errors.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::BatchCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let batch = client
    ///     .create_batch(&[BatchCard::new("customer-42", card, Expiry::new(1, 2030)?)])
    ///     .await?;
    /// let batch_id = batch.batch_id.expect("the emulator answers the id");
    /// let results = client.batch_results_compact(&batch_id, None).await?;
    /// assert_eq!(results.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `batch_id` (or a given `event_id`) is empty
    /// or unsafe. Otherwise what CardSync answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`] (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's
    /// `status` and message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn batch_results_compact(
        &self,
        batch_id: &str,
        event_id: Option<&str>,
    ) -> Result<CompactResults> {
        let results = GetBatchResults { batch_id, event_id };
        self.execute(&GetBatchResultsCompact { results }).await
    }

    /// [`CardSyncClient::subscription_results`] decoded compactly (see [`CompactResults`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::{Trigger, WebhookTarget, Webhooks};
    /// use account_updater::providers::cardsync::parse_webhook;
    /// use account_updater_emulator::WebhookSink;
    /// use std::time::Duration;
    /// let sink = WebhookSink::start().await?; // a local receiver standing in for yours
    /// let url = sink.url().to_string();
    /// let webhooks = Webhooks::new(Trigger::ALL.iter().map(|t| WebhookTarget::new(*t, url.as_str())).collect());
    /// client.set_webhooks(&webhooks).await?;
    /// use account_updater::providers::cardsync::wire::AmexCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("34213233556677").unwrap())?;
    /// let cards = [AmexCard::new("1234567890", "customer-7", card, Expiry::new(1, 2030)?)];
    /// client.subscribe_amex(&cards).await?;
    /// // CardSync announces Amex results by webhook (trigger 23), naming the event.
    /// let hook = sink.next(Duration::from_secs(10)).await.expect("the Amex webhook");
    /// let event = parse_webhook(&hook.body)?;
    /// let event_id = event.raw["event_id"].as_str().unwrap();
    /// let results = client.subscription_results_compact(event_id).await?;
    /// assert_eq!(results.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `event_id` is empty or unsafe. Otherwise
    /// what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn subscription_results_compact(&self, event_id: &str) -> Result<CompactResults> {
        let results = GetSubscriptionResults { event_id };
        self.execute(&GetSubscriptionResultsCompact { results }).await
    }

    /// `POST /v2/subscribe`: up to 10,000 Amex cards, each with its SE number. Never retried
    /// once it may have reached the server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::AmexCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("34213233556677").unwrap())?;
    /// let cards = [AmexCard::new("1234567890", "customer-7", card, Expiry::new(1, 2030)?)];
    /// client.subscribe_amex(&cards).await?;
    /// assert_eq!(emulator.subscription_count(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when there are no cards or more than 10,000, an
    /// id is empty, repeated or unsafe, a card is not American Express, or an SE number is missing.
    /// Otherwise what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. CardSync **may have subscribed the cards** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an unreadable
    /// answer): the effect of a repeat is not documented, so check the next results before sending
    /// again. It is never retried once it may have reached CardSync. A refusal changed nothing.
    pub async fn subscribe_amex(&self, cards: &[AmexCard]) -> Result<()> {
        self.execute(&SubscribeAmex { cards }).await
    }

    pub(super) async fn post_subscribe(&self, body: Vec<u8>) -> Result<()> {
        self.execute(&CheckedSubscribe { body: body.into() }).await
    }

    /// `DELETE /v2/subscribe` with the same body: stops updates (and billing) for each card / SE
    /// pair. Not retried automatically (the effect of a repeat is not documented).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::AmexCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("34213233556677").unwrap())?;
    /// let cards = [AmexCard::new("1234567890", "customer-7", card, Expiry::new(1, 2030)?)];
    /// client.subscribe_amex(&cards).await?;
    /// client.unsubscribe_amex(&cards).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when there are no cards or more than 10,000, an
    /// id is empty, repeated or unsafe, a card is not American Express, or an SE number is missing.
    /// Otherwise what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. CardSync **may have unsubscribed the cards** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an unreadable
    /// answer): the effect of a repeat is not documented, so check the next results before sending
    /// again. It is never retried once it may have reached CardSync. A refusal changed nothing.
    pub async fn unsubscribe_amex(&self, cards: &[AmexCard]) -> Result<()> {
        self.execute(&UnsubscribeAmex { cards }).await
    }

    /// `GET /v2/subscription/results?event_id=`: the Amex updates a trigger-23 webhook announced.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::{Trigger, WebhookTarget, Webhooks};
    /// use account_updater::providers::cardsync::parse_webhook;
    /// use account_updater_emulator::WebhookSink;
    /// use std::time::Duration;
    /// let sink = WebhookSink::start().await?; // a local receiver standing in for yours
    /// let url = sink.url().to_string();
    /// let webhooks = Webhooks::new(Trigger::ALL.iter().map(|t| WebhookTarget::new(*t, url.as_str())).collect());
    /// client.set_webhooks(&webhooks).await?;
    /// use account_updater::providers::cardsync::wire::AmexCard;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("34213233556677").unwrap())?;
    /// let cards = [AmexCard::new("1234567890", "customer-7", card, Expiry::new(1, 2030)?)];
    /// client.subscribe_amex(&cards).await?;
    /// // CardSync announces Amex results by webhook (trigger 23), naming the event.
    /// let hook = sink.next(Duration::from_secs(10)).await.expect("the Amex webhook");
    /// let event = parse_webhook(&hook.body)?;
    /// let event_id = event.raw["event_id"].as_str().unwrap();
    /// let results = client.subscription_results(event_id).await?;
    /// assert_eq!(results.cards.len(), 1);
    /// assert_eq!(results.cards[0].id, "customer-7");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `event_id` is empty or unsafe. Otherwise
    /// what CardSync answered, mapped in one place (`response.rs`): [`Error::Auth`]
    /// (`unauthorized`, or a key refused), [`Error::Provider`] with the envelope's `status` and
    /// message (CardSync reports failures under HTTP 200 too), [`Error::NotFound`],
    /// [`Error::RateLimited`]; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn subscription_results(&self, event_id: &str) -> Result<Results> {
        self.execute(&GetSubscriptionResults { event_id }).await
    }

    /// Bulk submission: any number of cards. Visa / Mastercard / Discover go into batches of at
    /// most 10,000 (in input order); Amex cards go into subscribe requests grouped per SE
    /// number. Everything is validated before the first request; then requests are sent with
    /// bounded concurrency and **never repeated** once they may have reached the server.
    ///
    /// The receipt places every card id exactly once: in an accepted batch (its `batch_id`), an
    /// accepted subscription request (job id = SE number), or a failed chunk with its error.
    /// This is the convenience form of [`CardSyncClient::submit_stream`], which keeps no
    /// per-card state and takes the cards from an iterator or stream.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::provider::CardToUpdate;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let visa = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let amex = CardNumber::parse(&with_check_digit("34213233556677").unwrap())?;
    /// let cards = vec![
    ///     CardToUpdate::pan("customer-42", visa, Expiry::new(1, 2030)?),
    ///     CardToUpdate::pan("customer-7", amex, Expiry::new(1, 2030)?).with_amex_se_number("1234567890"),
    /// ];
    /// // One batch for the Visa card, one subscription for the Amex card's SE number.
    /// let receipt = client.submit_cards(cards).await?;
    /// assert!(receipt.is_complete());
    /// assert_eq!(receipt.accepted().len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when a card breaks a rule of
    /// [`Provider::check_card`] (a token, a missing expiry, an Amex card without SE number, an SE
    /// number on another brand) or two cards share an id: nothing is sent. Once requests start,
    /// every failure is in the receipt, chunk by chunk, never an error: a chunk CardSync may have
    /// acted on is marked so, and is never sent again by the crate.
    pub async fn submit_cards(&self, cards: Vec<CardToUpdate>) -> Result<SubmissionReceipt> {
        check_all(&BulkPlanner::default(), &cards)?;
        let mut collector = ReceiptCollector::default();
        let streamed = self
            .submit_stream(card_stream(cards), StreamOptions::prechecked(), &mut collector)
            .await;
        collector.into_receipt(streamed)
    }

    /// Streamed bulk submission (see [`crate::submission`]): cards are validated as their chunk
    /// fills, a batch goes out as soon as it holds 10,000 cards (an SE number's subscribe
    /// request likewise), and at most the client's concurrency (default
    /// [`DEFAULT_CONCURRENCY`]) requests are in flight. Open chunks hold at most
    /// [`MAX_OPEN_CARDS`](super::MAX_OPEN_CARDS) cards between them: past that, the largest open Amex group is sent
    /// early, so many SE numbers cannot make memory grow.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::provider::CardToUpdate;
    /// use account_updater::submission::{StreamOptions, card_stream};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// // Any stream of cards: read from a file or a database cursor as it goes.
    /// let cards = (0..25_000).map(|i| {
    ///     CardToUpdate::pan(format!("customer-{i}"), number.clone(), Expiry::new(1, 2030).unwrap())
    /// });
    /// let receipt = client
    ///     .submit_stream(card_stream(cards), StreamOptions::default(), &mut ())
    ///     .await;
    /// assert!(receipt.is_complete());
    /// assert_eq!(receipt.accepted_cards(), 25_000);
    /// assert_eq!(emulator.batch_count(), 3); // at most 10,000 cards a batch
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// None as a whole: a card refused as input, a chunk refused, a chunk CardSync may have acted
    /// on, each is in the receipt, as [`Provider::submit_stream`] describes.
    ///
    /// # Cancel safety
    ///
    /// As [`Provider::submit_stream`]: a dropped submission may have sent exactly the chunks whose
    /// requests had started; the observer has been told of each before its request.
    pub async fn submit_stream(
        &self,
        cards: BoxStream<'_, CardToUpdate>,
        options: StreamOptions,
        observer: &mut dyn ChunkObserver,
    ) -> StreamReceipt {
        drive(
            PROVIDER,
            cards,
            BulkPlanner::default(),
            Arc::new(self.clone()),
            &options,
            self.concurrency,
            observer,
        )
        .await
    }
}

impl CardSyncClient {
    /// Fetches the authoritative results a parsed (unsigned) webhook points to. The same verb
    /// and answer as PayConex's: an event that announces no results (an enrollment) has none
    /// to fetch.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = account_updater_emulator::cardsync::CardSyncEmulator::start().await?;
    /// # use account_updater::providers::cardsync::CardSyncClient;
    /// # let (merchant_id, merchant_key) = emulator.add_merchant();
    /// # let client = CardSyncClient::builder(merchant_key)
    /// #     .base_url(emulator.base_url())
    /// #     .build_merchant()?;
    /// use account_updater::providers::cardsync::wire::{BatchCard, Trigger, WebhookTarget, Webhooks};
    /// use account_updater::providers::cardsync::parse_webhook;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// use account_updater_emulator::WebhookSink;
    /// use std::time::Duration;
    /// let sink = WebhookSink::start().await?; // a local receiver standing in for yours
    /// let url = sink.url().to_string();
    /// let webhooks = Webhooks::new(Trigger::ALL.iter().map(|t| WebhookTarget::new(*t, url.as_str())).collect());
    /// client.set_webhooks(&webhooks).await?;
    /// let card = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// client.create_batch(&[BatchCard::new("customer-42", card, Expiry::new(1, 2030)?)]).await?;
    /// // CardSync POSTs trigger 20 when the batch is done: unsigned, only a hint of where to look.
    /// let hook = sink.next(Duration::from_secs(10)).await.expect("the batch webhook");
    /// let event = parse_webhook(&hook.body)?;
    /// let results = client.fetch_results_for(&event).await?;
    /// assert_eq!(results.len(), 1);
    /// assert_eq!(results[0].card_id.as_deref(), Some("customer-42"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`CardSyncClient::batch_results`]: a GET, so nothing was changed at the provider.
    pub async fn fetch_results_for(&self, event: &WebhookEvent) -> Result<Vec<CardUpdate>> {
        match event.results_query() {
            Some(q) => self.fetch_results(q).await,
            None => Ok(Vec::new()),
        }
    }
}

impl CardSyncClient {
    /// The variables [`CardSyncClient::from_env`] reads.
    pub const ENV: crate::env::EnvVars =
        crate::env::EnvVars::new(&["CARDSYNC_MERCHANT_API_KEY"], &["CARDSYNC_BASE_URL"]);

    /// A merchant client's builder from the environment: `CARDSYNC_MERCHANT_API_KEY`, with
    /// `CARDSYNC_BASE_URL` (default: the sandbox) when set. `None` when the key is not set.
    ///
    /// ```
    /// use account_updater::providers::cardsync::CardSyncClient;
    ///
    /// # assert!(std::env::var("CARDSYNC_MERCHANT_API_KEY").is_err());
    /// assert!(CardSyncClient::from_env()?.is_none());
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming `CARDSYNC_BASE_URL` when it does not parse.
    pub fn from_env() -> Result<Option<CardSyncBuilder<MerchantKey>>> {
        let Some(env) = Self::ENV.read()? else {
            return Ok(None);
        };
        let mut builder =
            Self::builder(env.secret("CARDSYNC_MERCHANT_API_KEY").unwrap_or_default());
        if let Some(url) = env.url("CARDSYNC_BASE_URL")? {
            builder = builder.base_url(url);
        }
        Ok(Some(builder))
    }
}

impl CardSyncPartner {
    /// The variables [`CardSyncPartner::from_env`] reads.
    pub const ENV: crate::env::EnvVars =
        crate::env::EnvVars::new(&["CARDSYNC_API_KEY"], &["CARDSYNC_BASE_URL"]);

    /// A partner client's builder from the environment: `CARDSYNC_API_KEY` (the partner master
    /// key), with `CARDSYNC_BASE_URL` (default: the sandbox) when set. `None` when the key is
    /// not set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming `CARDSYNC_BASE_URL` when it does not parse.
    pub fn from_env() -> Result<Option<CardSyncBuilder<PartnerKey>>> {
        let Some(env) = Self::ENV.read()? else {
            return Ok(None);
        };
        let mut builder = Self::builder(env.secret("CARDSYNC_API_KEY").unwrap_or_default());
        if let Some(url) = env.url("CARDSYNC_BASE_URL")? {
            builder = builder.base_url(url);
        }
        Ok(Some(builder))
    }
}
