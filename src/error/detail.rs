//! What a provider said about a failure: status, code, message, trace id, each bounded and
//! cleaned so that nothing a hostile peer sends can carry card data into an error.

use std::fmt;

use super::redact::{mask_digit_runs, redact_excerpt, truncate};

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
