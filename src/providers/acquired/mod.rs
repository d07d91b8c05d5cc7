//! **Acquired.com** (the legacy JSON API, one `api.php` endpoint): manage stored tokens (INIT
//! transactions) and their account updater (Acquired.com's API reference at developer.acquired.com; Acquired's SUBSCRIPTION_MANAGE guide).
//!
//! - SUBSCRIPTION_MANAGE / `UPDATE_BILLING`: change a token's customer, billing and shipping
//!   data (anything but card number and expiry);
//! - SUBSCRIPTION_MANAGE / `DISABLE` and `ENABLE` a token;
//! - UPDATE_BILLING card change: a zero-amount `AUTH_ONLY` carrying the new card; the token is
//!   updated only if that authorisation succeeds;
//! - ACCOUNT_UPDATER for a token: answered `11` (pending); the outcome arrives by the
//!   `account_updater` webhook.
//!
//! Credentials travel in the body; every request carries a `request_hash`, **every response's
//! `response_hash` is verified** before anything in it is used (a mismatch is
//! [`Error::Integrity`]), and webhooks are verified with their double SHA-256 `hash`. The
//! `company_hashcode` is never sent.
//!
//! On the embedded emulator (on Acquired's QA endpoint, build [`Credentials`] from your company
//! id, password and hash code):
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater::emulator::acquired::AcquiredEmulator;
//! use account_updater::providers::acquired::{AcquiredClient, Answer};
//! use account_updater::{CardNumber, Expiry};
//!
//! let emulator = AcquiredEmulator::start().await?;
//! let token = emulator.create_token(&CardNumber::parse("4457000300000007")?, Expiry::new(1, 2030)?);
//! let client = AcquiredClient::builder(emulator.credentials())
//!     .url(emulator.url())
//!     .build()?;
//! // Every response's hash was verified before this answer was built.
//! let answer = client.request_account_update(&token, None).await?;
//! assert!(matches!(answer, Answer::Pending(_))); // the outcome follows by webhook
//! client.disable_token(&token, None).await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```

pub mod hash;
pub mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::card::{CardBrand, CardNumber, Expiry, ExpiryFormat};
use crate::error::{Error, InputProblem, ProviderError, Result};
use crate::outcome::{CardUpdate, Outcome};
use crate::provider::{
    AcceptedJob, AccountUpdateReceipt, AccountUpdateRequest, BoxFuture, Capabilities, CardSource,
    CardToUpdate, FailedChunk, FailedRemoval, Flow, HolderData, JobKind, JobRef, JobState,
    PlacedCard, Provider, ProviderId, RemovalReceipt, RemoveCard, SubmissionReceipt,
    check_caller_id,
};
use crate::submission::{
    Chunk, ChunkObserver, ChunkOutcome, ChunkSender, DuplicateIds, Planner, ReceiptCollector,
    StreamOptions, StreamReceipt, card_stream, check_all, drive,
};
use crate::transport::{ApiRequest, NoAuth, Transport, TransportConfig};
use crate::webhook::{Authenticity, WebhookEvent, WebhookKind, WebhookRequest};

use wire::{BillingAddress, Customer, Response, Shipping, Transaction};

/// The QA (test) endpoint: the default.
pub const QA_URL: &str = "https://qaapi.acquired.com/api.php";
/// The production endpoint (needs the caller's IPs allowlisted by Acquired).
pub const PRODUCTION_URL: &str = "https://gateway.acquired.com/api.php";

const PROVIDER: ProviderId = ProviderId::Acquired;

/// Response codes that mean the credentials were refused: 103 (invalid or inactive MID info,
/// which Acquired answers to a wrong company id or password) and 107 (incorrect hash string: a
/// wrong hash code).
const CREDENTIAL_CODES: [&str; 2] = ["103", "107"];

/// Acquired's response codes with a published meaning (Acquired API reference, "Response
/// codes"; partial).
pub fn response_code_meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "1" => "Transaction Success",
        "11" => "Pending: final outcome by webhook",
        "101" => "Declined",
        "102" => "Error:Invalid Parameters",
        "103" => "Error:Invalid or Inactive MID Info",
        "104" => "Error:Invalid or Unsupported Transaction Type",
        "105" => "Error:Invalid or Unsupported Currency",
        "106" => "Error:Invalid or Unsupported Card Type",
        "107" => "Error:Incorrect Hash String",
        "204" => "Error:Invalid or Expired cardexp",
        "325" => "Declined:Card Expired",
        "402" => "Declined:Lost or Stolen Card",
        "501" => "Pending:Card Enrolled",
        "502" => "Pending:Card Not Enrolled",
        _ => return None,
    })
}

/// API credentials. `company_pass` and `company_hashcode` are secrets; the hash code is never
/// sent, only used to compute and verify hashes.
#[derive(Clone)]
pub struct Credentials {
    company_id: String,
    company_pass: SecretString,
    company_mid_id: Option<String>,
    hashcode: SecretString,
}

impl Credentials {
    /// Validates and builds credentials: `company_id` 1–11 digits, `company_pass` 10–30
    /// characters `[0-9a-zA-Z]`, `company_mid_id` 1–11 digits when given, hash code 1–30
    /// characters `[a-zA-Z0-9_]` (Acquired API reference).
    pub fn new(
        company_id: impl Into<String>,
        company_pass: SecretString,
        company_mid_id: Option<String>,
        hashcode: SecretString,
    ) -> Result<Self> {
        let company_id = company_id.into();
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(&company_id, 11) {
            return Err(format_error("company_id", "1 to 11 digits"));
        }
        let pass = company_pass.expose_secret();
        if !(10..=30).contains(&pass.len()) || !pass.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format_error(
                "company_pass",
                "10 to 30 characters [0-9a-zA-Z]",
            ));
        }
        let company_mid_id = company_mid_id.filter(|m| !m.is_empty());
        if let Some(mid) = &company_mid_id {
            if !digits(mid, 11) {
                return Err(format_error("company_mid_id", "1 to 11 digits"));
            }
        }
        let code = hashcode.expose_secret();
        if code.is_empty()
            || code.len() > 30
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format_error(
                "company_hashcode",
                "1 to 30 characters [a-zA-Z0-9_]",
            ));
        }
        Ok(Credentials {
            company_id,
            company_pass,
            company_mid_id,
            hashcode,
        })
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        &self.company_id
    }

    /// The hash code, for verifying webhooks outside a client.
    pub fn hashcode(&self) -> &SecretString {
        &self.hashcode
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("company_id", &self.company_id)
            .field("company_pass", &"[REDACTED]")
            .field("company_mid_id", &self.company_mid_id)
            .field("company_hashcode", &"[REDACTED]")
            .finish()
    }
}

fn format_error(field: &str, expected: &str) -> Error {
    Error::invalid(
        field,
        InputProblem::Format {
            expected: expected.into(),
        },
    )
}

/// Produces the 14-digit `yyyymmddhhmmss` timestamp of each request.
pub type Clock = Arc<dyn Fn() -> String + Send + Sync>;

/// Builds an [`AcquiredClient`].
pub struct AcquiredBuilder {
    credentials: Credentials,
    /// `None`: the QA environment.
    url: Option<Url>,
    config: TransportConfig,
    clock: Clock,
    currency: String,
    concurrency: usize,
    webhook_freshness: Duration,
}

impl fmt::Debug for AcquiredBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquiredBuilder")
            .field("credentials", &self.credentials)
            .field("url", &self.url.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl AcquiredBuilder {
    /// The full endpoint URL (QA by default; [`PRODUCTION_URL`], an emulator…).
    pub fn url(mut self, url: Url) -> Self {
        self.url = Some(url);
        self
    }

    /// Timeouts, retries, limits, or a shared [`crate::transport::HttpClient`].
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.config = config;
        self
    }

    /// Where request timestamps come from (default: the current UTC time). Tests inject fixed
    /// ones to reproduce documented hashes.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Currency of the zero-amount UPDATE_BILLING authorisation (default `GBP`).
    pub fn currency(mut self, iso3: impl Into<String>) -> Self {
        self.currency = iso3.into();
        self
    }

    /// Requests kept in flight by the unified per-token inquiry (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How far a webhook's timestamp may be from the clock before it is refused as a replay
    /// (default [`DEFAULT_WEBHOOK_FRESHNESS`]).
    pub fn webhook_freshness(mut self, window: Duration) -> Self {
        self.webhook_freshness = window;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<AcquiredClient> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format_error("currency", "an ISO 4217 alpha-3 code"));
        }
        Ok(AcquiredClient {
            // Acquired authenticates inside the body, so no signer knows these secrets.
            transport: Transport::new(
                PROVIDER,
                match self.url {
                    Some(url) => url,
                    None => crate::transport::published_url(QA_URL)?,
                },
                Arc::new(NoAuth),
                self.config,
            )?
            .with_redactions([
                self.credentials.company_pass.clone(),
                self.credentials.hashcode.clone(),
            ]),
            credentials: self.credentials,
            clock: self.clock,
            currency: self.currency,
            concurrency: self.concurrency,
            webhook_freshness: self.webhook_freshness,
        })
    }
}

/// The Acquired.com client. Cheap to clone.
#[derive(Clone)]
pub struct AcquiredClient {
    transport: Transport,
    credentials: Credentials,
    clock: Clock,
    currency: String,
    concurrency: usize,
    webhook_freshness: Duration,
}

impl fmt::Debug for AcquiredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquiredClient")
            .field("transport", &self.transport)
            .field("credentials", &self.credentials)
            .field("currency", &self.currency)
            .finish_non_exhaustive()
    }
}

/// What a successful call answered: the API has exactly these two non-failure codes.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `response_code` 1.
    Success(Response),
    /// `response_code` 11: the outcome follows by webhook.
    Pending(Response),
}

impl Answer {
    /// The verified response.
    pub fn response(&self) -> &Response {
        match self {
            Answer::Success(r) | Answer::Pending(r) => r,
        }
    }
}

/// Change a token's customer / billing / shipping data (SUBSCRIPTION_MANAGE).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ManageBilling {
    /// The token (INIT `transaction_id`).
    pub original_transaction_id: String,
    /// Your order id (generated when `None`).
    pub merchant_order_id: Option<String>,
    /// `subscription_type`: the samples and SDKs send `UPDATE_BILLING` (the default); the
    /// prose says `SUBSCRIPTION_MANAGE`. Override here if your account needs it.
    pub subscription_type: Option<String>,
    /// New customer data.
    pub customer: Option<Customer>,
    /// New billing address / contact.
    pub billing: Option<BillingAddress>,
    /// New shipping data.
    pub shipping: Option<Shipping>,
}

impl ManageBilling {
    /// A change for `token`.
    pub fn new(token: impl Into<String>) -> Self {
        ManageBilling {
            original_transaction_id: token.into(),
            ..ManageBilling::default()
        }
    }
}

/// The new card of an UPDATE_BILLING card change.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewCard {
    /// The card number.
    pub number: CardNumber,
    /// Its expiry (sent as `MMYYYY`).
    pub expiry: Expiry,
    /// The security code (3 or 4 digits).
    pub cvv: Option<SecretString>,
    /// The name on the card.
    pub holder_name: Option<String>,
}

impl NewCard {
    /// A new card.
    pub fn new(number: CardNumber, expiry: Expiry) -> Self {
        NewCard {
            number,
            expiry,
            cvv: None,
            holder_name: None,
        }
    }
}

impl fmt::Debug for NewCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCard")
            .field("number", &self.number)
            .field("expiry", &self.expiry)
            .field("cvv", &self.cvv.as_ref().map(|_| "[REDACTED]"))
            .field("holder_name", &self.holder_name)
            .finish()
    }
}

/// Acquired's `card_type` for a brand.
pub fn card_type(brand: CardBrand) -> Option<&'static str> {
    Some(match brand {
        CardBrand::Visa => "VISA",
        CardBrand::Mastercard => "MC",
        CardBrand::Amex => "AMEX",
        CardBrand::Discover => "DISCOVER",
        CardBrand::DinersClub => "DINERS",
        CardBrand::Jcb => "JCB",
        _ => return None,
    })
}

#[derive(Serialize)]
struct Body<'a> {
    timestamp: &'a str,
    company_id: &'a str,
    company_pass: &'a str,
    company_mid_id: &'a str,
    request_hash: String,
    transaction: &'a Transaction,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<&'a Customer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping: Option<&'a Shipping>,
}

fn check_order_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 50
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format_error(
            "merchant_order_id",
            "1 to 50 characters [A-Za-z0-9_-]",
        ));
    }
    Ok(())
}

fn check_token(field: &str, token: &str) -> Result<()> {
    if token.is_empty() || token.len() > 10 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format_error(
            field,
            "an INIT transaction_id of 1 to 10 digits",
        ));
    }
    Ok(())
}

impl AcquiredClient {
    /// Starts a builder for the QA endpoint.
    ///
    /// ```
    /// use account_updater::SecretString;
    /// use account_updater::providers::acquired::{AcquiredClient, Credentials};
    ///
    /// // The hash code signs every request and verifies every response; it is never sent.
    /// let credentials = Credentials::new(
    ///     "133",
    ///     SecretString::from("aPassword10to30"),
    ///     Some("1062".into()),
    ///     SecretString::from("hashcode"),
    /// )?;
    /// let client = AcquiredClient::builder(credentials).build()?; // the QA endpoint
    /// assert_eq!(client.url().host_str(), Some("qaapi.acquired.com"));
    /// // Acquired's rule: a company password of 10 to 30 letters and digits.
    /// assert!(Credentials::new("133", SecretString::from("short"), None, SecretString::from("h")).is_err());
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    pub fn builder(credentials: Credentials) -> AcquiredBuilder {
        AcquiredBuilder {
            credentials,
            url: None,
            config: TransportConfig::default(),
            clock: Arc::new(|| chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()),
            currency: "GBP".into(),
            concurrency: 4,
            webhook_freshness: DEFAULT_WEBHOOK_FRESHNESS,
        }
    }

    /// The endpoint in use.
    pub fn url(&self) -> &Url {
        self.transport.base_url()
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        &self.credentials.company_id
    }

    fn order_id(&self, given: Option<&str>, timestamp: &str) -> Result<String> {
        match given {
            Some(id) => {
                check_order_id(id)?;
                Ok(id.to_owned())
            }
            None => {
                use rand::Rng;
                Ok(format!(
                    "au-{timestamp}-{:08x}",
                    rand::rng().random::<u32>()
                ))
            }
        }
    }

    /// Builds, hashes and sends one request, then verifies the response hash before reading
    /// anything else in it.
    async fn call(
        &self,
        timestamp: &str,
        transaction: &Transaction,
        customer: Option<&Customer>,
        billing: Option<serde_json::Value>,
        shipping: Option<&Shipping>,
    ) -> Result<Answer> {
        if timestamp.len() != 14 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format_error("timestamp", "14 digits yyyymmddhhmmss"));
        }
        let c = &self.credentials;
        let request_hash = hash::request_hash(
            timestamp,
            &transaction.transaction_type,
            &c.company_id,
            transaction.merchant_order_id.as_deref().unwrap_or(""),
            transaction.original_transaction_id.as_deref().unwrap_or(""),
            &c.hashcode,
        );
        let body = Body {
            timestamp,
            company_id: &c.company_id,
            company_pass: c.company_pass.expose_secret(),
            company_mid_id: c.company_mid_id.as_deref().unwrap_or(""),
            request_hash,
            transaction,
            customer,
            billing,
            shipping,
        };
        let request = ApiRequest::new(Method::POST, "", "/api.php").json(&body);
        drop(body);
        let response = self.transport.send(request).await?;
        if !response.is_success() {
            return Err(response.status_error(ProviderError::status(response.status.as_u16())));
        }
        let parsed: Response = response.json()?;
        let verified = self.verify(&parsed);
        let code = parsed.response_code.clone().unwrap_or_default();
        match code.as_str() {
            // A success is acted upon, so it must verify.
            "1" => verified.map(|()| Answer::Success(parsed)),
            "11" => verified.map(|()| Answer::Pending(parsed)),
            // A failure is never acted upon, so one that does not verify is still reported as
            // what it says (marked unverified): a gateway answering bad credentials may not know
            // which hash code to sign with, and "integrity check failed" would hide the cause.
            _ => {
                let message = parsed
                    .response_message
                    .clone()
                    .or_else(|| response_code_meaning(&code).map(str::to_owned));
                let message = match (&verified, message) {
                    (Ok(()), m) => m,
                    (Err(_), Some(m)) => Some(format!("{m} (unverified: no valid response_hash)")),
                    (Err(_), None) => Some("unverified: no valid response_hash".to_owned()),
                };
                let credentials_refused = CREDENTIAL_CODES.contains(&code.as_str());
                let mut detail = ProviderError::status(response.status.as_u16()).with_code(code);
                if let Some(m) = message {
                    detail = detail.with_message(m);
                }
                if let Some(b) = parsed.bank_response_code.filter(|b| !b.is_empty()) {
                    detail = detail.with_issuer_code(b);
                }
                if let Some(t) = parsed.transaction_id.filter(|t| !t.is_empty()) {
                    detail = detail.with_trace_id(t);
                }
                Err(Error::refusal(PROVIDER, credentials_refused, detail))
            }
        }
    }

    /// Verifies a response's `response_hash` (Acquired API reference) in constant time.
    pub fn verify(&self, r: &Response) -> Result<()> {
        let Some(received) = r.response_hash.as_deref().filter(|h| !h.is_empty()) else {
            return Err(Error::Integrity {
                provider: PROVIDER,
                what: "response has no response_hash".into(),
            });
        };
        let expected = hash::response_hash(
            r.timestamp.as_deref().unwrap_or(""),
            r.transaction_type.as_deref().unwrap_or(""),
            r.company_id.as_deref().unwrap_or(""),
            r.transaction_id.as_deref().unwrap_or(""),
            r.response_code.as_deref().unwrap_or(""),
            &self.credentials.hashcode,
        );
        if !hash::digest_eq(&expected, received) {
            return Err(Error::Integrity {
                provider: PROVIDER,
                what: "response_hash does not match: response discarded".into(),
            });
        }
        Ok(())
    }

    fn now(&self) -> String {
        (self.clock)()
    }

    /// SUBSCRIPTION_MANAGE: change a token's customer, billing and shipping data.
    pub async fn manage_billing(&self, change: &ManageBilling) -> Result<Answer> {
        check_token("original_transaction_id", &change.original_transaction_id)?;
        if change.customer.is_none() && change.billing.is_none() && change.shipping.is_none() {
            return Err(Error::invalid("billing", InputProblem::Empty));
        }
        let ts = self.now();
        let transaction = Transaction {
            merchant_order_id: Some(self.order_id(change.merchant_order_id.as_deref(), &ts)?),
            transaction_type: "SUBSCRIPTION_MANAGE".into(),
            subscription_type: Some(
                change
                    .subscription_type
                    .clone()
                    .unwrap_or_else(|| "UPDATE_BILLING".into()),
            ),
            original_transaction_id: Some(change.original_transaction_id.clone()),
            ..Transaction::default()
        };
        let billing = change.billing.as_ref().map(billing_value).transpose()?;
        self.call(
            &ts,
            &transaction,
            change.customer.as_ref(),
            billing,
            change.shipping.as_ref(),
        )
        .await
    }

    async fn set_enabled(
        &self,
        token: &str,
        enabled: bool,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        check_token("original_transaction_id", token)?;
        let ts = self.now();
        let transaction = Transaction {
            merchant_order_id: Some(self.order_id(merchant_order_id, &ts)?),
            transaction_type: "SUBSCRIPTION_MANAGE".into(),
            subscription_type: Some(if enabled { "ENABLE" } else { "DISABLE" }.into()),
            original_transaction_id: Some(token.to_owned()),
            ..Transaction::default()
        };
        self.call(&ts, &transaction, None, None, None).await
    }

    /// SUBSCRIPTION_MANAGE / `DISABLE`: the token is refused for future ACCOUNT_UPDATER, REBILL,
    /// REUSE and UPDATE_BILLING.
    pub async fn disable_token(
        &self,
        token: &str,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        self.set_enabled(token, false, merchant_order_id).await
    }

    /// SUBSCRIPTION_MANAGE / `ENABLE`.
    pub async fn enable_token(
        &self,
        token: &str,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        self.set_enabled(token, true, merchant_order_id).await
    }

    /// UPDATE_BILLING card change: a zero-amount `AUTH_ONLY` with the new card (and optionally
    /// a new billing address). The token changes only if the authorisation succeeds.
    pub async fn update_card(
        &self,
        token: &str,
        card: &NewCard,
        billing: Option<&BillingAddress>,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        check_token("original_transaction_id", token)?;
        let today = chrono::Utc::now().date_naive();
        if card.expiry.is_expired_at(today) {
            return Err(Error::invalid(
                "billing.cardexp",
                InputProblem::NotAllowed {
                    reason: "the card has expired".into(),
                },
            ));
        }
        let card_type = card_type(card.number.brand()).ok_or_else(|| {
            Error::invalid(
                "billing.cardnumber",
                InputProblem::NotAllowed {
                    reason: "unknown card brand".into(),
                },
            )
        })?;
        if let Some(cvv) = &card.cvv {
            let c = cvv.expose_secret();
            if !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format_error("billing.cardcvv", "3 or 4 digits"));
            }
        }
        let ts = self.now();
        let transaction = Transaction {
            merchant_order_id: Some(self.order_id(merchant_order_id, &ts)?),
            transaction_type: "AUTH_ONLY".into(),
            subscription_type: Some("UPDATE_BILLING".into()),
            original_transaction_id: Some(token.to_owned()),
            amount: Some("0".into()),
            currency_code_iso3: Some(self.currency.clone()),
            ..Transaction::default()
        };
        let mut billing_json = match billing {
            Some(b) => billing_value(b)?,
            None => serde_json::json!({}),
        };
        if let Some(name) = &card.holder_name {
            billing_json["cardholder_name"] = name.clone().into();
        }
        billing_json["cardnumber"] = card.number.expose_secret().into();
        billing_json["card_type"] = card_type.into();
        if let Some(cvv) = &card.cvv {
            billing_json["cardcvv"] = cvv.expose_secret().into();
        }
        billing_json["cardexp"] = card.expiry.format(ExpiryFormat::Mmyyyy).into();
        self.call(&ts, &transaction, None, Some(billing_json), None)
            .await
    }

    /// ACCOUNT_UPDATER for a token: answered pending (`11`); the outcome comes by the
    /// `account_updater` webhook.
    pub async fn request_account_update(
        &self,
        token: &str,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        check_token("original_transaction_id", token)?;
        let ts = self.now();
        let transaction = Transaction {
            merchant_order_id: merchant_order_id
                .map(|m| check_order_id(m).map(|()| m.to_owned()))
                .transpose()?,
            transaction_type: "ACCOUNT_UPDATER".into(),
            original_transaction_id: Some(token.to_owned()),
            ..Transaction::default()
        };
        self.call(&ts, &transaction, None, None, None).await
    }

    /// Parses and verifies a webhook: the envelope (`id`, `timestamp`, `company_id`, `event`,
    /// `hash`) must be complete, for this company, and its double-SHA-256 hash must match
    /// (constant time). Unknown, tampered or unsigned webhooks are refused with
    /// [`Error::Integrity`]; malformed ones with [`Error::Decode`]. So is one whose timestamp
    /// is further from the client's clock than its webhook freshness window (default
    /// [`DEFAULT_WEBHOOK_FRESHNESS`]): a replayed genuine envelope. The event lists the fields
    /// the hash does not cover in [`WebhookEvent::unauthenticated_fields`].
    pub fn parse_webhook_body(&self, body: &[u8]) -> Result<WebhookEvent> {
        verify_webhook_at(&self.credentials, body, &self.now(), self.webhook_freshness)
    }
}

/// See [`AcquiredClient::parse_webhook_body`]. Checks freshness against the current UTC time
/// with [`DEFAULT_WEBHOOK_FRESHNESS`]; [`verify_webhook_at`] takes both.
pub fn verify_webhook(credentials: &Credentials, body: &[u8]) -> Result<WebhookEvent> {
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    verify_webhook_at(credentials, body, &now, DEFAULT_WEBHOOK_FRESHNESS)
}

/// Verifies and parses an Acquired webhook as of `now` (`YYYYMMDDHHMMSS`, the layout of
/// Acquired's timestamps), refusing one whose timestamp is more than `freshness` away.
pub fn verify_webhook_at(
    credentials: &Credentials,
    body: &[u8],
    now: &str,
    freshness: Duration,
) -> Result<WebhookEvent> {
    let raw = crate::webhook::parse_json_body(PROVIDER, body)?;
    let field = |k: &str| -> Option<String> {
        match raw.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let (Some(id), Some(timestamp), Some(company_id), Some(event)) = (
        field("id"),
        field("timestamp"),
        field("company_id"),
        field("event"),
    ) else {
        return Err(Error::decode(
            PROVIDER,
            0,
            "webhook envelope is incomplete (id, timestamp, company_id, event)",
            body,
        ));
    };
    let Some(received) = field("hash").filter(|h| !h.is_empty()) else {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: "webhook has no hash".into(),
        });
    };
    let expected = hash::webhook_hash(&id, &timestamp, &company_id, &event, &credentials.hashcode);
    if !hash::digest_eq(&expected, &received) {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: "webhook hash does not match".into(),
        });
    }
    if company_id != credentials.company_id {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: "webhook is for another company".into(),
        });
    }
    let kind = match event.as_str() {
        "account_updater" => WebhookKind::AccountUpdated,
        other => WebhookKind::Other(other.to_owned()),
    };
    check_freshness(&timestamp, now, freshness)?;
    let mut updates = Vec::new();
    if kind == WebhookKind::AccountUpdated {
        // Acquired does not publish the `account_updater` event's own fields, so only fields it
        // documents for its events are mapped: the token from the transaction fields
        // (`transaction_id` is documented for `transaction_outcome`, `original_transaction_id`
        // for every token request) and `response_code` as the raw code. The outcome stays
        // Outcome::Unknown; anything else (an emulator's `update_result`, a `cardexp`) is left
        // in `raw`, unmapped: guessing at undocumented fields could act on a wrong reading.
        if let Some(token) = field("original_transaction_id").or_else(|| field("transaction_id")) {
            let code = field("response_code").unwrap_or_else(|| event.clone());
            // The caller's id is not known here: the token joins the update back to it
            // (SubmissionReceipt::join_card_ids).
            let mut u = CardUpdate::new(PROVIDER, Outcome::Unknown(code.clone()), code);
            u.card_ref = Some(token.clone());
            u.previous_token = Some(token);
            u.provider_ref = Some(id.clone());
            updates.push(u);
        }
    }
    // The hash covers the envelope only (Acquired webhooks: id, timestamp, company_id, event).
    let mut unauthenticated_fields: Vec<String> = raw
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !WEBHOOK_HASHED_FIELDS.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    unauthenticated_fields.sort();
    Ok(WebhookEvent {
        provider: PROVIDER,
        id,
        kind,
        authenticity: Authenticity::Verified,
        results: None,
        updates,
        message: field("response_message"),
        unauthenticated_fields,
        raw,
    })
}

/// The envelope fields Acquired's webhook `hash` covers, and the `hash` itself.
const WEBHOOK_HASHED_FIELDS: [&str; 5] = ["id", "timestamp", "company_id", "event", "hash"];

/// How far a webhook's `timestamp` may be from now by default: two hours. Acquired retries an
/// unanswered webhook every 10 minutes for an hour, and does not say which time zone its
/// timestamps are in (a UK reading in summer is an hour off UTC); two hours accepts both and
/// still refuses a replay of yesterday's genuine envelope.
pub const DEFAULT_WEBHOOK_FRESHNESS: Duration = Duration::from_secs(2 * 60 * 60);

/// Refuses a webhook whose `timestamp` (`YYYYMMDDHHMMSS`, covered by the hash) is more than
/// `window` from `now` (the same layout), either way.
fn check_freshness(timestamp: &str, now: &str, window: Duration) -> Result<()> {
    let parse = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S").ok();
    let (Some(sent), Some(now)) = (parse(timestamp), parse(now)) else {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: "webhook timestamp is not YYYYMMDDHHMMSS".into(),
        });
    };
    let age = (now - sent).abs().to_std().unwrap_or(Duration::MAX);
    if age > window {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: format!(
                "webhook timestamp is {} s from now, outside the {} s freshness window (a replay?)",
                age.as_secs(),
                window.as_secs()
            ),
        });
    }
    Ok(())
}

/// The billing fields as JSON (to add card fields beside them). A plain struct of strings
/// always serialises; an error here is reported, not a panic.
fn billing_value(b: &BillingAddress) -> Result<serde_json::Value> {
    serde_json::to_value(b).map_err(|_| {
        Error::invalid(
            "billing",
            InputProblem::Format {
                expected: "fields that serialise to JSON".into(),
            },
        )
    })
}

/// The unified holder data as Acquired customer and billing fields.
fn holder_parts(h: &HolderData) -> (Option<Customer>, Option<BillingAddress>) {
    let customer = (h.first_name.is_some()
        || h.middle_name.is_some()
        || h.last_name.is_some()
        || h.company.is_some())
    .then(|| Customer {
        customer_fname: h.first_name.clone(),
        customer_mname: h.middle_name.clone(),
        customer_lname: h.last_name.clone(),
        customer_company: h.company.clone(),
        ..Customer::default()
    });
    let a = h.address.clone().unwrap_or_default();
    let billing = BillingAddress {
        billing_street: a.line1,
        billing_street2: a.line2,
        billing_city: a.city,
        billing_state: a.state,
        billing_zipcode: a.postal_code,
        billing_country_code_iso2: a.country,
        billing_phone: match (&h.phone_country_code, &h.phone) {
            (Some(cc), Some(n)) => Some(format!("+{cc}{n}")),
            (None, n) => n.clone(),
            (Some(_), None) => None,
        },
        billing_email: h.email.clone(),
    };
    let billing = (billing != BillingAddress::default()).then_some(billing);
    (customer, billing)
}

fn receipt_for(answer: Answer, account_id: String) -> AccountUpdateReceipt {
    let r = answer.response();
    AccountUpdateReceipt {
        provider: PROVIDER,
        account_id,
        raw_code: r.response_code.clone().unwrap_or_default(),
        warning: None,
        reference: r.transaction_id.clone(),
    }
}

fn tokens_of(cards: Vec<CardToUpdate>) -> Result<Vec<(String, String)>> {
    if cards.is_empty() {
        return Err(Error::invalid("cards", InputProblem::Empty));
    }
    let mut seen = std::collections::HashSet::new();
    cards
        .into_iter()
        .enumerate()
        .map(|(index, c)| {
            check_caller_id(index, &c.id)?;
            if !seen.insert(c.id.clone()) {
                return Err(Error::invalid(format!("cards[id={}].id", c.id), InputProblem::Duplicate));
            }
            match c.source {
                CardSource::Token(t) => {
                    check_token(&format!("cards[id={}].token", c.id), &t)?;
                    Ok((c.id, t))
                }
                _ => Err(Error::invalid(
                    format!("cards[id={}].card", c.id),
                    InputProblem::NotAllowed {
                        reason: "Acquired works on stored tokens (INIT transaction ids), not card numbers".into(),
                    },
                )),
            }
        })
        .collect()
}

/// Acquired's chunking: every card is its own ACCOUNT_UPDATER request on its token.
struct InquiryPlanner;

impl Planner for InquiryPlanner {
    fn check(&self, _position: u64, card: &CardToUpdate) -> Result<()> {
        match &card.source {
            CardSource::Token(t) => check_token(&format!("cards[id={}].token", card.id), t),
            _ => Err(Error::invalid(
                format!("cards[id={}].card", card.id),
                InputProblem::NotAllowed {
                    reason:
                        "Acquired works on stored tokens (INIT transaction ids), not card numbers"
                            .into(),
                },
            )),
        }
    }

    fn admit(&mut self, position: u64, card: CardToUpdate) -> Option<Chunk> {
        let mut chunk = Chunk::new(JobKind::Inquiry, None);
        chunk.push(position, card);
        Some(chunk)
    }

    fn finish(&mut self) -> Option<Chunk> {
        None
    }
}

impl ChunkSender for AcquiredClient {
    fn send<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, ChunkOutcome> {
        Box::pin(async move {
            let token = match chunk.cards() {
                [card] => match &card.source {
                    CardSource::Token(t) => t,
                    _ => {
                        return ChunkOutcome::Failed(Error::invalid("card", InputProblem::Missing));
                    }
                },
                _ => return ChunkOutcome::Failed(Error::invalid("cards", InputProblem::Empty)),
            };
            match self.request_account_update(token, None).await {
                Ok(answer) => ChunkOutcome::Accepted {
                    // The token is the reference the account_updater webhook names.
                    job: JobRef::new(PROVIDER, JobKind::Inquiry, token.clone()),
                    state: match answer {
                        Answer::Pending(_) => JobState::Pending,
                        Answer::Success(_) => JobState::Completed,
                    },
                    card_refs: Some(vec![token.clone()]),
                },
                Err(e) => ChunkOutcome::from_error(e),
            }
        })
    }
}

impl Provider for AcquiredClient {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    /// Results arrive only by the signed `account_updater` webhook, so there is no fetch or
    /// status flow; enable / disable a token are "add" / "remove" from updates.
    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[
            Flow::UpdateAccount,
            Flow::Submit,
            Flow::AddCards,
            Flow::RemoveCards,
            Flow::ParseWebhook,
        ])
    }

    /// A new card number: UPDATE_BILLING (with the holder's billing address when given), which
    /// needs the expiry. Holder data only: SUBSCRIPTION_MANAGE. An expiry alone cannot change
    /// (Acquired changes it only with the number).
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        Box::pin(async move {
            let AccountUpdateRequest {
                account_id,
                card,
                holder,
            } = request;
            check_token("account_id", &account_id)?;
            let (customer, billing) = holder.as_ref().map(holder_parts).unwrap_or((None, None));
            match card {
                Some(data) => {
                    let Some(number) = data.number.clone() else {
                        return Err(Error::invalid(
                            "card.number",
                            InputProblem::NotAllowed {
                                reason: "Acquired changes an expiry only together with the card number (UPDATE_BILLING)".into(),
                            },
                        ));
                    };
                    let expiry = data
                        .expiry
                        .ok_or_else(|| Error::invalid("card.expiry", InputProblem::Missing))?;
                    if customer.is_some() {
                        return Err(Error::invalid(
                            "holder",
                            InputProblem::NotAllowed {
                                reason: "customer names change with SUBSCRIPTION_MANAGE; send them in a separate update".into(),
                            },
                        ));
                    }
                    let card = NewCard {
                        number,
                        expiry,
                        cvv: data.security_code.clone(),
                        holder_name: data.holder_name.clone(),
                    };
                    let answer = self
                        .update_card(&account_id, &card, billing.as_ref(), None)
                        .await?;
                    Ok(receipt_for(answer, account_id))
                }
                None => {
                    if customer.is_none() && billing.is_none() {
                        return Err(Error::invalid("update", InputProblem::Empty));
                    }
                    let mut change = ManageBilling::new(account_id.clone());
                    change.customer = customer;
                    change.billing = billing;
                    let answer = self.manage_billing(&change).await?;
                    Ok(receipt_for(answer, account_id))
                }
            }
        })
    }

    /// One ACCOUNT_UPDATER per token (cards must be tokens), sent with bounded concurrency and
    /// never repeated; each accepted token is a pending inquiry job whose outcome arrives by
    /// webhook.
    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            check_all(&InquiryPlanner, &cards)?;
            let mut collector = ReceiptCollector::default();
            let streamed = drive(
                PROVIDER,
                card_stream(cards),
                InquiryPlanner,
                Arc::new(self.clone()),
                &StreamOptions::default().duplicate_ids(DuplicateIds::CallerGuarantees),
                self.concurrency,
                &mut collector,
            )
            .await;
            collector.into_receipt(streamed)
        })
    }

    /// One ACCOUNT_UPDATER request (a chunk of one card) per token, streamed.
    fn submit_stream<'a>(
        &'a self,
        cards: BoxStream<'a, CardToUpdate>,
        options: StreamOptions,
        observer: &'a mut dyn ChunkObserver,
    ) -> BoxFuture<'a, Result<StreamReceipt>> {
        Box::pin(async move {
            Ok(drive(
                PROVIDER,
                cards,
                InquiryPlanner,
                Arc::new(self.clone()),
                &options,
                self.concurrency,
                observer,
            )
            .await)
        })
    }

    /// Re-enables tokens (SUBSCRIPTION_MANAGE / ENABLE). The job is not used: tokens are
    /// enabled one by one.
    fn add_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<CardToUpdate>,
    ) -> BoxFuture<'a, Result<SubmissionReceipt>> {
        let _ = job;
        Box::pin(async move {
            let mut receipt = SubmissionReceipt::new(PROVIDER);
            for (id, token) in tokens_of(cards)? {
                match self.enable_token(&token, None).await {
                    Ok(_) => receipt.accepted.push(AcceptedJob {
                        // The token is the card's reference: what remove_cards disables and
                        // what joins webhook results back to the caller's id.
                        cards: vec![PlacedCard::new(id, Some(token.clone()))],
                        job: JobRef::new(PROVIDER, JobKind::Subscription, token),
                        state: JobState::Active,
                    }),
                    Err(error) => receipt.failed.push(FailedChunk {
                        kind: JobKind::Subscription,
                        card_ids: vec![id],
                        error,
                    }),
                }
            }
            Ok(receipt)
        })
    }

    /// Disables tokens (SUBSCRIPTION_MANAGE / DISABLE): a token given as
    /// `RemoveCard::Card(CardToUpdate::token(..))`, or a placed card from a receipt, whose
    /// `provider_ref` is its token (never its caller id: that is the caller's own name for the
    /// card, and sending it as a token could disable another customer's card). A placed card with
    /// no token is refused before any request. Every token is tried; the receipt says which were
    /// disabled.
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        let _ = job;
        Box::pin(async move {
            let mut as_tokens = Vec::with_capacity(cards.len());
            for (index, c) in cards.into_iter().enumerate() {
                match c {
                    RemoveCard::Card(card) => as_tokens.push(card),
                    RemoveCard::Placed(PlacedCard {
                        id,
                        provider_ref: Some(token),
                        ..
                    }) => as_tokens.push(CardToUpdate::token(id, token)),
                    RemoveCard::Placed(_) => {
                        return Err(Error::invalid(
                            format!("cards[{index}].provider_ref"),
                            InputProblem::Missing,
                        ));
                    }
                }
            }
            let mut receipt = RemovalReceipt::new(PROVIDER);
            for (id, token) in tokens_of(as_tokens)? {
                match self.disable_token(&token, None).await {
                    Ok(_) => receipt.removed.push(id),
                    Err(error) => receipt.failed.push(FailedRemoval {
                        card_ids: vec![id],
                        provider_refs: vec![token],
                        error,
                    }),
                }
            }
            Ok(receipt)
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        self.parse_webhook_body(request.body)
    }
}
