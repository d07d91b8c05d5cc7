//! **AccountVault** (the TabaPay Account API v1): stored accounts (a card in one of four forms,
//! or a bank account, plus owner data), duplicate-card checks, ISO sub-clients, and the RSA keys
//! for encrypted card data ([TabaPay's Account API reference at developers.tabapay.com](https://developers.tabapay.com/reference); [TabaPay's Update Account reference](https://developers.tabapay.com/reference/updateaccount)).
//!
//! The vault runs the account updater itself (Visa VAU / Mastercard ABU on stored cards); what a
//! billing platform does through the API is create, read, **update** and delete stored accounts.
//! [`AccountVaultClient`] covers every account and key endpoint and implements the unified
//! "update a stored account" flow of [`Provider`](crate::Provider).
//!
//! Requests are compact JSON (the API refuses pretty-printed bodies) with
//! `Authorization: Bearer <token>`.
//!
//! On the embedded emulator (on TabaPay's sandbox, give your 22-character ClientID and token):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater_emulator::accountvault::AccountVaultEmulator;
//! use account_updater::providers::accountvault::AccountVaultClient;
//! use account_updater::providers::accountvault::wire::KeyFormat;
//!
//! let emulator = AccountVaultEmulator::start().await?;
//! let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
//!     .base_url(emulator.base_url())
//!     .build()?;
//! // The RSA key card data is encrypted with (RSA-OAEP) before it leaves your systems.
//! let key = client.create_key(KeyFormat::Asn1).await?;
//! let key_id = key.key_id.expect("a new key has an id");
//! assert_eq!(key_id.len(), 22);
//! assert!(client.retrieve_key(&key_id, Some(KeyFormat::Raw)).await?.key_modulus.is_some());
//! # Ok(()) }
//! ```

mod crypto;
pub mod wire;

mod auth;
mod client;
pub mod operations;
mod response;
mod unified;
pub(crate) mod validate;

pub use client::{
    AccountVaultBuilder, AccountVaultClient, DuplicateCheck, UpdateAllowFlag, Warning,
};
pub use crypto::{OaepMode, PublicKey, encrypt_card, encrypt_card_with};

use crate::ids::ProviderId;

/// The sandbox host seen in public client code ([TabaPay Account API reference](https://developers.tabapay.com/reference)); TabaPay issues each client its own
/// `https://{FQDN}:{PORT}`, so pass yours with `base_url`.
pub const SANDBOX_URL: &str = "https://api.sandbox.tabapay.net:10443";

const PROVIDER: ProviderId = ProviderId::AccountVault;
