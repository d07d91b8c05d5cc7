//! Acme's webhook: an unsigned completion hint that names the inquiry to fetch.

use account_updater::webhook::{Authenticity, WebhookEvent, WebhookKind};
use account_updater::{
    Error, Result,
    ids::{JobKind, JobRef, ResultsQuery},
};
use serde::Deserialize;
use serde_json::Value;

use super::ACME;

/// Acme's unsigned completion hint.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookEvent> {
    #[derive(Deserialize)]
    struct Hint {
        event: String,
        inquiry_id: String,
    }
    let hint: Hint =
        serde_json::from_slice(body).map_err(|e| Error::decode_json(ACME, 0, &e, body))?;
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| Error::decode_json(ACME, 0, &e, body))?;
    let kind = match hint.event.as_str() {
        "inquiry.completed" => WebhookKind::BatchCompleted,
        other => WebhookKind::Other(other.to_owned()),
    };
    let job = JobRef::new(ACME, JobKind::Inquiry, hint.inquiry_id.clone());
    let mut event = WebhookEvent::new(
        ACME,
        format!("{}:{}", hint.event, hint.inquiry_id),
        kind,
        Authenticity::Unsigned,
        raw,
    );
    event.results = Some(ResultsQuery::Job(job));
    Ok(event)
}
