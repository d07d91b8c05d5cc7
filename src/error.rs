//! The crate's one error type.
//!
//! Errors are split by phase, as the AWS SDKs do: refused before sending ([`Error::InvalidInput`],
//! [`Error::Unsupported`]), failed in transit ([`Error::Transport`], [`Error::Timeout`], which say
//! whether the request may have reached the provider), or answered by the provider (everything
//! else). Every variant has a stable machine-readable [`Error::code`].
//!
//! No variant carries a card number, a secret or a full response body: bodies appear only as a
//! short excerpt with digit runs and sensitive values masked.

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
#[non_exhaustive]
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
///
/// Every string here comes from a provider response, so none is stored as sent: the setters
/// (the only way to fill them) restrict codes, ids and field names to a short safe character set
/// and redact messages like body excerpts (digit runs and sensitive JSON values masked). The
/// transport has already replaced the client's own credentials in the body with `*`.
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

    /// Sets the provider code, restricted to a short safe character set (see
    /// [`ProviderError`]'s type docs).
    pub fn with_code(mut self, code: impl AsRef<str>) -> Self {
        self.code = Some(safe_identifier(code.as_ref(), MAX_CODE_CHARS));
        self
    }

    /// Sets the message, redacted like a body excerpt: runs of seven or more digits are masked
    /// and the values of sensitive JSON keys replaced, in case a provider echoes a submitted value
    /// in its message.
    pub fn with_message(mut self, message: impl AsRef<str>) -> Self {
        self.message = Some(redact_excerpt(
            message.as_ref().as_bytes(),
            MAX_MESSAGE_CHARS,
        ));
        self
    }

    /// Sets the trace id, restricted to a short safe character set.
    pub fn with_trace_id(mut self, trace_id: impl AsRef<str>) -> Self {
        self.trace_id = Some(safe_identifier(trace_id.as_ref(), MAX_TRACE_CHARS));
        self
    }

    /// Sets the blamed field, restricted to a short safe character set.
    pub fn with_field(mut self, field: impl AsRef<str>) -> Self {
        self.field = Some(safe_identifier(field.as_ref(), MAX_CODE_CHARS));
        self
    }

    /// Sets the downstream (issuer) code, restricted to a short safe character set.
    pub fn with_issuer_code(mut self, code: impl AsRef<str>) -> Self {
        self.issuer_code = Some(safe_identifier(code.as_ref(), MAX_CODE_CHARS));
        self
    }
}

/// Longest provider code, field name or issuer code kept in an error.
const MAX_CODE_CHARS: usize = 64;
/// Longest trace id kept in an error.
const MAX_TRACE_CHARS: usize = 128;
/// Longest provider message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// Restricts a provider-supplied code or id to `[A-Za-z0-9 ._:/#@+=\[\]-]`, replacing any other
/// character with `?`, masks runs of nine or more digits, and cuts it to `max` characters.
/// Codes and ids are short machine words; anything else in them is a server echoing what it was
/// sent. The digit threshold is above excerpts' seven because TabaPay's `EC` codes are eight
/// digits (`"50000000"`, key deleted) and must survive; no card number is that short.
pub(crate) fn safe_identifier(value: &str, max: usize) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._:/#@+=[]-".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    mask_digit_runs(&cleaned, max, CODE_DIGIT_RUN)
}

/// Digit runs this long are masked in excerpts and messages.
const EXCERPT_DIGIT_RUN: usize = 7;
/// Digit runs this long are masked in codes and ids.
const CODE_DIGIT_RUN: usize = 9;

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
    /// The job journal's database failed (the `journal` module). Nothing about a provider
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
pub(crate) fn redact_excerpt(body: &[u8], max: usize) -> String {
    // Only what can be shown is redacted: a few characters past `max` (a digit run crossing the
    // cut must still be seen whole to be masked), never a whole multi-megabyte body.
    let window = &body[..body.len().min(max.saturating_mul(4).saturating_add(64))];
    let text = String::from_utf8_lossy(window);
    // JSON nested in a JSON string (a server echoing a request body in its message) has its
    // quotes escaped; unescape them so that its sensitive keys are recognised too.
    let text = if text.contains("\\\"") {
        std::borrow::Cow::Owned(text.replace("\\\"", "\""))
    } else {
        text
    };
    let masked_values = mask_sensitive_values(&text);
    mask_digit_runs(&masked_values, max, EXCERPT_DIGIT_RUN)
}

/// Replaces every run of `min_run` or more ASCII digits with `*` and truncates to `max`
/// characters.
fn mask_digit_runs(text: &str, max: usize, min_run: usize) -> String {
    let mut out = String::with_capacity(max.min(text.len()) + 1);
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= min_run {
            out.extend(std::iter::repeat_n('*', run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
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
