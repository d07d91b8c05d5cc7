//! Incoming webhooks, the same shape whatever the provider.
//!
//! Providers differ in how much a webhook can be trusted: Acquired signs its envelope (a double
//! SHA-256 with the hash code), while PayConex and CardSync send unsigned notifications. The
//! unified [`WebhookEvent`] says which in [`Authenticity`]; an unsigned event is a *hint* that
//! results are ready, and the caller fetches the authoritative data with its own credentials via
//! [`WebhookEvent::results_query`].
//!
//! [`receive`] is the framework-agnostic entry point (headers and body bytes in, verified event
//! out), and [`Deduplicator`] drops redeliveries by event id.

#[cfg(card_list_provider)]
pub(crate) use crate::model::event::parse_json_body;
pub use crate::model::event::{Authenticity, WebhookEvent, WebhookKind, WebhookRequest};

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// The header map [`receive`] takes (the `http` crate's, as `axum`, `hyper` and `reqwest` use).
pub use reqwest::header::HeaderMap;

use crate::error::Result;
use crate::ids::ProviderId;
use crate::provider::Provider;

/// Remembers the ids of recently seen events, so redeliveries (providers retry on timeouts)
/// are processed once. Bounded: the oldest ids are forgotten first.
#[derive(Debug)]
pub struct Deduplicator {
    capacity: usize,
    inner: Mutex<DedupState>,
}

#[derive(Debug, Default)]
struct DedupState {
    seen: HashSet<(ProviderId, String)>,
    order: VecDeque<(ProviderId, String)>,
}

impl Deduplicator {
    /// Remembers up to `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Deduplicator {
            capacity: capacity.max(1),
            inner: Mutex::new(DedupState::default()),
        }
    }

    /// Records the event; returns `true` the first time its `(provider, id)` is seen and `false`
    /// for a redelivery.
    pub fn first_seen(&self, event: &WebhookEvent) -> bool {
        let key = (event.provider, event.id.clone());
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if state.seen.contains(&key) {
            return false;
        }
        if state.order.len() == self.capacity {
            if let Some(old) = state.order.pop_front() {
                state.seen.remove(&old);
            }
        }
        state.seen.insert(key.clone());
        state.order.push_back(key);
        true
    }
}

impl Default for Deduplicator {
    fn default() -> Self {
        Deduplicator::new(10_000)
    }
}

/// Parses and verifies a webhook for `provider`: the one framework-agnostic entry point.
///
/// Mount it in any HTTP server: take the request's headers and body bytes, call this, and answer
/// 2xx only when it returns `Ok` (and, with a [`Deduplicator`], only process first deliveries).
///
/// ```
/// # #[cfg(feature = "cardsync")] {
/// use account_updater::SecretString;
/// use account_updater::ids::ResultsQuery;
/// use account_updater::providers::cardsync::CardSyncClient;
/// use account_updater::webhook::{self, Authenticity, Deduplicator, HeaderMap};
/// use account_updater::WebhookKind;
///
/// let cardsync = CardSyncClient::builder(SecretString::from("api_merchantKey"))
///     .build_merchant()?;
/// // CardSync's "batch results available" notification (trigger 20), as its documents show it.
/// let body = br#"{"batch_id": "b9ec0c1776655524350", "id": "60d7a065-1795-4e98-88af-a8b98db9ec0c",
///     "trigger_id": 20, "trigger_date": "2021-12-08T21:39:00.349754Z",
///     "event_id": "c7a8da62-473d-4153-91d6-d6fddd3d7252", "message": ""}"#;
/// let event = webhook::receive(&cardsync, &HeaderMap::new(), body)?;
/// assert_eq!(event.kind, WebhookKind::BatchCompleted);
/// // CardSync does not sign its webhooks: fetch the results with your own credentials.
/// assert_eq!(event.authenticity, Authenticity::Unsigned);
/// assert!(matches!(event.results_query(), Some(ResultsQuery::Event { .. })));
/// // A redelivery of the same event is processed once.
/// let seen = Deduplicator::new(10_000);
/// assert!(seen.first_seen(&event));
/// assert!(!seen.first_seen(&event));
/// # }
/// # Ok::<(), account_updater::Error>(())
/// ```
pub fn receive(provider: &dyn Provider, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent> {
    provider.parse_webhook(&WebhookRequest::new(headers, body))
}
