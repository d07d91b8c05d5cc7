//! PayConex v4 wire types, with the API's exact field names (the [PayConex (Bluefin) Account Updater API v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
//!
//! Requests serialise exactly the documented fields and nothing else: the API declares
//! `additionalProperties: false` and answers 422 to any unknown property. Responses are lenient:
//! every field optional, unknown fields ignored, tokens as strings or numbers, `records`, `tokens`
//! or `cards` for the record list.

mod builders;

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::card::{CardNumber, Expiry, ExpiryFormat};
use crate::providers::common::{open_enum, setters};
use crate::providers::lenient;

open_enum! {
    /// `periodId`: the schedule an account-updater subscription follows (the 16 values of the
    /// OpenAPI `PeriodsEnum` in the [PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
    PeriodId {
        /// Every week (needs `periodDate`).
        Period1W => "PERIOD_1W",
        /// Every two weeks (needs `periodDate`).
        Period2W => "PERIOD_2W",
        /// Every month (needs `periodDate`).
        Period1M => "PERIOD_1M",
        /// Every two months (needs `periodDate`).
        Period2M => "PERIOD_2M",
        /// Every three months (needs `periodDate`).
        Period3M => "PERIOD_3M",
        /// Every six months (needs `periodDate`).
        Period6M => "PERIOD_6M",
        /// Every year (needs `periodDate`).
        Period1Y => "PERIOD_1Y",
        /// The 1st and 15th of each month.
        Monthly1And15 => "MONTHLY_1_15",
        /// The 5th and 20th of each month.
        Monthly5And20 => "MONTHLY_5_20",
        /// The first day of each month.
        MonthlyFirst => "MONTHLY_FIRST",
        /// The last day of each month.
        MonthlyLast => "MONTHLY_LAST",
        /// The first day of each quarter.
        Quarterly1 => "QUARTERLY_1",
        /// The last day of each quarter.
        QuarterlyLast => "QUARTERLY_LAST",
        /// Once a year, first day of Q1.
        YearlyQ1First => "YEARLY_Q1_1",
        /// Once a year, first day of Q2.
        YearlyQ2First => "YEARLY_Q2_1",
        /// Once a year, first day of Q3.
        YearlyQ3First => "YEARLY_Q3_1",
    }
}

impl PeriodId {
    /// The 16 documented values.
    pub const DOCUMENTED: [PeriodId; 16] = [
        PeriodId::Period1W,
        PeriodId::Period2W,
        PeriodId::Period1M,
        PeriodId::Period2M,
        PeriodId::Period3M,
        PeriodId::Period6M,
        PeriodId::Period1Y,
        PeriodId::Monthly1And15,
        PeriodId::Monthly5And20,
        PeriodId::MonthlyFirst,
        PeriodId::MonthlyLast,
        PeriodId::Quarterly1,
        PeriodId::QuarterlyLast,
        PeriodId::YearlyQ1First,
        PeriodId::YearlyQ2First,
        PeriodId::YearlyQ3First,
    ];

    /// Whether the schedule needs a `periodDate` anchor (the `PERIOD_*` family, [PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
    pub fn requires_period_date(&self) -> bool {
        self.as_str().starts_with("PERIOD_")
    }
}

open_enum! {
    /// `responseFormat`: how updated card data comes back.
    ResponseFormat {
        /// A new PayConex `token_id` (transaction id) for recurring / reissue.
        Payconex => "payconex",
        /// A new ShieldConex `bfid` token.
        Shieldconex => "shieldconex",
        /// The new card number in clear (arrives in `newToken`).
        Pan => "pan",
    }
}

open_enum! {
    /// Webhook `event`.
    WebhookEventType {
        /// A notification with an `updateId` for a batch of account-updater updates.
        AccountUpdaterBatchUpdates => "ACCOUNT_UPDATER_BATCH_UPDATES",
        /// Batch-settlement details (not an account-updater event).
        PayconexBatchSettlement => "PAYCONEX_BATCH_SETTLEMENT",
    }
}

open_enum! {
    /// `AccountUpdaterStatuses` ([PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
    UpdateStatus {
        /// The submitted card is valid (not billable).
        Valid => "valid",
        /// Contact the customer: the card is closed (billable).
        ContactClosed => "contact_closed",
        /// Contact the customer: the card is no longer valid (billable).
        Contact => "contact",
        /// No match found (not billable).
        NoMatch => "no_match",
        /// No change found (not billable).
        NoChange => "no_change",
        /// Card number updated (billable).
        UpdatedCard => "updated_card",
        /// Expiry updated (billable).
        UpdatedExpiry => "updated_expiry",
    }
}

/// `periodDate`: sent as `YYYY-MM-DD` (the OpenAPI `format: date`); read back as a date string
/// or a Unix time in seconds (string or number), since the guides describe both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodDate(pub NaiveDate);

impl Serialize for PeriodDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.format("%Y-%m-%d").to_string())
    }
}

impl<'de> Deserialize<'de> for PeriodDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = lenient::string(d)?;
        if let Ok(date) = NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
            return Ok(PeriodDate(date));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
            return Ok(PeriodDate(t.date_naive()));
        }
        raw.parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .map(|t| PeriodDate(t.date_naive()))
            .ok_or_else(|| {
                serde::de::Error::custom("periodDate is neither YYYY-MM-DD nor Unix seconds")
            })
    }
}

fn ser_mmyy<S: Serializer>(e: &Expiry, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&e.format(ExpiryFormat::Mmyy))
}

fn ser_pan<S: Serializer>(c: &CardNumber, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.expose_secret())
}

/// `Webhook`: the body of webhook create and update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Webhook {
    /// Where PayConex POSTs notifications.
    pub url: String,
    /// The event (`ACCOUNT_UPDATER_BATCH_UPDATES` for account updater).
    pub event: WebhookEventType,
}

/// `WebhookResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WebhookResponse {
    /// `wbh_…`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    /// The registered URL.
    #[serde(default)]
    pub url: String,
    /// The event.
    pub event: Option<WebhookEventType>,
}

/// `AccountUpdaterTokenUpdate`: a PayConex token (transaction id) to keep updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TokenRecord {
    /// The PayConex transaction id, 1–12 digits.
    pub token: String,
    /// Whether the record is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `AccountUpdaterPANUpdate`: a card number and its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PanRecord {
    /// The card number (13–19 digits on this API).
    #[serde(serialize_with = "ser_pan")]
    pub pan: CardNumber,
    /// Expiry, sent as `MMYY`.
    #[serde(serialize_with = "ser_mmyy")]
    pub expiry: Expiry,
    /// Whether the record is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `AccountUpdaterShieldconexUpdate`: a ShieldConex token with its transaction id and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ShieldconexRecord {
    /// The PayConex transaction id the `bfid` belongs to.
    pub token: String,
    /// The ShieldConex token (1–1024 characters).
    pub bfid: String,
    /// Expiry, sent as `MMYY`.
    #[serde(serialize_with = "ser_mmyy")]
    pub expiry: Expiry,
    /// Whether the record is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

macro_rules! subscription_body {
    ($(#[$meta:meta])* $name:ident, $field:ident: $record:ty, $doc:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            /// The format updates come back in.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub response_format: Option<ResponseFormat>,
            #[doc = $doc]
            pub $field: Vec<$record>,
            /// The anchor date (required for the `PERIOD_*` schedules).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub period_date: Option<PeriodDate>,
            /// The schedule.
            pub period_id: PeriodId,
            /// Whether the schedule is enabled.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub enabled: Option<bool>,
        }

        impl $name {
            /// A body with the records and the schedule (the two required fields).
            pub fn new($field: Vec<$record>, period_id: PeriodId) -> Self {
                $name {
                    response_format: None,
                    $field,
                    period_date: None,
                    period_id,
                    enabled: None,
                }
            }
        }

        setters!($name {
            optional response_format / set_response_format: ResponseFormat,
            optional period_date / set_period_date: PeriodDate,
            optional enabled / set_enabled: bool,
        });
    };
}

subscription_body!(
    /// `AccountUpdaterConexSubscriptionRequest` (POST `…/payconex/subscribe`).
    TokenSubscription, tokens: TokenRecord, "The PayConex tokens (`tokens`)."
);
subscription_body!(
    /// `AccountUpdaterPANSubscriptionRequest` (POST `…/pan/subscribe`).
    PanSubscription, cards: PanRecord, "The cards (`cards`)."
);
subscription_body!(
    /// `AccountUpdaterShieldSubscriptionRequest` (POST `…/shieldconex/subscribe`).
    ShieldconexSubscription, tokens: ShieldconexRecord, "The ShieldConex tokens (`tokens`)."
);

/// `AccountUpdaterSubscriptionRequest`: the PATCH body; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionPatch {
    /// New response format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// New anchor date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_date: Option<PeriodDate>,
    /// New schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_id: Option<PeriodId>,
    /// Enable or disable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A schedule, subscription or schedule-with-results: the three documented response shapes
/// (`AccountUpdaterSchedule`, `…SubscriptionWithResults`, `…ScheduleWithResults`) in one lenient
/// type. `id` is both the `scheduleId` and the `subscriptionId`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schedule {
    /// `css_…`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    /// The records (`records`, or `tokens` / `cards` in some documented shapes).
    #[serde(
        default,
        alias = "tokens",
        alias = "cards",
        deserialize_with = "lenient::null_default"
    )]
    pub records: Vec<ScheduleRecord>,
    /// The schedule.
    pub period_id: Option<PeriodId>,
    /// The anchor date.
    pub period_date: Option<PeriodDate>,
    /// The response format.
    pub response_format: Option<ResponseFormat>,
    /// Whether enabled.
    pub enabled: Option<bool>,
    /// Creation time, verbatim.
    pub created_at: Option<String>,
    /// Last change, verbatim.
    pub updated_at: Option<String>,
    /// ShieldConex template reference.
    pub template_ref: Option<String>,
}

/// One record of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScheduleRecord {
    /// `cssr_…`: needed to delete the record.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    /// The token (PayConex transaction id, or the ShieldConex token for PAN records).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub token: Option<String>,
    /// Creation time, verbatim.
    pub created_at: Option<String>,
    /// Last change, verbatim.
    pub updated_at: Option<String>,
    /// The record type (`payconex`, `shieldconex`, `pan`).
    #[serde(rename = "type")]
    pub record_type: Option<ResponseFormat>,
    /// Whether enabled.
    pub enabled: Option<bool>,
    /// Expiry as sent by the API (`MMYY`; kept verbatim because examples hold values like
    /// `9929` that are not a month). See [`ScheduleRecord::expiry`].
    #[serde(default, rename = "expiry", deserialize_with = "lenient::opt_string")]
    pub expiry_raw: Option<String>,
    /// The parent schedule (`cardSyncScheduleId`, seen in the guides' examples).
    pub card_sync_schedule_id: Option<String>,
    /// The ShieldConex token, for ShieldConex records.
    pub bfid: Option<String>,
    /// The most recent update (schedule results only).
    pub most_recent_update: Option<Update>,
}

impl ScheduleRecord {
    /// The expiry, when it is a valid `MMYY`.
    pub fn expiry(&self) -> Option<Expiry> {
        parse_mmyy(self.expiry_raw.as_deref())
    }
}

pub(crate) fn parse_mmyy(raw: Option<&str>) -> Option<Expiry> {
    raw.and_then(|s| Expiry::parse(s, ExpiryFormat::Mmyy).ok())
}

/// `newToken`: a token, or, when the subscription's format is `pan`, the new card number in
/// clear, which is held as a [`CardNumber`] and never as a plain string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewValue {
    /// A PayConex or ShieldConex token.
    Token(String),
    /// A card number (format `pan`).
    Card(CardNumber),
    /// Under format `pan` (or an unstated format), a value shaped like a card number (13 to 19
    /// digits) that is not a valid one: the digits are zeroed at once and only the reason is
    /// kept, so a mistyped PAN is never handed out as a "token".
    Invalid(crate::card::NewNumberProblem),
}

/// `AccountUpdaterUpdate`: one card's update ([PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Update {
    /// `auru_…`.
    pub id: Option<String>,
    /// Expiry before, verbatim (`MMYY`).
    pub old_expiry: Option<String>,
    /// Expiry after, verbatim (`MMYY`).
    pub new_expiry: Option<String>,
    /// The token submitted.
    pub old_token: Option<String>,
    /// The new token or card number.
    pub new_token: Option<NewValue>,
    /// The `aupres_…` batch this update belongs to.
    pub update_id: Option<String>,
    /// When, verbatim.
    pub updated_at: Option<String>,
    /// The status.
    pub status: Option<UpdateStatus>,
    /// PayConex recurring schedules tied to this update.
    pub recurring_schedules: Vec<i64>,
    /// The record (`cssr_…`).
    pub account_updater_schedule_record_id: Option<String>,
    /// The schedule (`css_…`).
    pub account_updater_schedule_id: Option<String>,
    /// The format of `new_token`.
    pub format: Option<ResponseFormat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateWire {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    old_expiry: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    new_expiry: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    old_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    new_token: Option<String>,
    update_id: Option<String>,
    updated_at: Option<String>,
    status: Option<UpdateStatus>,
    #[serde(default, deserialize_with = "lenient::null_default")]
    recurring_schedules: Vec<i64>,
    account_updater_schedule_record_id: Option<String>,
    account_updater_schedule_id: Option<String>,
    format: Option<ResponseFormat>,
}

impl<'de> Deserialize<'de> for Update {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = UpdateWire::deserialize(d)?;
        // With format `pan` "any update to number or expiry is returned as a clear-text PAN in
        // newToken" (PayConex Account Updater guide); records not updated come back as tokens.
        // So a value that parses as a card number under format `pan` is a card, and is wrapped
        // at once. When the update does not say its format, it may be `pan` too (the schedule's
        // `responseFormat` decides, and it is not in the update), so the same rule applies: a
        // clear card number is never kept in a plain string.
        let format = w.format.clone();
        let new_token = w.new_token.map(|raw| new_value(raw, format.as_ref()));
        Ok(Update {
            id: w.id,
            old_expiry: w.old_expiry,
            new_expiry: w.new_expiry,
            old_token: w.old_token,
            new_token,
            update_id: w.update_id,
            updated_at: w.updated_at,
            status: w.status,
            recurring_schedules: w.recurring_schedules,
            account_updater_schedule_record_id: w.account_updater_schedule_record_id,
            account_updater_schedule_id: w.account_updater_schedule_id,
            format: w.format,
        })
    }
}

/// Reads `newToken` by the update's format (see [`Update`]'s `Deserialize`): under `pan`
/// every value is a card number, valid or refused; under an unstated format a value of 13 to
/// 19 digits is read as one (PayConex tokens are 12 digits in every example; a ShieldConex
/// `bfid` is not all digits); under `payconex` / `shieldconex` it is a token.
fn new_value(raw: String, format: Option<&ResponseFormat>) -> NewValue {
    let card_shaped = (13..=19).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit());
    let read_as_card = match format {
        Some(ResponseFormat::Pan) => true,
        None => card_shaped,
        Some(_) => false,
    };
    if !read_as_card {
        return NewValue::Token(raw);
    }
    match CardNumber::parse_new_number(raw) {
        Ok(card) => NewValue::Card(card),
        Err(problem) => NewValue::Invalid(problem),
    }
}

/// One entry of `ApiViolation.details`: the schema's `{detail, source}` or the examples'
/// `{message, source, value}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// Schema spelling of the text.
    pub detail: Option<String>,
    /// Example spelling of the text.
    pub message: Option<String>,
    /// The offending property.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub source: Option<String>,
}

impl ErrorDetail {
    /// The text, whichever spelling was used.
    pub fn text(&self) -> Option<&str> {
        self.detail.as_deref().or(self.message.as_deref())
    }
}

/// `ApiViolation`, and the fallback `Error {code, message}` shape ([PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)). The `value` field
/// is deliberately not kept: it can echo submitted data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiViolation {
    /// e.g. `Unauthenticated`.
    pub message: Option<String>,
    /// For Bluefin support.
    pub trace_id: Option<String>,
    /// `invalid_request`, `authentication`, `authorization`, `internal_server_error`, `not_found`.
    pub error_type: Option<String>,
    /// `40001`…`40005`, as a string or a number.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error_code: Option<String>,
    /// Where the problem is (`headers`, `request`, a property name).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub source: Option<String>,
    /// Per-property details.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub details: Vec<ErrorDetail>,
    /// Fallback shape: the HTTP code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub code: Option<String>,
}
