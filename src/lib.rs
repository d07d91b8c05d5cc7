//! # account-updater
//!
//! Keep stored cards current through several card **account updater** services behind one API.
//!
//! Card networks reissue cards: new numbers, new expiries, closed accounts. Account updater
//! services (Visa VAU, Mastercard ABU, resold by gateways) tell a merchant what changed, each
//! with its own wire format, auth scheme and flow. This crate gives a billing platform:
//!
//! - **native clients**, complete and typed, for each provider (module [`providers`]);
//! - **one [`Provider`] trait**, object safe, so the same code runs against any backend;
//! - **one vocabulary** ([`Outcome`], [`CardUpdate`]) so a result means the same everywhere;
//! - **emulators** (crate `account-updater-emulator`) so everything runs offline.
//!
//! Card numbers live in [`CardNumber`], which never prints more than the first six and last four
//! digits; secrets live in [`secrecy::SecretString`]. No error, log line or `Debug` output of
//! this crate carries either.
//!
//! ## Map
//!
//! - [`card`], [`ids`], [`outcome`], [`codes`], [`error`], [`transport`], [`provider`], [`submission`],
//!   [`webhook`]: the core, which knows no vendor.
//! - [`providers`]: `payconex`, `cardsync`, `accountvault` and `acquired` (one feature each):
//!   one native client each (every endpoint, typed wire models, the vendor's auth),
//!   implementing [`Provider`].
//! - The durable, resumable update runs are a crate of their own, `account-updater-journal`
//!   (SQLite, or PostgreSQL with its feature `postgres`).
//! - The emulators are a crate of their own, `account-updater-emulator`: a stateful fake of
//!   each vendor on `127.0.0.1`, for examples and for your own tests, built on this crate's
//!   public API only.
//!
//! ```no_run
//! use std::sync::Arc;
//! use account_updater::{provider::{Provider}, ids::{Flow}};
//!
//! fn route(providers: &[Arc<dyn Provider>]) {
//!     for p in providers {
//!         let flows: Vec<&str> = p.capabilities().flows().map(Flow::as_str).collect();
//!         println!("{}: {}", p.id(), flows.join(", "));
//!     }
//! }
//! ```
//!
//! Start with `cargo run --example quickstart`: the four providers on their emulators, driven
//! through the trait only.
//!
//! ```
//! use account_updater::{CardNumber, CardBrand, Expiry, ExpiryFormat};
//!
//! let card = CardNumber::parse("4457010000000009")?;
//! assert_eq!(card.brand(), CardBrand::Visa);
//! assert_eq!(format!("{card}"), "445701******0009");
//!
//! let exp = Expiry::parse("01/50", ExpiryFormat::MmSlashYy)?;
//! assert_eq!(exp.format(ExpiryFormat::Yyyymm), "205001");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod card;
pub mod codes;
#[cfg(hex_provider)]
mod encoding;
pub mod env;
pub mod error;
pub mod ids;
mod model;
pub mod outcome;
pub mod provider;
pub mod providers;
pub mod routing;
pub mod submission;
pub mod testing;
pub mod transport;
pub mod webhook;

pub use card::{CardBrand, CardNumber, Expiry, ExpiryFormat};
pub use error::{Error, ErrorKind, Result};
pub use ids::{Flow, ProviderId};
pub use outcome::{Action, CardUpdate, CardUpdates, Outcome};
pub use provider::{Capabilities, Provider};
pub use secrecy::{ExposeSecret, SecretString};
pub use webhook::{WebhookEvent, WebhookKind};

/// The README's Rust samples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
