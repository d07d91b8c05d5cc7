//! The native Acquired client: SUBSCRIPTION_MANAGE (billing, enable / disable), the
//! UPDATE_BILLING card change and ACCOUNT_UPDATER on the one `api.php` endpoint, every request
//! hashed and every response's hash verified before it is used.

use super::operations::{ManageBilling, RequestAccountUpdate, SetTokenEnabled, UpdateCard};
use super::validate::check_currency;
use super::wire::{BillingAddress, Response};
use super::{Clock, Credentials, DEFAULT_WEBHOOK_FRESHNESS, PROVIDER, QA_URL, hash};
use crate::card::{CardBrand, CardNumber, Expiry};
use crate::error::{Error, Result};
use crate::transport::{NoAuth, Transport, TransportConfig};
use secrecy::SecretString;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

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
    /// The base URL, which for Acquired is the full `api.php` endpoint URL (QA by default;
    /// [`PRODUCTION_URL`](super::PRODUCTION_URL), an emulator…).
    pub fn base_url(mut self, url: Url) -> Self {
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
        check_currency(&self.currency)?;
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
    pub(super) transport: Transport,
    pub(super) credentials: Credentials,
    pub(super) clock: Clock,
    pub(super) currency: String,
    pub(super) concurrency: usize,
    pub(super) webhook_freshness: Duration,
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

/// What a successful call answered: the API documents exactly these two non-failure codes today.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
    /// assert_eq!(client.base_url().host_str(), Some("qaapi.acquired.com"));
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

    /// The base URL in use: the `api.php` endpoint itself.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        &self.credentials.company_id
    }

    crate::providers::common::execute_methods!(
        "Acquired",
        r#"```
# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
# let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
# let client = account_updater::providers::acquired::AcquiredClient::builder(emulator.credentials())
#     .base_url(emulator.base_url())
#     .build()?;
# use account_updater::card::with_check_digit;
# let card = account_updater::CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
# let token = emulator.create_token(&card, account_updater::Expiry::new(1, 2030)?);
use account_updater::providers::acquired::Answer;
use account_updater::providers::acquired::operations::{RequestAccountUpdate, SetTokenEnabled};
use account_updater::transport::{CallOptions, RetryPolicy};
let inquiry = RequestAccountUpdate { token: &token, merchant_order_id: None };
assert!(matches!(client.execute(&inquiry).await?, Answer::Pending(_)));
let disable = SetTokenEnabled { token: &token, enabled: false, merchant_order_id: None };
let once = CallOptions::default().retry(RetryPolicy::none());
assert!(matches!(client.execute_with(&disable, &once).await?, Answer::Success(_)));
# Ok(()) }
```"#
    );

    /// Verifies a response's `response_hash` ([Acquired API reference](https://developer.acquired.com/integrations/api)) in constant time.
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

    pub(super) fn now(&self) -> String {
        (self.clock)()
    }

    /// SUBSCRIPTION_MANAGE: change a token's customer, billing and shipping data.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::acquired::{AcquiredClient, Answer};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
    /// # let client = AcquiredClient::builder(emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let stored = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # // A token from an earlier INIT transaction (the emulator issues one directly).
    /// # let token = emulator.create_token(&stored, Expiry::new(1, 2030)?);
    /// use account_updater::providers::acquired::ManageBilling;
    /// use account_updater::providers::acquired::wire::BillingAddress;
    /// let mut change = ManageBilling::new(&token);
    /// change.billing = Some(BillingAddress::default().billing_city("London").billing_zipcode("W1U7AL"));
    /// let answer = client.manage_billing(&change).await?;
    /// assert!(matches!(answer, Answer::Success(_)));
    /// let fields = emulator.token_state(&token).unwrap().fields;
    /// assert_eq!(fields["billing_city"], "London");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the token is empty or unsafe, or a given
    /// `merchant_order_id` breaks Acquired's format, or the change carries no customer, billing or
    /// shipping field. Otherwise what Acquired answered, mapped in one place (`response.rs`): a
    /// success or pending answer whose `response_hash` does not verify is [`Error::Integrity`]
    /// (nothing in it is acted upon); refused credentials (codes 103, 107) are [`Error::Auth`]; any
    /// other code is [`Error::Provider`] with the code, its message (or published meaning), the
    /// bank's code and the transaction id; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. Acquired **may have changed the token's data** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an answer that
    /// could not be read or verified): the same change sets the same data, so it can simply be sent
    /// again. A refusal changed nothing.
    pub async fn manage_billing(&self, change: &ManageBilling) -> Result<Answer> {
        self.execute(change).await
    }

    /// SUBSCRIPTION_MANAGE / `DISABLE`: the token is refused for future ACCOUNT_UPDATER, REBILL,
    /// REUSE and UPDATE_BILLING.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::acquired::{AcquiredClient, Answer};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
    /// # let client = AcquiredClient::builder(emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let stored = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # // A token from an earlier INIT transaction (the emulator issues one directly).
    /// # let token = emulator.create_token(&stored, Expiry::new(1, 2030)?);
    /// let answer = client.disable_token(&token, None).await?;
    /// assert!(matches!(answer, Answer::Success(_)));
    /// let enabled = emulator.token_state(&token).unwrap().enabled;
    /// assert!(!enabled);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the token is empty or unsafe, or a given
    /// `merchant_order_id` breaks Acquired's format. Otherwise what Acquired answered, mapped in
    /// one place (`response.rs`): a success or pending answer whose `response_hash` does not verify
    /// is [`Error::Integrity`] (nothing in it is acted upon); refused credentials (codes 103, 107)
    /// are [`Error::Auth`]; any other code is [`Error::Provider`] with the code, its message (or
    /// published meaning), the bank's code and the transaction id; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. Acquired **may have disabled
    /// the token** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a
    /// 5xx, an answer that could not be read or verified): disabling again leaves it disabled, so
    /// it can simply be sent again. A refusal changed nothing.
    pub async fn disable_token(
        &self,
        token: &str,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        self.execute(&SetTokenEnabled {
            token,
            enabled: false,
            merchant_order_id,
        })
        .await
    }

    /// SUBSCRIPTION_MANAGE / `ENABLE`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::acquired::{AcquiredClient, Answer};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
    /// # let client = AcquiredClient::builder(emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let stored = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # // A token from an earlier INIT transaction (the emulator issues one directly).
    /// # let token = emulator.create_token(&stored, Expiry::new(1, 2030)?);
    /// client.disable_token(&token, None).await?;
    /// client.enable_token(&token, Some("order-2026-12-07")).await?;
    /// let enabled = emulator.token_state(&token).unwrap().enabled;
    /// assert!(enabled);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the token is empty or unsafe, or a given
    /// `merchant_order_id` breaks Acquired's format. Otherwise what Acquired answered, mapped in
    /// one place (`response.rs`): a success or pending answer whose `response_hash` does not verify
    /// is [`Error::Integrity`] (nothing in it is acted upon); refused credentials (codes 103, 107)
    /// are [`Error::Auth`]; any other code is [`Error::Provider`] with the code, its message (or
    /// published meaning), the bank's code and the transaction id; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. Acquired **may have enabled the
    /// token** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx,
    /// an answer that could not be read or verified): enabling again leaves it enabled, so it can
    /// simply be sent again. A refusal changed nothing.
    pub async fn enable_token(
        &self,
        token: &str,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        self.execute(&SetTokenEnabled {
            token,
            enabled: true,
            merchant_order_id,
        })
        .await
    }

    /// UPDATE_BILLING card change: a zero-amount `AUTH_ONLY` with the new card (and optionally
    /// a new billing address). The token changes only if the authorisation succeeds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::acquired::{AcquiredClient, Answer};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
    /// # let client = AcquiredClient::builder(emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let stored = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # // A token from an earlier INIT transaction (the emulator issues one directly).
    /// # let token = emulator.create_token(&stored, Expiry::new(1, 2030)?);
    /// use account_updater::providers::acquired::NewCard;
    /// // The reissued card; Acquired authorises it for 0 before the token takes it.
    /// let reissued = CardNumber::parse(&with_check_digit("445700030000000").unwrap())?;
    /// let card = NewCard::new(reissued, Expiry::new(6, 2031)?);
    /// let answer = client.update_card(&token, &card, None, None).await?;
    /// assert!(matches!(answer, Answer::Success(_)));
    /// let expiry = emulator.token_state(&token).unwrap().expiry;
    /// assert_eq!(expiry, "062031");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the token is empty or unsafe, or a given
    /// `merchant_order_id` breaks Acquired's format, the new card has expired, its brand is not one
    /// Acquired names, or the security code is not 3 or 4 digits. Otherwise what Acquired answered,
    /// mapped in one place (`response.rs`): a success or pending answer whose `response_hash` does
    /// not verify is [`Error::Integrity`] (nothing in it is acted upon); refused credentials (codes
    /// 103, 107) are [`Error::Auth`]; any other code is [`Error::Provider`] with the code, its
    /// message (or published meaning), the bank's code and the transaction id; or what kept it from
    /// answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. Acquired **may have
    /// authorised the new card and changed the token** when [`Error::provider_may_have_acted`] is
    /// `true` (a timeout after sending, a 5xx, an answer that could not be read or verified): a
    /// repeat is a second zero-amount authorisation; check the token (its next ACCOUNT_UPDATER or a
    /// SUBSCRIPTION_MANAGE answer) first before sending again. A refusal changed nothing.
    pub async fn update_card(
        &self,
        token: &str,
        card: &NewCard,
        billing: Option<&BillingAddress>,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        self.execute(&UpdateCard {
            token,
            card,
            billing,
            merchant_order_id,
        })
        .await
    }

    /// ACCOUNT_UPDATER for a token: answered pending (`11`); the outcome comes by the
    /// `account_updater` webhook.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::acquired::{AcquiredClient, Answer};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
    /// # let client = AcquiredClient::builder(emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let stored = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # // A token from an earlier INIT transaction (the emulator issues one directly).
    /// # let token = emulator.create_token(&stored, Expiry::new(1, 2030)?);
    /// let answer = client.request_account_update(&token, None).await?;
    /// // Pending: the networks' answer follows by the signed `account_updater` webhook.
    /// assert!(matches!(answer, Answer::Pending(_)));
    /// assert_eq!(emulator.inquiries()[&token], 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the token is empty or unsafe, or a given
    /// `merchant_order_id` breaks Acquired's format. Otherwise what Acquired answered, mapped in
    /// one place (`response.rs`): a success or pending answer whose `response_hash` does not verify
    /// is [`Error::Integrity`] (nothing in it is acted upon); refused credentials (codes 103, 107)
    /// are [`Error::Auth`]; any other code is [`Error::Provider`] with the code, its message (or
    /// published meaning), the bank's code and the transaction id; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. Acquired **may have started an
    /// inquiry** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx,
    /// an answer that could not be read or verified): a second inquiry is a second billable
    /// request, and its outcome comes by webhook: wait for the first one's webhook (Acquired
    /// retries it for an hour) before sending again. A refusal changed nothing.
    pub async fn request_account_update(
        &self,
        token: &str,
        merchant_order_id: Option<&str>,
    ) -> Result<Answer> {
        self.execute(&RequestAccountUpdate {
            token,
            merchant_order_id,
        })
        .await
    }
}

impl AcquiredClient {
    /// The variables [`AcquiredClient::from_env`] reads.
    pub const ENV: crate::env::EnvVars = crate::env::EnvVars::new(
        &[
            "ACQUIRED_COMPANY_ID",
            "ACQUIRED_COMPANY_PASS",
            "ACQUIRED_COMPANY_HASHCODE",
        ],
        &["ACQUIRED_MID_ID", "ACQUIRED_BASE_URL"],
    );

    /// A builder from the environment: `ACQUIRED_COMPANY_ID`, `ACQUIRED_COMPANY_PASS` and
    /// `ACQUIRED_COMPANY_HASHCODE`, with `ACQUIRED_MID_ID` and `ACQUIRED_BASE_URL` (default:
    /// the QA endpoint) when set. `None` when none of the three is set.
    ///
    /// ```
    /// use account_updater::providers::acquired::AcquiredClient;
    ///
    /// # for name in AcquiredClient::ENV.required { assert!(std::env::var(name).is_err()); }
    /// assert!(AcquiredClient::from_env()?.is_none());
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the variable: some of the three set and some not, a
    /// company id or MID the credentials refuse, a base URL that does not parse.
    pub fn from_env() -> Result<Option<AcquiredBuilder>> {
        let Some(env) = Self::ENV.read()? else {
            return Ok(None);
        };
        let credentials = Credentials::new(
            env.get("ACQUIRED_COMPANY_ID").unwrap_or_default(),
            env.secret("ACQUIRED_COMPANY_PASS").unwrap_or_default(),
            env.get("ACQUIRED_MID_ID"),
            env.secret("ACQUIRED_COMPANY_HASHCODE").unwrap_or_default(),
        )?;
        let mut builder = Self::builder(credentials);
        if let Some(url) = env.url("ACQUIRED_BASE_URL")? {
            builder = builder.base_url(url);
        }
        Ok(Some(builder))
    }
}
