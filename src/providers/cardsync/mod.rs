//! **CardSync** Universal Account Updater v2: merchant enrollment, batches of up to 10,000
//! Visa / Mastercard / Discover cards, American Express subscriptions per SE number, webhooks and
//! results (the CardSync Universal Account Updater API v2 docs at api.cardsync.io).
//!
//! Two key levels: the partner key enrolls merchants ([`CardSyncPartner`]); the merchant key that
//! enrollment returns is used for that merchant's batches and subscriptions
//! ([`CardSyncClient`], made cheaply with [`CardSyncPartner::merchant`]). Keys travel bare in
//! `Authorization`, with no scheme.
//!
//! [`CardSyncClient::submit_cards`] takes any number of cards, splits them by the provider's
//! rules (batches of ≤ 10,000 non-Amex cards; Amex to subscriptions grouped per SE number), sends
//! with bounded concurrency and returns a receipt that places every card id exactly once.
//!
//! On the embedded emulator (the same calls work on the sandbox with your merchant key and
//! `https://sandbox.cardsync.io`):
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater::emulator::cardsync::CardSyncEmulator;
//! use account_updater::provider::CardToUpdate;
//! use account_updater::providers::cardsync::CardSyncClient;
//! use account_updater::{CardNumber, Expiry};
//!
//! let emulator = CardSyncEmulator::start().await?;
//! let (_, merchant_key) = emulator.add_merchant();
//! let client = CardSyncClient::builder(merchant_key)
//!     .base_url(emulator.base_url())
//!     .build_merchant()?;
//! let cards = vec![
//!     CardToUpdate::pan("cust-1", CardNumber::parse("4457000300000007")?, Expiry::new(1, 2030)?),
//!     CardToUpdate::pan("cust-2", CardNumber::parse("4457000900000001")?, Expiry::new(8, 2030)?),
//! ];
//! let receipt = client.submit_cards(cards).await?;
//! let batch_id = &receipt.accepted[0].job.id;
//! let results = client.batch_results_compact(batch_id, None).await?;
//! let outcomes: Vec<String> = results
//!     .card_updates(None)
//!     .map(|u| format!("{} {}", u.card_id.unwrap_or_default(), u.outcome))
//!     .collect();
//! assert_eq!(outcomes, ["cust-1 new_expiry", "cust-2 closed"]);
//! # Ok(()) }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```

mod compact;
pub mod wire;

pub use compact::{CompactResults, ResultRef};

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use futures::stream::BoxStream;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::card::{CardBrand, CardNumber};
use crate::error::{Error, InputProblem, ProviderError, Result};
use crate::outcome::CardUpdate;
use crate::provider::check_caller_id;
use crate::provider::{
    BoxFuture, Capabilities, CardSource, CardToUpdate, FailedRemoval, Flow, JobCounts, JobKind,
    JobRef, JobReport, JobState, Provider, ProviderId, RemovalReceipt, RemoveCard, ResultsQuery,
    SubmissionReceipt, SubscribeRequest, WebhookReceipt, WebhookRegistration,
};
use crate::providers::outcome_from_status;
use crate::submission::{
    Chunk, ChunkObserver, ChunkOutcome, ChunkSender, DuplicateIds, Planner, ReceiptCollector,
    StreamOptions, StreamReceipt, card_stream, check_all, drive,
};
use crate::transport::{
    AUTHORIZATION, ApiRequest, ApiResponse, SignableRequest, Signer, Transport, TransportConfig,
    check_id, sensitive_header,
};
use crate::webhook::{Authenticity, WebhookEvent, WebhookKind, WebhookRequest};

use wire::{
    AmexCard, Batch, BatchCard, BatchState, Envelope, Merchant, MerchantCreated, MerchantStatus,
    ResultCard, Results, Stats, Trigger, WebhookPayload, WebhookTarget, Webhooks,
};

/// The sandbox: the default base URL. Production is not published; pass it with `base_url`.
pub const SANDBOX_URL: &str = "https://sandbox.cardsync.io";
/// Most cards one batch or subscribe request may carry (CardSync v2 docs).
pub const MAX_CARDS_PER_REQUEST: usize = 10_000;
/// Default number of requests [`CardSyncClient::submit_cards`] keeps in flight.
pub const DEFAULT_CONCURRENCY: usize = 4;

const PROVIDER: ProviderId = ProviderId::CardSync;

/// Sends the bare key as `Authorization` (no `Bearer`, CardSync v2 docs).
#[derive(Clone)]
pub struct ApiKeySigner {
    key: SecretString,
}

impl ApiKeySigner {
    /// A signer for `key`.
    pub fn new(key: SecretString) -> Self {
        ApiKeySigner { key }
    }
}

impl fmt::Debug for ApiKeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySigner([REDACTED])")
    }
}

impl Signer for ApiKeySigner {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        request
            .headers
            .insert(AUTHORIZATION, sensitive_header(self.key.expose_secret())?);
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.key.clone()]
    }
}

/// The transport for `key`, at `base_url` or else the sandbox.
fn transport(
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
    Transport::new(PROVIDER, base_url, Arc::new(ApiKeySigner::new(key)), config)
}

/// Sends `request`, then checks the HTTP status **and** the body's `status`: CardSync reports
/// failures as `{"status":"failed"|"failure","message"|"msg":…}`, sometimes with HTTP 200.
async fn call<T: DeserializeOwned>(
    transport: &Transport,
    request: ApiRequest,
) -> Result<Envelope<T>> {
    check(&transport.send(request).await?)
}

fn check<T: DeserializeOwned>(response: &ApiResponse) -> Result<Envelope<T>> {
    let envelope = response.json::<Envelope<T>>();
    let failure = |status: &str, message: Option<&str>| {
        let mut detail = ProviderError::status(response.status.as_u16());
        if !status.is_empty() {
            detail = detail.with_code(status);
        }
        if let Some(m) = message {
            detail = detail.with_message(m);
        }
        detail
    };
    if !response.is_success() {
        let detail = match &envelope {
            Ok(e) => failure(&e.status, e.message.as_deref()),
            Err(_) => failure("", None),
        };
        return Err(response.status_error(detail));
    }
    let envelope = envelope?;
    if envelope.status != "success" {
        let detail = failure(
            if envelope.status.is_empty() {
                "missing status"
            } else {
                &envelope.status
            },
            envelope.message.as_deref(),
        );
        let unauthorized = envelope.message.as_deref() == Some("unauthorized");
        return Err(Error::refusal(PROVIDER, unauthorized, detail));
    }
    Ok(envelope)
}

/// `true` for a 2xx whose body is not CardSync's envelope: empty, or JSON without a top-level
/// `status` (the documents give no response for subscribe, unsubscribe or, in one example,
/// create-batch, so such an answer is success). A body that is an envelope is judged by its
/// `status` as always, and one that is not JSON at all (an HTML page from a proxy) is not taken
/// for a success: it is a decode error, which says the request may have reached CardSync.
fn succeeded_without_envelope(response: &ApiResponse) -> bool {
    #[derive(serde::Deserialize)]
    struct StatusProbe {
        status: Option<serde::de::IgnoredAny>,
    }
    if !response.is_success() {
        return false;
    }
    match response.body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(b'{') => {
            serde_json::from_slice::<StatusProbe>(&response.body).is_ok_and(|p| p.status.is_none())
        }
        Some(_) => serde_json::from_slice::<serde::de::IgnoredAny>(&response.body).is_ok(),
    }
}

/// A request whose answer carries nothing the client needs: success on a 2xx with no envelope
/// ([`succeeded_without_envelope`]) or an envelope that says success.
fn acknowledged(response: &ApiResponse) -> Result<()> {
    if succeeded_without_envelope(response) {
        return Ok(());
    }
    check::<serde::de::IgnoredAny>(response).map(drop)
}

/// `GET /v2/batch/results?batch_id=&event_id=`.
fn batch_results_request(batch_id: &str, event_id: Option<&str>) -> Result<ApiRequest> {
    check_id("batch_id", batch_id)?;
    let mut req = ApiRequest::new(Method::GET, "/v2/batch/results", "/v2/batch/results")
        .query("batch_id", batch_id);
    if let Some(e) = event_id.filter(|e| !e.is_empty()) {
        check_id("event_id", e)?;
        req = req.query("event_id", e);
    }
    Ok(req)
}

/// `GET /v2/subscription/results?event_id=`.
fn subscription_results_request(event_id: &str) -> Result<ApiRequest> {
    check_id("event_id", event_id)?;
    Ok(ApiRequest::new(
        Method::GET,
        "/v2/subscription/results",
        "/v2/subscription/results",
    )
    .query("event_id", event_id))
}

/// A results answer checked as every answer is (HTTP status, the body's `status`), then
/// indexed in place.
fn compact_results(response: ApiResponse) -> Result<CompactResults> {
    check::<serde::de::IgnoredAny>(&response)?;
    CompactResults::parse(response.body)
}

fn compact_results_from(status: u16, body: Vec<u8>) -> Result<CompactResults> {
    let status = reqwest::StatusCode::from_u16(status)
        .map_err(|_| Error::decode(PROVIDER, status, "not an HTTP status", b""))?;
    compact_results(ApiResponse::new(PROVIDER, status, body))
}

fn require_data<T>(envelope: Envelope<T>, what: &str, body_hint: &[u8]) -> Result<T> {
    envelope.data.ok_or_else(|| {
        Error::decode(
            PROVIDER,
            200,
            format!("{what} response has no data"),
            body_hint,
        )
    })
}

/// Registers `registration`'s URL for every trigger with the first of `transports` whose key is
/// accepted (an [`Error::Auth`] moves on to the next key; any other error is returned).
async fn register_all_triggers(
    transports: &[&Transport],
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
    let mut last = None;
    for transport in transports {
        match set_webhooks(transport, &webhooks).await {
            Ok(()) => {
                return Ok(WebhookReceipt {
                    provider: PROVIDER,
                    ids: Vec::new(),
                    events: Trigger::ALL.iter().map(|t| t.id().to_string()).collect(),
                });
            }
            Err(e @ Error::Auth { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(Error::Unsupported {
        provider: PROVIDER,
        flow: Flow::RegisterWebhook,
    }))
}

/// The partner client as a provider: it registers webhooks (with the partner key, before any
/// merchant exists, as the documents order it) and parses them. Batches and subscriptions need
/// a merchant: [`CardSyncPartner::merchant`].
impl Provider for CardSyncPartner {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[Flow::RegisterWebhook, Flow::ParseWebhook])
    }

    fn register_webhook(
        &self,
        registration: WebhookRegistration,
    ) -> BoxFuture<'_, Result<WebhookReceipt>> {
        Box::pin(async move { register_all_triggers(&[&self.transport], &registration).await })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        parse_webhook(request.body)
    }
}

async fn set_webhooks(transport: &Transport, webhooks: &Webhooks) -> Result<()> {
    if webhooks.webhooks.is_empty() {
        return Err(Error::invalid("webhooks", InputProblem::Empty));
    }
    for (i, w) in webhooks.webhooks.iter().enumerate() {
        if Url::parse(&w.url).is_err() {
            return Err(Error::invalid(
                format!("webhooks[{i}].url"),
                InputProblem::Format {
                    expected: "an absolute URL".into(),
                },
            ));
        }
    }
    let req = ApiRequest::new(Method::POST, "/v2/webhooks", "/v2/webhooks").json(webhooks);
    call::<serde_json::Value>(transport, req).await.map(drop)
}

/// Builds a [`CardSyncPartner`] or a [`CardSyncClient`].
#[derive(Debug)]
pub struct CardSyncBuilder {
    key: SecretString,
    /// `None`: the sandbox.
    base_url: Option<Url>,
    config: TransportConfig,
    concurrency: usize,
}

impl CardSyncBuilder {
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

    /// A partner-level client (the key is the partner master key).
    pub fn build_partner(self) -> Result<CardSyncPartner> {
        Ok(CardSyncPartner {
            transport: transport(self.base_url, self.key, self.config)?,
            concurrency: self.concurrency,
        })
    }

    /// A merchant-level client (the key is a merchant key).
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
    transport: Transport,
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
    pub fn builder(partner_key: SecretString) -> CardSyncBuilder {
        CardSyncBuilder {
            key: partner_key,
            base_url: None,
            config: TransportConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// A client for one merchant, from the key enrollment returned. Shares this client's HTTP
    /// connection pool, base URL, timeouts and retries: no new connections are opened.
    pub fn merchant(&self, merchant_key: SecretString) -> Result<CardSyncClient> {
        if merchant_key.expose_secret().is_empty() {
            return Err(Error::invalid("merchant_key", InputProblem::Missing));
        }
        Ok(CardSyncClient {
            transport: self
                .transport
                .with_signer(Arc::new(ApiKeySigner::new(merchant_key))),
            concurrency: self.concurrency,
            partner: Some(self.transport.clone()),
        })
    }

    /// `POST /v2/webhooks`: registers URLs for triggers 20–23.
    pub async fn set_webhooks(&self, webhooks: &Webhooks) -> Result<()> {
        set_webhooks(&self.transport, webhooks).await
    }

    /// `POST /v2/merchant`: enrolls a merchant; returns its id and its (secret) API key.
    pub async fn enroll_merchant(&self, merchant: &Merchant) -> Result<MerchantCreated> {
        validate_merchant(merchant)?;
        let req = ApiRequest::new(Method::POST, "/v2/merchant", "/v2/merchant").json(merchant);
        let response = self.transport.send(req).await?;
        let envelope = check::<serde_json::Value>(&response)?;
        // Until 2022-01-19 the id and key came at the top level, not under `data`.
        let data = match envelope.data {
            Some(data) => data,
            None => response.json::<serde_json::Value>()?,
        };
        // serde's message would quote the merchant key: keep only the fact.
        serde_json::from_value(data).map_err(|_| {
            Error::decode(
                PROVIDER,
                response.status.as_u16(),
                "merchant enrollment data of the wrong shape",
                b"(merchant enrollment data withheld)",
            )
        })
    }

    /// `GET /v2/merchant?merchant_id=`: enrollment status.
    pub async fn merchant_status(&self, merchant_id: &str) -> Result<MerchantStatus> {
        merchant_status(&self.transport, merchant_id).await
    }
}

async fn merchant_status(transport: &Transport, merchant_id: &str) -> Result<MerchantStatus> {
    check_id("merchant_id", merchant_id)?;
    let req = ApiRequest::new(Method::GET, "/v2/merchant", "/v2/merchant")
        .query("merchant_id", merchant_id);
    let env = call::<MerchantStatus>(transport, req).await?;
    Ok(env.data.unwrap_or_default())
}

fn validate_merchant(m: &Merchant) -> Result<()> {
    let required = [
        ("legal_business_name", &m.legal_business_name),
        ("name", &m.name),
        ("description", &m.description),
        ("website", &m.website),
        ("phone", &m.phone),
        ("receipt_email", &m.receipt_email),
        ("timezone", &m.timezone),
        ("fee_schedule_id", &m.fee_schedule_id),
        ("primary_contact.first_name", &m.primary_contact.first_name),
        ("primary_contact.last_name", &m.primary_contact.last_name),
        ("primary_contact.company", &m.primary_contact.company),
        (
            "primary_contact.address_line_1",
            &m.primary_contact.address_line_1,
        ),
        ("primary_contact.city", &m.primary_contact.city),
        ("primary_contact.state", &m.primary_contact.state),
        (
            "primary_contact.postal_code",
            &m.primary_contact.postal_code,
        ),
        ("primary_contact.country", &m.primary_contact.country),
        ("primary_contact.phone", &m.primary_contact.phone),
        ("primary_contact.email", &m.primary_contact.email),
        ("user.username", &m.user.username),
        ("user.email", &m.user.email),
        ("user.status", &m.user.status),
        ("user.role", &m.user.role),
        ("card_info.type_of_biller", &m.card_info.type_of_biller),
        ("card_info.mcc", &m.card_info.mcc),
    ];
    for (field, value) in required {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, InputProblem::Missing));
        }
    }
    let counts = [
        (
            "card_info.total_number_of_records",
            m.card_info.total_number_of_records,
        ),
        ("card_info.number_of_visa", m.card_info.number_of_visa),
        (
            "card_info.number_of_mastercard",
            m.card_info.number_of_mastercard,
        ),
        (
            "card_info.number_of_discover",
            m.card_info.number_of_discover,
        ),
        ("card_info.number_of_amex", m.card_info.number_of_amex),
    ];
    for (field, n) in counts {
        if n < 0 {
            return Err(Error::invalid(
                field,
                InputProblem::Format {
                    expected: "a count of zero or more".into(),
                },
            ));
        }
    }
    Ok(())
}

/// The merchant-level client: batches, Amex subscriptions and results. Implements
/// [`Provider`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CardSyncClient {
    transport: Transport,
    concurrency: usize,
    /// The partner's transport, when the client was derived from a partner client: webhooks
    /// are registered with the partner key (see [`Provider::register_webhook`]).
    partner: Option<Transport>,
}

/// Checks one request's cards: ids present and unique, ≤ 10,000, not empty, every Amex card with
/// an SE number, and (for batches) no Amex at all. Errors name the card id.
fn validate_request<'a>(
    cards: impl ExactSizeIterator<Item = (&'a str, &'a CardNumber, Option<&'a str>)>,
    amex_only: bool,
) -> Result<()> {
    let len = cards.len();
    if len == 0 {
        return Err(Error::invalid("cards", InputProblem::Empty));
    }
    if len > MAX_CARDS_PER_REQUEST {
        return Err(Error::invalid(
            "cards",
            InputProblem::TooMany {
                max: MAX_CARDS_PER_REQUEST,
                got: len,
            },
        ));
    }
    let mut seen = HashSet::with_capacity(len);
    for (i, (id, card, se)) in cards.enumerate() {
        check_caller_id(i, id)?;
        if !seen.insert(id) {
            return Err(Error::invalid(
                format!("cards[id={id}].id"),
                InputProblem::Duplicate,
            ));
        }
        check_brand(id, card.brand(), amex_only)?;
        if amex_only && se.is_none_or(str::is_empty) {
            return Err(Error::invalid(
                format!("cards[id={id}].se_number"),
                InputProblem::Missing,
            ));
        }
    }
    Ok(())
}

fn check_brand(id: &str, brand: CardBrand, amex_only: bool) -> Result<()> {
    let ok = match brand {
        CardBrand::Amex => amex_only,
        CardBrand::Visa | CardBrand::Mastercard | CardBrand::Discover => !amex_only,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let reason = if amex_only {
        format!(
            "{brand} card: subscriptions are for American Express only; send other brands in a batch"
        )
    } else if brand == CardBrand::Amex {
        "American Express cards cannot go in a batch; subscribe them with their SE number"
            .to_owned()
    } else {
        format!(
            "{brand} card: CardSync updates Visa, Mastercard, Discover and American Express only"
        )
    };
    Err(Error::invalid(
        format!("cards[id={id}].card"),
        InputProblem::NotAllowed { reason },
    ))
}

impl CardSyncClient {
    /// Starts a builder for the sandbox with a merchant key (use
    /// [`CardSyncBuilder::build_merchant`]).
    pub fn builder(merchant_key: SecretString) -> CardSyncBuilder {
        CardSyncPartner::builder(merchant_key)
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// `POST /v2/webhooks` with this merchant's key (which key the service expects is not
    /// documented; the partner client has the same call).
    pub async fn set_webhooks(&self, webhooks: &Webhooks) -> Result<()> {
        set_webhooks(&self.transport, webhooks).await
    }

    /// `GET /v2/merchant?merchant_id=` with this merchant's key.
    pub async fn merchant_status(&self, merchant_id: &str) -> Result<MerchantStatus> {
        merchant_status(&self.transport, merchant_id).await
    }

    /// `POST /v2/batch`: up to 10,000 Visa / Mastercard / Discover cards. Never retried once it
    /// may have reached the server. A success without `batch_id` (as the v2 example shows) is a
    /// success: `batch_id` is then `None`, and the "batch available" webhook names the batch.
    pub async fn create_batch(&self, cards: &[BatchCard]) -> Result<Batch> {
        validate_request(cards.iter().map(|c| (c.id.as_str(), &c.card, None)), false)?;
        self.post_batch(cards).await
    }

    async fn post_batch<C: Serialize + Sync>(&self, cards: &[C]) -> Result<Batch> {
        let req =
            ApiRequest::new(Method::POST, "/v2/batch", "/v2/batch").json(&CardsBody { cards });
        let response = self.transport.send(req).await?;
        // The v2 example answers a created batch with `status: success` and data holding no
        // `batch_id`, or no data at all: the batch exists all the same, so that is a success
        // whose id is pending (the "batch available" webhook names it), never a failure that
        // would invite a second, billed submission.
        if succeeded_without_envelope(&response) {
            return Ok(Batch::default());
        }
        let env = check::<Batch>(&response)?;
        Ok(env.data.unwrap_or_default())
    }

    /// `GET /v2/batch?batch_id=`.
    pub async fn batch_status(&self, batch_id: &str) -> Result<Batch> {
        check_id("batch_id", batch_id)?;
        let req =
            ApiRequest::new(Method::GET, "/v2/batch", "/v2/batch").query("batch_id", batch_id);
        let env = call::<Batch>(&self.transport, req).await?;
        let mut batch = require_data(env, "batch status", b"")?;
        batch.batch_id.get_or_insert_with(|| batch_id.to_owned());
        Ok(batch)
    }

    /// `GET /v2/batch/results?batch_id=&event_id=` (`event_id` optional once completed).
    pub async fn batch_results(&self, batch_id: &str, event_id: Option<&str>) -> Result<Results> {
        let req = batch_results_request(batch_id, event_id)?;
        let env = call::<Results>(&self.transport, req).await?;
        require_data(env, "batch results", b"")
    }

    /// [`CardSyncClient::batch_results`] decoded compactly: the body is kept with a 40-byte
    /// index per card instead of one owned struct per card (see [`CompactResults`]), for the
    /// 10,000-card pages of a large batch. Same request, same errors.
    pub async fn batch_results_compact(
        &self,
        batch_id: &str,
        event_id: Option<&str>,
    ) -> Result<CompactResults> {
        let req = batch_results_request(batch_id, event_id)?;
        compact_results(self.transport.send(req).await?)
    }

    /// [`CardSyncClient::subscription_results`] decoded compactly (see [`CompactResults`]).
    pub async fn subscription_results_compact(&self, event_id: &str) -> Result<CompactResults> {
        let req = subscription_results_request(event_id)?;
        compact_results(self.transport.send(req).await?)
    }

    /// `POST /v2/subscribe`: up to 10,000 Amex cards, each with its SE number. Never retried
    /// once it may have reached the server.
    pub async fn subscribe_amex(&self, cards: &[AmexCard]) -> Result<()> {
        validate_request(
            cards
                .iter()
                .map(|c| (c.id.as_str(), &c.card, Some(c.se_number.as_str()))),
            true,
        )?;
        self.post_subscribe(cards).await
    }

    async fn post_subscribe<C: Serialize + Sync>(&self, cards: &[C]) -> Result<()> {
        let req = ApiRequest::new(Method::POST, "/v2/subscribe", "/v2/subscribe")
            .json(&CardsBody { cards });
        acknowledged(&self.transport.send(req).await?)
    }

    /// `DELETE /v2/subscribe` with the same body: stops updates (and billing) for each card / SE
    /// pair. Not retried automatically (the effect of a repeat is not documented).
    pub async fn unsubscribe_amex(&self, cards: &[AmexCard]) -> Result<()> {
        validate_request(
            cards
                .iter()
                .map(|c| (c.id.as_str(), &c.card, Some(c.se_number.as_str()))),
            true,
        )?;
        let req = ApiRequest::new(Method::DELETE, "/v2/subscribe", "/v2/subscribe")
            .json(&CardsBody { cards })
            .idempotent(false);
        acknowledged(&self.transport.send(req).await?)
    }

    /// `GET /v2/subscription/results?event_id=`: the Amex updates a trigger-23 webhook announced.
    pub async fn subscription_results(&self, event_id: &str) -> Result<Results> {
        let req = subscription_results_request(event_id)?;
        let env = call::<Results>(&self.transport, req).await?;
        require_data(env, "subscription results", b"")
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
    pub async fn submit_cards(&self, cards: Vec<CardToUpdate>) -> Result<SubmissionReceipt> {
        check_all(&BulkPlanner::default(), &cards)?;
        let mut collector = ReceiptCollector::default();
        let streamed = self
            .submit_stream(
                card_stream(cards),
                StreamOptions::default().duplicate_ids(DuplicateIds::CallerGuarantees),
                &mut collector,
            )
            .await;
        collector.into_receipt(streamed)
    }

    /// Streamed bulk submission (see [`crate::submission`]): cards are validated as their chunk
    /// fills, a batch goes out as soon as it holds 10,000 cards (an SE number's subscribe
    /// request likewise), and at most the client's concurrency (default
    /// [`DEFAULT_CONCURRENCY`]) requests are in flight. Open chunks hold at most
    /// [`MAX_OPEN_CARDS`] cards between them: past that, the largest open Amex group is sent
    /// early, so many SE numbers cannot make memory grow.
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

/// Cards that may wait in open chunks (a batch and one subscribe request per SE number) before
/// the largest Amex group is sent early.
pub const MAX_OPEN_CARDS: usize = 4 * MAX_CARDS_PER_REQUEST;

/// CardSync's chunking rules: Visa / Mastercard / Discover to batches, Amex to subscribe
/// requests per SE number, 10,000 cards a request.
#[derive(Default)]
struct BulkPlanner {
    batch: Option<Chunk>,
    amex: Vec<Chunk>,
    open: usize,
}

impl Planner for BulkPlanner {
    fn check(&self, _position: u64, card: &CardToUpdate) -> Result<()> {
        let field = |f: &str| format!("cards[id={}].{f}", card.id);
        let CardSource::Pan(pan) = &card.source else {
            return Err(Error::invalid(
                field("card"),
                InputProblem::NotAllowed {
                    reason: "CardSync takes card numbers, not tokens".into(),
                },
            ));
        };
        if card.expiry.is_none() {
            return Err(Error::invalid(field("exp"), InputProblem::Missing));
        }
        let se = card.amex_se_number.as_deref().filter(|s| !s.is_empty());
        if pan.brand() == CardBrand::Amex {
            if se.is_none() {
                return Err(Error::invalid(field("se_number"), InputProblem::Missing));
            }
        } else {
            check_brand(&card.id, pan.brand(), false)?;
            if se.is_some() {
                return Err(Error::invalid(
                    field("se_number"),
                    InputProblem::NotAllowed {
                        reason: "an SE number is for American Express cards only".into(),
                    },
                ));
            }
        }
        Ok(())
    }

    fn admit(&mut self, position: u64, card: CardToUpdate) -> Option<Chunk> {
        let se = card
            .amex_se_number
            .as_deref()
            .filter(|s| !s.is_empty() && card_is_amex(&card));
        let open = match se {
            None => self
                .batch
                .get_or_insert_with(|| Chunk::new(JobKind::Batch, None)),
            Some(se) => match self.amex.iter().position(|c| c.group() == Some(se)) {
                Some(i) => &mut self.amex[i],
                None => {
                    self.amex
                        .push(Chunk::new(JobKind::Subscription, Some(se.to_owned())));
                    let last = self.amex.len() - 1;
                    &mut self.amex[last]
                }
            },
        };
        open.push(position, card);
        self.open += 1;
        if open.len() >= MAX_CARDS_PER_REQUEST {
            let full = std::mem::replace(open, Chunk::new(open.kind(), None));
            return Some(self.close(full));
        }
        if self.open > MAX_OPEN_CARDS {
            let largest = (0..self.amex.len()).max_by_key(|&i| self.amex[i].len())?;
            let chunk = self.amex.swap_remove(largest);
            return Some(self.close(chunk));
        }
        None
    }

    fn finish(&mut self) -> Option<Chunk> {
        let chunk = match self.batch.take().filter(|c| !c.is_empty()) {
            Some(batch) => batch,
            None => loop {
                let next = self.amex.pop()?;
                if !next.is_empty() {
                    break next;
                }
            },
        };
        Some(self.close(chunk))
    }
}

impl BulkPlanner {
    /// Takes a full chunk out of the open ones; an emptied Amex group is forgotten.
    fn close(&mut self, chunk: Chunk) -> Chunk {
        self.open -= chunk.len();
        self.amex.retain(|c| !c.is_empty());
        chunk
    }
}

fn card_is_amex(card: &CardToUpdate) -> bool {
    matches!(&card.source, CardSource::Pan(p) if p.brand() == CardBrand::Amex)
}

impl ChunkSender for CardSyncClient {
    fn send<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, ChunkOutcome> {
        Box::pin(async move {
            let sent = match chunk.group() {
                None => match chunk
                    .cards()
                    .iter()
                    .map(batch_ref)
                    .collect::<Result<Vec<_>>>()
                {
                    Ok(body) => self.post_batch(&body).await.map(|b| {
                        match b.batch_id.filter(|id| !id.is_empty()) {
                            Some(id) => JobRef::new(PROVIDER, JobKind::Batch, id),
                            None => JobRef::id_pending(PROVIDER, JobKind::Batch),
                        }
                    }),
                    Err(e) => Err(e),
                },
                Some(se) => match chunk
                    .cards()
                    .iter()
                    .map(|c| amex_ref(c, se))
                    .collect::<Result<Vec<_>>>()
                {
                    Ok(body) => self
                        .post_subscribe(&body)
                        .await
                        .map(|()| JobRef::new(PROVIDER, JobKind::Subscription, se)),
                    Err(e) => Err(e),
                },
            };
            match sent {
                Ok(job) => ChunkOutcome::Accepted {
                    state: if job.kind == JobKind::Batch {
                        JobState::Pending
                    } else {
                        JobState::Active
                    },
                    job,
                    card_refs: None,
                },
                Err(e) => ChunkOutcome::from_error(e),
            }
        })
    }
}

/// `{"cards": [...]}` over borrowed cards: what every batch and subscribe request sends.
#[derive(Serialize)]
struct CardsBody<'a, C> {
    cards: &'a [C],
}

#[derive(Serialize)]
struct BatchCardRef<'a> {
    id: &'a str,
    card: &'a str,
    exp: MmSlashYy,
}

#[derive(Serialize)]
struct AmexCardRef<'a> {
    se_number: &'a str,
    id: &'a str,
    card: &'a str,
    exp: MmSlashYy,
}

/// An expiry written `MM/YY` on the stack: no allocation per card in a bulk request.
struct MmSlashYy([u8; 5]);

impl MmSlashYy {
    fn new(e: crate::card::Expiry) -> Self {
        let digit = |n: u32| b'0' + (n % 10) as u8;
        let (m, y) = (e.month(), e.year() % 100);
        MmSlashYy([digit(m / 10), digit(m), b'/', digit(y / 10), digit(y)])
    }
}

impl Serialize for MmSlashYy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => Err(serde::ser::Error::custom("expiry is not ASCII")),
        }
    }
}

/// The card number and expiry of a card [`plan_submission`] admitted (it admits only card
/// numbers with an expiry; anything else is an input error here too, never a panic).
fn pan_and_exp(card: &CardToUpdate) -> Result<(&CardNumber, MmSlashYy)> {
    match (&card.source, card.expiry) {
        (CardSource::Pan(p), Some(e)) => Ok((p, MmSlashYy::new(e))),
        (CardSource::Pan(_), None) => Err(Error::invalid(
            format!("cards[id={}].exp", card.id),
            InputProblem::Missing,
        )),
        _ => Err(Error::invalid(
            format!("cards[id={}].card", card.id),
            InputProblem::NotAllowed {
                reason: "CardSync takes card numbers, not tokens".into(),
            },
        )),
    }
}

fn batch_ref(card: &CardToUpdate) -> Result<BatchCardRef<'_>> {
    let (pan, exp) = pan_and_exp(card)?;
    Ok(BatchCardRef {
        id: &card.id,
        card: pan.expose_secret(),
        exp,
    })
}

fn amex_ref<'a>(card: &'a CardToUpdate, se: &'a str) -> Result<AmexCardRef<'a>> {
    let (pan, exp) = pan_and_exp(card)?;
    Ok(AmexCardRef {
        se_number: se,
        id: &card.id,
        card: pan.expose_secret(),
        exp,
    })
}

/// Maps one result card onto the unified [`CardUpdate`], joined back by the caller's `id`.
/// For `updated_card` / `updated_expiry` the returned card and expiry are the new ones (the
/// card may have changed brand); otherwise they are the card on file.
pub fn card_update(card: ResultCard, provider_ref: Option<&str>) -> CardUpdate {
    let expiry = card.expiry();
    update_from_parts(card.id, card.status, card.card, expiry, provider_ref)
}

/// The mapping behind [`card_update`], from parts (the compact results build no `ResultCard`).
pub(crate) fn update_from_parts(
    id: String,
    status: String,
    card: Option<CardNumber>,
    expiry: Option<crate::card::Expiry>,
    provider_ref: Option<&str>,
) -> CardUpdate {
    let outcome = outcome_from_status(&status);
    let mut out = CardUpdate::new(PROVIDER, outcome, status);
    // CardSync echoes the caller's own id.
    out.card_id = Some(id).filter(|id| !id.is_empty());
    if out.outcome.has_new_card_data() {
        out.new_brand = card.as_ref().map(CardNumber::brand);
        out.new_card = card;
        out.new_expiry = expiry;
    } else {
        out.previous_card = card;
        out.previous_expiry = expiry;
    }
    out.provider_ref = provider_ref.map(str::to_owned);
    out
}

fn counts(stats: &Stats) -> JobCounts {
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

fn job_state(state: Option<&BatchState>) -> JobState {
    match state {
        Some(BatchState::Pending) | None => JobState::Pending,
        Some(BatchState::Completed) => JobState::Completed,
        Some(BatchState::Other(s)) if s == "error" || s == "failed" => JobState::Failed,
        Some(BatchState::Other(s)) => JobState::Other(s.clone()),
    }
}

/// Parses a CardSync webhook (any of triggers 20–23) into the unified event. CardSync does not
/// sign webhooks, so the event is [`Authenticity::Unsigned`]: fetch the results it points to
/// with your own key ([`CardSyncClient::fetch_results`]). The event id is the payload's `id`
/// (falling back to `event_id`, then the merchant id for trigger 21), for deduplication.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookEvent> {
    let raw: serde_json::Value = crate::webhook::parse_json_body(PROVIDER, body)?;
    if !raw.is_object() {
        return Err(Error::decode(
            PROVIDER,
            0,
            "webhook body is not an object",
            body,
        ));
    }
    let payload: WebhookPayload =
        serde_json::from_slice(body).map_err(|e| Error::decode_json(PROVIDER, 0, &e, body))?;
    let trigger = payload.trigger_id.or_else(|| {
        // The documented enrollment payload carries no trigger id.
        payload
            .merchant_id
            .as_ref()
            .map(|_| Trigger::EnrollmentComplete)
    });
    let (kind, results) = match trigger {
        Some(Trigger::BatchAvailable) => (
            WebhookKind::BatchCompleted,
            payload.batch_id.clone().map(|batch| ResultsQuery::Event {
                provider: PROVIDER,
                kind: JobKind::Batch,
                event_id: payload.event_id.clone().unwrap_or_default(),
                job_id: Some(batch),
            }),
        ),
        Some(Trigger::BatchError) => (WebhookKind::BatchFailed, None),
        Some(Trigger::EnrollmentComplete) => (WebhookKind::EnrollmentCompleted, None),
        Some(Trigger::AmexUpdate) => (
            WebhookKind::UpdatesAvailable,
            payload
                .event_id
                .clone()
                .map(|event_id| ResultsQuery::Event {
                    provider: PROVIDER,
                    kind: JobKind::Subscription,
                    event_id,
                    job_id: None,
                }),
        ),
        Some(Trigger::Other(n)) => (WebhookKind::Other(n.to_string()), None),
        None => {
            return Err(Error::decode(
                PROVIDER,
                0,
                "webhook has no trigger_id",
                body,
            ));
        }
    };
    let id = payload
        .id
        .clone()
        .or_else(|| payload.event_id.clone())
        .or_else(|| {
            payload
                .merchant_id
                .clone()
                .map(|m| format!("enrollment:{m}"))
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::decode(PROVIDER, 0, "webhook has no id", body))?;
    Ok(WebhookEvent {
        provider: PROVIDER,
        id,
        kind,
        authenticity: Authenticity::Unsigned,
        results,
        updates: Vec::new(),
        message: payload.message.clone().filter(|m| !m.is_empty()),
        unauthenticated_fields: Vec::new(),
        raw,
    })
}

/// Refuses a job that is not a CardSync Amex subscription: its id is an SE number, and a batch
/// id sent as an SE number would unsubscribe nothing (or the wrong merchant's cards).
fn require_amex_subscription(job: &JobRef) -> Result<()> {
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
fn amex_cards(job: &JobRef, cards: Vec<CardToUpdate>) -> Result<Vec<AmexCard>> {
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
                CardSource::Token(_) => Err(Error::invalid(
                    format!("cards[id={}].card", c.id),
                    InputProblem::NotAllowed {
                        reason: "CardSync takes card numbers, not tokens".into(),
                    },
                )),
            }
        })
        .collect()
}

impl Provider for CardSyncClient {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    /// Cancel is not offered: CardSync has no subscription object to delete, only card / SE
    /// pairs, so stopping updates is [`Provider::remove_cards`] with the cards.
    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[
            Flow::Subscribe,
            Flow::AddCards,
            Flow::RemoveCards,
            Flow::Submit,
            Flow::JobStatus,
            Flow::FetchResults,
            Flow::RegisterWebhook,
            Flow::ParseWebhook,
        ])
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
                let ids = chunk.iter().map(|c| c.id.clone());
                match self.unsubscribe_amex(chunk).await {
                    Ok(()) => receipt.removed.extend(ids),
                    Err(error) => receipt.failed.push(FailedRemoval {
                        card_ids: ids.collect(),
                        provider_refs: Vec::new(),
                        error,
                    }),
                }
            }
            Ok(receipt)
        })
    }

    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(self.submit_cards(cards))
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
                    (
                        self.batch_results_compact(batch, event).await?,
                        event_id.clone(),
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
            // Decoded compactly, then mapped one card at a time into a vector sized once.
            let mut updates = Vec::with_capacity(results.len());
            updates.extend(results.card_updates(Some(&reference)));
            Ok(updates)
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
            let mut transports: Vec<&Transport> = self.partner.iter().collect();
            transports.push(&self.transport);
            register_all_triggers(&transports, &registration).await
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        parse_webhook(request.body)
    }
}

impl CardSyncClient {
    /// Fetches the authoritative results a parsed (unsigned) webhook points to.
    pub async fn fetch_results_for(&self, event: &WebhookEvent) -> Result<Vec<CardUpdate>> {
        match event.results_query() {
            Some(q) => self.fetch_results(q).await,
            None => Ok(Vec::new()),
        }
    }
}
