//! A stateful CardSync v2 on loopback.
//!
//! - Keys: one partner key (enrolls merchants); each enrolled merchant gets its own key, used for
//!   its batches and subscriptions. A wrong key is HTTP 401 `{"status":"failed","msg":"unauthorized"}`
//!   (the recorded sandbox answer).
//! - Merchant enrollment completes at once (webhook trigger 21); names and usernames must be
//!   unique.
//! - Batches move `pending` → `completed` right after creation ([`Completion::Immediate`], the
//!   default) or when told ([`CardSyncEmulator::complete_batch`]); completion POSTs trigger 20
//!   with an `event_id`. [`CardSyncEmulator::fail_batch`] POSTs trigger 22.
//! - Outcomes come from the sandbox test-card tables (current and previous sets); any other
//!   Luhn-valid card is valid and, as in the sandbox, has no result line
//!   ([`OtherCards::Omitted`]), or with [`CardSyncEmulatorConfig::other_cards`] a line with the
//!   empty status the documents describe ("this generally means the card is valid") or with
//!   `valid`.
//!
//! Which card yields which unified outcome (the current test set; the previous set, v1's
//! `4012000000000016`… cards, works the same):
//!
//! | card | status | unified outcome |
//! |---|---|---|
//! | Visa `4457010000000009`, MC `5194560012341234` (becomes a Visa), Discover `6011010000000003`, Amex `342132335566772` | `updated_card` | `new_account_number` (brand changed for the MC card) |
//! | Visa `4457000300000007`, MC `5112010000000003`, Discover `6011010140000004`, Amex `376655111122997` | `updated_expiry` | `new_expiry` |
//! | Visa `4457010200000247`, MC `5112000200000002` | `no_match` | `no_match` |
//! | Visa `4100200300011001`, MC `5112002200000008`, Discover `6500102012345662` | `valid` | `valid` |
//! | Visa `4457010140000141`, Discover `6011102087026223` | `contact` | `contact_cardholder` |
//! | Visa `4457000900000001`, MC `5435101234510196`, Discover `6011010100000002`, Amex `349900006577234` | `closed` | `closed` |
//! | any other card, with [`OtherCards::EmptyStatus`] | `""` | `valid` |
//! | an `updated_card` card with [`CardSyncEmulatorConfig::invalid_replacements`] | `updated_card` with a number failing Luhn | `invalid_update` |
//! - Amex subscriptions: the three Amex test cards produce an update event (trigger 23) right
//!   after subscribing; `DELETE /v2/subscribe` removes card / SE pairs.
//! - The limits the SDK validates are enforced here too (≤ 10,000 cards, no Amex in a batch,
//!   SE number on every Amex card, Luhn, `MM/YY`, unique ids), answered as CardSync answers
//!   failures: HTTP 200 with `{"status":"failure","message":…}`.

mod handlers;

use handlers::{handle, xid, zero_stats};

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{
    EmulatorServer, Fault, deliver_webhook, random_hex, random_uuid, replacement_pan,
    sandbox_card_status,
};
use account_updater::card::{Expiry, ExpiryFormat};

/// The partner key the emulator accepts by default.
pub const DEFAULT_PARTNER_KEY: &str = "api_emulatorPartnerKey0000000";

/// When batches complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// Right after creation.
    Immediate,
    /// Only when [`CardSyncEmulator::complete_batch`] is called.
    Manual,
}

/// Settings of a [`CardSyncEmulator`].
#[derive(Clone)]
#[non_exhaustive]
pub struct CardSyncEmulatorConfig {
    /// The partner master key.
    pub partner_key: SecretString,
    /// When batches complete.
    pub completion: Completion,
    /// Whether card data is kept to produce results. Off, the emulator only counts (for load
    /// tests whose memory must be the client's).
    pub keep_cards: bool,
    /// Answer `POST /v2/batch` as the v2 "Create batch" example literally shows: `status:
    /// success` and data with no `batch_id`. The batch is created and completes as usual; only
    /// its webhook and status name it.
    pub batch_create_without_id: bool,
    /// Answer `POST` and `DELETE /v2/subscribe` with HTTP 200 and an empty body: the documents
    /// show no response for either.
    pub subscribe_empty_body: bool,
    /// Which key `POST /v2/webhooks` accepts: the documents do not say (they register webhooks
    /// before any merchant exists, which suggests the partner key).
    pub webhook_key: WebhookKey,
    /// What results say of cards outside the sandbox tables.
    pub other_cards: OtherCards,
    /// Return `updated_card` results with a replacement number that fails the Luhn check, as a
    /// faulty upstream might (the client must report it as not to be applied).
    pub invalid_replacements: bool,
}

/// What the emulator's results say of a card that is in none of the sandbox tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtherCards {
    /// No result line ("result lists can be shorter than what was submitted"), as the
    /// sandbox does.
    #[default]
    Omitted,
    /// A line with an empty `status`: "some card inquiries do not result in any status type.
    /// This generally means the card is valid."
    EmptyStatus,
    /// A line with `status: "valid"`.
    Valid,
}

/// Which key the emulator accepts for `POST /v2/webhooks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WebhookKey {
    /// The partner key or any merchant key (the default).
    #[default]
    Either,
    /// Only the partner master key.
    PartnerOnly,
    /// Only a merchant key.
    MerchantOnly,
}

impl std::fmt::Debug for CardSyncEmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSyncEmulatorConfig")
            .field("completion", &self.completion)
            .field("keep_cards", &self.keep_cards)
            .field("batch_create_without_id", &self.batch_create_without_id)
            .field("subscribe_empty_body", &self.subscribe_empty_body)
            .field("webhook_key", &self.webhook_key)
            .field("other_cards", &self.other_cards)
            .field("invalid_replacements", &self.invalid_replacements)
            .finish_non_exhaustive()
    }
}

impl Default for CardSyncEmulatorConfig {
    fn default() -> Self {
        CardSyncEmulatorConfig {
            partner_key: SecretString::from(DEFAULT_PARTNER_KEY.to_owned()),
            completion: Completion::Immediate,
            keep_cards: true,
            batch_create_without_id: false,
            subscribe_empty_body: false,
            webhook_key: WebhookKey::Either,
            other_cards: OtherCards::Omitted,
            invalid_replacements: false,
        }
    }
}

struct MerchantRec {
    id: String,
    key: SecretString,
    legal_name: String,
    username: String,
    created_at: String,
}

struct StoredCard {
    id: String,
    pan: SecretString,
    exp: String,
}

struct BatchRec {
    merchant: String,
    completed: bool,
    cards: Vec<StoredCard>,
    submitted: usize,
    card_stats: [usize; 3],
    results: Vec<Value>,
    stats: Value,
    event_id: Option<String>,
    created_at: String,
    updated_at: String,
}

struct Subscription {
    merchant: String,
    se: String,
    card: StoredCard,
}

struct EventRec {
    merchant: String,
    results: Vec<Value>,
    stats: Value,
    created_at: String,
}

#[derive(Default)]
struct Store {
    merchants: Vec<MerchantRec>,
    webhooks: HashMap<u32, String>,
    batches: HashMap<String, BatchRec>,
    subscriptions: Vec<Subscription>,
    events: HashMap<String, EventRec>,
    requests: usize,
    /// Per card id: how many times it arrived in a batch or an Amex subscribe request.
    received: HashMap<String, usize>,
}

type Shared = super::Shared<CardSyncEmulatorConfig, Store>;

/// A running CardSync emulator. Stops when dropped.
pub struct CardSyncEmulator {
    server: EmulatorServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for CardSyncEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSyncEmulator")
            .field("base_url", &self.server.base_url().as_str())
            .finish_non_exhaustive()
    }
}

use super::now_micros as now_string;

impl CardSyncEmulator {
    /// Starts an emulator with the default partner key, completing batches at once.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(CardSyncEmulatorConfig::default()).await
    }

    /// Starts an emulator with the given settings.
    pub async fn start_with(config: CardSyncEmulatorConfig) -> std::io::Result<Self> {
        let shared = Shared::new(config, Store::default());
        Ok(CardSyncEmulator {
            server: super::serve(&shared, handle).await?,
            shared,
        })
    }

    /// The base URL to give the client.
    pub fn base_url(&self) -> Url {
        self.server.base_url().clone()
    }

    /// The partner key it accepts.
    pub fn partner_key(&self) -> SecretString {
        self.shared.config.partner_key.clone()
    }

    /// Answers the next request with `fault` instead of handling it.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// A merchant enrolled without the enrollment form (an emulator shortcut for tools and
    /// tests that only need a merchant key): its id and key. Sends no webhook.
    pub fn add_merchant(&self) -> (String, SecretString) {
        let mut store = self.shared.lock();
        let n = store.merchants.len();
        let m = MerchantRec {
            id: xid(),
            key: SecretString::from(format!("api_{}", random_hex(27))),
            legal_name: format!("Emulator merchant {n} {}", random_hex(8)),
            username: format!("emulator-{n}-{}", random_hex(8)),
            created_at: now_string(),
        };
        let answer = (m.id.clone(), m.key.clone());
        store.merchants.push(m);
        answer
    }

    /// How many API requests it has received (with a valid key or not, answered with an
    /// injected fault or not).
    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }

    /// How many batches exist.
    pub fn batch_count(&self) -> usize {
        self.shared.lock().batches.len()
    }

    /// The ids of every batch, sorted (how a test finds a batch created without a `batch_id` in
    /// the answer).
    pub fn batch_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared.lock().batches.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// How many cards arrived in batch create requests, all batches together (a card sent
    /// twice counts twice).
    pub fn batch_cards_received(&self) -> usize {
        self.shared
            .lock()
            .batches
            .values()
            .map(|b| b.submitted)
            .sum()
    }

    /// Per card id, how many times it arrived in an accepted batch create or Amex subscribe
    /// request (a card sent twice counts twice): how a test proves each card reached the
    /// service exactly once.
    pub fn cards_received(&self) -> HashMap<String, usize> {
        self.shared.lock().received.clone()
    }

    /// How many Amex card / SE pairs are subscribed.
    pub fn subscription_count(&self) -> usize {
        self.shared.lock().subscriptions.len()
    }

    /// Completes a pending batch now: computes its results, assigns an `event_id` and POSTs
    /// trigger 20. Returns the event id (`None`: unknown or already completed).
    pub async fn complete_batch(&self, batch_id: &str) -> Option<String> {
        complete_batch(&self.shared, batch_id).await
    }

    /// Reports a batch as failed (trigger 22), as the service does after asynchronous
    /// validation. Returns the event id.
    pub async fn fail_batch(
        &self,
        batch_id: &str,
        source: &str,
        message: &str,
        error_count: u32,
    ) -> Option<String> {
        let (url, body, event_id) = {
            let mut store = self.shared.lock();
            let batch = store.batches.get_mut(batch_id)?;
            let event_id = random_uuid();
            batch.event_id = Some(event_id.clone());
            let body = json!({
                "batch_id": batch_id, "id": random_uuid(), "trigger_id": 22, "trigger_date": now_string(),
                "event_id": event_id, "source": source, "message": message, "error_count": error_count,
            });
            (store.webhooks.get(&22).cloned(), body, event_id)
        };
        if let Some(url) = url {
            deliver_webhook(&url, &body).await;
        }
        Some(event_id)
    }
}

fn outcome_row(
    card: &StoredCard,
    se: Option<&str>,
    config: &CardSyncEmulatorConfig,
) -> Option<(Value, &'static str)> {
    let status = match (
        sandbox_card_status(card.pan.expose_secret()),
        config.other_cards,
    ) {
        (Some(status), _) => status,
        (None, OtherCards::Omitted) => return None,
        (None, OtherCards::EmptyStatus) => "",
        (None, OtherCards::Valid) => "valid",
    };
    let later = |exp: &str| {
        Expiry::parse(exp, ExpiryFormat::MmSlashYy)
            .ok()
            .and_then(|e| Expiry::new(e.month(), (e.year() + 3).min(2099)).ok())
            .map(|e| e.format(ExpiryFormat::MmSlashYy))
            .unwrap_or_else(|| exp.to_owned())
    };
    let (number, exp) = match status {
        "updated_card" if config.invalid_replacements => (
            super::spoil_check_digit(&replacement_pan(card.pan.expose_secret())),
            later(&card.exp),
        ),
        "updated_card" => (replacement_pan(card.pan.expose_secret()), later(&card.exp)),
        "updated_expiry" => (card.pan.expose_secret().to_owned(), later(&card.exp)),
        _ => (card.pan.expose_secret().to_owned(), card.exp.clone()),
    };
    let mut row = json!({"id": card.id, "card": number, "exp": exp, "status": status});
    if let Some(se) = se {
        row["se_number"] = json!(se);
    }
    Some((row, status))
}

fn stats_for(submitted: usize, statuses: &[&str]) -> Value {
    let mut stats = zero_stats();
    stats["number_submitted"] = json!(submitted);
    for s in statuses {
        if let Some(n) = stats.get_mut(*s) {
            *n = json!(n.as_u64().unwrap_or(0) + 1);
        }
    }
    stats
}

async fn complete_batch(shared: &Shared, batch_id: &str) -> Option<String> {
    let (url, body, event_id) = {
        let mut store = shared.lock();
        let batch = store.batches.get_mut(batch_id).filter(|b| !b.completed)?;
        let rows: Vec<(Value, &str)> = batch
            .cards
            .iter()
            .filter_map(|c| outcome_row(c, None, &shared.config))
            .collect();
        let statuses: Vec<&str> = rows.iter().map(|(_, s)| *s).collect();
        batch.stats = stats_for(batch.submitted, &statuses);
        batch.results = rows.into_iter().map(|(r, _)| r).collect();
        batch.completed = true;
        batch.updated_at = now_string();
        let event_id = random_uuid();
        batch.event_id = Some(event_id.clone());
        let expires = (chrono::Utc::now() + chrono::Duration::hours(24))
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let body = json!({
            "batch_id": batch_id,
            "card_stats": {"visa": batch.card_stats[0], "mastercard": batch.card_stats[1], "discover": batch.card_stats[2], "american_express": 0},
            "stats": batch.stats,
            "id": random_uuid(),
            "trigger_id": 20,
            "trigger_date": now_string(),
            "event_id": event_id,
            "message": "",
            "expires": expires,
        });
        (store.webhooks.get(&20).cloned(), body, event_id)
    };
    if let Some(url) = url {
        deliver_webhook(&url, &body).await;
    }
    Some(event_id)
}

crate::setters!(CardSyncEmulatorConfig {
    value partner_key: SecretString,
    value completion: Completion,
    value keep_cards: bool,
    value batch_create_without_id: bool,
    value subscribe_empty_body: bool,
    value webhook_key: WebhookKey,
    value other_cards: OtherCards,
    value invalid_replacements: bool,
});
