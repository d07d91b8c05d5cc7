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
//!   Luhn-valid card is valid and, as in the sandbox, has no result line.
//! - Amex subscriptions: the three Amex test cards produce an update event (trigger 23) right
//!   after subscribing; `DELETE /v2/subscribe` removes card / SE pairs.
//! - The limits the SDK validates are enforced here too (≤ 10,000 cards, no Amex in a batch,
//!   SE number on every Amex card, Luhn, `MM/YY`, unique ids), answered as CardSync answers
//!   failures: HTTP 200 with `{"status":"failure","message":…}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{
    EmulatorServer, Fault, deliver_webhook, random_hex, random_uuid, replacement_pan,
    sandbox_card_status,
};
use crate::card::{CardBrand, CardNumber, Expiry, ExpiryFormat};

/// The partner key the emulator accepts by default.
pub const DEFAULT_PARTNER_KEY: &str = "api_emulatorPartnerKey0000000";

/// When batches complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Right after creation.
    Immediate,
    /// Only when [`CardSyncEmulator::complete_batch`] is called.
    Manual,
}

/// Settings of a [`CardSyncEmulator`].
#[derive(Clone)]
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
}

/// Which key the emulator accepts for `POST /v2/webhooks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

enum Caller {
    Partner,
    Merchant(String),
}

use super::now_micros as now_string;

fn xid() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    use rand::Rng;
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..32)] as char)
        .collect()
}

fn ok(data: Option<Value>) -> Response {
    let mut body = json!({"status": "success", "message": "success"});
    if let Some(d) = data {
        body["data"] = d;
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A subscribe / unsubscribe answer: the envelope, or an empty 200 when so configured.
fn acknowledge(shared: &Shared) -> Response {
    if shared.config.subscribe_empty_body {
        StatusCode::OK.into_response()
    } else {
        ok(None)
    }
}

fn failure(message: impl Into<String>) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"status": "failure", "message": message.into()})),
    )
        .into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("cache-control", "no-store")],
        axum::Json(json!({"status": "failed", "msg": "unauthorized"})),
    )
        .into_response()
}

fn zero_stats() -> Value {
    json!({"number_submitted": 0, "no_change": 0, "updated_card": 0, "updated_expiry": 0, "no_match": 0, "valid": 0, "contact": 0, "closed": 0})
}

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

fn outcome_row(card: &StoredCard, se: Option<&str>) -> Option<(Value, &'static str)> {
    let status = sandbox_card_status(card.pan.expose_secret())?;
    let later = |exp: &str| {
        Expiry::parse(exp, ExpiryFormat::MmSlashYy)
            .ok()
            .and_then(|e| Expiry::new(e.month(), (e.year() + 3).min(2099)).ok())
            .map(|e| e.format(ExpiryFormat::MmSlashYy))
            .unwrap_or_else(|| exp.to_owned())
    };
    let (number, exp) = match status {
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
            .filter_map(|c| outcome_row(c, None))
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

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn caller(shared: &Shared, store: &Store, headers: &HeaderMap) -> Option<Caller> {
    let key = headers.get("authorization")?.to_str().ok()?;
    if key == shared.config.partner_key.expose_secret() {
        return Some(Caller::Partner);
    }
    store
        .merchants
        .iter()
        .find(|m| m.key.expose_secret() == key)
        .map(|m| Caller::Merchant(m.id.clone()))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.lock().requests += 1;
    if let Some(response) = shared.faults.answer().await {
        return response;
    }
    let mut deferred: Option<Deferred> = None;
    let response = {
        let mut store = shared.lock();
        let Some(who) = caller(&shared, &store, &headers) else {
            return unauthorized();
        };
        let json_body = || {
            serde_json::from_slice::<Value>(&body).map_err(|_| failure("body is not valid JSON"))
        };
        match (method, uri.path()) {
            (Method::POST, "/v2/webhooks") => match (shared.config.webhook_key, &who) {
                (WebhookKey::PartnerOnly, Caller::Merchant(_))
                | (WebhookKey::MerchantOnly, Caller::Partner) => unauthorized(),
                _ => json_body()
                    .and_then(|b| set_webhooks(&mut store, &b))
                    .unwrap_or_else(|r| r),
            },
            (Method::POST, "/v2/merchant") => match who {
                Caller::Partner => json_body()
                    .and_then(|b| enroll(&mut store, &b, &mut deferred))
                    .unwrap_or_else(|r| r),
                Caller::Merchant(_) => unauthorized(),
            },
            (Method::GET, "/v2/merchant") => {
                let id = query_param(&uri, "merchant_id").unwrap_or_default();
                let allowed = match &who {
                    Caller::Partner => true,
                    Caller::Merchant(m) => *m == id,
                };
                match store
                    .merchants
                    .iter()
                    .find(|m| m.id == id)
                    .filter(|_| allowed)
                {
                    Some(m) => ok(Some(
                        json!({"merchant_id": m.id, "status": "active", "created_at": m.created_at, "activated_at": m.created_at}),
                    )),
                    None => failure("failure"),
                }
            }
            (method, path) => match who {
                Caller::Partner => unauthorized(),
                Caller::Merchant(merchant) => MerchantCall {
                    shared: &shared,
                    store: &mut store,
                    merchant: &merchant,
                    uri: &uri,
                    deferred: &mut deferred,
                }
                .route(method, path, &body),
            },
        }
    };
    if let Some(d) = deferred {
        let shared = shared.clone();
        tokio::spawn(async move { d.run(&shared).await });
    }
    response
}

/// Work done after the response is sent (webhooks, immediate completion).
enum Deferred {
    CompleteBatch(String),
    Post(String, Value),
}

impl Deferred {
    async fn run(self, shared: &Shared) {
        match self {
            Deferred::CompleteBatch(id) => {
                complete_batch(shared, &id).await;
            }
            Deferred::Post(url, body) => {
                deliver_webhook(&url, &body).await;
            }
        }
    }
}

fn set_webhooks(store: &mut Store, body: &Value) -> Result<Response, Response> {
    let list = body["webhooks"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| failure("webhooks must be a non-empty array"))?;
    let mut parsed = Vec::new();
    for w in list {
        let trigger = w["trigger_id"]
            .as_u64()
            .or_else(|| w["trigger_id"].as_str().and_then(|s| s.parse().ok()));
        let trigger = trigger
            .filter(|t| (20..=23).contains(t))
            .ok_or_else(|| failure("trigger_id must be 20, 21, 22 or 23"))?;
        let url = w["url"]
            .as_str()
            .filter(|u| Url::parse(u).is_ok())
            .ok_or_else(|| failure("url must be a URL"))?;
        parsed.push((trigger as u32, url.to_owned()));
    }
    store.webhooks.extend(parsed);
    Ok(ok(None))
}

fn enroll(
    store: &mut Store,
    b: &Value,
    deferred: &mut Option<Deferred>,
) -> Result<Response, Response> {
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .filter(|x| !x.trim().is_empty())
    };
    for f in [
        "legal_business_name",
        "name",
        "description",
        "website",
        "phone",
        "receipt_email",
        "timezone",
        "fee_schedule_id",
    ] {
        s(&b[f]).ok_or_else(|| failure(format!("{f} is required")))?;
    }
    for f in [
        "first_name",
        "last_name",
        "company",
        "address_line_1",
        "city",
        "state",
        "postal_code",
        "country",
        "phone",
        "email",
    ] {
        s(&b["primary_contact"][f])
            .ok_or_else(|| failure(format!("primary_contact.{f} is required")))?;
    }
    for f in ["username", "email", "status", "role"] {
        s(&b["user"][f]).ok_or_else(|| failure(format!("user.{f} is required")))?;
    }
    let freq = b["card_info"]["delivery_frequency"].as_str().unwrap_or("");
    if !matches!(freq, "daily" | "weekly" | "monthly") {
        return Err(failure(
            "card_info.delivery_frequency must be daily, weekly or monthly",
        ));
    }
    let legal = s(&b["legal_business_name"]).unwrap_or_default();
    let username = s(&b["user"]["username"]).unwrap_or_default();
    if store.merchants.iter().any(|m| m.legal_name == legal) {
        return Err(failure("legal_business_name must be unique"));
    }
    if store.merchants.iter().any(|m| m.username == username) {
        return Err(failure("user.username must be unique"));
    }
    let m = MerchantRec {
        id: xid(),
        key: SecretString::from(format!("api_{}", random_hex(27))),
        legal_name: legal,
        username,
        created_at: now_string(),
    };
    let data =
        json!({"merchant_id": m.id, "api_key": m.key.expose_secret(), "created_at": m.created_at});
    if let Some(url) = store.webhooks.get(&21) {
        *deferred = Some(Deferred::Post(
            url.clone(),
            json!({"status": "success", "message": "success", "merchant_id": m.id}),
        ));
    }
    store.merchants.push(m);
    Ok(ok(Some(data)))
}

/// Validates a `cards` array as the service would; returns the cards and their brands.
fn parse_cards(
    b: &Value,
    amex: bool,
) -> Result<Vec<(StoredCard, CardBrand, Option<String>)>, Response> {
    let list = b["cards"]
        .as_array()
        .ok_or_else(|| failure("cards must be an array"))?;
    if list.is_empty() {
        return Err(failure("cards must not be empty"));
    }
    if list.len() > 10_000 {
        return Err(failure(format!(
            "a request may contain at most 10000 cards, got {}",
            list.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let id = c["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| failure("every card needs an id"))?;
        if !seen.insert(id) {
            return Err(failure(format!("card {id}: id is not unique")));
        }
        let number = c["card"]
            .as_str()
            .and_then(|p| CardNumber::parse(p).ok())
            .ok_or_else(|| failure(format!("card {id}: card is not a valid card number")))?;
        let exp = c["exp"]
            .as_str()
            .filter(|e| Expiry::parse(e, ExpiryFormat::MmSlashYy).is_ok())
            .ok_or_else(|| failure(format!("card {id}: exp must be MM/YY")))?;
        let brand = number.brand();
        let se = c
            .get("se_number")
            .or_else(|| c.get("se"))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if amex {
            if brand != CardBrand::Amex {
                return Err(failure(format!(
                    "card {id}: only American Express cards may be subscribed"
                )));
            }
            if se.is_none() {
                return Err(failure(format!("card {id}: se_number is required")));
            }
        } else if !matches!(
            brand,
            CardBrand::Visa | CardBrand::Mastercard | CardBrand::Discover
        ) {
            return Err(failure(format!(
                "card {id}: batches accept Visa, Mastercard and Discover only"
            )));
        }
        out.push((
            StoredCard {
                id: id.to_owned(),
                pan: SecretString::from(number.expose_secret().to_owned()),
                exp: exp.to_owned(),
            },
            brand,
            se,
        ));
    }
    Ok(out)
}

/// A call with a merchant key: batches, their status and results, Amex subscriptions and
/// their results. Each endpoint is a method.
struct MerchantCall<'a> {
    shared: &'a Shared,
    store: &'a mut Store,
    merchant: &'a str,
    uri: &'a Uri,
    deferred: &'a mut Option<Deferred>,
}

impl MerchantCall<'_> {
    fn route(self, method: Method, path: &str, body: &[u8]) -> Response {
        let json_body =
            || serde_json::from_slice::<Value>(body).map_err(|_| failure("body is not valid JSON"));
        let result: Result<Response, Response> = match (method, path) {
            (Method::POST, "/v2/batch") => json_body().and_then(|b| self.create_batch(&b)),
            (Method::GET, "/v2/batch") => self.batch_status(),
            (Method::GET, "/v2/batch/results") => self.batch_results(),
            (Method::POST, "/v2/subscribe") => json_body().and_then(|b| self.subscribe(&b)),
            (Method::DELETE, "/v2/subscribe") => json_body().and_then(|b| self.unsubscribe(&b)),
            (Method::GET, "/v2/subscription/results") => self.subscription_results(),
            _ => Err((
                StatusCode::NOT_FOUND,
                axum::Json(json!({"status": "failed", "message": "not found"})),
            )
                .into_response()),
        };
        result.unwrap_or_else(|r| r)
    }

    /// `POST /v2/batch`: the batch, pending (completed at once unless completion is manual).
    fn create_batch(self, b: &Value) -> Result<Response, Response> {
        let cards = parse_cards(b, false)?;
        let mut card_stats = [0usize; 3];
        for (_, brand, _) in &cards {
            match brand {
                CardBrand::Visa => card_stats[0] += 1,
                CardBrand::Mastercard => card_stats[1] += 1,
                _ => card_stats[2] += 1,
            }
        }
        let id = xid();
        let now = now_string();
        let submitted = cards.len();
        self.store.batches.insert(
            id.clone(),
            BatchRec {
                merchant: self.merchant.to_owned(),
                completed: false,
                cards: if self.shared.config.keep_cards {
                    cards.into_iter().map(|(c, _, _)| c).collect()
                } else {
                    Vec::new()
                },
                submitted,
                card_stats,
                results: Vec::new(),
                stats: zero_stats(),
                event_id: None,
                created_at: now.clone(),
                updated_at: now.clone(),
            },
        );
        if self.shared.config.completion == Completion::Immediate {
            *self.deferred = Some(Deferred::CompleteBatch(id.clone()));
        }
        let mut data = json!({"batch_id": id, "status": "pending", "stats": zero_stats(), "created_at": now, "updated_at": now});
        if self.shared.config.batch_create_without_id {
            data.as_object_mut().map(|d| d.remove("batch_id"));
        }
        Ok(ok(Some(data)))
    }

    /// `GET /v2/batch?batch_id=…`.
    fn batch_status(self) -> Result<Response, Response> {
        let id = query_param(self.uri, "batch_id").unwrap_or_default();
        match self
            .store
            .batches
            .get(&id)
            .filter(|b| b.merchant == self.merchant)
        {
            Some(b) => Ok(ok(Some(json!({
                "batch_id": id,
                "status": if b.completed { "completed" } else { "pending" },
                "stats": if b.completed { b.stats.clone() } else { stats_for(b.submitted, &[]) },
                "created_at": b.created_at,
                "updated_at": b.updated_at,
            })))),
            None => Err(failure("failure")),
        }
    }

    /// `GET /v2/batch/results?batch_id=…[&event_id=…]`.
    fn batch_results(self) -> Result<Response, Response> {
        let id = query_param(self.uri, "batch_id").unwrap_or_default();
        let event = query_param(self.uri, "event_id");
        match self
            .store
            .batches
            .get(&id)
            .filter(|b| b.merchant == self.merchant)
        {
            None => Err(failure("failure")),
            Some(b) if event.is_some() && event != b.event_id => {
                Err(failure("event_id does not belong to this batch"))
            }
            Some(b) => Ok(ok(Some(json!({
                "batch_id": id,
                "status": if b.completed { "completed" } else { "pending" },
                "cards": b.results,
                "stats": b.stats,
                "created_at": b.created_at,
                "updated_at": b.updated_at,
            })))),
        }
    }

    /// `POST /v2/subscribe`: Amex card / SE pairs; the test cards' outcomes as an event
    /// (trigger 23).
    fn subscribe(self, b: &Value) -> Result<Response, Response> {
        let cards = parse_cards(b, true)?;
        let mut rows = Vec::new();
        for (card, _, se) in cards {
            let se = se.unwrap_or_default();
            self.store
                .subscriptions
                .retain(|s| !(s.merchant == self.merchant && s.se == se && s.card.id == card.id));
            if let Some(row) = outcome_row(&card, Some(&se)) {
                rows.push(row);
            }
            if self.shared.config.keep_cards {
                self.store.subscriptions.push(Subscription {
                    merchant: self.merchant.to_owned(),
                    se,
                    card,
                });
            }
        }
        if !rows.is_empty() {
            let event_id = random_uuid();
            let statuses: Vec<&str> = rows.iter().map(|(_, s)| *s).collect();
            let stats = stats_for(rows.len(), &statuses);
            self.store.events.insert(
                event_id.clone(),
                EventRec {
                    merchant: self.merchant.to_owned(),
                    results: rows.into_iter().map(|(r, _)| r).collect(),
                    stats: stats.clone(),
                    created_at: now_string(),
                },
            );
            if let Some(url) = self.store.webhooks.get(&23) {
                let expires = (chrono::Utc::now() + chrono::Duration::hours(24))
                    .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string();
                *self.deferred = Some(Deferred::Post(
                    url.clone(),
                    json!({
                        "stats": stats, "id": random_uuid(), "trigger_id": 23, "trigger_date": now_string(),
                        "event_id": event_id, "message": "", "expires": expires,
                    }),
                ));
            }
        }
        Ok(acknowledge(self.shared))
    }

    /// `DELETE /v2/subscribe`: card / SE pairs removed.
    fn unsubscribe(self, b: &Value) -> Result<Response, Response> {
        let cards = parse_cards(b, true)?;
        for (card, _, se) in cards {
            let se = se.unwrap_or_default();
            self.store.subscriptions.retain(|s| {
                !(s.merchant == self.merchant
                    && s.se == se
                    && s.card.pan.expose_secret() == card.pan.expose_secret())
            });
        }
        Ok(acknowledge(self.shared))
    }

    /// `GET /v2/subscription/results?event_id=…`.
    fn subscription_results(self) -> Result<Response, Response> {
        let event = query_param(self.uri, "event_id").unwrap_or_default();
        match self
            .store
            .events
            .get(&event)
            .filter(|e| e.merchant == self.merchant)
        {
            Some(e) => Ok(ok(Some(json!({
                "status": "completed", "cards": e.results, "stats": e.stats,
                "created_at": e.created_at, "updated_at": e.created_at,
            })))),
            None => Err(failure("failure")),
        }
    }
}
