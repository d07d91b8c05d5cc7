//! Acme's emulator, on the emulator crate's harness (not part of the vendor contract: a vendor
//! in the library keeps its emulator in the emulator crate).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use account_updater_emulator::{EmulatorServer, Fault, FaultQueue, deliver_webhook};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use url::Url;

/// The key the emulator accepts.
pub const EMULATOR_KEY: &str = "acme_live_emulatorKey0000000000";

#[derive(Default)]
struct Store {
    inquiries: HashMap<String, Vec<(String, String, String)>>,
    next: u64,
    webhook_url: Option<String>,
}

#[derive(Clone, Default)]
struct EmuState {
    store: Arc<Mutex<Store>>,
    faults: FaultQueue,
}

/// An Acme on loopback: checks the key, stores inquiries (complete at once), answers results
/// by the CardSync sandbox convention of the example (a card ending in 9 has a new number, in
/// 7 a new expiry, in 1 is closed, anything else valid), and takes injected faults.
pub struct AcmeEmulator {
    server: EmulatorServer,
    state: EmuState,
}

impl AcmeEmulator {
    /// Starts one on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        let state = EmuState::default();
        let router = axum::Router::new()
            .route("/v1/inquiries", axum::routing::post(create))
            .route("/v1/inquiries/{id}", axum::routing::get(inquiry))
            .route("/v1/inquiries/{id}/results", axum::routing::get(results))
            .with_state(state.clone());
        Ok(AcmeEmulator {
            server: EmulatorServer::start(router).await?,
            state,
        })
    }

    /// Its base URL.
    pub fn base_url(&self) -> Url {
        self.server.base_url().clone()
    }

    /// Answers the next request with `fault`.
    pub fn inject_fault(&self, fault: Fault) {
        self.state.faults.push(fault);
    }

    /// Where completion webhooks go.
    pub fn set_webhook_url(&self, url: &Url) {
        self.state.store.lock().unwrap().webhook_url = Some(url.to_string());
    }

    /// Posts the completion webhook of `inquiry_id`.
    pub async fn notify(&self, inquiry_id: &str) {
        let url = self.state.store.lock().unwrap().webhook_url.clone();
        if let Some(url) = url {
            deliver_webhook(
                &url,
                &json!({"event": "inquiry.completed", "inquiry_id": inquiry_id}),
            )
            .await;
        }
    }
}

fn refused(status: StatusCode, code: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": code}})),
    )
        .into_response()
}

async fn admitted(state: &EmuState, headers: &HeaderMap) -> Option<Response> {
    if let Some(fault) = state.faults.answer().await {
        return Some(fault);
    }
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    (key != Some(EMULATOR_KEY)).then(|| refused(StatusCode::UNAUTHORIZED, "unauthorized"))
}

async fn create(
    State(state): State<EmuState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = admitted(&state, &headers).await {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "invalid_json");
    };
    let cards: Vec<(String, String, String)> = v["cards"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (text("ref"), text("pan"), text("exp"))
        })
        .collect();
    if cards.is_empty()
        || cards
            .iter()
            .any(|(_, pan, _)| !account_updater::card::luhn_valid(pan))
    {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_card");
    }
    let mut store = state.store.lock().unwrap();
    store.next += 1;
    let id = format!("inq_{}", store.next);
    store.inquiries.insert(id.clone(), cards);
    axum::Json(json!({ "inquiry_id": id })).into_response()
}

async fn inquiry(
    State(state): State<EmuState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = admitted(&state, &headers).await {
        return r;
    }
    if !state.store.lock().unwrap().inquiries.contains_key(&id) {
        return refused(StatusCode::NOT_FOUND, "not_found");
    }
    axum::Json(json!({"inquiry_id": id, "state": "completed"})).into_response()
}

async fn results(
    State(state): State<EmuState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = admitted(&state, &headers).await {
        return r;
    }
    let store = state.store.lock().unwrap();
    let Some(cards) = store.inquiries.get(&id) else {
        return refused(StatusCode::NOT_FOUND, "not_found");
    };
    let results: Vec<Value> = cards
        .iter()
        .map(|(r, pan, exp)| match pan.chars().last() {
            Some('9') => {
                // A new number in the same BIN: bump a middle digit, new check digit.
                let mut body: Vec<u8> = pan.as_bytes()[..pan.len() - 1].to_vec();
                let i = body.len() - 2;
                body[i] = b'0' + (body[i] - b'0' + 1) % 10;
                let body = String::from_utf8(body).unwrap_or_default();
                let new_pan = account_updater::card::with_check_digit(&body).unwrap_or_default();
                json!({"ref": r, "code": "A", "new_pan": new_pan, "new_exp": later(exp)})
            }
            Some('7') => json!({"ref": r, "code": "E", "new_exp": later(exp)}),
            Some('1') => json!({"ref": r, "code": "C"}),
            _ => json!({"ref": r, "code": "V"}),
        })
        .collect();
    axum::Json(json!({ "results": results })).into_response()
}

/// Three years on (`MMYY`).
fn later(exp: &str) -> String {
    let (mm, yy) = exp.split_at(2.min(exp.len()));
    let year: u32 = yy.parse().unwrap_or(0);
    format!("{mm}{:02}", (year + 3) % 100)
}
