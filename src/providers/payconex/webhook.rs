//! PayConex webhook notifications: unsigned, so a notification is a hint to fetch the updates
//! it names with the caller's own credentials (the PayConex Account Updater API v4 reference,
//! "Webhooks").

use super::PROVIDER;
use crate::error::{Error, Result};
use crate::ids::{JobKind, ResultsQuery};
use crate::webhook::{Authenticity, WebhookEvent, WebhookKind, parse_json_body};

/// Parses a webhook notification leniently: a top-level (or `data.`) `updateId`. PayConex
/// does not sign notifications, so the event is [`Authenticity::Unsigned`]: a hint to fetch
/// the updates with [`PayConexClient::fetch_results_for`](super::PayConexClient::fetch_results_for).
pub fn parse_webhook(body: &[u8]) -> Result<WebhookEvent> {
    let raw = parse_json_body(PROVIDER, body)?;
    let pick =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let update_id = pick(&raw, "updateId")
        .or_else(|| raw.get("data").and_then(|d| pick(d, "updateId")))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::decode(PROVIDER, 0, "notification has no updateId", body))?;
    let id = pick(&raw, "id").unwrap_or_else(|| update_id.clone());
    let kind = match pick(&raw, "event").as_deref() {
        None | Some("ACCOUNT_UPDATER_BATCH_UPDATES") => WebhookKind::UpdatesAvailable,
        Some(other) => WebhookKind::Other(other.to_owned()),
    };
    Ok(WebhookEvent {
        provider: PROVIDER,
        id,
        kind,
        authenticity: Authenticity::Unsigned,
        results: Some(ResultsQuery::Event {
            provider: PROVIDER,
            kind: JobKind::Subscription,
            event_id: update_id,
            job_id: None,
        }),
        updates: Vec::new(),
        message: pick(&raw, "message"),
        unauthenticated_fields: Vec::new(),
        raw,
    })
}
