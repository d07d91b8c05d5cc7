//! Acquired webhooks: a signed envelope (double SHA-256 `hash` over `id`, `timestamp`,
//! `company_id`, `event`), verified in constant time and refused when stale (a replay).

use super::{AcquiredClient, Credentials, PROVIDER, hash};
use crate::error::{Error, Result};
use crate::outcome::{CardUpdate, Outcome};
use crate::webhook::{Authenticity, WebhookEvent, WebhookKind};
use std::time::Duration;

/// Verifies and parses an Acquired webhook as of `now` (`YYYYMMDDHHMMSS`, the layout of
/// Acquired's timestamps), refusing one whose timestamp is more than `freshness` away. The one
/// public way in is [`AcquiredClient::verify_webhook`] (the client's clock and window), or the
/// unified [`crate::webhook::receive`].
pub(super) fn verify_webhook_at(
    credentials: &Credentials,
    body: &[u8],
    now: &str,
    freshness: Duration,
) -> Result<WebhookEvent> {
    let mut raw = crate::webhook::parse_json_body(PROVIDER, body)?;
    let envelope = verified_envelope(credentials, &raw, body)?;
    let kind = match envelope.event.as_str() {
        "account_updater" => WebhookKind::AccountUpdated,
        other => WebhookKind::Other(other.to_owned()),
    };
    check_freshness(&envelope.timestamp, now, freshness)?;
    let updates = match kind {
        WebhookKind::AccountUpdated => account_updates(&raw, &envelope),
        _ => Vec::new(),
    };
    // A card number the event carried lives on only inside `updates`, masked in `raw`.
    super::result::mask_card_numbers(&mut raw);
    Ok(WebhookEvent {
        provider: PROVIDER,
        id: envelope.id,
        kind,
        authenticity: Authenticity::Verified,
        results: None,
        updates,
        message: text_field(&raw, "response_message"),
        unauthenticated_fields: unauthenticated_fields(&raw),
        raw,
    })
}

/// The envelope fields the webhook `hash` covers (with `company_id`, checked against the
/// credentials).
struct Envelope {
    id: String,
    timestamp: String,
    event: String,
}

/// A field as text: Acquired sends some ids as JSON numbers.
fn text_field(raw: &serde_json::Value, key: &str) -> Option<String> {
    match raw.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The envelope, once its `hash` matches (compared in constant time) and it names the
/// configured company.
fn verified_envelope(
    credentials: &Credentials,
    raw: &serde_json::Value,
    body: &[u8],
) -> Result<Envelope> {
    let (Some(id), Some(timestamp), Some(company_id), Some(event)) = (
        text_field(raw, "id"),
        text_field(raw, "timestamp"),
        text_field(raw, "company_id"),
        text_field(raw, "event"),
    ) else {
        return Err(Error::decode(
            PROVIDER,
            0,
            "webhook envelope is incomplete (id, timestamp, company_id, event)",
            body,
        ));
    };
    let integrity = |what: &str| Error::Integrity {
        provider: PROVIDER,
        what: what.into(),
    };
    let Some(received) = text_field(raw, "hash").filter(|h| !h.is_empty()) else {
        return Err(integrity("webhook has no hash"));
    };
    let expected = hash::webhook_hash(&id, &timestamp, &company_id, &event, &credentials.hashcode);
    if !hash::digest_eq(&expected, &received) {
        return Err(integrity("webhook hash does not match"));
    }
    if company_id != credentials.company_id {
        return Err(integrity("webhook is for another company"));
    }
    Ok(Envelope {
        id,
        timestamp,
        event,
    })
}

/// The update an `account_updater` event announces, if it names a token.
///
/// The token comes from the transaction fields (`transaction_id` is documented for
/// `transaction_outcome`, `original_transaction_id` for every token request); the outcome and
/// the new data from the event's own fields, read as [`super::result`] explains (their names
/// are unpublished: every plausible reading is tied to the code table, none guessed).
fn account_updates(raw: &serde_json::Value, envelope: &Envelope) -> Vec<CardUpdate> {
    let Some(token) =
        text_field(raw, "original_transaction_id").or_else(|| text_field(raw, "transaction_id"))
    else {
        return Vec::new();
    };
    // The caller's id is not known here: the token joins the update back to it
    // (SubmissionReceipt::join_card_ids).
    let mut update = CardUpdate::new(PROVIDER, Outcome::Unknown(String::new()), "");
    super::result::read_result(raw, &mut update);
    update.card_ref = Some(token.clone());
    update.previous_token = Some(token);
    update.provider_ref = Some(envelope.id.clone());
    vec![update]
}

/// The fields the hash does not cover (Acquired webhooks hash id, timestamp, company_id and
/// event only), sorted.
fn unauthenticated_fields(raw: &serde_json::Value) -> Vec<String> {
    let mut fields: Vec<String> = raw
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !WEBHOOK_HASHED_FIELDS.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

/// The envelope fields Acquired's webhook `hash` covers, and the `hash` itself.
pub(super) const WEBHOOK_HASHED_FIELDS: [&str; 5] =
    ["id", "timestamp", "company_id", "event", "hash"];

/// How far a webhook's `timestamp` may be from now by default: two hours. Acquired retries an
/// unanswered webhook every 10 minutes for an hour, and does not say which time zone its
/// timestamps are in (a UK reading in summer is an hour off UTC); two hours accepts both and
/// still refuses a replay of yesterday's genuine envelope.
pub const DEFAULT_WEBHOOK_FRESHNESS: Duration = Duration::from_secs(2 * 60 * 60);

/// Refuses a webhook whose `timestamp` (`YYYYMMDDHHMMSS`, covered by the hash) is more than
/// `window` from `now` (the same layout), either way.
pub(super) fn check_freshness(timestamp: &str, now: &str, window: Duration) -> Result<()> {
    let parse = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S").ok();
    let (Some(sent), Some(now)) = (parse(timestamp), parse(now)) else {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: "webhook timestamp is not YYYYMMDDHHMMSS".into(),
        });
    };
    let age = (now - sent).abs().to_std().unwrap_or(Duration::MAX);
    if age > window {
        return Err(Error::Integrity {
            provider: PROVIDER,
            what: format!(
                "webhook timestamp is {} s from now, outside the {} s freshness window (a replay?)",
                age.as_secs(),
                window.as_secs()
            ),
        });
    }
    Ok(())
}

impl AcquiredClient {
    /// Parses and verifies a webhook: the envelope (`id`, `timestamp`, `company_id`, `event`,
    /// `hash`) must be complete, for this company, and its double-SHA-256 hash must match
    /// (constant time). Unknown, tampered or unsigned webhooks are refused with
    /// [`Error::Integrity`]; malformed ones with [`Error::Decode`]. So is one whose timestamp
    /// is further from the client's clock than its webhook freshness window (default
    /// [`DEFAULT_WEBHOOK_FRESHNESS`]): a replayed genuine envelope. The event lists the fields
    /// the hash does not cover in [`WebhookEvent::unauthenticated_fields`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::acquired::{AcquiredClient, Answer};
    /// # use account_updater::card::with_check_digit;
    /// # use account_updater::{CardNumber, Expiry};
    /// # let emulator = account_updater_emulator::acquired::AcquiredEmulator::start().await?;
    /// # let client = AcquiredClient::builder(emulator.credentials())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// # let stored = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// # // A token from an earlier INIT transaction (the emulator issues one directly).
    /// # let token = emulator.create_token(&stored, Expiry::new(1, 2030)?);
    /// # use account_updater_emulator::WebhookSink;
    /// # use std::time::Duration;
    /// use account_updater::webhook::WebhookKind;
    /// let sink = WebhookSink::start().await?; // a local receiver standing in for yours
    /// emulator.set_webhook_url(&sink.url());
    /// client.request_account_update(&token, None).await?;
    /// let delivered = sink.next(Duration::from_secs(10)).await.expect("the result webhook");
    /// // Verified (hash, company, freshness) before anything in it is read.
    /// let event = client.verify_webhook(&delivered.body)?;
    /// assert_eq!(event.kind, WebhookKind::AccountUpdated);
    /// // An envelope whose hash does not match is refused, whatever it claims.
    /// let mut forged: serde_json::Value = serde_json::from_slice(&delivered.body)?;
    /// forged["hash"] = "0".repeat(64).into();
    /// let refused = client.verify_webhook(forged.to_string().as_bytes()).unwrap_err();
    /// assert_eq!(refused.kind(), account_updater::ErrorKind::Integrity);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`] for an envelope that does not verify (wrong hash, another
    /// company, outside the freshness window), [`Error::Decode`] for one that is not a
    /// complete envelope. Nothing is sent: verifying is local.
    pub fn verify_webhook(&self, body: &[u8]) -> Result<WebhookEvent> {
        verify_webhook_at(&self.credentials, body, &self.now(), self.webhook_freshness)
    }
}
