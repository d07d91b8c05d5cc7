//! **CardSync** Universal Account Updater v2: merchant enrollment, batches of up to 10,000
//! Visa / Mastercard / Discover cards, American Express subscriptions per SE number, webhooks and
//! results (the [CardSync Universal Account Updater API v2 docs](https://api.cardsync.io/) at api.cardsync.io).
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
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater_emulator::cardsync::CardSyncEmulator;
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
//! let batch_id = &receipt.accepted()[0].job().id;
//! let results = client.batch_results_compact(batch_id, None).await?;
//! let outcomes: Vec<String> = results
//!     .card_updates(None)
//!     .map(|u| format!("{} {}", u.card_id.unwrap_or_default(), u.outcome))
//!     .collect();
//! assert_eq!(outcomes, ["cust-1 new_expiry", "cust-2 closed"]);
//! # Ok(()) }
//! ```

mod compact;
pub mod wire;

pub use compact::{CompactResults, ResultRef};

mod auth;
mod bulk;
mod client;
pub mod operations;
mod response;
mod unified;
mod validate;
mod webhook;

pub use bulk::MAX_OPEN_CARDS;
pub use client::{
    CardSyncBuilder, CardSyncClient, CardSyncKey, CardSyncPartner, MerchantKey, PartnerKey,
};
pub use unified::card_update;
pub use webhook::parse_webhook;

use crate::ids::ProviderId;

/// The sandbox: the default base URL. Production is not published; pass it with `base_url`.
pub const SANDBOX_URL: &str = "https://sandbox.cardsync.io";
/// Most cards one batch or subscribe request may carry ([CardSync v2 docs](https://api.cardsync.io/)).
pub const MAX_CARDS_PER_REQUEST: usize = 10_000;
/// Default number of requests [`CardSyncClient::submit_cards`] keeps in flight.
pub const DEFAULT_CONCURRENCY: usize = 4;

const PROVIDER: ProviderId = ProviderId::CardSync;
