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
//!
//! What a hostile or broken peer cannot do through this path:
//! - **make the client buffer without bound**: a declared `Content-Length` above
//!   [`TransportConfig::max_response_bytes`] is refused before reading, and a body is read
//!   incrementally and cut at that limit ([`Error::ResponseTooLarge`]);
//! - **redirect a request**: the HTTP client never follows a redirect, and a 3xx is
//!   [`Error::Redirected`], so card data and credentials never reach another origin;
//! - **get the client's credentials into an error**: every response body has the client's own
//!   secrets (API secret, key, bearer token, password, hash code) overwritten with `*` before
//!   anything reads it;
//! - **open a connection per call**: at most [`TransportConfig::max_in_flight`] requests of one
//!   client (and of every client sharing its [`HttpClient`]) are in flight at once.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{
    ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::Instrument;
use url::{Host, Url};

use crate::error::{Delivery, Error, InputProblem, ProviderError, Result, retryable_status};
use crate::provider::{BoxFuture, ProviderId};

/// Default time allowed to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for one whole attempt (connect, send, receive the body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on one response body: 32 MiB. The largest documented answer, a CardSync results
/// page for a full 10,000-card batch, is a few MiB; anything far larger is a broken or hostile
/// peer.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
/// Default cap on requests in flight at once through one client: 32.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;

/// The clock and the sleep the transport uses, injectable so that retry tests do not wait on
/// real time (the idea of smithy-rs's `TimeSource` and `AsyncSleep`).
pub trait Timer: Send + Sync + fmt::Debug {
    /// The current time (to read an HTTP-date `Retry-After`).
    fn now(&self) -> DateTime<Utc>;
    /// Waits for `duration` (a backoff between attempts).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The real clock and `tokio::time::sleep`: the default [`Timer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// An HTTP client the crate may use: a `reqwest::Client` built with redirects turned off.
///
/// There is no way to hand the crate a ready-made `reqwest::Client`, because its redirect policy
/// cannot be read back: one that follows redirects would carry a PAN or a password to whatever
/// origin a 307 names. Configure a `reqwest::ClientBuilder` (proxy, TLS roots, pool) and pass it
/// to [`HttpClient::from_builder`]; share the result between provider clients to share one
/// connection pool and one in-flight cap.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("available_permits", &self.permits.available_permits())
            .finish()
    }
}

impl HttpClient {
    /// Builds a client from a caller's builder, with redirects forced off and at most
    /// [`DEFAULT_MAX_IN_FLIGHT`] requests in flight.
    pub fn from_builder(builder: reqwest::ClientBuilder) -> std::result::Result<Self, BuildError> {
        Self::with_max_in_flight(builder, DEFAULT_MAX_IN_FLIGHT)
    }

    /// Like [`HttpClient::from_builder`], with another cap on requests in flight (at least 1).
    pub fn with_max_in_flight(
        builder: reqwest::ClientBuilder,
        max_in_flight: usize,
    ) -> std::result::Result<Self, BuildError> {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuildError(e.without_url()))?;
        Ok(HttpClient {
            client,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
        })
    }
}

/// The HTTP client could not be built (TLS back end, bad proxy settings).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(#[source] reqwest::Error);

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

/// Timeouts, retries, limits and the HTTP client a [`Transport`] uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Time allowed to connect (used when the transport builds its own client).
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, reading the whole body included.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Largest response body accepted, in bytes (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    pub max_response_bytes: u64,
    /// Most requests in flight at once (default [`DEFAULT_MAX_IN_FLIGHT`]); further calls wait
    /// for a slot. Ignored when a shared [`HttpClient`] is given: its own cap applies.
    ///
    /// The cap on requests is exact. Connections are pooled and reused, so a burst of any size
    /// opens about this many TCP connections (the fault suite sends 2,000 concurrent calls with a
    /// cap of 8 and counts 8 at the server). On a multi-threaded runtime a request that starts
    /// while another's connection is still being handed back to the pool can open one more.
    pub max_in_flight: usize,
    client: Option<HttpClient>,
    timer: Arc<dyn Timer>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: concat!("account-updater/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            client: None,
            timer: Arc::new(TokioTimer),
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

    /// Sets the largest response body accepted.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sets the cap on requests in flight (at least 1).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Shares an [`HttpClient`] (its own connect timeout and in-flight cap then apply; the
    /// per-attempt timeout is still set on every request).
    pub fn http_client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Replaces the clock and sleep (tests use one that does not wait).
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = timer;
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

    /// Every secret this signer puts on the wire, as sent (a key, a bearer token, a Basic
    /// value). The transport overwrites each of them with `*` in every response body, so a
    /// server that echoes a request cannot put them into an error.
    fn redactions(&self) -> Vec<SecretString> {
        Vec::new()
    }
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
    body: Option<Bytes>,
    idempotent: bool,
    retry_server_errors: bool,
    /// The body given to [`ApiRequest::json`] did not serialise.
    unserialisable: bool,
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
            retry_server_errors: true,
            unserialisable: false,
        }
    }

    /// Attaches a body serialised as compact JSON (exactly these bytes are sent and signed).
    /// Should `body`'s `Serialize` implementation fail (a map with non-string keys, say), which
    /// the crate's wire types cannot do, [`Transport::send`] refuses the request with
    /// [`Error::InvalidInput`] and sends nothing.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Some(Bytes::from(bytes)),
            Err(_) => self.unserialisable = true,
        }
        self
    }

    /// Attaches raw JSON bytes.
    pub fn raw_json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(Bytes::from(body));
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

    /// Do not repeat this request on a 5xx: for requests whose 5xx is deterministic (TabaPay
    /// answers 500 to an RSA blob it cannot decrypt; the same blob fails the same way).
    pub fn no_retry_on_server_error(mut self) -> Self {
        self.retry_server_errors = false;
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

/// A response: status, headers and the whole body (at most
/// [`TransportConfig::max_response_bytes`], with the client's credentials overwritten).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiResponse {
    /// Which provider answered.
    pub provider: ProviderId,
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// When the response arrived (by the transport's [`Timer`]).
    pub received_at: DateTime<Utc>,
    /// `true` when this is the answer to a retry and an earlier attempt may have reached the
    /// provider (it timed out or was cut after sending, or was answered 5xx). A 404/410 to a
    /// retried DELETE then most likely means the first attempt did the work: see
    /// [`ApiResponse::gone_after_retry`].
    pub after_possible_delivery: bool,
}

impl ApiResponse {
    /// A response built from parts (a body the caller fetched itself), received now.
    #[cfg_attr(not(feature = "cardsync"), allow(dead_code))]
    pub(crate) fn new(provider: ProviderId, status: StatusCode, body: Vec<u8>) -> Self {
        ApiResponse {
            provider,
            status,
            headers: HeaderMap::new(),
            body,
            received_at: Utc::now(),
            after_possible_delivery: false,
        }
    }

    /// Decodes the body as JSON into `T`, or [`Error::Decode`] with a redacted excerpt.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::decode_json(self.provider, self.status.as_u16(), &e, &self.body))
    }

    /// `Retry-After` as a duration (delta-seconds, or an HTTP date relative to
    /// [`ApiResponse::received_at`]).
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers, self.received_at)
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

    /// `true` for a 404 or 410 answering a retry whose earlier attempt may have reached the
    /// provider: the resource is gone, most likely deleted by that earlier attempt. A DELETE
    /// answered so is done, not failed (reporting failure would invite deleting something
    /// else, or alarming about a deletion that happened).
    pub fn gone_after_retry(&self) -> bool {
        self.after_possible_delivery && matches!(self.status.as_u16(), 404 | 410)
    }
}

/// Parses a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3), the latter
/// relative to `now`.
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Parses one of the crate's published base URLs (a constant): an error, never a panic, should
/// one ever be malformed.
#[cfg_attr(
    not(any(
        feature = "payconex",
        feature = "cardsync",
        feature = "accountvault",
        feature = "acquired"
    )),
    allow(dead_code)
)]
pub(crate) fn published_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|_| Error::invalid("base_url", InputProblem::BadUrl))
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

#[derive(Clone)]
struct Inner {
    provider: ProviderId,
    client: HttpClient,
    base_url: Url,
    signer: Arc<dyn Signer>,
    timeout: Duration,
    retry: RetryPolicy,
    user_agent: HeaderValue,
    max_response_bytes: u64,
    timer: Arc<dyn Timer>,
    /// Secrets overwritten in every response body: the signer's plus any the provider adds.
    redactions: Vec<SecretString>,
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
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .field("redactions", &self.inner.redactions.len())
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
            None => HttpClient::with_max_in_flight(
                reqwest::Client::builder().connect_timeout(config.connect_timeout),
                config.max_in_flight,
            )
            .map_err(|e| Error::Transport {
                provider,
                delivery: Delivery::NotSent,
                message: "cannot build the HTTP client".to_owned(),
                source: Some(Box::new(e)),
            })?,
        };
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            Error::invalid(
                "user_agent",
                InputProblem::Format {
                    expected: "visible ASCII characters only".to_owned(),
                },
            )
        })?;
        Ok(Transport {
            inner: Arc::new(Inner {
                provider,
                client,
                base_url,
                redactions: signer.redactions(),
                signer,
                timeout: config.timeout,
                retry: config.retry,
                user_agent,
                max_response_bytes: config.max_response_bytes,
                timer: config.timer,
            }),
        })
    }

    /// The same transport with more secrets to overwrite in response bodies: for providers that
    /// authenticate inside the body (Acquired's `company_pass` and hash code), which no
    /// [`Signer`] knows.
    pub fn with_redactions(&self, secrets: impl IntoIterator<Item = SecretString>) -> Transport {
        let mut inner = (*self.inner).clone();
        inner.redactions.extend(secrets);
        Transport {
            inner: Arc::new(inner),
        }
    }

    /// The same transport (client, base URL, timeouts, retries, in-flight cap) with another
    /// signer: how a partner-level client derives a cheap client for one merchant's key. The new
    /// signer's secrets are overwritten in responses as well as the old ones.
    pub fn with_signer(&self, signer: Arc<dyn Signer>) -> Transport {
        let mut inner = (*self.inner).clone();
        inner.redactions.extend(signer.redactions());
        inner.signer = signer;
        Transport {
            inner: Arc::new(inner),
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
        if request.unserialisable {
            return Err(Error::invalid(
                "body",
                InputProblem::Format {
                    expected: "a body that serialises to JSON".into(),
                },
            ));
        }
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
        let mut possibly_delivered = false;
        loop {
            tracing::Span::current().record("attempt", attempt);
            tracing::debug!(attempt, "sending");
            let started = Instant::now();
            let outcome = self.attempt(&request, &url).await;
            let latency = started.elapsed().as_millis() as u64;
            tracing::Span::current().record("latency_ms", latency);
            let can_retry = attempt < policy.max_attempts;
            match outcome {
                Ok(mut response) => {
                    response.after_possible_delivery = possibly_delivered;
                    let status = response.status.as_u16();
                    tracing::Span::current().record("status", status);
                    tracing::debug!(status, latency_ms = latency, "response");
                    let retryable =
                        retryable_status(status) && (status < 500 || request.retry_server_errors);
                    if can_retry && retryable && request.idempotent {
                        if let Some(delay) = policy.delay(attempt, response.retry_after()) {
                            tracing::debug!(
                                status,
                                delay_ms = delay.as_millis() as u64,
                                "retrying"
                            );
                            self.inner.timer.sleep(delay).await;
                            possibly_delivered |= status >= 500;
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
                            possibly_delivered |= !not_sent;
                            self.inner.timer.sleep(delay).await;
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
        let inner = &*self.inner;
        let provider = inner.provider;
        // Held until the whole body is read: the connection is busy until then. The semaphore
        // is never closed, so acquiring cannot fail.
        let _permit = inner.client.permits.acquire().await.ok();
        let body = request.body.as_deref().unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, inner.user_agent.clone());
        if request.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        inner.signer.sign(&mut SignableRequest {
            method: &request.method,
            path: url.path(),
            query: url.query().unwrap_or(""),
            body,
            headers: &mut headers,
        })?;
        let mut builder = inner
            .client
            .client
            .request(request.method.clone(), url.clone())
            .timeout(inner.timeout)
            .headers(headers);
        if let Some(b) = &request.body {
            builder = builder.body(b.clone());
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| map_reqwest_error(provider, e))?;
        let status = response.status();
        if status.is_redirection() || response.url() != url {
            // The client never follows redirects; the URL check is a second line of defence.
            return Err(Error::Redirected {
                provider,
                status: status.as_u16(),
            });
        }
        let limit = inner.max_response_bytes;
        let declared = response.content_length();
        if declared.is_some_and(|len| len > limit) {
            return Err(Error::ResponseTooLarge {
                provider,
                limit,
                declared,
            });
        }
        let headers = std::mem::take(response.headers_mut());
        let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
        let mut body = Vec::with_capacity(capacity);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| map_reqwest_error(provider, e))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::ResponseTooLarge {
                    provider,
                    limit,
                    declared,
                });
            }
            body.extend_from_slice(&chunk);
        }
        overwrite_secrets(&mut body, &inner.redactions);
        Ok(ApiResponse {
            provider,
            status,
            headers,
            body,
            received_at: inner.timer.now(),
            after_possible_delivery: false,
        })
    }
}

/// Overwrites every occurrence of each secret in `body` with `*`, in place (the length and the
/// JSON structure stay as they were). Secrets shorter than four bytes are skipped: they would
/// match ordinary text, and no credential is that short.
fn overwrite_secrets(body: &mut [u8], secrets: &[SecretString]) {
    for secret in secrets {
        let needle = secret.expose_secret().as_bytes();
        if needle.len() < 4 {
            continue;
        }
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&body[from..], needle) {
            let start = from + at;
            body[start..start + needle.len()].fill(b'*');
            from = start + needle.len();
        }
    }
}

/// Maps a reqwest failure without its URL (which can hold ids) or any body; the error, stripped
/// of its URL, is kept as the source.
fn map_reqwest_error(provider: ProviderId, e: reqwest::Error) -> Error {
    let delivery = if e.is_connect() {
        Delivery::NotSent
    } else {
        Delivery::MaybeSent
    };
    let timed_out = e.is_timeout();
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body could not be read"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let cause = std::error::Error::source(&e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let source: Option<crate::error::BoxError> = Some(Box::new(e.without_url()));
    if timed_out {
        return Error::Timeout {
            provider,
            delivery,
            source,
        };
    }
    let message = if cause.is_empty() {
        kind.to_owned()
    } else {
        format!(
            "{kind}: {}",
            crate::error::redact_excerpt(cause.as_bytes(), 160)
        )
    };
    Error::Transport {
        provider,
        delivery,
        message,
        source,
    }
}

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Builds a header value from a secret, marked sensitive so that `Debug` of the header map
/// (reqwest, hyper) prints `Sensitive` instead of it.
pub(crate) fn sensitive_header(value: &str) -> Result<HeaderValue> {
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

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Longest id accepted in a URL path or query, in bytes. The longest documented one is
/// AccountVault's 22-character `AccountID`; PayConex and CardSync ids are shorter still.
pub(crate) const MAX_PATH_ID_BYTES: usize = 128;

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Refuses an id for a URL path or query that is empty, over [`MAX_PATH_ID_BYTES`], or holds a
/// control character: the typed input error comes before any request.
pub(crate) fn check_id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, InputProblem::Missing));
    }
    if value.len() > MAX_PATH_ID_BYTES || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            InputProblem::Format {
                expected: format!("1 to {MAX_PATH_ID_BYTES} bytes with no control characters"),
            },
        ));
    }
    Ok(())
}

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Percent-encodes `value` as one URL path segment (everything but RFC 3986 unreserved
/// characters is escaped), refusing an empty value, a value over [`MAX_PATH_ID_BYTES`] and one
/// with a control character: ids from callers can never change the path, and nothing is sent.
pub(crate) fn path_segment(field: &str, value: &str) -> Result<String> {
    check_id(field, value)?;
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

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// The `Authorization` header name, re-exported for signers.
pub(crate) const AUTHORIZATION: HeaderName = reqwest::header::AUTHORIZATION;
