//! The native PayConex client: one method per account-updater and webhook endpoint of the v4
//! API, each request signed (HMAC or Basic) and each violation answer typed.

use super::operations::{
    AddPans, AddShieldconex, AddTokens, CreateWebhook, DeleteRecord, DeleteSubscription,
    DeleteWebhook, GetSubscription, GetWebhook, ListWebhooks, ScheduleResults, SubscribePans,
    SubscribeShieldconex, SubscribeTokens, UpdateSubscription, UpdateWebhook, Updates,
};
use super::wire::{
    PanRecord, PanSubscription, Schedule, ShieldconexRecord, ShieldconexSubscription,
    SubscriptionPatch, TokenRecord, TokenSubscription, Update, Webhook, WebhookResponse,
};
use super::validate::{check_account_id, check_auth_for};
use super::{AuthMethod, CERTIFICATION_URL, Credentials, PRODUCTION_URL, PROVIDER, auth};
use crate::error::{Error, InputProblem, Result};
use crate::outcome::CardUpdate;
use crate::provider::Provider;
use crate::transport::{
    PathSegment, Signer, Transport, TransportConfig, path_segment,
};
use crate::webhook::WebhookEvent;
use std::sync::Arc;
use url::Url;

/// The two published environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// environment", [PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
    pub fn build(self) -> Result<PayConexClient> {
        check_account_id(&self.account_id)?;
        if self.credentials.key_id().is_empty() {
            return Err(Error::invalid("credentials.key_id", InputProblem::Missing));
        }
        let base_url = match self.base_url {
            Some(url) => url,
            None => self.environment.base_url()?,
        };
        check_auth_for(self.auth, &base_url)?;
        let signer: Arc<dyn Signer> = match self.auth {
            AuthMethod::Hmac => Arc::new(auth::HmacSigner::new(self.credentials)),
            AuthMethod::Basic => Arc::new(auth::BasicSigner::new(self.credentials)),
        };
        let transport = Transport::new(PROVIDER, base_url, signer, self.config)?;
        Ok(PayConexClient {
            transport,
            account: path_segment("account_id", &self.account_id)?,
            account_id: self.account_id,
        })
    }
}

/// The PayConex v4 account-updater and webhook client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PayConexClient {
    transport: Transport,
    account_id: String,
    /// `account_id` as the `{accountId}` path segment.
    account: PathSegment,
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

    /// `account_id` as the `{accountId}` path segment.
    pub(super) fn account(&self) -> &PathSegment {
        &self.account
    }

    crate::providers::common::execute_methods!(
        "PayConex",
        r#"```
# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
# let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
# let client = account_updater::providers::payconex::PayConexClient::builder(emulator.account_id(), emulator.credentials())
#     .base_url(emulator.base_url())
#     .build()?;
use account_updater::providers::payconex::operations::{GetWebhook, ListWebhooks};
use account_updater::transport::{CallOptions, RetryPolicy};
use std::time::Duration;
assert!(client.execute(&ListWebhooks {}).await?.is_empty());
// One call with its own timeout and no retries; an id is checked before anything is sent.
let once = CallOptions::default().timeout(Duration::from_secs(5)).retry(RetryPolicy::none());
let refused = client.execute_with(&GetWebhook { webhook_id: "" }, &once).await.unwrap_err();
assert_eq!(refused.kind(), account_updater::ErrorKind::InvalidInput);
# Ok(()) }
```"#
    );

    // ---- webhooks (PayConex Account Updater v4 reference) ----

    /// `POST /api/v4/accounts/{accountId}/webhooks` → 201.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{Webhook, WebhookEventType};
    /// let webhook = Webhook::new(
    ///     "https://billing.example/hooks/payconex",
    ///     WebhookEventType::AccountUpdaterBatchUpdates,
    /// );
    /// let created = client.create_webhook(&webhook).await?;
    /// assert!(!created.id.is_empty());
    /// assert_eq!(created.url, webhook.url);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What PayConex answered, mapped in one place (`response.rs`): [`Error::Auth`],
    /// [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the `ApiViolation`'s
    /// code, message, trace id and field; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. PayConex **may have registered the webhook** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an unreadable
    /// answer): list the webhooks ([`PayConexClient::list_webhooks`]) before sending again. A
    /// refusal (a 4xx, a violation) changed nothing.
    pub async fn create_webhook(&self, webhook: &Webhook) -> Result<WebhookResponse> {
        self.execute(&CreateWebhook { webhook }).await
    }

    /// `GET /api/v4/accounts/{accountId}/webhooks`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{Webhook, WebhookEventType};
    /// let webhook = Webhook::new(
    ///     "https://billing.example/hooks/payconex",
    ///     WebhookEventType::AccountUpdaterBatchUpdates,
    /// );
    /// client.create_webhook(&webhook).await?;
    /// let registered = client.list_webhooks().await?;
    /// assert_eq!(registered.len(), 1);
    /// assert_eq!(registered[0].url, webhook.url);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What PayConex answered, mapped in one place (`response.rs`): [`Error::Auth`],
    /// [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the `ApiViolation`'s
    /// code, message, trace id and field; or what kept it from answering: [`Error::Transport`],
    /// [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed nothing.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookResponse>> {
        self.execute(&ListWebhooks {}).await
    }

    /// `GET /api/v4/accounts/{accountId}/webhooks/{webhookID}`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{Webhook, WebhookEventType};
    /// let webhook = Webhook::new(
    ///     "https://billing.example/hooks/payconex",
    ///     WebhookEventType::AccountUpdaterBatchUpdates,
    /// );
    /// let created = client.create_webhook(&webhook).await?;
    /// let read = client.get_webhook(&created.id).await?;
    /// assert_eq!(read.url, webhook.url);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `webhook_id` is empty or not a safe path
    /// segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed
    /// nothing.
    pub async fn get_webhook(&self, webhook_id: &str) -> Result<WebhookResponse> {
        self.execute(&GetWebhook { webhook_id }).await
    }

    /// `PATCH /api/v4/accounts/{accountId}/webhooks/{webhookID}`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{Webhook, WebhookEventType};
    /// let webhook = Webhook::new(
    ///     "https://billing.example/hooks/payconex",
    ///     WebhookEventType::AccountUpdaterBatchUpdates,
    /// );
    /// let created = client.create_webhook(&webhook).await?;
    /// let moved = Webhook::new("https://billing.example/hooks/v2", WebhookEventType::AccountUpdaterBatchUpdates);
    /// let updated = client.update_webhook(&created.id, &moved).await?;
    /// assert_eq!(updated.url, "https://billing.example/hooks/v2");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `webhook_id` is empty or not a safe path
    /// segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. PayConex **may have changed the
    /// webhook** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx,
    /// an unreadable answer): read it back ([`PayConexClient::get_webhook`]) before sending again.
    /// A refusal (a 4xx, a violation) changed nothing.
    pub async fn update_webhook(
        &self,
        webhook_id: &str,
        webhook: &Webhook,
    ) -> Result<WebhookResponse> {
        self.execute(&UpdateWebhook { webhook_id, webhook }).await
    }

    /// `DELETE /api/v4/accounts/{accountId}/webhooks/{webhookID}` → 204.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{Webhook, WebhookEventType};
    /// let webhook = Webhook::new(
    ///     "https://billing.example/hooks/payconex",
    ///     WebhookEventType::AccountUpdaterBatchUpdates,
    /// );
    /// let created = client.create_webhook(&webhook).await?;
    /// client.delete_webhook(&created.id).await?;
    /// assert!(client.list_webhooks().await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `webhook_id` is empty or not a safe path
    /// segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A 404 or 410 answering a retry
    /// is success (the first attempt may have deleted it); deleting again is harmless, so an error
    /// here can simply be retried.
    pub async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        self.execute(&DeleteWebhook { webhook_id }).await
    }

    // ---- subscriptions (PayConex Account Updater v4 reference) ----

    /// `POST …/account-updater/payconex/subscribe` → 201.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// assert_eq!(schedule.records.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when there are no tokens, a token is empty or
    /// unsafe, or the period is invalid. Otherwise what PayConex answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// PayConex **may have created the schedule** when [`Error::provider_may_have_acted`] is `true`
    /// (a timeout after sending, a 5xx, an unreadable answer): look for it
    /// ([`PayConexClient::get_subscription`] or the webhook it announces) before sending again. A
    /// refusal (a 4xx, a violation) changed nothing.
    pub async fn subscribe_tokens(&self, body: &TokenSubscription) -> Result<Schedule> {
        self.execute(&SubscribeTokens { subscription: body }).await
    }

    /// `POST …/account-updater/pan/subscribe` → 201.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PanRecord, PanSubscription, PeriodId};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("445700030000000").unwrap())?;
    /// let cards = vec![PanRecord::new(card, Expiry::new(1, 2030)?)];
    /// let schedule = client
    ///     .subscribe_pans(&PanSubscription::new(cards, PeriodId::MonthlyFirst))
    ///     .await?;
    /// assert_eq!(schedule.records.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when there are no cards, a card number fails its
    /// checks, or the period is invalid. Otherwise what PayConex answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// PayConex **may have created the schedule** when [`Error::provider_may_have_acted`] is `true`
    /// (a timeout after sending, a 5xx, an unreadable answer): look for it
    /// ([`PayConexClient::get_subscription`] or the webhook it announces) before sending again. A
    /// refusal (a 4xx, a violation) changed nothing.
    pub async fn subscribe_pans(&self, body: &PanSubscription) -> Result<Schedule> {
        self.execute(&SubscribePans { subscription: body }).await
    }

    /// `POST …/account-updater/shieldconex/subscribe` → 201.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{
    ///     PeriodId, ShieldconexRecord, ShieldconexSubscription,
    /// };
    /// use account_updater::Expiry;
    /// let tokens = vec![ShieldconexRecord::new("123456789101", "bfid-7Qx2", Expiry::new(1, 2030)?)];
    /// let schedule = client
    ///     .subscribe_shieldconex(&ShieldconexSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// assert_eq!(schedule.records.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when there are no tokens, a ShieldConex token is
    /// incomplete, or the period is invalid. Otherwise what PayConex answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// PayConex **may have created the schedule** when [`Error::provider_may_have_acted`] is `true`
    /// (a timeout after sending, a 5xx, an unreadable answer): look for it
    /// ([`PayConexClient::get_subscription`] or the webhook it announces) before sending again. A
    /// refusal (a 4xx, a violation) changed nothing.
    pub async fn subscribe_shieldconex(&self, body: &ShieldconexSubscription) -> Result<Schedule> {
        self.execute(&SubscribeShieldconex { subscription: body }).await
    }

    /// `GET …/account-updater/subscriptions/{subscriptionId}`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// let read = client.get_subscription(&schedule.id).await?;
    /// assert_eq!(read.id, schedule.id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` is empty or not a safe
    /// path segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed
    /// nothing.
    pub async fn get_subscription(&self, subscription_id: &str) -> Result<Schedule> {
        self.execute(&GetSubscription { subscription_id }).await
    }

    /// `PATCH …/account-updater/subscriptions/{subscriptionId}` (e.g. `enabled: false` to pause).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// use account_updater::providers::payconex::wire::SubscriptionPatch;
    /// let paused = client
    ///     .update_subscription(&schedule.id, &SubscriptionPatch::default().enabled(false))
    ///     .await?;
    /// assert_eq!(paused.enabled, Some(false));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` is empty or unsafe, or the
    /// patch changes nothing. Otherwise what PayConex answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// PayConex **may have applied the change** when [`Error::provider_may_have_acted`] is `true`
    /// (a timeout after sending, a 5xx, an unreadable answer): read the schedule back
    /// ([`PayConexClient::get_subscription`]) before sending again. A refusal (a 4xx, a violation)
    /// changed nothing.
    pub async fn update_subscription(
        &self,
        subscription_id: &str,
        patch: &SubscriptionPatch,
    ) -> Result<Schedule> {
        self.execute(&UpdateSubscription { subscription_id, patch }).await
    }

    /// `DELETE …/account-updater/subscriptions/{subscriptionId}` → 204: every record is disabled
    /// and unsubscribed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// client.delete_subscription(&schedule.id).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` is empty or not a safe
    /// path segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A 404 or 410 answering a retry
    /// is success (the first attempt may have deleted the schedule); deleting again is harmless, so
    /// an error here can simply be retried.
    pub async fn delete_subscription(&self, subscription_id: &str) -> Result<()> {
        self.execute(&DeleteSubscription { subscription_id }).await
    }

    // ---- records (PayConex Account Updater v4 reference) ----

    /// `POST …/subscriptions/{subscriptionId}/payconex` with a bare JSON array.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// let grown = client
    ///     .add_tokens(&schedule.id, &[TokenRecord::new("123456789102")])
    ///     .await?;
    /// assert_eq!(grown.records.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` is empty or unsafe, there
    /// are no records, or a token is empty or unsafe. Otherwise what PayConex answered, mapped in
    /// one place (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// PayConex **may have added the records** when [`Error::provider_may_have_acted`] is `true` (a
    /// timeout after sending, a 5xx, an unreadable answer): read the schedule back
    /// ([`PayConexClient::get_subscription`]) before sending again. A refusal (a 4xx, a violation)
    /// changed nothing.
    pub async fn add_tokens(
        &self,
        subscription_id: &str,
        records: &[TokenRecord],
    ) -> Result<Schedule> {
        self.execute(&AddTokens { subscription_id, records }).await
    }

    /// `POST …/subscriptions/{subscriptionId}/shieldconex` with a bare JSON array.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{
    ///     PeriodId, ShieldconexRecord, ShieldconexSubscription,
    /// };
    /// use account_updater::Expiry;
    /// let record = |token: &str| ShieldconexRecord::new(token, "bfid-7Qx2", Expiry::new(1, 2030).unwrap());
    /// let schedule = client
    ///     .subscribe_shieldconex(&ShieldconexSubscription::new(vec![record("123456789101")], PeriodId::MonthlyFirst))
    ///     .await?;
    /// let grown = client.add_shieldconex(&schedule.id, &[record("123456789102")]).await?;
    /// assert_eq!(grown.records.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` is empty or unsafe, there
    /// are no records, or a ShieldConex token is incomplete. Otherwise what PayConex answered,
    /// mapped in one place (`response.rs`): [`Error::Auth`], [`Error::NotFound`],
    /// [`Error::RateLimited`], [`Error::Provider`] with the `ApiViolation`'s code, message, trace
    /// id and field; or what kept it from answering: [`Error::Transport`], [`Error::Timeout`],
    /// [`Error::Decode`]. PayConex **may have added the records** when
    /// [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an unreadable
    /// answer): read the schedule back ([`PayConexClient::get_subscription`]) before sending again.
    /// A refusal (a 4xx, a violation) changed nothing.
    pub async fn add_shieldconex(
        &self,
        subscription_id: &str,
        records: &[ShieldconexRecord],
    ) -> Result<Schedule> {
        self.execute(&AddShieldconex { subscription_id, records }).await
    }

    /// `POST …/subscriptions/{subscriptionId}/pan` with a bare JSON array.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// use account_updater::providers::payconex::wire::PanRecord;
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let card = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let grown = client
    ///     .add_pans(&schedule.id, &[PanRecord::new(card, Expiry::new(1, 2030)?)])
    ///     .await?;
    /// assert_eq!(grown.records.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` is empty or unsafe, there
    /// are no records, or a card number fails its checks. Otherwise what PayConex answered, mapped
    /// in one place (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// PayConex **may have added the records** when [`Error::provider_may_have_acted`] is `true` (a
    /// timeout after sending, a 5xx, an unreadable answer): read the schedule back
    /// ([`PayConexClient::get_subscription`]) before sending again. A refusal (a 4xx, a violation)
    /// changed nothing.
    pub async fn add_pans(&self, subscription_id: &str, records: &[PanRecord]) -> Result<Schedule> {
        self.execute(&AddPans { subscription_id, records }).await
    }

    /// `DELETE …/subscriptions/{subscriptionId}/records/{recordId}` → 204.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// let record = &schedule.records[0];
    /// client.delete_record(&schedule.id, &record.id).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `subscription_id` or `record_id` is empty or
    /// not a safe path segment. Otherwise what PayConex answered, mapped in one place
    /// (`response.rs`): [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`],
    /// [`Error::Provider`] with the `ApiViolation`'s code, message, trace id and field; or what
    /// kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A 404
    /// or 410 answering a retry is success (the first attempt may have deleted the record);
    /// deleting again is harmless, so an error here can simply be retried.
    pub async fn delete_record(&self, subscription_id: &str, record_id: &str) -> Result<()> {
        self.execute(&DeleteRecord { subscription_id, record_id }).await
    }

    // ---- results (PayConex Account Updater v4 reference) ----

    /// `GET …/account-updater/schedules/{scheduleId}/results`: each record with its most recent
    /// update.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// emulator.run_schedule(&schedule.id).await; // the emulator's stand-in for the monthly run
    /// let results = client.schedule_results(&schedule.id).await?;
    /// assert_eq!(results.records.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `schedule_id` is empty or not a safe path
    /// segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed
    /// nothing.
    pub async fn schedule_results(&self, schedule_id: &str) -> Result<Schedule> {
        self.execute(&ScheduleResults { schedule_id }).await
    }

    /// `GET …/account-updater/updates/{updateId}`: the updates a notification announced.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// // The emulator's stand-in for the monthly run; a webhook would carry its updateId.
    /// let run = emulator.run_schedule(&schedule.id).await.unwrap();
    /// let updates = client.updates(&run.update_id).await?;
    /// assert_eq!(updates.len(), run.updates);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `update_id` is empty or not a safe path
    /// segment. Otherwise what PayConex answered, mapped in one place (`response.rs`):
    /// [`Error::Auth`], [`Error::NotFound`], [`Error::RateLimited`], [`Error::Provider`] with the
    /// `ApiViolation`'s code, message, trace id and field; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed
    /// nothing.
    pub async fn updates(&self, update_id: &str) -> Result<Vec<Update>> {
        self.execute(&Updates { update_id }).await
    }

    /// Fetches the authoritative updates behind a notification parsed by
    /// [`parse_webhook`](super::parse_webhook) (the notification itself is unsigned). The same
    /// verb and answer as CardSync's: an event that announces no results has none to fetch.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::payconex::PayConexClient;
    /// # let emulator = account_updater_emulator::payconex::PayConexEmulator::start().await?;
    /// # let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::payconex::wire::{PeriodId, TokenRecord, TokenSubscription};
    /// let tokens = vec![TokenRecord::new("123456789101")];
    /// let schedule = client
    ///     .subscribe_tokens(&TokenSubscription::new(tokens, PeriodId::MonthlyFirst))
    ///     .await?;
    /// use account_updater::providers::payconex::parse_webhook;
    /// let run = emulator.run_schedule(&schedule.id).await.unwrap();
    /// // What PayConex POSTs to the registered webhook (unsigned: only a hint).
    /// let body = format!(r#"{{"event":"ACCOUNT_UPDATER_BATCH_UPDATES","updateId":"{}"}}"#, run.update_id);
    /// let event = parse_webhook(body.as_bytes())?;
    /// let results = client.fetch_results_for(&event).await?;
    /// assert_eq!(results.len(), run.updates);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`PayConexClient::updates`]: a GET, so nothing was changed at the provider.
    pub async fn fetch_results_for(&self, event: &WebhookEvent) -> Result<Vec<CardUpdate>> {
        match event.results_query() {
            Some(query) => self.fetch_results(query).await,
            None => Ok(Vec::new()),
        }
    }
}

impl PayConexClient {
    /// The variables [`PayConexClient::from_env`] reads.
    pub const ENV: crate::env::EnvVars = crate::env::EnvVars::new(
        &[
            "PAYCONEX_ACCOUNT_ID",
            "PAYCONEX_API_KEY_ID",
            "PAYCONEX_API_SECRET",
        ],
        &["PAYCONEX_BASE_URL", "PAYCONEX_AUTH"],
    );

    /// A builder from the environment: `PAYCONEX_ACCOUNT_ID`, `PAYCONEX_API_KEY_ID` and
    /// `PAYCONEX_API_SECRET`, with `PAYCONEX_BASE_URL` (default: the certification
    /// environment) and `PAYCONEX_AUTH` (`hmac`, the default, or `basic`) when set. `None`
    /// when none of the three is set.
    ///
    /// ```
    /// use account_updater::providers::payconex::PayConexClient;
    ///
    /// // With none of its variables set, PayConex is simply not configured.
    /// # for name in PayConexClient::ENV.required { assert!(std::env::var(name).is_err()); }
    /// assert!(PayConexClient::from_env()?.is_none());
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the variable: some of the three set and some not,
    /// a base URL that does not parse, an auth scheme other than `hmac` or `basic`.
    pub fn from_env() -> Result<Option<PayConexBuilder>> {
        let Some(env) = Self::ENV.read()? else {
            return Ok(None);
        };
        let credentials = Credentials::new(
            env.get("PAYCONEX_API_KEY_ID").unwrap_or_default(),
            env.secret("PAYCONEX_API_SECRET").unwrap_or_default(),
        );
        let mut builder = Self::builder(
            env.get("PAYCONEX_ACCOUNT_ID").unwrap_or_default(),
            credentials,
        )
        .auth(AuthMethod::from_env()?);
        if let Some(url) = env.url("PAYCONEX_BASE_URL")? {
            builder = builder.base_url(url);
        }
        Ok(Some(builder))
    }
}
