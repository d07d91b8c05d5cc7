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

mod config;
mod endpoint;
mod inputs;
mod operation;
mod request;

pub use config::*;
// A build with only some providers leaves one of these unused.
#[allow(unused_imports)]
pub use endpoint::{Endpoint, PathSegment};
pub use inputs::MAX_PATH_ID_BYTES;
pub use inputs::validate_base_url;
pub use operation::{CallOptions, Operation};
/// The HTTP method type endpoints are declared with (`reqwest`'s, the `http` crate's).
pub use reqwest::Method;
// A build without providers leaves some of these unused.
#[allow(unused_imports)]
pub(crate) use inputs::*;
pub use request::*;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;
use url::Url;

use crate::error::{Delivery, Error, InputProblem, Result, retryable_status};
use crate::ids::ProviderId;

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
        let base_path = url.path().trim_end_matches('/');
        let mut path = String::with_capacity(base_path.len() + request.path.len());
        path.push_str(base_path);
        path.push_str(&request.path);
        url.set_path(&path);
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
    ///
    /// # Errors
    ///
    /// Only for failures to get a response: [`Error::InvalidInput`] for a body that does not
    /// serialise (nothing sent), a signer's refusal (nothing sent), [`Error::Transport`] and
    /// [`Error::Timeout`] with their [`Delivery`] (whether the request
    /// may have been written), [`Error::ResponseTooLarge`], [`Error::Redirected`]. A non-2xx
    /// status is not an error here: each vendor's `decode_response` maps it. A request that is
    /// not idempotent is retried only when it certainly was not sent.
    pub async fn send(&self, request: ApiRequest) -> Result<ApiResponse> {
        self.send_with(request, &CallOptions::default()).await
    }

    /// [`Transport::send`] with this call's timeout and retry policy in place of the client's
    /// where `options` sets them.
    ///
    /// # Errors
    ///
    /// As [`Transport::send`].
    pub async fn send_with(
        &self,
        request: ApiRequest,
        options: &CallOptions,
    ) -> Result<ApiResponse> {
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
        let policy = options.retry_override().unwrap_or(&self.inner.retry);
        let timeout = options.timeout_override().unwrap_or(self.inner.timeout);
        self.send_with_retries(request, policy, timeout)
            .instrument(span)
            .await
    }

    async fn send_with_retries(
        &self,
        request: ApiRequest,
        policy: &RetryPolicy,
        timeout: Duration,
    ) -> Result<ApiResponse> {
        let url = self.url_for(&request);
        let mut attempt = 1;
        let mut possibly_delivered = false;
        loop {
            tracing::Span::current().record("attempt", attempt);
            tracing::debug!(attempt, "sending");
            let started = Instant::now();
            let outcome = self.attempt(&request, &url, timeout).await;
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

    async fn attempt(
        &self,
        request: &ApiRequest,
        url: &Url,
        timeout: Duration,
    ) -> Result<ApiResponse> {
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
        // The request is built whole (no builder merging a second header map into its own).
        let mut http_request = reqwest::Request::new(request.method.clone(), url.clone());
        *http_request.headers_mut() = headers;
        *http_request.timeout_mut() = Some(timeout);
        if let Some(b) = &request.body {
            *http_request.body_mut() = Some(b.clone().into());
        }
        let mut response = inner
            .client
            .client
            .execute(http_request)
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
