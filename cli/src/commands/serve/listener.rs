//! The collector's HTTP listener: `POST /webhooks/{provider}` for each configured provider,
//! `GET /healthz`, `GET /metrics`.
//!
//! A webhook is answered 200 only once what it carries or announces is durably in the
//! journal (or, for a provider whose results are also polled, once it is known that polling
//! will find them). Anything slower than `answer_within` is answered 503 while the work goes
//! on: the provider delivers again, and the journal stores each result once.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use account_updater::error::ErrorKind;
use account_updater::ids::{Flow, JobRef, ResultsQuery};
use account_updater::provider::Provider;
use account_updater::{CardUpdate, ProviderId};
use account_updater_journal::Journal;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::config::ServeSettings;
use super::metrics::{self, Metrics};

/// What every handler shares.
pub struct Listener {
    /// The journal results are stored in.
    pub journal: Journal,
    /// The configured providers' clients, by name as it appears in the path.
    pub providers: BTreeMap<ProviderId, Arc<dyn Provider>>,
    /// One limiter per provider path.
    limiters: BTreeMap<ProviderId, DefaultDirectRateLimiter>,
    /// The collector's metrics.
    pub metrics: Arc<Metrics>,
    /// The largest body taken.
    max_body: usize,
    /// How long a webhook's handling may take before it is answered 503.
    answer_within: Duration,
}

impl Listener {
    /// The shared state for `providers`.
    pub fn new(
        journal: Journal,
        providers: BTreeMap<ProviderId, Arc<dyn Provider>>,
        metrics: Arc<Metrics>,
        settings: &ServeSettings,
    ) -> Self {
        let limiters = providers
            .keys()
            .map(|p| {
                let rate = settings.rate_limit_of(*p);
                let burst = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
                // `count` per `per`: one cell every per/count, a burst of `count`.
                let quota = Quota::with_period(rate.per / rate.count.max(1))
                    .unwrap_or_else(|| Quota::per_second(burst))
                    .allow_burst(burst);
                (*p, RateLimiter::direct(quota))
            })
            .collect();
        Listener {
            journal,
            providers,
            limiters,
            metrics,
            max_body: settings.max_body,
            answer_within: settings.answer_within,
        }
    }

    /// The routes.
    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new()
            .route("/webhooks/{provider}", axum::routing::post(webhook))
            .route("/healthz", axum::routing::get(healthz))
            .route("/metrics", axum::routing::get(scrape))
            .fallback(unknown_path)
            .with_state(self)
    }

    fn refuse(&self, provider: &str, reason: &str, status: StatusCode) -> Response {
        self.metrics
            .webhooks_refused
            .with_label_values(&[provider, reason])
            .inc();
        tracing::warn!(provider, reason, "webhook refused");
        status.into_response()
    }
}

async fn unknown_path(State(state): State<Arc<Listener>>) -> Response {
    state.refuse("unknown", "unknown_path", StatusCode::NOT_FOUND)
}

/// `GET /healthz`: 200 when the journal answers (and so the listener is up), 503 otherwise.
async fn healthz(State(state): State<Arc<Listener>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), state.journal.schema_version()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: journal");
            (StatusCode::SERVICE_UNAVAILABLE, "journal unreachable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "journal not answering\n").into_response(),
    }
}

async fn scrape(State(state): State<Arc<Listener>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

/// How a webhook's handling ended.
enum Handled {
    /// Everything it carried or announced is in the journal (or will be found by polling).
    Stored,
    /// Every result it carried was in the journal already.
    Duplicate,
    /// Not acknowledged: the provider is to deliver it again.
    Deferred,
}

async fn webhook(
    State(state): State<Arc<Listener>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let configured = ProviderId::from_name(&name).filter(|p| state.providers.contains_key(p));
    let Some(provider_id) = configured else {
        return state.refuse("unknown", "unknown_path", StatusCode::NOT_FOUND);
    };
    let label = provider_id.as_str();
    if let Some(limiter) = state.limiters.get(&provider_id) {
        if limiter.check().is_err() {
            return state.refuse(label, "rate_limited", StatusCode::TOO_MANY_REQUESTS);
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return state.refuse(label, "too_large", StatusCode::PAYLOAD_TOO_LARGE);
    }
    let Ok(body) = axum::body::to_bytes(body, state.max_body).await else {
        return state.refuse(label, "too_large", StatusCode::PAYLOAD_TOO_LARGE);
    };
    let provider = state.providers[&provider_id].clone();
    let event = match account_updater::webhook::receive(provider.as_ref(), &headers, &body) {
        Ok(event) if event.provider == provider_id => event,
        Ok(_) => return state.refuse(label, "unreadable", StatusCode::BAD_REQUEST),
        Err(e) => {
            let reason = match e.kind() {
                ErrorKind::Integrity | ErrorKind::Auth => "bad_signature",
                _ => "unreadable",
            };
            tracing::warn!(provider = label, error = %e, "webhook not accepted");
            return state.refuse(label, reason, StatusCode::BAD_REQUEST);
        }
    };
    state
        .metrics
        .webhooks_received
        .with_label_values(&[label])
        .inc();
    tracing::info!(provider = label, event = %event.id, kind = ?event.kind, "webhook received");
    // The work runs on its own task: if it outlasts the answer, it still finishes, and the
    // journal stores each result once when the provider delivers again.
    let work = tokio::spawn(handle(state.clone(), provider, event));
    let handled = match tokio::time::timeout(state.answer_within, work).await {
        Ok(Ok(handled)) => handled,
        Ok(Err(e)) => {
            tracing::error!(provider = label, error = %e, "webhook handling panicked");
            Handled::Deferred
        }
        Err(_) => {
            tracing::warn!(
                provider = label,
                "webhook not stored within answer_within: answered 503"
            );
            Handled::Deferred
        }
    };
    match handled {
        Handled::Stored => StatusCode::OK.into_response(),
        Handled::Duplicate => {
            state
                .metrics
                .webhooks_duplicate
                .with_label_values(&[label])
                .inc();
            StatusCode::OK.into_response()
        }
        Handled::Deferred => {
            state
                .metrics
                .webhooks_deferred
                .with_label_values(&[label])
                .inc();
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The job a results query names, if any (to find the run its results belong to).
pub fn job_of(query: &ResultsQuery) -> Option<JobRef> {
    match query {
        ResultsQuery::Job(job) => Some(job.clone()),
        ResultsQuery::Event {
            provider,
            kind,
            job_id: Some(id),
            ..
        } => Some(JobRef::new(*provider, *kind, id.clone())),
        _ => None,
    }
}

/// Fetches what `event` announces (with the provider's own credentials) and stores it with
/// what it carries.
async fn handle(
    state: Arc<Listener>,
    provider: Arc<dyn Provider>,
    event: account_updater::WebhookEvent,
) -> Handled {
    let label = event.provider.as_str();
    let mut updates: Vec<CardUpdate> = event.updates;
    let job = event.results.as_ref().and_then(job_of);
    if let Some(query) = &event.results {
        match provider.fetch_results(query).await {
            Ok(mut fetched) => updates.append(&mut fetched),
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Err(e) => {
                tracing::warn!(provider = label, event = %event.id, error = %e, "fetch announced results");
                return Handled::Deferred;
            }
        }
    }
    if updates.is_empty() {
        return Handled::Stored;
    }
    let report = match state.journal.record_incoming(updates, job.as_ref()).await {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(provider = label, event = %event.id, error = %e, "store webhook results");
            return Handled::Deferred;
        }
    };
    super::count_results(&state.metrics, &report);
    if !report.unmatched.is_empty() {
        tracing::warn!(
            provider = label,
            event = %event.id,
            unmatched = report.unmatched.len(),
            "results for cards no run of the journal sent"
        );
        // A provider whose results are only announced by webhook delivers again later (its
        // run's journal write may not be done yet); one that is polled is found by polling.
        if !provider.capabilities().supports(Flow::FetchResults) {
            return Handled::Deferred;
        }
    }
    tracing::info!(
        provider = label,
        event = %event.id,
        stored = report.stored,
        repeated = report.repeated,
        "webhook results stored"
    );
    if report.stored == 0 && report.repeated > 0 && report.unmatched.is_empty() {
        Handled::Duplicate
    } else {
        Handled::Stored
    }
}
