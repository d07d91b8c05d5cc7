//! What a provider module hands the transport (a request, its signer) and gets back.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ProviderError, Result};
use crate::ids::ProviderId;

/// A request about to be signed: what a [`Signer`] may read, and the headers it may add.
#[non_exhaustive]
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
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) template: &'static str,
    pub(super) query: Vec<(String, Option<String>)>,
    pub(super) body: Option<Bytes>,
    pub(super) idempotent: bool,
    pub(super) retry_server_errors: bool,
    /// The body given to [`ApiRequest::json`] did not serialise.
    pub(super) unserialisable: bool,
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

    /// The concrete path, appended to the base URL's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path template the logs show (placeholders, never the ids).
    pub fn template(&self) -> &'static str {
        self.template
    }

    /// Attaches a body serialised as compact JSON (exactly these bytes are sent and signed).
    /// Should `body`'s `Serialize` implementation fail (a map with non-string keys, say), which
    /// the crate's wire types cannot do, [`Transport::send`](super::Transport::send) refuses the request with
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

    /// Attaches JSON bytes already shared (an operation sent again on a retry hands the same
    /// buffer, not a copy). Only CardSync's bulk chunks use it.
    #[cfg_attr(not(feature = "cardsync"), allow(dead_code))]
    pub(crate) fn shared_json(mut self, body: Bytes) -> Self {
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

    /// Do not repeat this request on a 5xx: for requests whose 5xx is deterministic (TabaPay
    /// answers 500 to an RSA blob it cannot decrypt; the same blob fails the same way).
    pub fn no_retry_on_server_error(mut self) -> Self {
        self.retry_server_errors = false;
        self
    }

    /// Whether the request may be repeated after it may have reached the server.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
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
/// [`TransportConfig::max_response_bytes`](super::TransportConfig::max_response_bytes), with the client's credentials overwritten).
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
    /// When the response arrived (by the transport's [`Timer`](super::Timer)).
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

    /// A response with `status` and `body`, for the vendors' response-mapping unit tests.
    #[cfg(test)]
    #[cfg_attr(not(any_provider), allow(dead_code))]
    pub(crate) fn answered(provider: ProviderId, status: u16, body: &str) -> Self {
        let status = StatusCode::from_u16(status).expect("a test gives a valid HTTP status");
        ApiResponse::new(provider, status, body.as_bytes().to_vec())
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
