//! The CardSync emulator's request handling: authentication of the partner and merchant keys,
//! then one function per endpoint of the Universal Account Updater API v2.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{
    BatchRec, Completion, EventRec, MerchantRec, Shared, Store, StoredCard, Subscription,
    WebhookKey, complete_batch, now_string, outcome_row, stats_for,
};
use crate::{deliver_webhook, random_hex, random_uuid};
use account_updater::card::{CardBrand, CardNumber, Expiry, ExpiryFormat};

enum Caller {
    Partner,
    Merchant(String),
}

pub(super) fn xid() -> String {
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

pub(super) fn zero_stats() -> Value {
    json!({"number_submitted": 0, "no_change": 0, "updated_card": 0, "updated_expiry": 0, "no_match": 0, "valid": 0, "contact": 0, "closed": 0})
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

pub(super) async fn handle(
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
        for (card, _, _) in &cards {
            *self.store.received.entry(card.id.clone()).or_default() += 1;
        }
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
        for (card, _, _) in &cards {
            *self.store.received.entry(card.id.clone()).or_default() += 1;
        }
        for (card, _, se) in cards {
            let se = se.unwrap_or_default();
            self.store
                .subscriptions
                .retain(|s| !(s.merchant == self.merchant && s.se == se && s.card.id == card.id));
            if let Some(row) = outcome_row(&card, Some(&se), &self.shared.config) {
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
