//! A stateful Acquired.com legacy API on loopback (one `POST /api.php`).
//!
//! - Checks the credentials (`company_id`, `company_pass`, `company_mid_id`) and the
//!   `request_hash` (code `107` "Error:Incorrect Hash String" when wrong), the timestamp shape
//!   and the transaction type (`104`).
//! - Keeps tokens (INIT transactions: card, expiry, customer / billing / shipping data, enabled or
//!   not). A disabled token is refused for ACCOUNT_UPDATER and UPDATE_BILLING.
//! - SUBSCRIPTION_MANAGE applies billing / customer / shipping changes (card number and expiry
//!   refused, `102`) or enables / disables the token; UPDATE_BILLING (zero-amount `AUTH_ONLY`)
//!   replaces the card when it is valid and not expired (`204` otherwise).
//! - ACCOUNT_UPDATER answers `11` (pending) and then POSTs an `account_updater` webhook, signed
//!   with the double SHA-256 `hash`, to the URL set with [`AcquiredEmulator::set_webhook_url`].
//!   The outcome follows Acquired's testing page (Testing → Account Updater) exactly: a token
//!   whose INIT expiry is one of the page's magic expiries answers the page's status and scheme
//!   code (the table below; the page names the test cards Visa `4000011180138710` and
//!   Mastercard `5100019221455924`, and any Visa or Mastercard with those expiries behaves the
//!   same here). Any other card is looked up in the CardSync sandbox table (the updater test
//!   cards), answered with the Visa letter for that result (A, E, C, Q, V, P; `V` for cards
//!   not in it). A new number or expiry replaces the stored card in place, as Acquired does.
//! - Acquired does not publish the event's field names, so [`AcquiredWebhookLayout`] chooses
//!   them: by default the testing page's own columns snake-cased (`status`, and `response_code`
//!   for Visa or `response_indicator` with `reason_identifier` for Mastercard), or the same
//!   nested under `account_updater`, or the status word in `update_result`. The new expiry is
//!   in `cardexp` (`MMYYYY`), the last four digits in `card_last4`; with
//!   [`AcquiredEmulatorConfig::webhook_card_number`] the full new number in `cardnumber`, and
//!   with [`AcquiredEmulatorConfig::invalid_replacements`] a replacement that fails Luhn.
//!
//! | INIT expiry | card | status | code | new number | new expiry | unified outcome |
//! |---|---|---|---|---|---|---|
//! | `012017` | Visa | 1 | A | yes | yes | `new_account_number` |
//! | `022017` | Visa | 2 | C | | | `closed` |
//! | `032017` | Visa | 1 | E | | yes | `new_expiry` |
//! | `042017` | Visa | 2 | N | | | `non_participating` |
//! | `052017` | Visa | 2 | P | | | `no_match` |
//! | `062017` | Visa | 2 | Q | | | `contact_cardholder` |
//! | `072017` | Visa | 2 | V | | | `valid` |
//! | `012016` | Mastercard | 1 | R / UPDATE | yes | yes | `new_account_number` |
//! | `022016` | Mastercard | 1 | B / UPDATE | | yes | `new_account_number`, brand changed |
//! | `032016` | Mastercard | 2 | C / CONTAC | | | `closed` |
//! | `042016` | Mastercard | 1 | E / EXPIRY | | yes | `new_expiry` |
//! | `052016` | Mastercard | 2 | V / VALID | | | `valid` |
//! | `062016` | Mastercard | 2 | P / UNKNWN | | | `no_match` |
//! | `072016` | Mastercard | 2 | N / UNKNWN | | | `non_participating` |
//! | any other | any | | CardSync sandbox card's result | | | as that card |
//! | with `invalid_replacements` and `webhook_card_number` | | 1 | A / R | fails Luhn | | `invalid_update` |
//! | [`AcquiredEmulator::answer_with_code`] `O` | any | 2 | O | | | `opted_out` |
//! | `answer_with_code` `VAU010`, `VAU011`, `VAU016` | any | 2 | the code | | | `stop_updates` |
//! | `answer_with_code` `VAU001`–`VAU008`, `VAU013`, `VAU015` | any | 2 | the code | | | `not_eligible` |
//! | `answer_with_code` `VAU012` / `VAU009` / `VAU014` | any | 2 | the code | | | `no_change` / `non_participating` / `opted_out` |
//! - Every answer carries a correct `response_hash`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use url::Url;

use super::signing::{acquired as hash, same_digest};
use super::{
    EmulatorServer, Fault, deliver_webhook, random_uuid, replacement_pan, sandbox_card_status,
};
use account_updater::card::{CardBrand, CardNumber, Expiry, ExpiryFormat};
use account_updater::codes::CodeScheme;
use account_updater::providers::acquired::Credentials;

/// The company id the emulator serves by default (the docs' example).
pub const DEFAULT_COMPANY_ID: &str = "133";
/// The API password it accepts by default.
pub const DEFAULT_COMPANY_PASS: &str = "emulatorPass2024";
/// The hash code it hashes with by default.
pub const DEFAULT_HASHCODE: &str = "emulator_hash_code";
/// The MID it answers with.
pub const DEFAULT_MID: &str = "1556";

/// What the emulator stores for one token ([`AcquiredEmulator::token_state`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TokenState {
    /// The card on file, masked (first six, last four).
    pub masked_card: String,
    /// Its expiry, as Acquired writes it (`MMYYYY`).
    pub expiry: String,
    /// Whether the token may be charged (SUBSCRIPTION_MANAGE `ENABLE` / `DISABLE`).
    pub enabled: bool,
    /// The customer, billing and shipping fields set on it.
    pub fields: Map<String, Value>,
}

/// Settings of an [`AcquiredEmulator`].
#[derive(Clone)]
#[non_exhaustive]
pub struct AcquiredEmulatorConfig {
    /// Company id.
    pub company_id: String,
    /// API password.
    pub company_pass: SecretString,
    /// Hash code.
    pub hashcode: SecretString,
    /// Answer bad credentials (code 103) with no `response_hash`, as a gateway that cannot tell
    /// whose hash code to use may: the documents show hashes only on answers to valid calls.
    pub unsigned_credential_errors: bool,
    /// Which field names the `account_updater` webhook uses (unpublished by Acquired).
    pub webhook_layout: AcquiredWebhookLayout,
    /// Put the full new card number in the webhook (`cardnumber`) when it changes.
    pub webhook_card_number: bool,
    /// Replace card numbers with one that fails the Luhn check, as a faulty upstream might: the
    /// client must report [`account_updater::Outcome::InvalidUpdate`], never the number.
    pub invalid_replacements: bool,
    /// How long the emulator waits before delivering again a webhook the receiver did not
    /// answer `200` (or did not answer). Acquired "retries every 10 min for 1 h" when a
    /// webhook is not answered 200 within 10 seconds (its webhooks page): the emulator keeps
    /// the count, [`WEBHOOK_RETRIES`], and by default compresses the interval to one
    /// second so an offline run sees a redelivery; `Duration::from_secs(600)` plays the
    /// documented schedule literally, and `Duration::ZERO` turns redelivery off (one attempt).
    pub webhook_retry_interval: Duration,
}

/// How many times Acquired delivers a webhook again after the first attempt failed: every
/// 10 minutes for an hour (its webhooks page), so six.
pub const WEBHOOK_RETRIES: u32 = 6;

/// The field names of the emulator's `account_updater` webhook. Acquired publishes the event
/// but not its fields, so each plausible reading can be played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AcquiredWebhookLayout {
    /// The testing page's columns, snake-cased, at the top level: `status`, then
    /// `response_code` (the Visa code) or `response_indicator` and `reason_identifier`
    /// (Mastercard).
    #[default]
    TestingPage,
    /// The same fields inside an `account_updater` object; the top level keeps Acquired's own
    /// `response_code` (`1`) and `response_message`, as on its other events.
    Nested,
    /// The updater's status word (`updated_card`, `closed`, …) in `update_result` beside
    /// Acquired's `response_code` `1`: the emulator's layout before the testing page was read.
    UpdateResult,
}

impl std::fmt::Debug for AcquiredEmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquiredEmulatorConfig")
            .field("company_id", &self.company_id)
            .finish_non_exhaustive()
    }
}

impl Default for AcquiredEmulatorConfig {
    fn default() -> Self {
        AcquiredEmulatorConfig {
            company_id: DEFAULT_COMPANY_ID.into(),
            company_pass: SecretString::from(DEFAULT_COMPANY_PASS.to_owned()),
            hashcode: SecretString::from(DEFAULT_HASHCODE.to_owned()),
            unsigned_credential_errors: false,
            webhook_layout: AcquiredWebhookLayout::TestingPage,
            webhook_card_number: false,
            invalid_replacements: false,
            webhook_retry_interval: Duration::from_secs(1),
        }
    }
}

struct Token {
    pan: SecretString,
    cardexp: String,
    enabled: bool,
    data: Map<String, Value>,
    /// A scheme code set with [`AcquiredEmulator::answer_with_code`].
    forced: Option<&'static str>,
    /// Set with [`AcquiredEmulator::hold_results`]: the webhook is kept back.
    held: bool,
}

#[derive(Default)]
struct Store {
    tokens: HashMap<String, Token>,
    next_id: u64,
    webhook_url: Option<String>,
    /// Per token: how many ACCOUNT_UPDATER requests it received.
    inquiries: HashMap<String, usize>,
    /// Webhooks kept back ([`AcquiredEmulator::hold_results`]): URL and body.
    held_webhooks: Vec<(String, Value)>,
}

type Shared = super::Shared<AcquiredEmulatorConfig, Store>;

/// A running Acquired emulator. Stops when dropped.
pub struct AcquiredEmulator {
    server: EmulatorServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AcquiredEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquiredEmulator")
            .field("base_url", &self.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl AcquiredEmulator {
    /// Starts an emulator with the default credentials.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(AcquiredEmulatorConfig::default()).await
    }

    /// Starts an emulator with the given credentials.
    pub async fn start_with(config: AcquiredEmulatorConfig) -> std::io::Result<Self> {
        let shared = Shared::new(
            config,
            Store {
                next_id: 306_750,
                ..Store::default()
            },
        );
        Ok(AcquiredEmulator {
            server: super::serve(&shared, handle).await?,
            shared,
        })
    }

    /// The base URL to give the client: the endpoint itself (`http://127.0.0.1:PORT/api.php`).
    pub fn base_url(&self) -> Url {
        self.server.base_url().join("api.php").expect("static path")
    }

    /// Credentials it accepts.
    pub fn credentials(&self) -> Credentials {
        let c = &self.shared.config;
        Credentials::new(
            c.company_id.clone(),
            c.company_pass.clone(),
            None,
            c.hashcode.clone(),
        )
        .expect("emulator credentials are valid")
    }

    /// Answers the next request with `fault` instead of handling it.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// Where `account_updater` webhooks go (Acquired support sets this up for real accounts).
    pub fn set_webhook_url(&self, url: &Url) {
        self.shared.lock().webhook_url = Some(url.to_string());
    }

    /// Stores a token, as an INIT transaction would, and returns its `transaction_id`.
    pub fn create_token(&self, card: &CardNumber, expiry: Expiry) -> String {
        let mut store = self.shared.lock();
        store.next_id += 1;
        let id = store.next_id.to_string();
        store.tokens.insert(
            id.clone(),
            Token {
                pan: SecretString::from(card.expose_secret().to_owned()),
                cardexp: expiry.format(ExpiryFormat::Mmyyyy),
                enabled: true,
                data: Map::new(),
                forced: None,
                held: false,
            },
        );
        id
    }

    /// Keeps back the `account_updater` webhook of every later inquiry for `token`: the
    /// inquiry is answered `11` (pending) as usual, but its result is not delivered until
    /// [`AcquiredEmulator::release_results`]. Acquired gives up on a webhook after an hour of
    /// retries; a result that never comes is what a caller's lateness check must catch.
    /// Returns `false` for an unknown token.
    pub fn hold_results(&self, token: &str) -> bool {
        match self.shared.lock().tokens.get_mut(token) {
            Some(t) => {
                t.held = true;
                true
            }
            None => false,
        }
    }

    /// Delivers every webhook held back so far (and stops holding); returns how many.
    pub async fn release_results(&self) -> usize {
        let held = {
            let mut store = self.shared.lock();
            for token in store.tokens.values_mut() {
                token.held = false;
            }
            std::mem::take(&mut store.held_webhooks)
        };
        let retry = self.shared.config.webhook_retry_interval;
        let count = held.len();
        for (url, body) in held {
            deliver_as_acquired(url, body, retry).await;
        }
        count
    }

    /// Makes every later `ACCOUNT_UPDATER` for `token` answer with `code`, a scheme code
    /// beyond the testing page's table: a Visa letter (`O`, opted out, or any of A E C Q V P
    /// N) or a Real Time VAU code (`VAU001`…`VAU016`: not eligible, stop advice, opt-out…),
    /// sent where the layout puts the Visa code, with status 1 for A and E and 2 otherwise.
    /// So every branch of a caller's apply-an-update code can be driven offline. Returns
    /// `false` (and changes nothing) for an unknown token or a code the table does not hold.
    pub fn answer_with_code(&self, token: &str, code: &str) -> bool {
        let Some(row) = [CodeScheme::VisaVau, CodeScheme::VisaRealTimeVau]
            .into_iter()
            .find_map(|s| account_updater::codes::lookup(s, code))
        else {
            return false;
        };
        let mut store = self.shared.lock();
        match store.tokens.get_mut(token) {
            Some(t) => {
                t.forced = Some(row.code);
                true
            }
            None => false,
        }
    }

    /// Per token, how many `ACCOUNT_UPDATER` requests named it (accepted or refused): how a
    /// test proves each card reached the service exactly once.
    pub fn inquiries(&self) -> HashMap<String, usize> {
        self.shared.lock().inquiries.clone()
    }

    /// What the emulator stores for a token (`None` for a token it never issued).
    pub fn token_state(&self, token: &str) -> Option<TokenState> {
        let store = self.shared.lock();
        let t = store.tokens.get(token)?;
        let masked_card = CardNumber::parse(t.pan.expose_secret())
            .map(|c| c.masked())
            .unwrap_or_default();
        Some(TokenState {
            masked_card,
            expiry: t.cardexp.clone(),
            enabled: t.enabled,
            fields: t.data.clone(),
        })
    }
}

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()
}

/// A signed answer.
fn answer(
    shared: &Shared,
    code: &str,
    message: &str,
    transaction_type: &str,
    transaction_id: &str,
    merchant_order_id: &str,
    extra: Value,
) -> Response {
    let ts = now();
    let company = &shared.config.company_id;
    let mut body = json!({
        "timestamp": ts,
        "response_code": code,
        "response_message": message,
        "company_id": company,
        "mid": DEFAULT_MID,
        "transaction_id": transaction_id,
        "transaction_type": transaction_type,
        "merchant_order_id": merchant_order_id,
        "bank_response_code": if code == "1" { "00" } else { "" },
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    body["response_hash"] = json!(hash::response_hash(
        &ts,
        transaction_type,
        company,
        transaction_id,
        code,
        shared.config.hashcode.expose_secret(),
    ));
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if let Some(response) = shared.faults.answer().await {
        return response;
    }
    let call = match checked_call(&shared, &body) {
        Ok(call) => call,
        Err(refused) => return refused,
    };
    let mut webhook: Option<(String, Value)> = None;
    let response = {
        let mut store = shared.lock();
        store.next_id += 1;
        let transaction_id = store.next_id.to_string();
        let webhook_url = store.webhook_url.clone();
        if call.ttype == "ACCOUNT_UPDATER" {
            *store.inquiries.entry(call.original.clone()).or_default() += 1;
        }
        match store.tokens.get_mut(&call.original) {
            None => call.fail("102", "Error:Invalid Parameters"),
            Some(token) => {
                let op = Operation {
                    call: &call,
                    token,
                    transaction_id: &transaction_id,
                };
                op.route(webhook_url, &mut webhook)
            }
        }
    };
    if let Some((url, body)) = webhook {
        let held = shared
            .lock()
            .tokens
            .get(&call.original)
            .is_some_and(|t| t.held);
        if held {
            shared.lock().held_webhooks.push((url, body));
        } else {
            let retry = shared.config.webhook_retry_interval;
            tokio::spawn(deliver_as_acquired(url, body, retry));
        }
    }
    response
}

/// Delivers `body` as Acquired does: once now and, while the receiver does not answer `200`,
/// again every `retry_interval` up to [`WEBHOOK_RETRIES`] times (in the background,
/// so the first attempt's answer is what the caller waits for). A receiver that could not
/// join a result to its run yet answers "not yet" and gets it again.
async fn deliver_as_acquired(url: String, body: Value, retry_interval: Duration) {
    if deliver_webhook(&url, &body).await == Some(200) || retry_interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        for _ in 0..WEBHOOK_RETRIES {
            tokio::time::sleep(retry_interval).await;
            if deliver_webhook(&url, &body).await == Some(200) {
                return;
            }
        }
    });
}

/// A request that passed Acquired's envelope checks, with the fields every operation reads.
struct Call<'a> {
    shared: &'a Shared,
    req: Value,
    tx: Value,
    ttype: String,
    order: String,
    original: String,
    sub: String,
}

impl Call<'_> {
    /// A signed failure answer.
    fn fail(&self, code: &str, message: &str) -> Response {
        answer(
            self.shared,
            code,
            message,
            &self.ttype,
            "",
            &self.order,
            json!({}),
        )
    }
}

/// The envelope checks, in Acquired's order: JSON, credentials (`103`), MID and timestamp
/// format (`102`), transaction type (`104`), request hash (`107`), merchant order id (`102`).
fn checked_call<'a>(shared: &'a Shared, body: &[u8]) -> Result<Call<'a>, Response> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Err(answer(
            shared,
            "102",
            "Error:Invalid Parameters",
            "",
            "",
            "",
            json!({}),
        ));
    };
    let tx = req.get("transaction").cloned().unwrap_or(Value::Null);
    let call = Call {
        shared,
        ttype: text(&tx, "transaction_type"),
        order: text(&tx, "merchant_order_id"),
        original: text(&tx, "original_transaction_id"),
        sub: text(&tx, "subscription_type"),
        tx,
        req,
    };
    let cfg = &shared.config;
    let req = &call.req;
    let ts = text(req, "timestamp");
    if text(req, "company_id") != cfg.company_id
        || text(req, "company_pass") != cfg.company_pass.expose_secret()
    {
        if cfg.unsigned_credential_errors {
            let body = json!({
                "timestamp": now(), "response_code": "103",
                "response_message": "Error:Invalid or Inactive MID Info",
                "company_id": text(req, "company_id"), "transaction_type": call.ttype,
            });
            return Err((StatusCode::OK, axum::Json(body)).into_response());
        }
        return Err(call.fail("103", "Error:Invalid or Inactive MID Info"));
    }
    let mid = text(req, "company_mid_id");
    if !mid.bytes().all(|b| b.is_ascii_digit())
        || ts.len() != 14
        || !ts.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(call.fail("102", "Error:Invalid Parameters"));
    }
    if !matches!(
        call.ttype.as_str(),
        "SUBSCRIPTION_MANAGE" | "AUTH_ONLY" | "AUTH_CAPTURE" | "ACCOUNT_UPDATER"
    ) {
        return Err(call.fail("104", "Error:Invalid or Unsupported Transaction Type"));
    }
    let expected = hash::request_hash(
        &ts,
        &call.ttype,
        &cfg.company_id,
        &call.order,
        &call.original,
        cfg.hashcode.expose_secret(),
    );
    if !same_digest(&expected, &text(req, "request_hash")) {
        return Err(call.fail("107", "Error:Incorrect Hash String"));
    }
    let order = &call.order;
    if !order.is_empty()
        && (order.len() > 50
            || !order
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(call.fail("102", "Error:Invalid Parameters"));
    }
    Ok(call)
}

/// One operation on a stored token, routed by transaction and subscription type.
struct Operation<'a> {
    call: &'a Call<'a>,
    token: &'a mut Token,
    transaction_id: &'a str,
}

impl Operation<'_> {
    fn route(self, webhook_url: Option<String>, webhook: &mut Option<(String, Value)>) -> Response {
        match (self.call.ttype.as_str(), self.call.sub.as_str()) {
            ("SUBSCRIPTION_MANAGE", "ENABLE") => self.set_enabled(true),
            ("SUBSCRIPTION_MANAGE", "DISABLE") => self.set_enabled(false),
            ("SUBSCRIPTION_MANAGE", "UPDATE_BILLING" | "SUBSCRIPTION_MANAGE") => {
                self.update_billing()
            }
            ("AUTH_ONLY" | "AUTH_CAPTURE", "UPDATE_BILLING") => self.change_card(),
            ("ACCOUNT_UPDATER", _) => self.account_updater(webhook_url, webhook),
            _ => self
                .call
                .fail("104", "Error:Invalid or Unsupported Transaction Type"),
        }
    }

    /// A signed success answer.
    fn ok(&self, transaction_type: &str, extra: Value) -> Response {
        answer(
            self.call.shared,
            "1",
            "Transaction Success",
            transaction_type,
            self.transaction_id,
            &self.call.order,
            extra,
        )
    }

    /// SUBSCRIPTION_MANAGE / `ENABLE` and `DISABLE`.
    fn set_enabled(self, enabled: bool) -> Response {
        self.token.enabled = enabled;
        self.ok("SUBSCRIPTION_MANAGE", json!({}))
    }

    /// SUBSCRIPTION_MANAGE / `UPDATE_BILLING`: customer, billing and shipping data, never the
    /// card (a card number or expiry here is refused).
    fn update_billing(self) -> Response {
        let req = &self.call.req;
        let billing = req.get("billing").cloned().unwrap_or(Value::Null);
        if billing.get("cardnumber").is_some() || billing.get("cardexp").is_some() {
            return self.call.fail("102", "Error:Invalid Parameters");
        }
        for part in ["customer", "billing", "shipping"] {
            if let Some(Value::Object(m)) = req.get(part) {
                self.token.data.extend(m.clone());
            }
        }
        self.ok("SUBSCRIPTION_MANAGE", json!({}))
    }

    /// UPDATE_BILLING card change: a zero-amount authorisation carrying the new card; the
    /// token takes it only if the authorisation succeeds.
    fn change_card(self) -> Response {
        let call = self.call;
        let billing = call.req.get("billing").cloned().unwrap_or(Value::Null);
        let number = CardNumber::parse(&text(&billing, "cardnumber"));
        let exp = Expiry::parse(&text(&billing, "cardexp"), ExpiryFormat::Mmyyyy);
        let today = chrono::Utc::now().date_naive();
        if !self.token.enabled {
            return call.fail("102", "Error:Token Disabled");
        }
        if text(&call.tx, "amount") != "0" {
            return call.fail("102", "Error:Invalid Parameters");
        }
        let Ok(number) = number else {
            return call.fail("102", "Error:Invalid cardnumber");
        };
        let exp = match exp {
            Ok(exp) if !exp.is_expired_at(today) => exp,
            _ => return call.fail("204", "Error:Invalid or Expired cardexp"),
        };
        let expected_type = acquired_card_type(number.brand());
        if text(&billing, "card_type") != expected_type {
            return call.fail("106", "Error:Invalid or Unsupported Card Type");
        }
        self.token.pan = SecretString::from(number.expose_secret().to_owned());
        self.token.cardexp = exp.format(ExpiryFormat::Mmyyyy);
        if let Value::Object(m) = &billing {
            for (k, v) in m {
                if !matches!(
                    k.as_str(),
                    "cardnumber" | "cardcvv" | "cardexp" | "card_type"
                ) {
                    self.token.data.insert(k.clone(), v.clone());
                }
            }
        }
        self.ok(
            &call.ttype,
            json!({
                "amount": "0", "currency_code_iso3": text(&call.tx, "currency_code_iso3"),
                "authorization_code": "123456", "acquirer_reference_number": "",
                "avsaddress": "N", "avszipcode": "NP", "cvvresult": "N",
            }),
        )
    }

    /// ACCOUNT_UPDATER: answered `11` (pending); the outcome (from the testing page's table,
    /// else the sandbox card tables) follows as a signed `account_updater` webhook.
    fn account_updater(
        self,
        webhook_url: Option<String>,
        webhook: &mut Option<(String, Value)>,
    ) -> Response {
        let call = self.call;
        if !self.token.enabled {
            return call.fail("102", "Error:Token Disabled");
        }
        let answer_row = match self.token.forced {
            Some(code) => forced_answer(code),
            None => scheme_answer(self.token.pan.expose_secret(), &self.token.cardexp),
        };
        let config = &call.shared.config;
        let mut new_number = None;
        if answer_row.new_number {
            let mut pan = replacement_pan(self.token.pan.expose_secret());
            if config.invalid_replacements {
                pan = super::spoil_check_digit(&pan);
            }
            new_number = Some(pan.clone());
            self.token.pan = SecretString::from(pan);
        }
        if answer_row.new_expiry {
            self.token.cardexp = later(&self.token.cardexp);
        }
        if let Some(url) = webhook_url {
            *webhook = Some((url, self.webhook_body(&answer_row, new_number)));
        }
        answer(
            call.shared,
            "11",
            "Pending",
            "ACCOUNT_UPDATER",
            self.transaction_id,
            &call.order,
            json!({}),
        )
    }

    /// The `account_updater` webhook, signed with the double SHA-256 `hash`.
    fn webhook_body(&self, row: &SchemeAnswer, new_number: Option<String>) -> Value {
        let cfg = &self.call.shared.config;
        let id = random_uuid();
        let wts = now();
        let hash = hash::webhook_hash(
            &id,
            &wts,
            &cfg.company_id,
            "account_updater",
            cfg.hashcode.expose_secret(),
        );
        let last4 = {
            let p = self.token.pan.expose_secret();
            p[p.len() - 4..].to_owned()
        };
        let mut body = json!({
            "id": id, "timestamp": wts, "company_id": cfg.company_id, "event": "account_updater", "hash": hash,
            "mid_id": DEFAULT_MID, "transaction_id": self.transaction_id, "original_transaction_id": self.call.original,
            "transaction_type": "ACCOUNT_UPDATER",
            // The event's own fields are unpublished; these are the emulator's reading.
            "card_last4": last4, "cardexp": self.token.cardexp,
        });
        if let (true, Some(pan)) = (cfg.webhook_card_number, new_number) {
            body["cardnumber"] = json!(pan);
        }
        let mut codes =
            json!({ "status": if row.new_number || row.new_expiry { "1" } else { "2" } });
        match row.reason {
            None => codes["response_code"] = json!(row.code),
            Some(reason) => {
                codes["response_indicator"] = json!(row.code);
                codes["reason_identifier"] = json!(reason);
            }
        }
        let acquired_code = |body: &mut Value| {
            body["response_code"] = json!("1");
            body["response_message"] = json!("Transaction Success");
        };
        match cfg.webhook_layout {
            AcquiredWebhookLayout::TestingPage => {
                for (k, v) in codes.as_object().into_iter().flatten() {
                    body[k] = v.clone();
                }
            }
            AcquiredWebhookLayout::Nested => {
                acquired_code(&mut body);
                body["account_updater"] = codes;
            }
            AcquiredWebhookLayout::UpdateResult => {
                acquired_code(&mut body);
                body["update_result"] = json!(row.word);
            }
        }
        body
    }
}

/// What the scheme answers for one stored card: Acquired's testing page for the magic INIT
/// expiries, the CardSync sandbox table (with Visa's letters) for any other card.
struct SchemeAnswer {
    /// The Visa code or the Mastercard response indicator.
    code: &'static str,
    /// The Mastercard reason identifier.
    reason: Option<&'static str>,
    /// The updater status word with the same meaning.
    word: &'static str,
    new_number: bool,
    new_expiry: bool,
}

const fn scheme(
    code: &'static str,
    reason: Option<&'static str>,
    word: &'static str,
    new_number: bool,
    new_expiry: bool,
) -> SchemeAnswer {
    SchemeAnswer {
        code,
        reason,
        word,
        new_number,
        new_expiry,
    }
}

fn scheme_answer(pan: &str, cardexp: &str) -> SchemeAnswer {
    let brand = CardBrand::detect(pan);
    let magic = match (brand, cardexp) {
        (CardBrand::Visa, "012017") => Some(scheme("A", None, "updated_card", true, true)),
        (CardBrand::Visa, "022017") => Some(scheme("C", None, "closed", false, false)),
        (CardBrand::Visa, "032017") => Some(scheme("E", None, "updated_expiry", false, true)),
        (CardBrand::Visa, "042017") => Some(scheme("N", None, "no_match", false, false)),
        (CardBrand::Visa, "052017") => Some(scheme("P", None, "no_match", false, false)),
        (CardBrand::Visa, "062017") => Some(scheme("Q", None, "contact", false, false)),
        (CardBrand::Visa, "072017") => Some(scheme("V", None, "valid", false, false)),
        (CardBrand::Mastercard, "012016") => {
            Some(scheme("R", Some("UPDATE"), "updated_card", true, true))
        }
        (CardBrand::Mastercard, "022016") => {
            Some(scheme("B", Some("UPDATE"), "updated_expiry", false, true))
        }
        (CardBrand::Mastercard, "032016") => {
            Some(scheme("C", Some("CONTAC"), "closed", false, false))
        }
        (CardBrand::Mastercard, "042016") => {
            Some(scheme("E", Some("EXPIRY"), "updated_expiry", false, true))
        }
        (CardBrand::Mastercard, "052016") => {
            Some(scheme("V", Some("VALID"), "valid", false, false))
        }
        (CardBrand::Mastercard, "062016") => {
            Some(scheme("P", Some("UNKNWN"), "no_match", false, false))
        }
        (CardBrand::Mastercard, "072016") => {
            Some(scheme("N", Some("UNKNWN"), "no_match", false, false))
        }
        _ => None,
    };
    magic.unwrap_or_else(|| match sandbox_card_status(pan).unwrap_or("valid") {
        "updated_card" => scheme("A", None, "updated_card", true, true),
        "updated_expiry" => scheme("E", None, "updated_expiry", false, true),
        "closed" => scheme("C", None, "closed", false, false),
        "contact" => scheme("Q", None, "contact", false, false),
        "no_match" => scheme("P", None, "no_match", false, false),
        _ => scheme("V", None, "valid", false, false),
    })
}

/// Acquired's `card_type` for a brand (its API reference's list), read here independently of
/// the client.
fn acquired_card_type(brand: CardBrand) -> &'static str {
    match brand {
        CardBrand::Visa => "VISA",
        CardBrand::Mastercard => "MC",
        CardBrand::Amex => "AMEX",
        CardBrand::Discover => "DISCOVER",
        CardBrand::DinersClub => "DINERS",
        CardBrand::Jcb => "JCB",
        _ => "",
    }
}

/// The answer for a code set with [`AcquiredEmulator::answer_with_code`]: the code itself in
/// every layout (no updater word says "opted out" or "stop advice").
fn forced_answer(code: &'static str) -> SchemeAnswer {
    scheme(code, None, code, code == "A", matches!(code, "A" | "E"))
}

/// Three years on from the later of the stored expiry and this year, so that the new expiry of
/// a test card created with a past magic expiry lies in the future.
fn later(exp: &str) -> String {
    use chrono::Datelike;
    let this_year = u32::try_from(chrono::Utc::now().year()).unwrap_or(2026);
    Expiry::parse(exp, ExpiryFormat::Mmyyyy)
        .ok()
        .and_then(|e| Expiry::new(e.month(), (e.year().max(this_year) + 3).min(2099)).ok())
        .map(|e| e.format(ExpiryFormat::Mmyyyy))
        .unwrap_or_else(|| exp.to_owned())
}

crate::setters!(AcquiredEmulatorConfig {
    string company_id,
    value company_pass: SecretString,
    value hashcode: SecretString,
    value unsigned_credential_errors: bool,
    value webhook_layout: AcquiredWebhookLayout,
    value webhook_card_number: bool,
    value invalid_replacements: bool,
});
