//! The PayConex emulator's request handling: HMAC / Basic authentication with the replay
//! window, then one function per endpoint of the Account Updater v4 API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{Record, Schedule, Shared, Store, Style, now_string};
use crate::random_hex;
use crate::signing::{payconex::expected_response, payconex::read_header, same_digest};
use account_updater::providers::payconex::wire::PeriodId;

const WINDOW_SECS: i64 = 15 * 60;

fn violation(
    status: StatusCode,
    error_type: &str,
    code: u32,
    message: &str,
    value: Value,
    source: &str,
    details: Vec<Value>,
) -> Response {
    let mut body = json!({
        "message": message,
        "traceId": crate::random_uuid(),
        "errorType": error_type,
        "errorCode": code,
        "value": value,
        "source": source,
    });
    if !details.is_empty() {
        body["details"] = Value::Array(details);
    }
    (status, axum::Json(body)).into_response()
}

fn unauthenticated() -> Response {
    violation(
        StatusCode::UNAUTHORIZED,
        "authentication",
        40002,
        "Unauthenticated",
        json!("Authorization"),
        "headers",
        vec![],
    )
}

fn not_found() -> Response {
    violation(
        StatusCode::NOT_FOUND,
        "not_found",
        40005,
        "Not Found",
        Value::Null,
        "request",
        vec![],
    )
}

fn invalid(source: &str, message: String) -> Response {
    violation(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
        40001,
        "Invalid Input",
        json!("Invalid Input"),
        "request",
        vec![json!({"message": message, "source": source, "value": null})],
    )
}

fn authenticated(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let cfg = &shared.config;
    if let Some(b64) = value.strip_prefix("Basic ") {
        let expected = format!("{}:{}", cfg.key_id, cfg.secret.expose_secret());
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default();
        return cfg.allow_basic && decoded == expected.as_bytes();
    }
    let Some(h) = read_header(value) else {
        return false;
    };
    if h.id != cfg.key_id {
        return false;
    }
    let now = chrono::Utc::now().timestamp();
    if (now - h.timestamp).abs() > WINDOW_SECS {
        return false;
    }
    let expected = expected_response(
        cfg.secret.expose_secret(),
        method.as_str(),
        path,
        &h.nonce,
        h.timestamp,
        body,
    );
    if !same_digest(&expected, &h.response) {
        return false;
    }
    let mut store = shared.lock();
    store.nonces.retain(|_, seen| now - *seen <= WINDOW_SECS);
    if store.nonces.contains_key(&h.nonce) {
        return false;
    }
    store.nonces.insert(h.nonce, now);
    true
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = shared.faults.answer().await {
        return response;
    }
    let path = uri.path().to_owned();
    if !authenticated(&shared, &method, &path, &headers, &body) {
        return unauthenticated();
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["api", "v4", "accounts", account, rest @ ..] = segments.as_slice() else {
        return not_found();
    };
    if *account != shared.config.account_id {
        return not_found();
    }
    let mut store = shared.lock();
    route(&mut store, &method, rest, &body).unwrap_or_else(|r| r)
}

/// The endpoint table ([PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)), below `/api/v4/accounts/{id}/`.
fn route(
    store: &mut Store,
    method: &Method,
    rest: &[&str],
    body: &[u8],
) -> Result<Response, Response> {
    let json_body = || -> Result<Value, Response> {
        serde_json::from_slice(body)
            .map_err(|_| invalid("body", "Payload is not valid JSON".into()))
    };
    match (method.clone(), rest) {
        (Method::POST, ["webhooks"]) => json_body().and_then(|b| create_webhook(store, b)),
        (Method::GET, ["webhooks"]) => Ok(list_webhooks(store)),
        (Method::GET, ["webhooks", id]) => get_webhook(store, id),
        (Method::PATCH, ["webhooks", id]) => json_body().and_then(|b| patch_webhook(store, id, b)),
        (Method::DELETE, ["webhooks", id]) => delete_webhook(store, id),
        (
            Method::POST,
            [
                "account-updater",
                kind @ ("payconex" | "pan" | "shieldconex"),
                "subscribe",
            ],
        ) => json_body().and_then(|b| subscribe(store, kind, b)),
        (Method::GET, ["account-updater", "subscriptions", id]) => get_schedule(store, id, false),
        (Method::PATCH, ["account-updater", "subscriptions", id]) => {
            json_body().and_then(|b| patch_subscription(store, id, b))
        }
        (Method::DELETE, ["account-updater", "subscriptions", id]) => {
            delete_subscription(store, id)
        }
        (
            Method::POST,
            [
                "account-updater",
                "subscriptions",
                id,
                kind @ ("payconex" | "pan" | "shieldconex"),
            ],
        ) => json_body().and_then(|b| add_records(store, id, kind, b)),
        (Method::DELETE, ["account-updater", "subscriptions", id, "records", rid]) => {
            delete_record(store, id, rid)
        }
        (Method::GET, ["account-updater", "schedules", id, "results"]) => {
            get_schedule(store, id, true)
        }
        (Method::GET, ["account-updater", "updates", uid]) => store
            .updates
            .get(*uid)
            .map(|u| axum::Json(Value::Array(u.clone())).into_response())
            .ok_or_else(not_found),
        _ => Err(not_found()),
    }
}

fn list_webhooks(store: &Store) -> Response {
    let hooks = store.webhooks.iter().map(webhook_json).collect();
    (StatusCode::OK, axum::Json(Value::Array(hooks))).into_response()
}

fn get_webhook(store: &Store, id: &str) -> Result<Response, Response> {
    store
        .webhooks
        .iter()
        .find(|w| w.0 == id)
        .map(|w| axum::Json(webhook_json(w)).into_response())
        .ok_or_else(not_found)
}

/// A schedule, with each record's latest update when `with_results`.
fn get_schedule(store: &Store, id: &str, with_results: bool) -> Result<Response, Response> {
    store
        .schedules
        .get(id)
        .map(|s| axum::Json(schedule_json(s, with_results, store.style)).into_response())
        .ok_or_else(not_found)
}

/// `DELETE /webhooks/{id}`: 204, or 404 for an unknown id.
fn delete_webhook(store: &mut Store, id: &str) -> Result<Response, Response> {
    let before = store.webhooks.len();
    store.webhooks.retain(|w| w.0 != id);
    if store.webhooks.len() < before {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found())
    }
}

/// `DELETE /account-updater/subscriptions/{id}`: the schedule and its records stop; 204.
fn delete_subscription(store: &mut Store, id: &str) -> Result<Response, Response> {
    let Some(s) = store.schedules.get_mut(id) else {
        return Err(not_found());
    };
    s.enabled = false;
    s.records.iter_mut().for_each(|r| r.enabled = false);
    store.schedules.remove(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /account-updater/subscriptions/{id}/records/{recordId}`: 204, or 404.
fn delete_record(store: &mut Store, id: &str, record_id: &str) -> Result<Response, Response> {
    let Some(s) = store.schedules.get_mut(id) else {
        return Err(not_found());
    };
    let before = s.records.len();
    s.records.retain(|r| r.id != record_id);
    if s.records.len() < before {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found())
    }
}

fn webhook_json(w: &(String, String, String)) -> Value {
    json!({"url": w.1, "event": w.2, "id": w.0})
}

fn only_keys(body: &Value, allowed: &[&str]) -> Result<(), Response> {
    let Some(obj) = body.as_object() else {
        return Err(invalid("body", "Payload must be an object".into()));
    };
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(
            k,
            format!("Payload schema violation: property \"{k}\" is unsupported"),
        )),
        None => Ok(()),
    }
}

fn webhook_fields(body: &Value) -> Result<(String, String), Response> {
    only_keys(body, &["url", "event"])?;
    let url = body["url"]
        .as_str()
        .filter(|u| Url::parse(u).is_ok())
        .ok_or_else(|| invalid("url", "url must be a URL".into()))?;
    let event = body["event"]
        .as_str()
        .filter(|e| {
            matches!(
                *e,
                "ACCOUNT_UPDATER_BATCH_UPDATES" | "PAYCONEX_BATCH_SETTLEMENT"
            )
        })
        .ok_or_else(|| invalid("event", "event is not a known event".into()))?;
    Ok((url.to_owned(), event.to_owned()))
}

fn create_webhook(store: &mut Store, body: Value) -> Result<Response, Response> {
    let (url, event) = webhook_fields(&body)?;
    let w = (format!("wbh_{}", random_hex(32)), url, event);
    let out = webhook_json(&w);
    store.webhooks.push(w);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

fn patch_webhook(store: &mut Store, id: &str, body: Value) -> Result<Response, Response> {
    let (url, event) = webhook_fields(&body)?;
    let w = store
        .webhooks
        .iter_mut()
        .find(|w| w.0 == id)
        .ok_or_else(not_found)?;
    w.1 = url;
    w.2 = event;
    Ok(axum::Json(webhook_json(w)).into_response())
}

fn token_string(v: &Value, field: &str) -> Result<String, Response> {
    let s = match v {
        Value::String(s)
            if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.clone()
        }
        Value::Number(n) => n
            .as_u64()
            .filter(|n| (1..=999_999_999_999).contains(n))
            .map(|n| n.to_string())
            .ok_or_else(|| invalid(field, format!("{field} is out of range")))?,
        _ => return Err(invalid(field, format!("{field} must be 1 to 12 digits"))),
    };
    Ok(format!("{s:0>12}"))
}

fn expiry_string(v: &Value, field: &str) -> Result<String, Response> {
    v.as_str()
        .filter(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .ok_or_else(|| invalid(field, format!("{field} must be 4 digits")))
}

fn parse_records(kind: &str, items: &Value, field: &str) -> Result<Vec<Record>, Response> {
    let list = items
        .as_array()
        .ok_or_else(|| invalid(field, format!("{field} must be an array")))?;
    if list.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    let now = now_string();
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let f = |k: &str| format!("{field}[{i}].{k}");
        let enabled = item
            .get("enabled")
            .map(|e| {
                e.as_bool()
                    .ok_or_else(|| invalid(&f("enabled"), "enabled must be a boolean".into()))
            })
            .transpose()?
            .unwrap_or(true);
        let mut record = Record {
            id: format!("cssr_{}", random_hex(32)),
            token: String::new(),
            kind: "payconex",
            enabled,
            expiry: "1230".into(),
            pan: None,
            bfid: None,
            created_at: now.clone(),
            updated_at: now.clone(),
            most_recent_update: None,
        };
        match kind {
            "payconex" => {
                only_keys(item, &["token", "enabled"])?;
                record.token = token_string(&item["token"], &f("token"))?;
            }
            "pan" => {
                only_keys(item, &["pan", "expiry", "enabled"])?;
                let pan = item["pan"]
                    .as_str()
                    .filter(|p| {
                        (13..=19).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
                    })
                    .ok_or_else(|| invalid(&f("pan"), "pan must be 13 to 19 digits".into()))?;
                record.expiry = expiry_string(&item["expiry"], &f("expiry"))?;
                // The real service tokenises the PAN with ShieldConex; so does the emulator.
                record.token = format!(
                    "58{}",
                    &random_hex(14)
                        .chars()
                        .map(|c| char::from(b'0' + (c as u8 % 10)))
                        .collect::<String>()
                );
                record.pan = Some(SecretString::from(pan.to_owned()));
                record.kind = "shieldconex";
                record.bfid = Some(format!("djI6{}", random_hex(24)));
            }
            _ => {
                only_keys(item, &["token", "bfid", "expiry", "enabled"])?;
                record.token = token_string(&item["token"], &f("token"))?;
                let bfid = item["bfid"]
                    .as_str()
                    .filter(|b| (1..=1024).contains(&b.len()))
                    .ok_or_else(|| {
                        invalid(&f("bfid"), "bfid must be 1 to 1024 characters".into())
                    })?;
                record.bfid = Some(bfid.to_owned());
                record.expiry = expiry_string(&item["expiry"], &f("expiry"))?;
                record.kind = "shieldconex";
            }
        }
        out.push(record);
    }
    Ok(out)
}

fn period_fields(body: &Value, schedule: &mut Schedule, creating: bool) -> Result<(), Response> {
    if let Some(p) = body.get("periodId") {
        let p = p
            .as_str()
            .filter(|p| PeriodId::DOCUMENTED.iter().any(|d| d.as_str() == *p))
            .ok_or_else(|| invalid("periodId", "periodId is not a known period".into()))?;
        schedule.period_id = p.to_owned();
    } else if creating {
        return Err(invalid("periodId", "periodId is required".into()));
    }
    if let Some(d) = body.get("periodDate") {
        let raw = d
            .as_str()
            .map(str::to_owned)
            .or_else(|| d.as_i64().map(|n| n.to_string()))
            .unwrap_or_default();
        let date = chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
            .ok()
            .or_else(|| {
                raw.parse::<i64>()
                    .ok()
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                    .map(|t| t.date_naive())
            });
        schedule.period_date = date
            .ok_or_else(|| invalid("periodDate", "periodDate must be a date".into()))?
            .format("%Y-%m-%d")
            .to_string();
    } else if creating && schedule.period_id.starts_with("PERIOD_") {
        return Err(invalid(
            "periodDate",
            "periodDate is required for this periodId".into(),
        ));
    }
    if let Some(f) = body.get("responseFormat") {
        let f = f
            .as_str()
            .filter(|f| matches!(*f, "payconex" | "pan" | "shieldconex"))
            .ok_or_else(|| {
                invalid(
                    "responseFormat",
                    "responseFormat is not a known format".into(),
                )
            })?;
        schedule.response_format = f.to_owned();
    }
    if let Some(e) = body.get("enabled") {
        schedule.enabled = e
            .as_bool()
            .ok_or_else(|| invalid("enabled", "enabled must be a boolean".into()))?;
    }
    Ok(())
}

fn subscribe(store: &mut Store, kind: &str, body: Value) -> Result<Response, Response> {
    let list_field = if kind == "pan" { "cards" } else { "tokens" };
    only_keys(
        &body,
        &[
            "responseFormat",
            list_field,
            "periodDate",
            "periodId",
            "enabled",
        ],
    )?;
    let records = parse_records(
        kind,
        body.get(list_field).unwrap_or(&Value::Null),
        list_field,
    )?;
    let now = now_string();
    let mut schedule = Schedule {
        id: format!("css_{}", random_hex(32)),
        period_id: String::new(),
        period_date: chrono::Utc::now()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string(),
        response_format: if kind == "pan" {
            "pan".into()
        } else {
            kind.to_owned()
        },
        enabled: true,
        created_at: now.clone(),
        updated_at: now,
        records,
    };
    period_fields(&body, &mut schedule, true)?;
    count_records(store, &schedule.records);
    let out = schedule_json(&schedule, false, store.style);
    store.schedules.insert(schedule.id.clone(), schedule);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// What [`PayConexEmulator::records_received`](super::PayConexEmulator::records_received)
/// counts a record under: its token, or its card number masked.
fn record_key(r: &Record) -> String {
    match &r.pan {
        Some(pan) => account_updater::CardNumber::parse(pan.expose_secret())
            .map(|c| c.masked())
            .unwrap_or_default(),
        None => r.token.clone(),
    }
}

fn count_records(store: &mut Store, records: &[Record]) {
    for r in records {
        *store.received.entry(record_key(r)).or_default() += 1;
    }
}

fn patch_subscription(store: &mut Store, id: &str, body: Value) -> Result<Response, Response> {
    only_keys(
        &body,
        &["responseFormat", "periodDate", "periodId", "enabled"],
    )?;
    let style = store.style;
    let schedule = store.schedules.get_mut(id).ok_or_else(not_found)?;
    let mut updated = schedule.clone();
    period_fields(&body, &mut updated, false)?;
    updated.updated_at = now_string();
    *schedule = updated;
    Ok(axum::Json(schedule_json(schedule, false, style)).into_response())
}

fn add_records(store: &mut Store, id: &str, kind: &str, body: Value) -> Result<Response, Response> {
    let style = store.style;
    if !store.schedules.contains_key(id) {
        return Err(not_found());
    }
    let records = parse_records(kind, &body, "body")?;
    for r in &records {
        *store.received.entry(record_key(r)).or_default() += 1;
    }
    let schedule = store.schedules.get_mut(id).ok_or_else(not_found)?;
    schedule.records.extend(records);
    schedule.updated_at = now_string();
    Ok(axum::Json(schedule_json(schedule, false, style)).into_response())
}

fn schedule_json(s: &Schedule, with_results: bool, style: Style) -> Value {
    let mut records: Vec<Value> = s
        .records
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "token": style.token(r.kind, &r.token),
                "createdAt": r.created_at,
                "updatedAt": r.updated_at,
                "type": r.kind,
                "enabled": r.enabled,
                "expiry": r.expiry,
                "cardSyncScheduleId": s.id,
            });
            if let Some(b) = &r.bfid {
                v["bfid"] = json!(b);
            }
            // The schema's `mostRecentUpdate` is an AccountUpdaterUpdate, never null: a record
            // not yet run has none.
            if let (true, Some(update)) = (with_results, &r.most_recent_update) {
                v["mostRecentUpdate"] = update.clone();
            }
            v
        })
        .collect();
    if style.records_reversed {
        records.reverse();
    }
    json!({
        "id": s.id,
        "records": records,
        "periodId": s.period_id,
        "periodDate": s.period_date,
        "responseFormat": s.response_format,
        "enabled": s.enabled,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "templateRef": "emulator_template_reference",
    })
}
