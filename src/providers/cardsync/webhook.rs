//! CardSync webhooks (triggers 20–23): unsigned notifications, parsed into a
//! [`WebhookEvent`] whose results are fetched with the merchant's own key.

use super::PROVIDER;
use super::wire::{Trigger, WebhookPayload};
use crate::error::{Error, Result};
use crate::ids::{JobKind, ResultsQuery};
use crate::webhook::{Authenticity, WebhookEvent, WebhookKind};

/// Parses a CardSync webhook (any of triggers 20–23) into the unified event. CardSync does not
/// sign webhooks, so the event is [`Authenticity::Unsigned`]: fetch the results it points to
/// with your own key ([`Provider::fetch_results`](crate::Provider::fetch_results)). The event id is the payload's `id`
/// (falling back to `event_id`, then the merchant id for trigger 21), for deduplication.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookEvent> {
    let raw: serde_json::Value = crate::webhook::parse_json_body(PROVIDER, body)?;
    if !raw.is_object() {
        return Err(Error::decode(
            PROVIDER,
            0,
            "webhook body is not an object",
            body,
        ));
    }
    let payload: WebhookPayload =
        serde_json::from_slice(body).map_err(|e| Error::decode_json(PROVIDER, 0, &e, body))?;
    let trigger = payload.trigger_id.or_else(|| {
        // The documented enrollment payload carries no trigger id.
        payload
            .merchant_id
            .as_ref()
            .map(|_| Trigger::EnrollmentComplete)
    });
    let (kind, results) = match trigger {
        Some(Trigger::BatchAvailable) => (
            WebhookKind::BatchCompleted,
            payload.batch_id.clone().map(|batch| ResultsQuery::Event {
                provider: PROVIDER,
                kind: JobKind::Batch,
                event_id: payload.event_id.clone().unwrap_or_default(),
                job_id: Some(batch),
            }),
        ),
        Some(Trigger::BatchError) => (WebhookKind::BatchFailed, None),
        Some(Trigger::EnrollmentComplete) => (WebhookKind::EnrollmentCompleted, None),
        Some(Trigger::AmexUpdate) => (
            WebhookKind::UpdatesAvailable,
            payload
                .event_id
                .clone()
                .map(|event_id| ResultsQuery::Event {
                    provider: PROVIDER,
                    kind: JobKind::Subscription,
                    event_id,
                    job_id: None,
                }),
        ),
        Some(Trigger::Other(n)) => (WebhookKind::Other(n.to_string()), None),
        None => {
            return Err(Error::decode(
                PROVIDER,
                0,
                "webhook has no trigger_id",
                body,
            ));
        }
    };
    let id = payload
        .id
        .clone()
        .or_else(|| payload.event_id.clone())
        .or_else(|| {
            payload
                .merchant_id
                .clone()
                .map(|m| format!("enrollment:{m}"))
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::decode(PROVIDER, 0, "webhook has no id", body))?;
    Ok(WebhookEvent {
        provider: PROVIDER,
        id,
        kind,
        authenticity: Authenticity::Unsigned,
        results,
        updates: Vec::new(),
        message: payload.message.clone().filter(|m| !m.is_empty()),
        unauthenticated_fields: Vec::new(),
        raw,
    })
}
