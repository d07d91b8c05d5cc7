//! **Acquired.com** (the legacy JSON API, one `api.php` endpoint): manage stored tokens (INIT
//! transactions) and their account updater ([Acquired.com's API reference at developer.acquired.com](https://developer.acquired.com/integrations/api); [Acquired's SUBSCRIPTION_MANAGE guide](https://developer.acquired.com/cardstorage/manage)).
//!
//! - SUBSCRIPTION_MANAGE / `UPDATE_BILLING`: change a token's customer, billing and shipping
//!   data (anything but card number and expiry);
//! - SUBSCRIPTION_MANAGE / `DISABLE` and `ENABLE` a token;
//! - UPDATE_BILLING card change: a zero-amount `AUTH_ONLY` carrying the new card; the token is
//!   updated only if that authorisation succeeds;
//! - ACCOUNT_UPDATER for a token: answered `11` (pending); the outcome arrives by the
//!   `account_updater` webhook, whose status and scheme code map to the unified outcome
//!   ([`result`] says which field names are read, since Acquired does not publish them).
//!
//! Credentials travel in the body; every request carries a `request_hash`, **every response's
//! `response_hash` is verified** before anything in it is used (a mismatch is
//! [`Error::Integrity`](crate::Error::Integrity)), and webhooks are verified with their double SHA-256 `hash`. The
//! `company_hashcode` is never sent.
//!
//! On the embedded emulator (on Acquired's QA endpoint, build [`Credentials`] from your company
//! id, password and hash code):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater_emulator::acquired::AcquiredEmulator;
//! use account_updater::providers::acquired::{AcquiredClient, Answer};
//! use account_updater::{CardNumber, Expiry};
//!
//! let emulator = AcquiredEmulator::start().await?;
//! let token = emulator.create_token(&CardNumber::parse("4457000300000007")?, Expiry::new(1, 2030)?);
//! let client = AcquiredClient::builder(emulator.credentials())
//!     .base_url(emulator.base_url())
//!     .build()?;
//! // Every response's hash was verified before this answer was built.
//! let answer = client.request_account_update(&token, None).await?;
//! assert!(matches!(answer, Answer::Pending(_))); // the outcome follows by webhook
//! client.disable_token(&token, None).await?;
//! # Ok(()) }
//! ```

pub(crate) mod hash;
pub mod wire;

pub mod result;

mod auth;
mod client;
pub mod operations;
mod response;
mod unified;
mod validate;
mod webhook;

pub use auth::Credentials;
pub use client::{AcquiredBuilder, AcquiredClient, Answer, NewCard, card_type};
pub use operations::ManageBilling;
pub use response::response_code_meaning;
pub use webhook::DEFAULT_WEBHOOK_FRESHNESS;

use std::sync::Arc;

use crate::ids::ProviderId;

/// The QA (test) endpoint: the default.
pub const QA_URL: &str = "https://qaapi.acquired.com/api.php";
/// The production endpoint (needs the caller's IPs allowlisted by Acquired).
pub const PRODUCTION_URL: &str = "https://gateway.acquired.com/api.php";

const PROVIDER: ProviderId = ProviderId::Acquired;

/// Produces the 14-digit `yyyymmddhhmmss` timestamp of each request.
pub type Clock = Arc<dyn Fn() -> String + Send + Sync>;
