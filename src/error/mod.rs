//! The crate's one error type.
//!
//! Errors are split by phase, as the AWS SDKs do: refused before sending ([`Error::InvalidInput`],
//! [`Error::Unsupported`]), failed in transit ([`Error::Transport`], [`Error::Timeout`], which say
//! whether the request may have reached the provider), or answered by the provider (everything
//! else). Every variant has a stable machine-readable [`Error::code`].
//!
//! No variant carries a card number, a secret or a full response body: bodies appear only as a
//! short excerpt with digit runs and sensitive values masked.

mod detail;
mod input;
mod redact;

pub use detail::ProviderError;
pub use input::{InputError, InputProblem};
pub use redact::redact_excerpt;

use std::fmt;
use std::time::Duration;

use crate::card::{CardNumberError, ExpiryError};
use crate::ids::{Flow, ProviderId};

/// Shorthand for `Result<T, account_updater::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error kept as the [`std::error::Error::source`] of a transport failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Whether a failed request may have reached the provider. Decides whether a retry could
/// duplicate a side effect (a batch submitted twice is billed twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The connection failed before any byte of the request was written.
    NotSent,
    /// The request may have been received and acted upon; no (complete) answer came back.
    MaybeSent,
}

/// Every way a call can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InputError),
    /// The provider has no such flow (see [`crate::provider::Provider::capabilities`]).
    #[error("{provider} does not support {flow}")]
    Unsupported {
        /// The provider asked.
        provider: ProviderId,
        /// The flow it lacks.
        flow: Flow,
    },
    /// The connection failed.
    #[error("{provider}: transport error ({delivery:?}): {message}")]
    Transport {
        /// Which provider was being called.
        provider: ProviderId,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
        /// What failed (no URL query, no headers, no body).
        message: String,
        /// The HTTP library's error, stripped of its URL.
        #[source]
        source: Option<BoxError>,
    },
    /// No complete answer within the configured timeout.
    #[error("{provider}: timed out ({delivery:?})")]
    Timeout {
        /// Which provider was being called.
        provider: ProviderId,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
        /// The HTTP library's error, stripped of its URL.
        #[source]
        source: Option<BoxError>,
    },
    /// The response was larger than [`crate::transport::TransportConfig::max_response_bytes`]:
    /// refused on its declared `Content-Length`, or cut while reading. The request reached the
    /// provider and may have been acted upon.
    #[error("{provider}: response larger than the {limit}-byte limit")]
    ResponseTooLarge {
        /// Which provider answered.
        provider: ProviderId,
        /// The configured limit, in bytes.
        limit: u64,
        /// The `Content-Length` the provider declared, when it declared one.
        declared: Option<u64>,
    },
    /// The provider answered with a redirect (3xx). The crate never follows one: a redirect
    /// could carry card data and credentials to another origin. The `Location` is not kept.
    #[error("{provider}: answered with redirect HTTP {status}, which is never followed")]
    Redirected {
        /// Which provider answered.
        provider: ProviderId,
        /// The 3xx status.
        status: u16,
    },
    /// The job journal's database failed (the `account-updater-journal` crate). Nothing about a provider
    /// request: the journal stops a run before sending when it cannot record the intent.
    #[error("journal: {operation} failed: {message}")]
    Journal {
        /// What the journal was doing (`open`, `migrate`, `claim chunk`, …).
        operation: &'static str,
        /// The database's error class (its SQLSTATE or kind), never row values.
        message: String,
        /// The database driver's error.
        #[source]
        source: Option<BoxError>,
    },
    /// Credentials refused (HTTP 401/403 or the provider's equivalent).
    #[error("{provider}: authentication refused: {detail}")]
    Auth {
        /// Which provider refused.
        provider: ProviderId,
        /// What it said.
        detail: Box<ProviderError>,
    },
    /// Too many requests (HTTP 429).
    #[error("{provider}: rate limited (retry after {retry_after:?}): {detail}")]
    RateLimited {
        /// Which provider refused.
        provider: ProviderId,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// What it said (TabaPay's `EC`/`EM` say which limit: polling, daily, keys created).
        detail: Box<ProviderError>,
    },
    /// The resource does not exist (HTTP 404).
    #[error("{provider}: not found: {detail}")]
    NotFound {
        /// Which provider answered.
        provider: ProviderId,
        /// What it said.
        detail: Box<ProviderError>,
    },
    /// The provider refused the request (4xx/5xx, or a 200 whose body says failure).
    #[error("{provider}: request refused: {detail}")]
    Provider {
        /// Which provider refused.
        provider: ProviderId,
        /// What it said.
        detail: Box<ProviderError>,
    },
    /// The request conflicts with existing data (AccountVault 409 duplicate card).
    #[error("{provider}: conflict with {} existing record(s): {detail}", duplicates.len())]
    Conflict {
        /// Which provider refused.
        provider: ProviderId,
        /// The existing records it conflicts with (e.g. `duplicateAccountIDs`).
        duplicates: Vec<String>,
        /// What it said.
        detail: Box<ProviderError>,
    },
    /// A signature or hash did not verify: the data was not used.
    #[error("{provider}: integrity check failed: {what}")]
    Integrity {
        /// Which provider's data.
        provider: ProviderId,
        /// Which check failed.
        what: String,
    },
    /// A body could not be decoded into the documented shape.
    #[error(
        "{provider}: could not decode response (HTTP {status}): {message}; body starts {excerpt:?}"
    )]
    Decode {
        /// Which provider answered.
        provider: ProviderId,
        /// HTTP status of the response (0 when not from a response, e.g. a webhook body).
        status: u16,
        /// What the decoder said (no values from the body).
        message: String,
        /// A short, redacted excerpt of the body.
        excerpt: String,
    },
}

impl From<CardNumberError> for Error {
    /// A card number refused while building a request (`?` on [`crate::CardNumber::parse`]).
    fn from(e: CardNumberError) -> Self {
        Error::invalid("card", e)
    }
}

impl From<ExpiryError> for Error {
    /// An expiry refused while building a request (`?` on [`crate::Expiry::parse`]).
    fn from(e: ExpiryError) -> Self {
        Error::invalid("expiry", e)
    }
}

/// The stable kind of an [`Error`], for matching without the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::InvalidInput`]
    InvalidInput,
    /// [`Error::Unsupported`]
    Unsupported,
    /// [`Error::Transport`]
    Transport,
    /// [`Error::Timeout`]
    Timeout,
    /// [`Error::Auth`]
    Auth,
    /// [`Error::RateLimited`]
    RateLimited,
    /// [`Error::NotFound`]
    NotFound,
    /// [`Error::Provider`]
    Provider,
    /// [`Error::Conflict`]
    Conflict,
    /// [`Error::Integrity`]
    Integrity,
    /// [`Error::Decode`]
    Decode,
    /// [`Error::ResponseTooLarge`]
    ResponseTooLarge,
    /// [`Error::Redirected`]
    Redirected,
    /// [`Error::Journal`]
    Journal,
}

impl Error {
    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Auth { .. } => ErrorKind::Auth,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Provider { .. } => ErrorKind::Provider,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Integrity { .. } => ErrorKind::Integrity,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::ResponseTooLarge { .. } => ErrorKind::ResponseTooLarge,
            Error::Redirected { .. } => ErrorKind::Redirected,
            Error::Journal { .. } => ErrorKind::Journal,
        }
    }

    /// A stable, machine-readable code (`invalid_input`, `rate_limited`, …). Never changes for a
    /// given variant, so it can be stored and alerted on.
    pub fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Auth => "auth",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Provider => "provider",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Decode => "decode",
            ErrorKind::ResponseTooLarge => "response_too_large",
            ErrorKind::Redirected => "redirected",
            ErrorKind::Journal => "journal",
        }
    }

    /// `true` when the same call may succeed later: connection failures, timeouts, rate limits
    /// and HTTP 408, 429, 500, 502, 503 and 504. Whether retrying is *safe* is a separate
    /// question: see [`Error::may_have_reached_provider`] before repeating a non-idempotent call.
    ///
    /// This is the crate's one retry classifier: the transport asks the same questions.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } | Error::RateLimited { .. } => true,
            Error::Provider { detail, .. } => detail.status.is_some_and(retryable_status),
            _ => false,
        }
    }

    /// `false` only when it is certain the provider never saw the request (refused input,
    /// unsupported flow, connection failed before sending). Everything the provider answered
    /// obviously reached it.
    pub fn may_have_reached_provider(&self) -> bool {
        match self {
            Error::InvalidInput(_) | Error::Unsupported { .. } | Error::Journal { .. } => false,
            Error::Transport { delivery, .. } | Error::Timeout { delivery, .. } => {
                *delivery == Delivery::MaybeSent
            }
            Error::Integrity { .. } => true,
            _ => true,
        }
    }

    /// `false` when it is certain the provider did not act on the request: it never saw it
    /// ([`Error::may_have_reached_provider`] is `false`), or it answered with a refusal (a 4xx
    /// status, a failure body in a 2xx, refused credentials, a rate limit, a conflict). `true`
    /// for a 5xx, a timeout after sending, an answer that could not be read or verified, a
    /// redirect: the provider may have done what was asked, so **do not resend** without
    /// checking first. Bulk submission files chunks as failed or unknown by this.
    pub fn provider_may_have_acted(&self) -> bool {
        match self {
            Error::Auth { .. }
            | Error::RateLimited { .. }
            | Error::NotFound { .. }
            | Error::Conflict { .. } => false,
            Error::Provider { detail, .. } => detail.status.is_none_or(|s| s >= 500),
            other => other.may_have_reached_provider(),
        }
    }

    /// The provider involved, when there is one.
    pub fn provider(&self) -> Option<ProviderId> {
        match self {
            Error::InvalidInput(_) | Error::Journal { .. } => None,
            Error::Unsupported { provider, .. }
            | Error::Transport { provider, .. }
            | Error::Timeout { provider, .. }
            | Error::Auth { provider, .. }
            | Error::RateLimited { provider, .. }
            | Error::NotFound { provider, .. }
            | Error::Provider { provider, .. }
            | Error::Conflict { provider, .. }
            | Error::Integrity { provider, .. }
            | Error::Decode { provider, .. }
            | Error::ResponseTooLarge { provider, .. }
            | Error::Redirected { provider, .. } => Some(*provider),
        }
    }

    /// The provider's own error detail, when it sent one.
    pub fn provider_detail(&self) -> Option<&ProviderError> {
        match self {
            Error::Auth { detail, .. }
            | Error::RateLimited { detail, .. }
            | Error::NotFound { detail, .. }
            | Error::Provider { detail, .. }
            | Error::Conflict { detail, .. } => Some(detail.as_ref()),
            _ => None,
        }
    }

    /// A refusal in a body (HTTP 200 that says failure): [`Error::Auth`] when the provider
    /// refused the credentials, [`Error::Provider`] otherwise.
    pub fn refusal(provider: ProviderId, credentials_refused: bool, detail: ProviderError) -> Self {
        let detail = Box::new(detail);
        if credentials_refused {
            Error::Auth { provider, detail }
        } else {
            Error::Provider { provider, detail }
        }
    }

    /// Shorthand for an [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, problem: impl Into<InputProblem>) -> Self {
        Error::InvalidInput(InputError::new(field, problem))
    }

    /// The unified mapping of an HTTP error status: 401/403 → [`Error::Auth`], 404 and 410
    /// (gone: already deleted) → [`Error::NotFound`], 429 → [`Error::RateLimited`], anything else → [`Error::Provider`].
    /// Providers call it after parsing their own error body into `detail`.
    pub fn from_status(
        provider: ProviderId,
        status: u16,
        retry_after: Option<Duration>,
        detail: ProviderError,
    ) -> Self {
        match status {
            401 | 403 => Error::Auth {
                provider,
                detail: Box::new(detail),
            },
            404 | 410 => Error::NotFound {
                provider,
                detail: Box::new(detail),
            },
            429 => Error::RateLimited {
                provider,
                retry_after,
                detail: Box::new(detail),
            },
            _ => Error::Provider {
                provider,
                detail: Box::new(detail),
            },
        }
    }

    /// A decode error for a JSON `body` that `serde_json` refused. Keeps the error's category,
    /// line and column, never serde's message (which quotes values from the body).
    pub fn decode_json(
        provider: ProviderId,
        status: u16,
        error: &serde_json::Error,
        body: &[u8],
    ) -> Self {
        let category = match error.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "JSON of the wrong shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        let message = format!(
            "{category} at line {} column {}",
            error.line(),
            error.column()
        );
        Error::decode(provider, status, message, body)
    }

    /// A decode error for `body`, keeping only a short redacted excerpt. `message` is the
    /// crate's own description (it is redacted too); for a `serde_json` failure use
    /// [`Error::decode_json`].
    pub fn decode(
        provider: ProviderId,
        status: u16,
        message: impl fmt::Display,
        body: &[u8],
    ) -> Self {
        Error::Decode {
            provider,
            status,
            message: redact_excerpt(message.to_string().as_bytes(), 160),
            excerpt: redact_excerpt(body, 120),
        }
    }
}

/// The HTTP statuses worth repeating a request for: 408 (request timeout), 429 (rate limited),
/// 500, 502, 503 and 504. The crate's one list: [`Error::is_retryable`] and the transport's
/// retry loop both use it.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_truncated() {
        let ex = redact_excerpt(&[b'a'; 1000], 50);
        assert_eq!(ex.chars().count(), 51);
    }

    #[test]
    fn excerpts_mask_digit_runs_and_sensitive_values() {
        // Built, not written out: no card-number literal in src/ outside the emulator.
        let pan = format!("4{}", "1".repeat(15));
        let body = format!(
            r#"{{"api_key":"api_1auidmDFdMslUz2R5PSwVFSEfmP","id":"123456","card":"{pan}","n":12345678}}"#
        );
        let ex = redact_excerpt(body.as_bytes(), 500);
        assert!(!ex.contains("api_1aui"), "{ex}");
        assert!(!ex.contains(&pan) && !ex.contains("11111111"), "{ex}");
        assert!(ex.contains(r#""id":"123456""#), "short numbers stay: {ex}");
        assert!(ex.contains("********"), "{ex}");
    }

    #[test]
    fn retryable_statuses_are_the_transient_ones() {
        assert!(retryable_status(500));
        assert!(retryable_status(429));
        assert!(retryable_status(503));
        assert!(!retryable_status(501));
        assert!(!retryable_status(400));
    }
}
