//! A fifth updater, "Acme", written outside the library against its public provider kit only:
//! an open provider id, endpoints declared once with checked path segments, the shared
//! transport (retries, redaction, timeouts), the unified error constructors, the code table
//! and the new-number check. The repository's cross-provider conformance suite runs it
//! (`tests/it/conformance.rs`), so a provider built this way behaves like the built-in ones.
//!
//! Acme's wire, invented for the example: `X-Api-Key: <key>`; `POST /v1/inquiries`
//! `{"cards":[{"ref","pan","exp":"MMYY"}]}` → `{"inquiry_id"}`; `GET /v1/inquiries/{id}` →
//! `{"inquiry_id","state"}`; `GET /v1/inquiries/{id}/results` → `{"results":[{"ref","code",
//! "new_pan"?,"new_exp"?}]}` where `code` is the Visa VAU letter; errors are
//! `{"error":{"code","message"}}`; a finished inquiry POSTs `{"event":"inquiry.completed",
//! "inquiry_id"}` (unsigned) to the registered URL.

#![allow(dead_code)] // the example's main uses part of it; the conformance suite the rest

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use account_updater::codes::{self, CodeScheme};
use account_updater::error::ProviderError;
use account_updater::transport::{
    ApiResponse, Endpoint, Method, PathSegment, SignableRequest, Signer, Transport, TransportConfig,
};
use account_updater::webhook::{Authenticity, WebhookEvent, WebhookKind, WebhookRequest};
use account_updater::{
    CardUpdate, Error, ExpiryFormat, ExposeSecret, ProviderId, Result, SecretString,
};
use account_updater::{
    ids::{Flow, JobKind, JobRef, ResultsQuery},
    provider::{
        AcceptedJob, BoxFuture, Capabilities, CardSource, CardToUpdate, JobReport, JobState,
        PlacedCard, Provider, SubmissionReceipt, check_card_ids,
    },
};
use account_updater_emulator::{EmulatorServer, Fault, FaultQueue, deliver_webhook};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

/// Acme's provider id: declared once, checked when it is compiled.
pub const ACME: ProviderId = ProviderId::custom("acme");

const CREATE_INQUIRY: Endpoint<0> = Endpoint::new(Method::POST, "/v1/inquiries");
const INQUIRY: Endpoint<1> = Endpoint::new(Method::GET, "/v1/inquiries/{inquiryId}");
const RESULTS: Endpoint<1> = Endpoint::new(Method::GET, "/v1/inquiries/{inquiryId}/results");

/// Acme's authentication: the key in `X-Api-Key`, marked sensitive, and overwritten in any
/// response body that echoes it.
#[derive(Debug)]
struct ApiKey(SecretString);

impl Signer for ApiKey {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let mut value =
            reqwest::header::HeaderValue::from_str(self.0.expose_secret()).map_err(|_| {
                Error::invalid("api_key", account_updater::error::InputProblem::Missing)
            })?;
        value.set_sensitive(true);
        request.headers.insert("x-api-key", value);
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.0.clone()]
    }
}

/// The Acme client.
#[derive(Debug, Clone)]
pub struct AcmeClient {
    transport: Transport,
}

impl AcmeClient {
    /// A client for `base_url` with `api_key`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a plain-HTTP URL that is not loopback.
    pub fn new(base_url: Url, api_key: SecretString, config: TransportConfig) -> Result<Self> {
        let transport = Transport::new(ACME, base_url, Arc::new(ApiKey(api_key)), config)?;
        Ok(AcmeClient { transport })
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: account_updater::transport::ApiRequest,
    ) -> Result<T> {
        let response = self.transport.send(request).await?;
        decode(&response)
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

/// Acme's one error mapping: a non-2xx status by the unified table, a 2xx whose body holds
/// `error` as a refusal, anything unreadable as a decode error.
fn decode<T: for<'de> Deserialize<'de>>(response: &ApiResponse) -> Result<T> {
    let detail = |e: Option<ErrorDetail>| {
        let mut d = ProviderError::status(response.status.as_u16());
        if let Some(e) = e {
            if let Some(c) = e.code {
                d = d.with_code(c);
            }
            if let Some(m) = e.message {
                d = d.with_message(m);
            }
        }
        d
    };
    if !response.is_success() {
        let body = serde_json::from_slice::<ErrorBody>(&response.body).ok();
        return Err(response.status_error(detail(body.and_then(|b| b.error))));
    }
    if let Ok(ErrorBody { error: Some(e) }) = serde_json::from_slice::<ErrorBody>(&response.body) {
        let unauthorized = e.code.as_deref() == Some("unauthorized");
        return Err(Error::refusal(ACME, unauthorized, detail(Some(e))));
    }
    response.json()
}

#[derive(Serialize)]
struct WireCard<'a> {
    r#ref: &'a str,
    pan: &'a str,
    exp: String,
}

#[derive(Deserialize)]
struct Created {
    inquiry_id: String,
}

#[derive(Deserialize)]
struct Inquiry {
    state: String,
}

#[derive(Deserialize)]
struct Results {
    results: Vec<WireResult>,
}

#[derive(Deserialize)]
struct WireResult {
    r#ref: String,
    code: String,
    new_pan: Option<String>,
    new_exp: Option<String>,
}

impl Provider for AcmeClient {
    fn id(&self) -> ProviderId {
        ACME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[
            Flow::Submit,
            Flow::JobStatus,
            Flow::FetchResults,
            Flow::ParseWebhook,
        ])
    }

    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            check_card_ids(cards.iter().map(|c| c.id.as_str()))?;
            let mut wire = Vec::with_capacity(cards.len());
            for card in &cards {
                let CardSource::Pan(pan) = &card.source else {
                    return Err(Error::invalid(
                        format!("cards[id={}].card", card.id),
                        account_updater::error::InputProblem::NotAllowed {
                            reason: "Acme takes card numbers, not tokens".into(),
                        },
                    ));
                };
                let expiry = card.expiry.ok_or_else(|| {
                    Error::invalid(
                        format!("cards[id={}].expiry", card.id),
                        account_updater::error::InputProblem::Missing,
                    )
                })?;
                wire.push(WireCard {
                    r#ref: &card.id,
                    pan: pan.expose_secret(),
                    exp: expiry.format(ExpiryFormat::Mmyy),
                });
            }
            let ids: Vec<String> = cards.iter().map(|c| c.id.clone()).collect();
            let answer = self
                .call::<Created>(CREATE_INQUIRY.request([]).json(&json!({ "cards": wire })))
                .await;
            let mut receipt = SubmissionReceipt::new(ACME);
            receipt.record(JobKind::Inquiry, ids, answer, |created, ids| {
                AcceptedJob::new(
                    JobRef::new(ACME, JobKind::Inquiry, created.inquiry_id),
                    JobState::Pending,
                    ids.into_iter()
                        .map(|id| PlacedCard::new(id, None))
                        .collect(),
                )
            });
            Ok(receipt)
        })
    }

    fn job_status(&self, job: &JobRef) -> BoxFuture<'_, Result<JobReport>> {
        let job = job.clone();
        Box::pin(async move {
            let id = PathSegment::new("job.id", &job.id)?;
            let inquiry: Inquiry = self.call(INQUIRY.request([&id])).await?;
            let state = match inquiry.state.as_str() {
                "completed" => JobState::Completed,
                "pending" => JobState::Pending,
                other => JobState::Other(other.to_owned()),
            };
            Ok(JobReport::new(job, state))
        })
    }

    fn fetch_results(&self, query: &ResultsQuery) -> BoxFuture<'_, Result<Vec<CardUpdate>>> {
        let query = query.clone();
        Box::pin(async move {
            let id = match &query {
                ResultsQuery::Job(job) => job.id.clone(),
                other => {
                    return Err(Error::invalid(
                        "query",
                        account_updater::error::InputProblem::NotAllowed {
                            reason: format!("Acme answers results per inquiry, not {other:?}"),
                        },
                    ));
                }
            };
            let segment = PathSegment::new("job.id", &id)?;
            let results: Results = self.call(RESULTS.request([&segment])).await?;
            Ok(results.results.into_iter().map(card_update).collect())
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        parse_webhook(request.body)
    }
}

/// One Acme result in the unified vocabulary: the Visa letter through the crate's code table,
/// a new number only once it passed its check digit and length rule.
fn card_update(r: WireResult) -> CardUpdate {
    let mut update = CardUpdate::new(ACME, codes::outcome(CodeScheme::VisaVau, &r.code), r.code);
    update.card_id = Some(r.r#ref);
    if update.outcome.has_new_card_data() {
        update.new_expiry = r
            .new_exp
            .and_then(|e| account_updater::Expiry::parse(&e, ExpiryFormat::Mmyy).ok());
        if let Some(pan) = r.new_pan {
            update.offer_new_number(pan);
        }
    }
    update
}

/// Acme's unsigned completion hint.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookEvent> {
    #[derive(Deserialize)]
    struct Hint {
        event: String,
        inquiry_id: String,
    }
    let hint: Hint =
        serde_json::from_slice(body).map_err(|e| Error::decode_json(ACME, 0, &e, body))?;
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| Error::decode_json(ACME, 0, &e, body))?;
    let kind = match hint.event.as_str() {
        "inquiry.completed" => WebhookKind::BatchCompleted,
        other => WebhookKind::Other(other.to_owned()),
    };
    let job = JobRef::new(ACME, JobKind::Inquiry, hint.inquiry_id.clone());
    let mut event = WebhookEvent::new(
        ACME,
        format!("{}:{}", hint.event, hint.inquiry_id),
        kind,
        Authenticity::Unsigned,
        raw,
    );
    event.results = Some(ResultsQuery::Job(job));
    Ok(event)
}

// ---- Acme's emulator, on the emulator crate's harness ----

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
