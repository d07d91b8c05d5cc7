//! Timeouts, retries, limits, the injectable clock and the shared HTTP client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::Semaphore;

use crate::model::BoxFuture;

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
    pub(super) client: reqwest::Client,
    pub(super) permits: Arc<Semaphore>,
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
#[non_exhaustive]
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
    /// Attempts in all, including the first (1 disables retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Backoff before the second attempt; doubled for each further one.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Cap on one backoff.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// A `Retry-After` longer than this is not waited for: the error is returned instead.
    pub fn max_retry_after(mut self, after: Duration) -> Self {
        self.max_retry_after = after;
        self
    }

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

/// Timeouts, retries, limits and the HTTP client a [`Transport`](super::Transport) uses.
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
    pub(super) client: Option<HttpClient>,
    pub(super) timer: Arc<dyn Timer>,
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
