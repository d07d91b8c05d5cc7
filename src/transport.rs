//! The one HTTP path every provider uses.
//!
//! A [`Transport`] owns a shared `reqwest::Client` (cheap to clone), a validated base URL, the
//! provider's [`Signer`], timeouts and a [`RetryPolicy`]. Provider modules build an
//! [`ApiRequest`] (method, path, path template, query, body), hand it to [`Transport::send`], and
//! map the [`ApiResponse`] onto typed results and errors. They never touch HTTP plumbing.
//!
//! Retries are only made where they cannot duplicate a side effect: idempotent requests (GET,
//! PUT, DELETE by default) on connection failures, timeouts, 408/429/5xx; a POST only when the
//! connection failed before the request was written. Backoff is exponential with jitter, bounded,
//! and honours `Retry-After`.
//!
//! Every attempt runs in a `tracing` span with the provider, method, path *template* (never the
//! concrete path, which can hold ids), attempt, status and latency. Bodies and headers are never
//! logged.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::{Host, Url};

use crate::error::{Delivery, Error, InputProblem, ProviderError, Result};
use crate::provider::ProviderId;

/// Default time allowed to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for one whole attempt (connect, send, receive the body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// Cap on one backoff.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The delay before attempt `attempt + 1`, or `None` when the server asked for more than
    /// [`RetryPolicy::max_retry_after`]. Exponential backoff with jitter in `[b/2, b]`, never
    /// shorter than the server's `Retry-After`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff);
        let half = exp / 2;
        let jittered = half + rand::rng().random_range(Duration::ZERO..=half.max(Duration::ZERO));
        match retry_after {
            Some(ra) if ra > self.max_retry_after => None,
            Some(ra) => Some(ra.max(jittered)),
            None => Some(jittered),
        }
    }
}

/// Timeouts, retries and the HTTP client a [`Transport`] uses.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Time allowed to connect (used when the transport builds its own client).
    pub connect_timeout: Duration,
    /// Time allowed for one attempt.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// `User-Agent` header.
    pub user_agent: String,
    client: Option<reqwest::Client>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: concat!("account-updater/", env!("CARGO_PKG_VERSION")).to_owned(),
            client: None,
        }
    }
}

impl TransportConfig {
    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Sets the per-attempt timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Shares an existing `reqwest::Client` (its own connect timeout then applies; the
    /// per-attempt timeout is still set on every request).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }
}

/// A request about to be signed: what a [`Signer`] may read, and the headers it may add.
pub struct SignableRequest<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// The URL path, percent-encoded as sent (e.g. `/api/v4/accounts/1/webhooks`).
    pub path: &'a str,
    /// The query string as sent, without `?` (empty when none).
    pub query: &'a str,
    /// The exact body bytes that will be sent (empty when none).
    pub body: &'a [u8],
    /// Headers; the signer adds its own.
    pub headers: &'a mut HeaderMap,
}

/// Adds a provider's authentication to each attempt of a request. Called once per attempt, so a
/// signer that uses a nonce gets a fresh one for every retry.
pub trait Signer: Send + Sync + fmt::Debug {
    /// Adds authentication headers to `request`.
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()>;
}

/// A signer that adds nothing (for providers that authenticate inside the body, like Acquired).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

impl Signer for NoAuth {
    fn sign(&self, _request: &mut SignableRequest<'_>) -> Result<()> {
        Ok(())
    }
}

/// A request a provider module wants sent.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    method: Method,
    path: String,
    template: &'static str,
    query: Vec<(String, Option<String>)>,
    body: Option<Vec<u8>>,
    idempotent: bool,
}

impl ApiRequest {
    /// A request with no body. `path` is appended to the base URL's path; `template` is the
    /// same path with placeholders (`/v2/batch`, `/accounts/{account}/webhooks/{id}`), used in
    /// logs instead of the concrete path.
    pub fn new(method: Method, path: impl Into<String>, template: &'static str) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        ApiRequest {
            method,
            path: path.into(),
            template,
            query: Vec::new(),
            body: None,
            idempotent,
        }
    }

    /// Attaches a body serialised as compact JSON (exactly these bytes are sent and signed).
    ///
    /// # Panics
    ///
    /// If `body`'s `Serialize` implementation fails (a map with non-string keys, say), which
    /// this crate's wire types cannot do. Serialise yourself and use [`ApiRequest::raw_json`]
    /// for bodies that might.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        // Serialising the crate's own wire structs cannot fail (no maps with non-string keys).
        self.body = Some(serde_json::to_vec(body).expect("wire types serialise to JSON"));
        self
    }

    /// Attaches raw JSON bytes.
    pub fn raw_json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds `key=value` to the query.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), Some(value.into())));
        self
    }

    /// Adds a valueless query key (`?RejectDuplicateCard`).
    pub fn flag(mut self, key: impl Into<String>) -> Self {
        self.query.push((key.into(), None));
        self
    }

    /// Overrides whether the request may be repeated after it may have reached the server.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The body bytes, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
}

/// A response: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// Which provider answered.
    pub provider: ProviderId,
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// Decodes the body as JSON into `T`, or [`Error::Decode`] with a redacted excerpt.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::decode(self.provider, self.status.as_u16(), e, &self.body))
    }

    /// `Retry-After` as a duration (delta-seconds or an HTTP date).
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }

    /// The unified error for a non-success status (see [`Error::from_status`]), with this
    /// response's `Retry-After` and the provider's parsed `detail`.
    pub fn status_error(&self, detail: ProviderError) -> Error {
        Error::from_status(
            self.provider,
            self.status.as_u16(),
            self.retry_after(),
            detail,
        )
    }

    /// `true` for 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// Parses a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Refuses a base URL that is not `https`, unless it is plain `http` to a loopback host
/// (`127.0.0.0/8`, `::1`, `localhost`) as the emulators use.
pub fn validate_base_url(url: &Url) -> Result<()> {
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::invalid("base_url", InputProblem::BadUrl));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(Error::invalid("base_url", InputProblem::InsecureUrl)),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

struct Inner {
    provider: ProviderId,
    client: reqwest::Client,
    base_url: Url,
    signer: Arc<dyn Signer>,
    timeout: Duration,
    retry: RetryPolicy,
}

/// The HTTP path of one provider client. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.inner.provider)
            .field("base_url", &self.inner.base_url.as_str())
            .field("signer", &self.inner.signer)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

impl Transport {
    /// Builds a transport. Fails on an insecure base URL (see [`validate_base_url`]) or when the
    /// HTTP client cannot be built.
    pub fn new(
        provider: ProviderId,
        base_url: Url,
        signer: Arc<dyn Signer>,
        config: TransportConfig,
    ) -> Result<Self> {
        validate_base_url(&base_url)?;
        let client = match config.client {
            Some(c) => c,
            None => {
                let mut headers = HeaderMap::new();
                headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
                reqwest::Client::builder()
                    .connect_timeout(config.connect_timeout)
                    .user_agent(config.user_agent)
                    .default_headers(headers)
                    .build()
                    .map_err(|e| Error::Transport {
                        provider,
                        delivery: Delivery::NotSent,
                        message: format!("cannot build HTTP client: {e}"),
                    })?
            }
        };
        Ok(Transport {
            inner: Arc::new(Inner {
                provider,
                client,
                base_url,
                signer,
                timeout: config.timeout,
                retry: config.retry,
            }),
        })
    }

    /// The same transport (client, base URL, timeouts, retries) with another signer: how a
    /// partner-level client derives a cheap client for one merchant's key.
    pub fn with_signer(&self, signer: Arc<dyn Signer>) -> Transport {
        Transport {
            inner: Arc::new(Inner {
                provider: self.inner.provider,
                client: self.inner.client.clone(),
                base_url: self.inner.base_url.clone(),
                signer,
                timeout: self.inner.timeout,
                retry: self.inner.retry.clone(),
            }),
        }
    }

    /// The provider this transport talks to.
    pub fn provider(&self) -> ProviderId {
        self.inner.provider
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The full URL a request goes to.
    pub fn url_for(&self, request: &ApiRequest) -> Url {
        let mut url = self.inner.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{}", request.path));
        url.set_query(None);
        if !request.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &request.query {
                match v {
                    Some(v) => q.append_pair(k, v),
                    None => q.append_key_only(k),
                };
            }
        }
        url
    }

    /// Sends `request` (retrying where safe) and returns the final response, whatever its status.
    /// Errors are only returned for failures to get a response ([`Error::Transport`],
    /// [`Error::Timeout`]) or a signer refusal.
    pub async fn send(&self, request: ApiRequest) -> Result<ApiResponse> {
        let span = tracing::info_span!(
            "account_updater.http",
            provider = %self.inner.provider,
            method = %request.method,
            path = request.template,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        self.send_with_retries(request).instrument(span).await
    }

    async fn send_with_retries(&self, request: ApiRequest) -> Result<ApiResponse> {
        let url = self.url_for(&request);
        let policy = &self.inner.retry;
        let mut attempt = 1;
        loop {
            tracing::Span::current().record("attempt", attempt);
            tracing::debug!(attempt, "sending");
            let started = Instant::now();
            let outcome = self.attempt(&request, &url).await;
            let latency = started.elapsed().as_millis() as u64;
            tracing::Span::current().record("latency_ms", latency);
            let can_retry = attempt < policy.max_attempts;
            match outcome {
                Ok(response) => {
                    let status = response.status.as_u16();
                    tracing::Span::current().record("status", status);
                    tracing::debug!(status, latency_ms = latency, "response");
                    let retryable = matches!(status, 408 | 429 | 500 | 502 | 503 | 504);
                    if can_retry && retryable && request.idempotent {
                        if let Some(delay) = policy.delay(attempt, response.retry_after()) {
                            tracing::debug!(
                                status,
                                delay_ms = delay.as_millis() as u64,
                                "retrying"
                            );
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                            continue;
                        }
                    }
                    return Ok(response);
                }
                Err(error) => {
                    let not_sent = !error.may_have_reached_provider();
                    tracing::debug!(error = error.code(), latency_ms = latency, "attempt failed");
                    if can_retry && error.is_retryable() && (request.idempotent || not_sent) {
                        if let Some(delay) = policy.delay(attempt, None) {
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                            continue;
                        }
                    }
                    return Err(error);
                }
            }
        }
    }

    async fn attempt(&self, request: &ApiRequest, url: &Url) -> Result<ApiResponse> {
        let provider = self.inner.provider;
        let body = request.body.as_deref().unwrap_or_default();
        let mut headers = HeaderMap::new();
        if request.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.inner.signer.sign(&mut SignableRequest {
            method: &request.method,
            path: url.path(),
            query: url.query().unwrap_or(""),
            body,
            headers: &mut headers,
        })?;
        let mut builder = self
            .inner
            .client
            .request(request.method.clone(), url.clone())
            .timeout(self.inner.timeout)
            .headers(headers);
        if let Some(b) = &request.body {
            builder = builder.body(b.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| map_reqwest_error(provider, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| map_reqwest_error(provider, &e))?;
        Ok(ApiResponse {
            provider,
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// Maps a reqwest failure without its URL (which can hold ids) or any body.
fn map_reqwest_error(provider: ProviderId, e: &reqwest::Error) -> Error {
    let delivery = if e.is_connect() {
        Delivery::NotSent
    } else {
        Delivery::MaybeSent
    };
    if e.is_timeout() {
        return Error::Timeout { provider, delivery };
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body could not be read"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let cause = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    Error::Transport {
        provider,
        delivery,
        message: if cause.is_empty() {
            kind.to_owned()
        } else {
            format!(
                "{kind}: {}",
                crate::error::redact_excerpt(cause.as_bytes(), 160)
            )
        },
    }
}

/// Builds a header value from a secret, marked sensitive so that `Debug` of the header map
/// (reqwest, hyper) prints `Sensitive` instead of it.
pub fn sensitive_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid(
            "credentials",
            InputProblem::Format {
                expected: "visible ASCII characters only".to_owned(),
            },
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Percent-encodes `value` as one URL path segment (everything but RFC 3986 unreserved
/// characters is escaped), refusing an empty value: ids from callers can never change the path.
pub fn path_segment(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(Error::invalid(field, InputProblem::Missing));
    }
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// The `Authorization` header name, re-exported for signers.
pub const AUTHORIZATION: HeaderName = reqwest::header::AUTHORIZATION;
