//! A stateful PayConex v4 account updater on loopback.
//!
//! It checks what the real service checks: the HMAC signature (the PayConex Account Updater
//! API v4 reference, "Authentication: HMAC"), a nonce reused within 15 minutes, a timestamp
//! older (or further ahead) than 15 minutes, Basic credentials (when allowed), the account id, and the request schemas with `additionalProperties: false`
//! (an unknown property is a 422 naming it). It answers with the documented status codes and
//! bodies, and keeps webhooks, subscriptions and records.
//!
//! [`PayConexEmulator::run_schedule`] plays the updater: every enabled record of the schedule
//! gets an update with a deterministic status, the updates share a new `updateId`, each record's
//! `mostRecentUpdate` is set, and the notification `{"event", "updateId", "accountId"}` is POSTed
//! to every registered `ACCOUNT_UPDATER_BATCH_UPDATES` webhook.
//!
//! Deterministic outcomes:
//! - card numbers: the CardSync sandbox test cards (PayConex resells CardSync's updater) force
//!   their documented status; any other card is `valid`;
//! - tokens: by the last digit: `1` updated_card, `2` updated_expiry, `3` contact_closed,
//!   `4` contact, `5` no_match, `6` no_change, anything else valid.
//!
//! Which input yields which unified outcome:
//!
//! | record | status | unified outcome |
//! |---|---|---|
//! | token ending `1`; card `4457010000000009` (and the other CardSync `updated_card` cards) | `updated_card` | `new_account_number` (format `pan`: the new number in clear; `payconex` / `shieldconex`: a new token) |
//! | token ending `2`; card `4457000300000007` (…) | `updated_expiry` | `new_expiry` |
//! | token ending `3`; card `4457000900000001` (…) | `contact_closed` | `closed` |
//! | token ending `4`; card `4457010140000141` (…) | `contact` | `contact_cardholder` |
//! | token ending `5`; card `4457010200000247` (…) | `no_match` | `no_match` |
//! | token ending `6` | `no_change` | `no_change` |
//! | any other token or card | `valid` | `valid` |
//! | an `updated_card` card on a `pan` schedule with [`PayConexEmulatorConfig::invalid_replacements`] | `updated_card`, a number failing Luhn | `invalid_update` |
//!
//! A record no schedule run has reached yet has no `mostRecentUpdate` at all: the vendor's
//! schema allows no `null` there.

mod handlers;

use handlers::handle;

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{
    EmulatorServer, Fault, deliver_webhook, random_hex, replacement_pan, sandbox_card_status,
};
use account_updater::card::{Expiry, ExpiryFormat};
use account_updater::providers::payconex::Credentials;

/// The documented example account id (the PayConex v4 reference's request examples).
pub const DEFAULT_ACCOUNT_ID: &str = "120615523104";

/// The documented example API key id (the PayConex v4 reference, "Authentication").
pub const DEFAULT_KEY_ID: &str = "api_0c169931aa624727a6d7202ab1e9d320";

/// The documented example API secret (the PayConex v4 reference, "Authentication"; public,
/// for tests only).
pub const DEFAULT_SECRET: &str = "6bf6b48e1794489598bbef89aab69948";

/// Settings of a [`PayConexEmulator`].
#[derive(Clone)]
#[non_exhaustive]
pub struct PayConexEmulatorConfig {
    /// The account id it serves.
    pub account_id: String,
    /// The API key id it accepts.
    pub key_id: String,
    /// The API secret it verifies with.
    pub secret: SecretString,
    /// Whether Basic auth is accepted (as in certification; production refuses it).
    pub allow_basic: bool,
    /// Answer PayConex tokens zero-padded to 12 digits (`7` as `"000000000007"`), as the
    /// documents' examples show them.
    pub zero_padded_tokens: bool,
    /// Answer a schedule's records newest first instead of in the order they were sent (the
    /// documents promise no order).
    pub records_reversed: bool,
    /// Return `updated_card` updates of `pan`-format schedules with a replacement number that
    /// fails the Luhn check, as a faulty upstream might (the client must report it as not to
    /// be applied, and never as a token).
    pub invalid_replacements: bool,
}

/// How answers are rendered (from [`PayConexEmulatorConfig`]).
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    zero_padded_tokens: bool,
    records_reversed: bool,
}

impl Style {
    fn token(self, kind: &str, token: &str) -> String {
        if self.zero_padded_tokens && kind == "payconex" {
            format!("{token:0>12}")
        } else {
            token.to_owned()
        }
    }
}

impl std::fmt::Debug for PayConexEmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayConexEmulatorConfig")
            .field("account_id", &self.account_id)
            .field("key_id", &self.key_id)
            .field("allow_basic", &self.allow_basic)
            .field("zero_padded_tokens", &self.zero_padded_tokens)
            .field("records_reversed", &self.records_reversed)
            .field("invalid_replacements", &self.invalid_replacements)
            .finish_non_exhaustive()
    }
}

impl Default for PayConexEmulatorConfig {
    fn default() -> Self {
        PayConexEmulatorConfig {
            account_id: DEFAULT_ACCOUNT_ID.into(),
            key_id: DEFAULT_KEY_ID.into(),
            secret: SecretString::from(DEFAULT_SECRET.to_owned()),
            allow_basic: true,
            zero_padded_tokens: false,
            records_reversed: false,
            invalid_replacements: false,
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    id: String,
    token: String,
    kind: &'static str,
    enabled: bool,
    expiry: String,
    pan: Option<SecretString>,
    bfid: Option<String>,
    created_at: String,
    updated_at: String,
    most_recent_update: Option<Value>,
}

#[derive(Debug, Clone)]
struct Schedule {
    id: String,
    period_id: String,
    period_date: String,
    response_format: String,
    enabled: bool,
    created_at: String,
    updated_at: String,
    records: Vec<Record>,
}

#[derive(Debug, Default)]
struct Store {
    style: Style,
    webhooks: Vec<(String, String, String)>,
    schedules: HashMap<String, Schedule>,
    updates: HashMap<String, Vec<Value>>,
    nonces: HashMap<String, i64>,
    token_seq: u64,
    /// Per subscribed token (or card number's last four for PAN records): how many records
    /// were created for it.
    received: HashMap<String, usize>,
}

type Shared = super::Shared<PayConexEmulatorConfig, Store>;

/// What [`PayConexEmulator::run_schedule`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScheduleRun {
    /// The `aupres_…` id of the new updates.
    pub update_id: String,
    /// How many updates were produced.
    pub updates: usize,
    /// Each webhook delivery: URL and the receiver's status (`None`: unreachable).
    pub deliveries: Vec<(String, Option<u16>)>,
}

/// A running PayConex emulator. Stops when dropped.
pub struct PayConexEmulator {
    server: EmulatorServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PayConexEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayConexEmulator")
            .field("base_url", &self.server.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl PayConexEmulator {
    /// Starts an emulator with the documented example account and key.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(PayConexEmulatorConfig::default()).await
    }

    /// Starts an emulator with the given settings.
    pub async fn start_with(config: PayConexEmulatorConfig) -> std::io::Result<Self> {
        let style = Style {
            zero_padded_tokens: config.zero_padded_tokens,
            records_reversed: config.records_reversed,
        };
        let shared = Shared::new(
            config,
            Store {
                style,
                ..Store::default()
            },
        );
        let server = super::serve(&shared, handle).await?;
        Ok(PayConexEmulator { server, shared })
    }

    /// The base URL to give the client.
    pub fn base_url(&self) -> Url {
        self.server.base_url().clone()
    }

    /// The account id served.
    pub fn account_id(&self) -> &str {
        &self.shared.config.account_id
    }

    /// Credentials the emulator accepts.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            self.shared.config.key_id.clone(),
            self.shared.config.secret.clone(),
        )
    }

    /// Answers the next request with `fault` instead of handling it.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// Per token, how many subscription records were created for it (subscribe and add
    /// requests together; a card number counts under its masked form): how a test proves
    /// each card reached the service exactly once.
    pub fn records_received(&self) -> HashMap<String, usize> {
        self.shared.lock().received.clone()
    }

    /// Runs a schedule now: produces one update per enabled record, stores them under a new
    /// `updateId`, and notifies every registered webhook. `None` when the schedule does not
    /// exist or is disabled.
    pub async fn run_schedule(&self, schedule_id: &str) -> Option<ScheduleRun> {
        let (update_id, count, hooks) = {
            let mut store = self.shared.lock();
            let update_id = format!("aupres_{}", random_hex(32));
            let now = now_string();
            let mut seq = store.token_seq;
            let style = store.style;
            let invalid_replacements = self.shared.config.invalid_replacements;
            let schedule = store.schedules.get_mut(schedule_id).filter(|s| s.enabled)?;
            let format = schedule.response_format.clone();
            let sched_id = schedule.id.clone();
            let mut produced = Vec::new();
            for record in schedule.records.iter_mut().filter(|r| r.enabled) {
                seq += 1;
                let mut update = make_update(
                    record,
                    invalid_replacements,
                    &format,
                    &sched_id,
                    &update_id,
                    &now,
                    seq,
                );
                update["oldToken"] = json!(style.token(record.kind, &record.token));
                record.most_recent_update = Some(update.clone());
                produced.push(update);
            }
            store.token_seq = seq;
            let count = produced.len();
            store.updates.insert(update_id.clone(), produced);
            let hooks: Vec<String> = store
                .webhooks
                .iter()
                .filter(|(_, _, event)| event == "ACCOUNT_UPDATER_BATCH_UPDATES")
                .map(|(_, url, _)| url.clone())
                .collect();
            (update_id, count, hooks)
        };
        let body = json!({
            "event": "ACCOUNT_UPDATER_BATCH_UPDATES",
            "updateId": update_id,
            "accountId": self.shared.config.account_id,
        });
        let mut deliveries = Vec::new();
        for url in hooks {
            let status = deliver_webhook(&url, &body).await;
            deliveries.push((url, status));
        }
        Some(ScheduleRun {
            update_id,
            updates: count,
            deliveries,
        })
    }
}

fn make_update(
    record: &Record,
    invalid_replacements: bool,
    format: &str,
    schedule_id: &str,
    update_id: &str,
    now: &str,
    seq: u64,
) -> Value {
    let status = match &record.pan {
        Some(pan) => sandbox_card_status(pan.expose_secret()).unwrap_or("valid"),
        None => match record.token.chars().last() {
            Some('1') => "updated_card",
            Some('2') => "updated_expiry",
            Some('3') => "contact_closed",
            Some('4') => "contact",
            Some('5') => "no_match",
            Some('6') => "no_change",
            _ => "valid",
        },
    };
    let status = if status == "closed" {
        "contact_closed"
    } else {
        status
    };
    let changed = matches!(status, "updated_card" | "updated_expiry");
    let new_expiry = if changed {
        Expiry::parse(&record.expiry, ExpiryFormat::Mmyy)
            .ok()
            .and_then(|e| Expiry::new(e.month(), (e.year() + 3).min(2099)).ok())
            .map(|e| e.format(ExpiryFormat::Mmyy))
            .unwrap_or_else(|| record.expiry.clone())
    } else {
        record.expiry.clone()
    };
    let new_token = match (format, &record.pan, status) {
        // Format `pan`: any update to number or expiry comes back as a clear-text PAN.
        ("pan", Some(pan), "updated_card") if invalid_replacements => {
            super::spoil_check_digit(&replacement_pan(pan.expose_secret()))
        }
        ("pan", Some(pan), "updated_card") => replacement_pan(pan.expose_secret()),
        ("pan", Some(pan), "updated_expiry") => pan.expose_secret().to_owned(),
        ("shieldconex", _, "updated_card") => format!("djI6{}", random_hex(24)),
        (_, _, "updated_card") => format!(
            "{:012}",
            (seq * 7_919 + 100_000_000_000) % 1_000_000_000_000
        ),
        _ => record.token.clone(),
    };
    json!({
        "id": format!("auru_{}", random_hex(32)),
        "oldExpiry": record.expiry,
        "newExpiry": new_expiry,
        "oldToken": record.token,
        "newToken": new_token,
        "updateId": update_id,
        "updatedAt": now,
        "status": status,
        "recurringSchedules": [],
        "accountUpdaterScheduleRecordId": record.id,
        "accountUpdaterScheduleId": schedule_id,
        "format": format,
    })
}

use super::now_micros as now_string;

crate::setters!(PayConexEmulatorConfig {
    string account_id,
    string key_id,
    value secret: SecretString,
    value allow_basic: bool,
    value zero_padded_tokens: bool,
    value records_reversed: bool,
    value invalid_replacements: bool,
});
