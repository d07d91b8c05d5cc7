//! Bluefin **PayConex** Account Updater v4: scheduled subscriptions of PayConex tokens, card
//! numbers or ShieldConex tokens; webhooks; results per schedule or per `updateId`.
//!
//! [`PayConexClient`] covers all 17 account-updater and webhook endpoints (the PayConex (Bluefin) Account Updater API v4 reference)
//! with typed requests ([`wire`]) and implements the unified [`Provider`] trait.
//!
//! ```no_run
//! # async fn run() -> account_updater::Result<()> {
//! use account_updater::SecretString;
//! use account_updater::providers::payconex::{Credentials, PayConexClient};
//!
//! let client = PayConexClient::builder(
//!     "120615523104",
//!     Credentials::new("api_0c169931aa624727a6d7202ab1e9d320", SecretString::from("…".to_owned())),
//! )
//! .build()?; // certification environment, HMAC
//! let hooks = client.list_webhooks().await?;
//! # Ok(()) }
//! ```
//!
//! The same on the embedded emulator, runnable:
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater::emulator::payconex::PayConexEmulator;
//! use account_updater::provider::{CardToUpdate, Provider, SubscribeRequest};
//! use account_updater::providers::payconex::PayConexClient;
//! use account_updater::{CardNumber, Expiry};
//!
//! let emulator = PayConexEmulator::start().await?;
//! let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
//!     .base_url(emulator.base_url())
//!     .build()?;
//! let card = CardNumber::parse("4457000300000007")?;
//! let receipt = client
//!     .subscribe(SubscribeRequest::new(vec![CardToUpdate::pan("cust-1", card, Expiry::new(1, 2030)?)]))
//!     .await?;
//! assert!(receipt.is_complete());
//! assert!(client.list_webhooks().await?.is_empty());
//! # Ok(()) }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```

pub mod auth;
pub mod wire;

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::Method;
use url::Url;

use crate::card::CardNumber;
use crate::card::Expiry;
use crate::error::{Error, InputProblem, ProviderError, Result};
use crate::outcome::CardUpdate;
use crate::provider::{
    AcceptedJob, BoxFuture, Cadence, Capabilities, CardSource, CardToUpdate, FailedChunk,
    FailedRemoval, Flow, JobCounts, JobKind, JobRef, JobReport, JobState, PlacedCard, Provider,
    ProviderId, RemovalReceipt, RemoveCard, ResultsQuery, SubmissionReceipt, SubscribeRequest,
    WebhookReceipt, WebhookRegistration,
};
use crate::provider::{canonical_ref, check_caller_id};
use crate::providers::{lenient, outcome_from_status};
use crate::transport::{ApiRequest, ApiResponse, Signer, Transport, TransportConfig, path_segment};
use crate::webhook::{Authenticity, WebhookEvent, WebhookKind, WebhookRequest, parse_json_body};

pub use auth::{AuthMethod, Credentials};
use wire::{
    ApiViolation, NewValue, PanRecord, PanSubscription, PeriodDate, PeriodId, ResponseFormat,
    Schedule, ShieldconexRecord, ShieldconexSubscription, SubscriptionPatch, TokenRecord,
    TokenSubscription, Update, Webhook, WebhookEventType, WebhookResponse,
};

/// The certification (testing) environment: the default.
pub const CERTIFICATION_URL: &str = "https://api-cert.payconex.net";
/// The production environment (HMAC only).
pub const PRODUCTION_URL: &str = "https://api.payconex.net";
const PRODUCTION_HOST: &str = "api.payconex.net";

const PROVIDER: ProviderId = ProviderId::PayConex;

/// The two published environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `https://api-cert.payconex.net`.
    Certification,
    /// `https://api.payconex.net`.
    Production,
}

impl Environment {
    /// The environment's base URL, as published.
    pub fn url(self) -> &'static str {
        match self {
            Environment::Certification => CERTIFICATION_URL,
            Environment::Production => PRODUCTION_URL,
        }
    }

    /// The environment's base URL, parsed.
    pub fn base_url(self) -> Result<Url> {
        crate::transport::published_url(self.url())
    }
}

/// Builds a [`PayConexClient`].
#[derive(Debug)]
pub struct PayConexBuilder {
    account_id: String,
    credentials: Credentials,
    environment: Environment,
    /// A base URL that overrides the environment's.
    base_url: Option<Url>,
    auth: AuthMethod,
    config: TransportConfig,
}

impl PayConexBuilder {
    /// Uses one of the published environments (and forgets a base URL set before).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self.base_url = None;
        self
    }

    /// Uses any base URL (an emulator, a proxy). Plain `http` only for loopback.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Chooses HMAC (default) or Basic.
    pub fn auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    /// Timeouts, retries, limits, or a shared [`crate::transport::HttpClient`].
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.config = config;
        self
    }

    /// Validates the settings and builds the client. Refuses an account id that is not 12
    /// digits, and Basic auth against production ("only available in the certification
    /// environment", PayConex Account Updater v4 reference).
    pub fn build(self) -> Result<PayConexClient> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                "account_id",
                InputProblem::Format {
                    expected: "12 digits".into(),
                },
            ));
        }
        if self.credentials.key_id().is_empty() {
            return Err(Error::invalid("credentials.key_id", InputProblem::Missing));
        }
        let base_url = match self.base_url {
            Some(url) => url,
            None => self.environment.base_url()?,
        };
        if self.auth == AuthMethod::Basic
            && base_url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(PRODUCTION_HOST))
        {
            return Err(Error::invalid(
                "auth",
                InputProblem::NotAllowed {
                    reason: "PayConex accepts Basic auth only in certification; production requires HMAC".into(),
                },
            ));
        }
        let signer: Arc<dyn Signer> = match self.auth {
            AuthMethod::Hmac => Arc::new(auth::HmacSigner::new(self.credentials)),
            AuthMethod::Basic => Arc::new(auth::BasicSigner::new(self.credentials)),
        };
        let transport = Transport::new(PROVIDER, base_url, signer, self.config)?;
        Ok(PayConexClient {
            transport,
            account_id: self.account_id,
        })
    }
}

/// The PayConex v4 account-updater and webhook client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PayConexClient {
    transport: Transport,
    account_id: String,
}

/// The two keys that make a 2xx body an `ApiViolation`, read without building anything.
#[derive(serde::Deserialize)]
struct ViolationProbe {
    #[serde(rename = "errorType")]
    error_type: Option<serde::de::IgnoredAny>,
    #[serde(rename = "errorCode")]
    error_code: Option<serde::de::IgnoredAny>,
}

/// `true` when a 2xx body is an `ApiViolation` object. Only objects are probed (a JSON array,
/// such as the webhook list, would otherwise be read positionally into the probe's fields).
fn is_violation(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<ViolationProbe>(body)
            .is_ok_and(|p| p.error_type.is_some() || p.error_code.is_some())
}

fn check(response: ApiResponse) -> Result<ApiResponse> {
    if response.is_success() {
        // A 2xx whose body is an ApiViolation is a failure too: the lenient response types
        // would otherwise read it as an empty success. The probe allocates nothing, so the
        // common success path costs one scan of the body and no `serde_json::Value`.
        if is_violation(&response.body) {
            let parsed: ApiViolation = serde_json::from_slice(&response.body).unwrap_or_default();
            return Err(Error::Provider {
                provider: PROVIDER,
                detail: Box::new(violation_detail(response.status.as_u16(), parsed)),
            });
        }
        return Ok(response);
    }
    let violation: ApiViolation = serde_json::from_slice(&response.body).unwrap_or_default();
    Err(response.status_error(violation_detail(response.status.as_u16(), violation)))
}

/// Maps an `ApiViolation` body onto the crate's error detail: `errorCode` (or the fallback
/// `code`), `message`, `traceId`, and the offending field from `details[].source` or `source`.
pub fn violation_detail(status: u16, v: ApiViolation) -> ProviderError {
    let mut detail = ProviderError::status(status);
    if let Some(code) = v.error_code.or(v.code) {
        detail = detail.with_code(code);
    }
    let detail_text = v.details.iter().find_map(|d| d.text().map(str::to_owned));
    let message = match (v.message, detail_text) {
        (Some(m), Some(d)) => Some(format!("{m}: {d}")),
        (m, d) => m.or(d),
    };
    if let Some(m) = message {
        detail = detail.with_message(m);
    }
    if let Some(t) = v.trace_id {
        detail = detail.with_trace_id(t);
    }
    if let Some(field) = v.details.iter().find_map(|d| d.source.clone()).or(v.source) {
        detail = detail.with_field(field);
    }
    detail
}

fn check_token(field: &str, token: &str) -> Result<()> {
    if token.is_empty() || token.len() > 12 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            field,
            InputProblem::Format {
                expected: "a PayConex transaction id of 1 to 12 digits".into(),
            },
        ));
    }
    Ok(())
}

fn check_pan(field: &str, pan: &CardNumber) -> Result<()> {
    if pan.len() < 13 {
        return Err(Error::invalid(
            field,
            InputProblem::Format {
                expected: "a card number of 13 to 19 digits".into(),
            },
        ));
    }
    Ok(())
}

fn check_not_empty<T>(field: &str, items: &[T]) -> Result<()> {
    if items.is_empty() {
        return Err(Error::invalid(field, InputProblem::Empty));
    }
    Ok(())
}

fn check_period(period_id: &PeriodId, period_date: Option<PeriodDate>) -> Result<()> {
    if period_id.requires_period_date() && period_date.is_none() {
        return Err(Error::invalid("periodDate", InputProblem::Missing));
    }
    Ok(())
}

impl PayConexClient {
    /// Starts a builder for the certification environment with HMAC auth.
    ///
    /// ```
    /// use account_updater::providers::payconex::{AuthMethod, Credentials, PayConexClient};
    /// use account_updater::{ErrorKind, SecretString};
    ///
    /// let credentials = Credentials::new("api_0c169931aa624727a6d7202ab1e9d320", SecretString::from("secret"));
    /// let client = PayConexClient::builder("120615523104", credentials.clone())
    ///     .auth(AuthMethod::Basic)
    ///     .build()?; // certification environment
    /// assert_eq!(client.base_url().scheme(), "https");
    /// // Card data never goes over plain HTTP to a remote host: refused before any request.
    /// let refused = PayConexClient::builder("120615523104", credentials)
    ///     .base_url("http://api.payconex.example/".parse().unwrap())
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    pub fn builder(account_id: impl Into<String>, credentials: Credentials) -> PayConexBuilder {
        PayConexBuilder {
            account_id: account_id.into(),
            credentials,
            environment: Environment::Certification,
            base_url: None,
            auth: AuthMethod::Hmac,
            config: TransportConfig::default(),
        }
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v4/accounts/{}{rest}", self.account_id)
    }

    async fn send(&self, request: ApiRequest) -> Result<ApiResponse> {
        check(self.transport.send(request).await?)
    }

    /// A DELETE: done when answered 2xx, or 404/410 after a retry whose first attempt may have
    /// deleted the resource already ([`ApiResponse::gone_after_retry`]).
    async fn send_delete(&self, request: ApiRequest) -> Result<()> {
        let response = self.transport.send(request).await?;
        if response.gone_after_retry() {
            return Ok(());
        }
        check(response).map(drop)
    }

    // ---- webhooks (PayConex Account Updater v4 reference) ----

    /// `POST /api/v4/accounts/{accountId}/webhooks` → 201.
    pub async fn create_webhook(&self, webhook: &Webhook) -> Result<WebhookResponse> {
        let req = ApiRequest::new(
            Method::POST,
            self.path("/webhooks"),
            "/api/v4/accounts/{accountId}/webhooks",
        )
        .json(webhook);
        self.send(req).await?.json()
    }

    /// `GET /api/v4/accounts/{accountId}/webhooks`.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookResponse>> {
        let req = ApiRequest::new(
            Method::GET,
            self.path("/webhooks"),
            "/api/v4/accounts/{accountId}/webhooks",
        );
        self.send(req).await?.json()
    }

    /// `GET /api/v4/accounts/{accountId}/webhooks/{webhookID}`.
    pub async fn get_webhook(&self, webhook_id: &str) -> Result<WebhookResponse> {
        let id = path_segment("webhook_id", webhook_id)?;
        let req = ApiRequest::new(
            Method::GET,
            self.path(&format!("/webhooks/{id}")),
            "/api/v4/accounts/{accountId}/webhooks/{webhookID}",
        );
        self.send(req).await?.json()
    }

    /// `PATCH /api/v4/accounts/{accountId}/webhooks/{webhookID}`.
    pub async fn update_webhook(
        &self,
        webhook_id: &str,
        webhook: &Webhook,
    ) -> Result<WebhookResponse> {
        let id = path_segment("webhook_id", webhook_id)?;
        let req = ApiRequest::new(
            Method::PATCH,
            self.path(&format!("/webhooks/{id}")),
            "/api/v4/accounts/{accountId}/webhooks/{webhookID}",
        )
        .json(webhook);
        self.send(req).await?.json()
    }

    /// `DELETE /api/v4/accounts/{accountId}/webhooks/{webhookID}` → 204.
    pub async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        let id = path_segment("webhook_id", webhook_id)?;
        let req = ApiRequest::new(
            Method::DELETE,
            self.path(&format!("/webhooks/{id}")),
            "/api/v4/accounts/{accountId}/webhooks/{webhookID}",
        );
        self.send_delete(req).await
    }

    // ---- subscriptions (PayConex Account Updater v4 reference) ----

    /// `POST …/account-updater/payconex/subscribe` → 201.
    pub async fn subscribe_tokens(&self, body: &TokenSubscription) -> Result<Schedule> {
        check_not_empty("tokens", &body.tokens)?;
        for (i, t) in body.tokens.iter().enumerate() {
            check_token(&format!("tokens[{i}].token"), &t.token)?;
        }
        check_period(&body.period_id, body.period_date)?;
        let req = ApiRequest::new(
            Method::POST,
            self.path("/account-updater/payconex/subscribe"),
            "/api/v4/accounts/{accountId}/account-updater/payconex/subscribe",
        )
        .json(body);
        self.send(req).await?.json()
    }

    /// `POST …/account-updater/pan/subscribe` → 201.
    pub async fn subscribe_pans(&self, body: &PanSubscription) -> Result<Schedule> {
        check_not_empty("cards", &body.cards)?;
        for (i, c) in body.cards.iter().enumerate() {
            check_pan(&format!("cards[{i}].pan"), &c.pan)?;
        }
        check_period(&body.period_id, body.period_date)?;
        let req = ApiRequest::new(
            Method::POST,
            self.path("/account-updater/pan/subscribe"),
            "/api/v4/accounts/{accountId}/account-updater/pan/subscribe",
        )
        .json(body);
        self.send(req).await?.json()
    }

    /// `POST …/account-updater/shieldconex/subscribe` → 201.
    pub async fn subscribe_shieldconex(&self, body: &ShieldconexSubscription) -> Result<Schedule> {
        check_not_empty("tokens", &body.tokens)?;
        for (i, t) in body.tokens.iter().enumerate() {
            check_shieldconex(i, t)?;
        }
        check_period(&body.period_id, body.period_date)?;
        let req = ApiRequest::new(
            Method::POST,
            self.path("/account-updater/shieldconex/subscribe"),
            "/api/v4/accounts/{accountId}/account-updater/shieldconex/subscribe",
        )
        .json(body);
        self.send(req).await?.json()
    }

    fn subscription_path(&self, subscription_id: &str, rest: &str) -> Result<String> {
        let id = path_segment("subscription_id", subscription_id)?;
        Ok(self.path(&format!("/account-updater/subscriptions/{id}{rest}")))
    }

    /// `GET …/account-updater/subscriptions/{subscriptionId}`.
    pub async fn get_subscription(&self, subscription_id: &str) -> Result<Schedule> {
        let req = ApiRequest::new(
            Method::GET,
            self.subscription_path(subscription_id, "")?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}",
        );
        self.send(req).await?.json()
    }

    /// `PATCH …/account-updater/subscriptions/{subscriptionId}` (e.g. `enabled: false` to pause).
    pub async fn update_subscription(
        &self,
        subscription_id: &str,
        patch: &SubscriptionPatch,
    ) -> Result<Schedule> {
        if patch == &SubscriptionPatch::default() {
            return Err(Error::invalid("patch", InputProblem::Empty));
        }
        let req = ApiRequest::new(
            Method::PATCH,
            self.subscription_path(subscription_id, "")?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}",
        )
        .json(patch);
        self.send(req).await?.json()
    }

    /// `DELETE …/account-updater/subscriptions/{subscriptionId}` → 204: every record is disabled
    /// and unsubscribed.
    pub async fn delete_subscription(&self, subscription_id: &str) -> Result<()> {
        let req = ApiRequest::new(
            Method::DELETE,
            self.subscription_path(subscription_id, "")?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}",
        );
        self.send_delete(req).await
    }

    // ---- records (PayConex Account Updater v4 reference) ----

    /// `POST …/subscriptions/{subscriptionId}/payconex` with a bare JSON array.
    pub async fn add_tokens(
        &self,
        subscription_id: &str,
        records: &[TokenRecord],
    ) -> Result<Schedule> {
        check_not_empty("records", records)?;
        for (i, t) in records.iter().enumerate() {
            check_token(&format!("records[{i}].token"), &t.token)?;
        }
        let req = ApiRequest::new(
            Method::POST,
            self.subscription_path(subscription_id, "/payconex")?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}/payconex",
        )
        .json(records);
        self.send(req).await?.json()
    }

    /// `POST …/subscriptions/{subscriptionId}/shieldconex` with a bare JSON array.
    pub async fn add_shieldconex(
        &self,
        subscription_id: &str,
        records: &[ShieldconexRecord],
    ) -> Result<Schedule> {
        check_not_empty("records", records)?;
        for (i, t) in records.iter().enumerate() {
            check_shieldconex(i, t)?;
        }
        let req = ApiRequest::new(
            Method::POST,
            self.subscription_path(subscription_id, "/shieldconex")?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}/shieldconex",
        )
        .json(records);
        self.send(req).await?.json()
    }

    /// `POST …/subscriptions/{subscriptionId}/pan` with a bare JSON array.
    pub async fn add_pans(&self, subscription_id: &str, records: &[PanRecord]) -> Result<Schedule> {
        check_not_empty("records", records)?;
        for (i, c) in records.iter().enumerate() {
            check_pan(&format!("records[{i}].pan"), &c.pan)?;
        }
        let req = ApiRequest::new(
            Method::POST,
            self.subscription_path(subscription_id, "/pan")?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}/pan",
        )
        .json(records);
        self.send(req).await?.json()
    }

    /// `DELETE …/subscriptions/{subscriptionId}/records/{recordId}` → 204.
    pub async fn delete_record(&self, subscription_id: &str, record_id: &str) -> Result<()> {
        let record = path_segment("record_id", record_id)?;
        let req = ApiRequest::new(
            Method::DELETE,
            self.subscription_path(subscription_id, &format!("/records/{record}"))?,
            "/api/v4/accounts/{account}/account-updater/subscriptions/{subscriptionId}/records/{recordId}",
        );
        self.send_delete(req).await
    }

    // ---- results (PayConex Account Updater v4 reference) ----

    /// `GET …/account-updater/schedules/{scheduleId}/results`: each record with its most recent
    /// update.
    pub async fn schedule_results(&self, schedule_id: &str) -> Result<Schedule> {
        let id = path_segment("schedule_id", schedule_id)?;
        let req = ApiRequest::new(
            Method::GET,
            self.path(&format!("/account-updater/schedules/{id}/results")),
            "/api/v4/accounts/{account}/account-updater/schedules/{scheduleId}/results",
        );
        self.send(req).await?.json()
    }

    /// `GET …/account-updater/updates/{updateId}`: the updates a notification announced.
    pub async fn updates(&self, update_id: &str) -> Result<Vec<Update>> {
        let id = path_segment("update_id", update_id)?;
        let req = ApiRequest::new(
            Method::GET,
            self.path(&format!("/account-updater/updates/{id}")),
            "/api/v4/accounts/{account}/account-updater/updates/{updateId}",
        );
        self.send(req).await?.json()
    }

    /// Fetches the authoritative updates behind a notification parsed by
    /// [`PayConexClient::parse_notification`] (the notification itself is unsigned).
    pub async fn fetch_updates_for(&self, event: &WebhookEvent) -> Result<Vec<CardUpdate>> {
        match event.results_query() {
            Some(query) => self.fetch_results(query).await,
            None => Err(Error::invalid("event", InputProblem::Missing)),
        }
    }

    /// Parses a webhook notification leniently: a top-level (or `data.`) `updateId`. PayConex
    /// does not sign notifications, so the event is [`Authenticity::Unsigned`]: a hint to fetch
    /// the updates with [`PayConexClient::fetch_updates_for`].
    pub fn parse_notification(body: &[u8]) -> Result<WebhookEvent> {
        let raw = parse_json_body(PROVIDER, body)?;
        let pick =
            |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let update_id = pick(&raw, "updateId")
            .or_else(|| raw.get("data").and_then(|d| pick(d, "updateId")))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::decode(PROVIDER, 0, "notification has no updateId", body))?;
        let id = pick(&raw, "id").unwrap_or_else(|| update_id.clone());
        let kind = match pick(&raw, "event").as_deref() {
            None | Some("ACCOUNT_UPDATER_BATCH_UPDATES") => WebhookKind::UpdatesAvailable,
            Some(other) => WebhookKind::Other(other.to_owned()),
        };
        Ok(WebhookEvent {
            provider: PROVIDER,
            id,
            kind,
            authenticity: Authenticity::Unsigned,
            results: Some(ResultsQuery::Event {
                provider: PROVIDER,
                kind: JobKind::Subscription,
                event_id: update_id,
                job_id: None,
            }),
            updates: Vec::new(),
            message: pick(&raw, "message"),
            unauthenticated_fields: Vec::new(),
            raw,
        })
    }
}

fn check_shieldconex(i: usize, t: &ShieldconexRecord) -> Result<()> {
    check_token(&format!("tokens[{i}].token"), &t.token)?;
    if t.bfid.is_empty() || t.bfid.len() > 1024 {
        return Err(Error::invalid(
            format!("tokens[{i}].bfid"),
            InputProblem::Format {
                expected: "a ShieldConex token of 1 to 1024 characters".into(),
            },
        ));
    }
    Ok(())
}

/// Maps one PayConex update onto the unified [`CardUpdate`] (status per PayConex Account Updater v4 reference).
pub fn card_update(update: Update) -> CardUpdate {
    let raw = update
        .status
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    // PayConex never echoes the caller's id: the record id joins the update back to it
    // (SubmissionReceipt::join_card_ids).
    let mut out = CardUpdate::new(PROVIDER, outcome_from_status(&raw), raw);
    out.card_ref = update.account_updater_schedule_record_id.clone();
    out.previous_token = update.old_token;
    out.previous_expiry = wire::parse_mmyy(update.old_expiry.as_deref());
    if out.outcome.has_new_card_data() {
        out.new_expiry = wire::parse_mmyy(update.new_expiry.as_deref());
        match update.new_token {
            Some(NewValue::Card(card)) => {
                out.new_brand = Some(card.brand());
                out.new_card = Some(card);
            }
            Some(NewValue::Token(t)) => out.new_token = Some(t),
            None => {}
        }
    }
    out.provider_ref = update.id;
    out.updated_at = lenient::timestamp(update.updated_at.as_deref());
    out
}

fn period_for(cadence: Cadence) -> PeriodId {
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
struct SplitCards {
    pans: Vec<(String, PanRecord)>,
    tokens: Vec<(String, TokenRecord)>,
}

fn split_cards(cards: Vec<CardToUpdate>) -> Result<SplitCards> {
    check_not_empty("cards", &cards)?;
    let mut seen = HashSet::new();
    let mut split = SplitCards {
        pans: Vec::new(),
        tokens: Vec::new(),
    };
    for (index, card) in cards.into_iter().enumerate() {
        check_caller_id(index, &card.id)?;
        let field = |f: &str| format!("cards[id={}].{f}", card.id);
        if !seen.insert(card.id.clone()) {
            return Err(Error::invalid(field("id"), InputProblem::Duplicate));
        }
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
            CardSource::Token(token) => {
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
enum Sent<'a> {
    /// PayConex tokens, in the order of the ids.
    Tokens(&'a [String]),
    /// Card numbers' expiries, in the order of the ids, and the schedule's records before.
    Pans(&'a [Expiry], Before),
}

/// The record ids a schedule held before the request.
enum Before {
    /// None: a new subscription.
    Empty,
    /// These (an add to an existing schedule).
    Known(HashSet<String>),
    /// Could not be read: no PAN record can be told apart, so none is confirmed.
    Unknown,
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
fn place(schedule: &Schedule, ids: Vec<String>, sent: Sent<'_>) -> Vec<PlacedCard> {
    match sent {
        Sent::Tokens(tokens) => ids
            .into_iter()
            .zip(tokens)
            .map(|(id, t)| {
                let wanted = canonical_ref(PROVIDER, t);
                let record = schedule.records.iter().rev().find(|r| {
                    r.token
                        .as_deref()
                        .is_some_and(|rt| canonical_ref(PROVIDER, rt) == wanted)
                });
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
enum Target<'a> {
    /// Subscribe with this schedule and start date.
    New(PeriodId, PeriodDate),
    /// Add to this subscription.
    Existing(&'a JobRef),
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

fn push_outcome(
    receipt: &mut SubmissionReceipt,
    result: Result<Schedule>,
    ids: Vec<String>,
    sent: Sent<'_>,
) {
    match result {
        Ok(schedule) => receipt.accepted.push(AcceptedJob {
            job: JobRef::new(PROVIDER, JobKind::Subscription, schedule.id.clone()),
            cards: place(&schedule, ids, sent),
            state: schedule_state(&schedule),
        }),
        Err(error) => receipt.failed.push(FailedChunk {
            kind: JobKind::Subscription,
            card_ids: ids,
            error,
        }),
    }
}

fn schedule_state(s: &Schedule) -> JobState {
    match s.enabled {
        Some(false) => JobState::Disabled,
        _ => JobState::Active,
    }
}

fn require_subscription(job: &JobRef) -> Result<()> {
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

impl Provider for PayConexClient {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[
            Flow::Subscribe,
            Flow::AddCards,
            Flow::RemoveCards,
            Flow::Cancel,
            Flow::JobStatus,
            Flow::FetchResults,
            Flow::RegisterWebhook,
            Flow::ParseWebhook,
        ])
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
    /// before the first request; deletions run in order and stop at the first failure (the
    /// records before it are removed; retrying is safe, a second delete answers 404).
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
                    }) => record_ids.push((id.clone(), r.clone())),
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
                match self.delete_record(&job.id, &record).await {
                    Ok(()) => receipt.removed.push(id),
                    Err(error) => receipt.failed.push(FailedRemoval {
                        card_ids: vec![id],
                        provider_refs: vec![record],
                        error,
                    }),
                }
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
        PayConexClient::parse_notification(request.body)
    }
}
