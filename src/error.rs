//! The crate's one error type.
//!
//! Errors are split by phase, as the AWS SDKs do: refused before sending ([`Error::InvalidInput`],
//! [`Error::Unsupported`]), failed in transit ([`Error::Transport`], [`Error::Timeout`], which say
//! whether the request may have reached the provider), or answered by the provider (everything
//! else). Every variant has a stable machine-readable [`Error::code`].
//!
//! No variant carries a card number, a secret or a full response body: bodies appear only as a
//! short excerpt run through [`redact_excerpt`].

use std::fmt;
use std::time::Duration;

use crate::card::{CardNumberError, ExpiryError};
use crate::provider::{Flow, ProviderId};

/// Shorthand for `Result<T, account_updater::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a failed request may have reached the provider. Decides whether a retry could
/// duplicate a side effect (a batch submitted twice is billed twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The connection failed before any byte of the request was written.
    NotSent,
    /// The request may have been received and acted upon; no (complete) answer came back.
    MaybeSent,
}

/// What is wrong with a caller's input. Part of [`InputError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputProblem {
    /// A card number that does not validate.
    #[error(transparent)]
    CardNumber(#[from] CardNumberError),
    /// An expiry that does not validate.
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    /// A required value is missing or empty.
    #[error("is required")]
    Missing,
    /// Too many items for one request.
    #[error("has {got} items; the provider accepts at most {max}")]
    TooMany {
        /// The provider's limit.
        max: usize,
        /// How many were given.
        got: usize,
    },
    /// The request would be empty.
    #[error("is empty; nothing would be sent")]
    Empty,
    /// The same identifier appears twice in one request.
    #[error("is used more than once in the same request")]
    Duplicate,
    /// Text that does not match the provider's documented format.
    #[error("must be {expected}")]
    Format {
        /// Human description of the expected format.
        expected: String,
    },
    /// A value the provider does not allow in this context.
    #[error("is not allowed: {reason}")]
    NotAllowed {
        /// Why.
        reason: String,
    },
    /// Two values that cannot be sent together.
    #[error("cannot be combined with {other}")]
    Conflicts {
        /// The other field.
        other: String,
    },
    /// A base URL with plain `http://` to a non-loopback host, or with another scheme.
    #[error("must use https (plain http is accepted for loopback hosts only)")]
    InsecureUrl,
    /// A URL that cannot be used as a base (no host, cannot be a base, …).
    #[error("is not a usable base URL")]
    BadUrl,
}

/// A refused input: which field, and what is wrong with it. Never echoes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Path of the offending field, e.g. `cards[3].card` or `cards[id=42].exp`.
    pub field: String,
    /// What is wrong.
    pub problem: InputProblem,
}

impl InputError {
    /// Builds an input error for `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<InputProblem>) -> Self {
        InputError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

impl std::error::Error for InputError {}

/// What a provider said when it refused a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// HTTP status of the answer (`Some(200)` when a 200 body says failure, as CardSync and
    /// Acquired do); `None` only for errors not tied to a response.
    pub status: Option<u16>,
    /// The provider's own error code (`errorCode`, `EC`, `response_code`, body `status`).
    pub code: Option<String>,
    /// The provider's message, as sent (providers do not echo card data in messages).
    pub message: Option<String>,
    /// The provider's trace / correlation id, for its support desk.
    pub trace_id: Option<String>,
    /// The request field the provider blamed, when it says.
    pub field: Option<String>,
    /// A further code from downstream, when the provider relays one (Acquired's
    /// `bank_response_code`, the issuing bank's answer).
    pub issuer_code: Option<String>,
}

impl ProviderError {
    /// An error with only an HTTP status.
    pub fn status(status: u16) -> Self {
        ProviderError {
            status: Some(status),
            ..Default::default()
        }
    }

    /// Sets the provider code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the message. Runs of seven or more digits are masked, in case a provider echoes a
    /// submitted value in its message.
    pub fn with_message(mut self, message: impl AsRef<str>) -> Self {
        self.message = Some(redact_excerpt(message.as_ref().as_bytes(), 300));
        self
    }

    /// Sets the trace id.
    pub fn with_trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Sets the blamed field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Sets the downstream (issuer) code.
    pub fn with_issuer_code(mut self, code: impl Into<String>) -> Self {
        self.issuer_code = Some(code.into());
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(s) = self.status {
            write!(f, "HTTP {s}")?;
            sep = ", ";
        }
        if let Some(c) = &self.code {
            write!(f, "{sep}code {c}")?;
            sep = ", ";
        }
        if let Some(m) = &self.message {
            write!(f, "{sep}{:?}", truncate(m, 200))?;
            sep = ", ";
        }
        if let Some(field) = &self.field {
            write!(f, "{sep}field {field}")?;
            sep = ", ";
        }
        if let Some(code) = &self.issuer_code {
            write!(f, "{sep}issuer code {code}")?;
            sep = ", ";
        }
        if let Some(t) = &self.trace_id {
            write!(f, "{sep}trace {t}")?;
        }
        Ok(())
    }
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
    },
    /// No complete answer within the configured timeout.
    #[error("{provider}: timed out ({delivery:?})")]
    Timeout {
        /// Which provider was being called.
        provider: ProviderId,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
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
    #[error("{provider}: rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// Which provider refused.
        provider: ProviderId,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
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
        }
    }

    /// `true` when the same call may succeed later: connection failures, timeouts, rate limits
    /// and provider 5xx / 408. Whether retrying is *safe* is a separate question: see
    /// [`Error::may_have_reached_provider`] before repeating a non-idempotent call.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } | Error::RateLimited { .. } => true,
            Error::Provider { detail, .. } => {
                matches!(detail.status, Some(s) if s >= 500 || s == 408)
            }
            _ => false,
        }
    }

    /// `false` only when it is certain the provider never saw the request (refused input,
    /// unsupported flow, connection failed before sending). Everything the provider answered
    /// obviously reached it.
    pub fn may_have_reached_provider(&self) -> bool {
        match self {
            Error::InvalidInput(_) | Error::Unsupported { .. } => false,
            Error::Transport { delivery, .. } | Error::Timeout { delivery, .. } => {
                *delivery == Delivery::MaybeSent
            }
            Error::Integrity { .. } => true,
            _ => true,
        }
    }

    /// The provider involved, when there is one.
    pub fn provider(&self) -> Option<ProviderId> {
        match self {
            Error::InvalidInput(_) => None,
            Error::Unsupported { provider, .. }
            | Error::Transport { provider, .. }
            | Error::Timeout { provider, .. }
            | Error::Auth { provider, .. }
            | Error::RateLimited { provider, .. }
            | Error::NotFound { provider, .. }
            | Error::Provider { provider, .. }
            | Error::Conflict { provider, .. }
            | Error::Integrity { provider, .. }
            | Error::Decode { provider, .. } => Some(*provider),
        }
    }

    /// The provider's own error detail, when it sent one.
    pub fn provider_detail(&self) -> Option<&ProviderError> {
        match self {
            Error::Auth { detail, .. }
            | Error::NotFound { detail, .. }
            | Error::Provider { detail, .. }
            | Error::Conflict { detail, .. } => Some(detail.as_ref()),
            _ => None,
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
            },
            _ => Error::Provider {
                provider,
                detail: Box::new(detail),
            },
        }
    }

    /// A decode error for `body`, keeping only a short redacted excerpt.
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

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// JSON keys whose string values are replaced by `***` in excerpts: anything that can carry a
/// card number, a security code, a key or a password.
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "key",
    "secret",
    "pass",
    "token",
    "hash",
    "cvv",
    "csc",
    "card",
    "pan",
    "number",
    "data",
    "authorization",
    "bfid",
];

/// Makes a body safe to show in an error: keeps at most `max` characters, replaces every run of
/// seven or more digits with `*` (a PAN cannot survive, not even its middle), and replaces the
/// string value of any JSON key that looks sensitive (`api_key`, `cardnumber`, `company_pass`, …)
/// with `***`. Non-UTF-8 bytes are shown as `�`.
pub fn redact_excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let masked_values = mask_sensitive_values(&text);
    let mut out = String::with_capacity(max.min(masked_values.len()) + 1);
    let chars: Vec<char> = masked_values.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run = i - start;
            if run >= 7 {
                out.extend(std::iter::repeat_n('*', run));
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    truncate(&out, max)
}

/// Replaces `"<sensitive key>" : "<value>"` values with `"***"`.
fn mask_sensitive_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        out.push_str(&rest[..=q]);
        rest = &rest[q + 1..];
        let Some(end) = rest.find('"') else {
            out.push_str(rest);
            return out;
        };
        let key = &rest[..end];
        out.push_str(key);
        out.push('"');
        rest = &rest[end + 1..];
        let after = rest.trim_start();
        let sensitive = {
            let k = key.to_ascii_lowercase();
            SENSITIVE_KEY_PARTS.iter().any(|p| k.contains(p))
        };
        if sensitive && after.starts_with(':') {
            let after_colon = after[1..].trim_start();
            if let Some(value) = after_colon.strip_prefix('"') {
                // Skip the value string (honouring escapes); an unterminated one is cut entirely.
                let mut escaped = false;
                let mut close = None;
                for (idx, ch) in value.char_indices() {
                    match ch {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            close = Some(idx);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                out.push_str(":\"***");
                match close {
                    Some(c) => {
                        out.push('"');
                        rest = &value[c + 1..];
                    }
                    None => return out,
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_truncated() {
        let ex = redact_excerpt(&[b'a'; 1000], 50);
        assert_eq!(ex.chars().count(), 51);
    }
}
