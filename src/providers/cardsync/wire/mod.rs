//! CardSync v2 wire types, with the API's exact field names (the [CardSync Universal Account Updater API v2 docs](https://api.cardsync.io/) at api.cardsync.io).
//!
//! Responses are read leniently: the envelope's `message` or its older spelling `msg`; per-card
//! `closed` or `contact_closed`; `stats` objects that repeat a key (the documented webhook
//! examples do) keep the last value; unknown statuses are kept verbatim.

mod builders;

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::card::{CardNumber, Expiry, ExpiryFormat, NewNumberProblem};
use crate::providers::common::open_enum;
use crate::providers::lenient;

/// Webhook triggers ([CardSync v2 docs](https://api.cardsync.io/)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// 20: a batch completed; results can be fetched with the `event_id`.
    BatchAvailable,
    /// 21: a merchant's enrollment completed.
    EnrollmentComplete,
    /// 22: a batch failed validation.
    BatchError,
    /// 23: an Amex subscription produced updates.
    AmexUpdate,
    /// Any other trigger id.
    Other(u32),
}

impl Trigger {
    /// The four documented triggers.
    pub const ALL: [Trigger; 4] = [
        Trigger::BatchAvailable,
        Trigger::EnrollmentComplete,
        Trigger::BatchError,
        Trigger::AmexUpdate,
    ];

    /// The numeric id.
    pub fn id(self) -> u32 {
        match self {
            Trigger::BatchAvailable => 20,
            Trigger::EnrollmentComplete => 21,
            Trigger::BatchError => 22,
            Trigger::AmexUpdate => 23,
            Trigger::Other(n) => n,
        }
    }

    /// From the numeric id.
    pub fn from_id(id: u32) -> Self {
        match id {
            20 => Trigger::BatchAvailable,
            21 => Trigger::EnrollmentComplete,
            22 => Trigger::BatchError,
            23 => Trigger::AmexUpdate,
            n => Trigger::Other(n),
        }
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.id())
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = lenient::string(d)?;
        raw.trim()
            .parse::<u32>()
            .map(Trigger::from_id)
            .map_err(|_| serde::de::Error::custom("trigger_id is not a number"))
    }
}

/// One webhook registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WebhookTarget {
    /// Which event.
    pub trigger_id: Trigger,
    /// Where CardSync POSTs it.
    pub url: String,
}

/// Body of `POST /v2/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Webhooks {
    /// The registrations.
    pub webhooks: Vec<WebhookTarget>,
}

/// `delivery_frequency` of a merchant's card info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeliveryFrequency {
    /// Daily.
    Daily,
    /// Weekly.
    Weekly,
    /// Monthly.
    Monthly,
}

/// `primary_contact` of a merchant (every field documented as required; `address_line_2` may be
/// empty, as in the example).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PrimaryContact {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Address line 1.
    pub address_line_1: String,
    /// Address line 2 (may be empty).
    pub address_line_2: String,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
    /// Postal code.
    pub postal_code: String,
    /// Country (e.g. `US`).
    pub country: String,
    /// Phone.
    pub phone: String,
    /// Email.
    pub email: String,
}

/// `user` of a merchant: the merchant's first user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct User {
    /// Must be unique on the platform.
    pub username: String,
    /// Email.
    pub email: String,
    /// e.g. `active`.
    pub status: String,
    /// e.g. `admin`.
    pub role: String,
    /// Whether to create the merchant API key returned by enrollment.
    pub create_api_key: bool,
}

/// `card_info` of a merchant: expected volumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CardInfo {
    /// e.g. `both`.
    pub type_of_biller: String,
    /// Total cards.
    pub total_number_of_records: i32,
    /// Visa cards.
    pub number_of_visa: i32,
    /// Mastercard cards.
    pub number_of_mastercard: i32,
    /// Discover cards.
    pub number_of_discover: i32,
    /// Amex cards.
    pub number_of_amex: i32,
    /// The merchant's Amex SE number (Amex only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amex_se_number: Option<String>,
    /// How often cards are delivered.
    pub delivery_frequency: DeliveryFrequency,
    /// Merchant category code, e.g. `5968`.
    pub mcc: String,
}

/// Body of `POST /v2/merchant` ([CardSync v2 docs](https://api.cardsync.io/)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Merchant {
    /// Must be unique.
    pub legal_business_name: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Website.
    pub website: String,
    /// Phone.
    pub phone: String,
    /// Phone extension (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_ext: Option<String>,
    /// Where receipts go.
    pub receipt_email: String,
    /// e.g. `UTC`.
    pub timezone: String,
    /// Given to the partner at sign-up; the same for all its merchants.
    pub fee_schedule_id: String,
    /// The primary contact.
    pub primary_contact: PrimaryContact,
    /// The first user.
    pub user: User,
    /// Expected volumes.
    pub card_info: CardInfo,
}

fn ser_pan<S: Serializer>(c: &CardNumber, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.expose_secret())
}

fn ser_exp<S: Serializer>(e: &Expiry, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&e.format(ExpiryFormat::MmSlashYy))
}

/// A card in a batch (Visa, Mastercard, Discover).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BatchCard {
    /// The caller's unique id, echoed in results.
    pub id: String,
    /// The card number.
    #[serde(serialize_with = "ser_pan")]
    pub card: CardNumber,
    /// Expiry, sent as `MM/YY`.
    #[serde(serialize_with = "ser_exp")]
    pub exp: Expiry,
}

/// A card in an Amex subscribe or unsubscribe request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AmexCard {
    /// The merchant's SE number.
    pub se_number: String,
    /// The caller's unique id.
    pub id: String,
    /// The card number.
    #[serde(serialize_with = "ser_pan")]
    pub card: CardNumber,
    /// Expiry, sent as `MM/YY`.
    #[serde(serialize_with = "ser_exp")]
    pub exp: Expiry,
}

/// `{"status", "message"|"msg", "data"}`: every response.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Envelope<T> {
    /// `success`, `failed`, `failure`.
    #[serde(default)]
    pub status: String,
    /// The message (`message` in v2, `msg` before).
    #[serde(default, alias = "msg")]
    pub message: Option<String>,
    /// The payload.
    pub data: Option<T>,
}

/// What enrollment returns. The merchant key is a secret.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct MerchantCreated {
    /// The merchant id.
    #[serde(alias = "id")]
    pub merchant_id: String,
    /// The merchant-level API key for batches and subscriptions.
    pub api_key: SecretString,
    /// When, verbatim.
    pub created_at: Option<String>,
}

impl fmt::Debug for MerchantCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantCreated")
            .field("merchant_id", &self.merchant_id)
            .field("api_key", &"[REDACTED]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What `GET /v2/merchant` returns. v2 documents only the envelope; `status` (v1:
/// `active` / `pending_activation`) and the rest are read when present.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MerchantStatus {
    /// The merchant id, when echoed.
    #[serde(default, alias = "id")]
    pub merchant_id: Option<String>,
    /// Enrollment status, when given.
    pub status: Option<String>,
    /// Activation time, when given.
    pub activated_at: Option<String>,
    /// Every field as received.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl MerchantStatus {
    /// The enrollment state, typed. v2 documents no values; v1 answered `pending_activation`
    /// or `active`, and the v2 batch example says `pending`, so `pending` and
    /// `pending_activation` are [`EnrollmentState::Pending`], `active` is
    /// [`EnrollmentState::Active`], anything else is kept verbatim. `None` when the answer
    /// carries no status at all.
    pub fn state(&self) -> Option<EnrollmentState> {
        self.status.as_deref().map(|s| match s {
            "pending" | "pending_activation" => EnrollmentState::Pending,
            "active" => EnrollmentState::Active,
            other => EnrollmentState::Other(other.to_owned()),
        })
    }
}

/// A merchant's enrollment state ([`MerchantStatus::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnrollmentState {
    /// Submitted; CardSync is enrolling the merchant ("up to five business days").
    Pending,
    /// Enrolled: batches and subscriptions are accepted.
    Active,
    /// A state the documents do not name, verbatim.
    Other(String),
}

open_enum! {
    /// A batch's state (`status` of `GET /v2/batch`).
    BatchState {
        /// Submitted, not finished.
        Pending => "pending",
        /// Finished; results can be fetched.
        Completed => "completed",
    }
}

/// Per-outcome counters. Read from any object of numbers: a repeated key keeps its last value
/// (the documented webhook examples repeat `closed`), and `contact_closed` counts as `closed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "BTreeMap<String, serde_json::Value>")]
#[non_exhaustive]
pub struct Stats {
    /// Cards submitted.
    pub number_submitted: Option<i64>,
    /// No change.
    pub no_change: Option<i64>,
    /// New numbers.
    pub updated_card: Option<i64>,
    /// New expiries.
    pub updated_expiry: Option<i64>,
    /// No match.
    pub no_match: Option<i64>,
    /// Valid.
    pub valid: Option<i64>,
    /// Contact the cardholder.
    pub contact: Option<i64>,
    /// Closed (or `contact_closed`).
    pub closed: Option<i64>,
}

impl From<BTreeMap<String, serde_json::Value>> for Stats {
    fn from(map: BTreeMap<String, serde_json::Value>) -> Self {
        let get = |k: &str| {
            map.get(k).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
        };
        Stats {
            number_submitted: get("number_submitted"),
            no_change: get("no_change"),
            updated_card: get("updated_card"),
            updated_expiry: get("updated_expiry"),
            no_match: get("no_match"),
            valid: get("valid"),
            contact: get("contact"),
            closed: match (get("closed"), get("contact_closed")) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

/// A batch as created or polled (`data` of `POST` and `GET /v2/batch`).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Batch {
    /// The batch id: documented in the status schema, missing from the v2 create example
    /// (CardSync Universal Account Updater v2, "Create batch"). A created batch without one
    /// exists all the same; the "batch available" webhook names it.
    pub batch_id: Option<String>,
    /// The state.
    pub status: Option<BatchState>,
    /// Counters.
    #[serde(default)]
    pub stats: Stats,
    /// Created, verbatim.
    pub created_at: Option<String>,
    /// Updated, verbatim.
    pub updated_at: Option<String>,
}

/// Per-card result. The card number, when it parses, is a [`CardNumber`]; otherwise it is
/// dropped (never kept as a plain string).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResultCard {
    /// The caller's id, echoed.
    pub id: String,
    /// The SE number (Amex results).
    pub se_number: Option<String>,
    /// The card (the new one for `updated_card`), when it is a valid card number.
    pub card: Option<CardNumber>,
    /// Why the `card` the answer carried is not in [`ResultCard::card`]: it fails the Luhn
    /// check or its brand's length rule. The digits are never kept.
    pub card_problem: Option<NewNumberProblem>,
    /// The expiry as sent (`MM/YY`).
    pub exp: Option<String>,
    /// The status, verbatim (empty when the card came back without one: "this generally
    /// means the card is valid", CardSync v2).
    pub status: String,
}

impl ResultCard {
    /// The expiry, when it is a valid `MM/YY`.
    pub fn expiry(&self) -> Option<Expiry> {
        self.exp
            .as_deref()
            .and_then(|e| Expiry::parse(e, ExpiryFormat::MmSlashYy).ok())
    }
}

#[derive(Deserialize)]
struct ResultCardWire {
    #[serde(default, deserialize_with = "lenient::string")]
    id: String,
    #[serde(default, alias = "se", deserialize_with = "lenient::opt_string")]
    se_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    card: Option<String>,
    #[serde(default)]
    exp: Option<String>,
    #[serde(default)]
    status: String,
}

impl<'de> Deserialize<'de> for ResultCard {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = ResultCardWire::deserialize(d)?;
        let (card, card_problem) = match w.card.map(CardNumber::parse_new_number) {
            Some(Ok(card)) => (Some(card), None),
            Some(Err(problem)) => (None, Some(problem)),
            None => (None, None),
        };
        Ok(ResultCard {
            id: w.id,
            se_number: w.se_number,
            card,
            card_problem,
            exp: w.exp,
            status: w.status,
        })
    }
}

/// `data` of batch and subscription results.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Results {
    /// The batch (batch results only).
    pub batch_id: Option<String>,
    /// The state.
    pub status: Option<BatchState>,
    /// Per-card results; cards with no response are usually valid.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub cards: Vec<ResultCard>,
    /// Counters.
    #[serde(default)]
    pub stats: Stats,
    /// Created, verbatim.
    pub created_at: Option<String>,
    /// Updated, verbatim.
    pub updated_at: Option<String>,
}

/// `card_stats` of the batch-completion webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CardStats {
    /// Visa cards.
    pub visa: Option<i64>,
    /// Mastercard cards.
    pub mastercard: Option<i64>,
    /// Discover cards.
    pub discover: Option<i64>,
    /// Amex cards.
    pub american_express: Option<i64>,
}

/// A webhook payload, any of the four ([CardSync v2 docs](https://api.cardsync.io/)); every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct WebhookPayload {
    /// The delivery's unique id (UUID), for deduplication.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// The trigger.
    pub trigger_id: Option<Trigger>,
    /// When it fired.
    pub trigger_date: Option<String>,
    /// The event id to pass to the results call.
    pub event_id: Option<String>,
    /// The batch (triggers 20 and 22).
    pub batch_id: Option<String>,
    /// The merchant (trigger 21).
    pub merchant_id: Option<String>,
    /// Counters (triggers 20 and 23).
    pub stats: Option<Stats>,
    /// Per-brand counts (trigger 20).
    pub card_stats: Option<CardStats>,
    /// Message.
    pub message: Option<String>,
    /// `success` (trigger 21).
    pub status: Option<String>,
    /// Error source (trigger 22), e.g. `Validation`.
    pub source: Option<String>,
    /// Number of errors (trigger 22).
    pub error_count: Option<i64>,
    /// When the results expire.
    pub expires: Option<String>,
}
