//! The unified webhook types: what a provider's parser is handed and what it returns. A leaf:
//! it names no provider and no trait, so the `Provider` trait can use it without an import
//! circle.

/// The header map [`receive`] takes (the `http` crate's, as `axum`, `hyper` and `reqwest` use).
use reqwest::header::HeaderMap;

use crate::error::{Error, Result};
use crate::ids::{ProviderId, ResultsQuery};
use crate::outcome::CardUpdate;

/// An incoming webhook as received: its headers and its exact body bytes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WebhookRequest<'a> {
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw body, exactly as received (signatures are computed over it).
    pub body: &'a [u8],
}

impl<'a> WebhookRequest<'a> {
    /// Wraps headers and body.
    pub fn new(headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        WebhookRequest { headers, body }
    }
}

/// How far an event can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authenticity {
    /// The provider signs its webhooks and the signature verified.
    Verified,
    /// The provider does not sign its webhooks: treat the content as a hint and fetch the data.
    Unsigned,
}

/// What a webhook announces.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookKind {
    /// Updates are ready to fetch (PayConex `updateId`, CardSync Amex update).
    UpdatesAvailable,
    /// A batch completed (CardSync trigger 20).
    BatchCompleted,
    /// A batch failed (CardSync trigger 22).
    BatchFailed,
    /// A merchant enrollment completed (CardSync trigger 21).
    EnrollmentCompleted,
    /// The outcome of an account-updater inquiry (Acquired `account_updater`).
    AccountUpdated,
    /// An event this crate does not model, verbatim.
    Other(String),
}

/// A parsed webhook.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// Which provider sent it.
    pub provider: ProviderId,
    /// The event's unique id, used for deduplication (falls back to the announced event or
    /// update id when the payload has no own id).
    pub id: String,
    /// What it announces.
    pub kind: WebhookKind,
    /// Whether it was verified.
    pub authenticity: Authenticity,
    /// How to fetch the results it announces, if any.
    pub results: Option<ResultsQuery>,
    /// Per-card results carried by the event itself (Acquired), already mapped.
    pub updates: Vec<CardUpdate>,
    /// The provider's message, if any.
    pub message: Option<String>,
    /// For a [`Authenticity::Verified`] event, the top-level payload fields its signature does
    /// not cover, sorted: an attacker who replays a genuine envelope can change them freely, so
    /// treat what they say (and the `updates` built from them) as a hint to confirm. Acquired's
    /// hash covers only `id`, `timestamp`, `company_id` and `event`. Empty for unsigned events,
    /// where nothing is authenticated.
    pub unauthenticated_fields: Vec<String>,
    /// The full payload, for fields this crate does not model.
    pub raw: serde_json::Value,
}

impl WebhookEvent {
    /// An event with no results query, no updates, no message and no unauthenticated fields
    /// yet: a provider's parser sets those it has (the fields are public).
    pub fn new(
        provider: ProviderId,
        id: impl Into<String>,
        kind: WebhookKind,
        authenticity: Authenticity,
        raw: serde_json::Value,
    ) -> Self {
        WebhookEvent {
            provider,
            id: id.into(),
            kind,
            authenticity,
            results: None,
            updates: Vec::new(),
            message: None,
            unauthenticated_fields: Vec::new(),
            raw,
        }
    }

    /// How to fetch the results this event announces.
    pub fn results_query(&self) -> Option<&ResultsQuery> {
        self.results.as_ref()
    }
}

/// Parses a webhook body as JSON, mapping failure onto [`Error::Decode`] with a redacted excerpt.
#[cfg_attr(not(card_list_provider), allow(dead_code))]
pub(crate) fn parse_json_body(provider: ProviderId, body: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(body).map_err(|e| Error::decode_json(provider, 0, &e, body))
}
