//! Acquired credentials: the company id and password travel in the body, the hash code only
//! signs ([Acquired's API reference](https://developer.acquired.com/integrations/api), "Request hash"); none is ever shown.

use super::validate::format_error;
use crate::error::Result;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// API credentials. `company_pass` and `company_hashcode` are secrets; the hash code is never
/// sent, only used to compute and verify hashes.
#[derive(Clone)]
pub struct Credentials {
    pub(super) company_id: String,
    pub(super) company_pass: SecretString,
    pub(super) company_mid_id: Option<String>,
    pub(super) hashcode: SecretString,
}

impl Credentials {
    /// Validates and builds credentials: `company_id` 1–11 digits, `company_pass` 10–30
    /// characters `[0-9a-zA-Z]`, `company_mid_id` 1–11 digits when given, hash code 1–30
    /// characters `[a-zA-Z0-9_]` ([Acquired API reference](https://developer.acquired.com/integrations/api)).
    pub fn new(
        company_id: impl Into<String>,
        company_pass: SecretString,
        company_mid_id: Option<String>,
        hashcode: SecretString,
    ) -> Result<Self> {
        let company_id = company_id.into();
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(&company_id, 11) {
            return Err(format_error("company_id", "1 to 11 digits"));
        }
        let pass = company_pass.expose_secret();
        if !(10..=30).contains(&pass.len()) || !pass.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format_error(
                "company_pass",
                "10 to 30 characters [0-9a-zA-Z]",
            ));
        }
        let company_mid_id = company_mid_id.filter(|m| !m.is_empty());
        if let Some(mid) = &company_mid_id {
            if !digits(mid, 11) {
                return Err(format_error("company_mid_id", "1 to 11 digits"));
            }
        }
        let code = hashcode.expose_secret();
        if code.is_empty()
            || code.len() > 30
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format_error(
                "company_hashcode",
                "1 to 30 characters [a-zA-Z0-9_]",
            ));
        }
        Ok(Credentials {
            company_id,
            company_pass,
            company_mid_id,
            hashcode,
        })
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        &self.company_id
    }

    /// The hash code, for verifying webhooks outside a client.
    pub fn hashcode(&self) -> &SecretString {
        &self.hashcode
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("company_id", &self.company_id)
            .field("company_pass", &"[REDACTED]")
            .field("company_mid_id", &self.company_mid_id)
            .field("company_hashcode", &"[REDACTED]")
            .finish()
    }
}
