//! Bluefin **PayConex** Account Updater v4: scheduled subscriptions of PayConex tokens, card
//! numbers or ShieldConex tokens; webhooks; results per schedule or per `updateId`.
//!
//! [`PayConexClient`] covers all 17 account-updater and webhook endpoints (the [PayConex (Bluefin) Account Updater API v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview))
//! with typed requests ([`wire`]) and implements the unified [`Provider`](crate::Provider) trait.
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
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater_emulator::payconex::PayConexEmulator;
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
//! ```

pub(crate) mod auth;
pub mod wire;

mod client;
pub mod operations;
mod response;
mod unified;
mod validate;
mod webhook;

pub use auth::{AuthMethod, Credentials};
pub use client::{Environment, PayConexBuilder, PayConexClient};
pub use response::violation_detail;
pub use unified::card_update;
pub use webhook::parse_webhook;

use crate::ids::ProviderId;

/// The certification (testing) environment: the default.
pub const CERTIFICATION_URL: &str = "https://api-cert.payconex.net";
/// The production environment (HMAC only).
pub const PRODUCTION_URL: &str = "https://api.payconex.net";
const PRODUCTION_HOST: &str = "api.payconex.net";

const PROVIDER: ProviderId = ProviderId::PayConex;
