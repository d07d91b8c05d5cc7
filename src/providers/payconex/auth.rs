//! PayConex v4 authentication: HMAC ([PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)) and Basic (PayConex Account Updater v4 reference).
//!
//! HMAC, exactly as Bluefin's five published implementations compute it:
//!
//! ```text
//! canonical = METHOD " " PATH "\n" NONCE "\n" TIMESTAMP "\n" "\n" hex(SHA-256(body bytes))
//! response  = hex(HMAC-SHA-256(key = UTF-8 of the API secret, canonical))
//! Authorization: Hmac id="<key id>", nonce="<nonce>", timestamp="<unix s>", response="<hex>"
//! ```
//!
//! The server refuses a nonce reused within 15 minutes and a timestamp older than 15 minutes, so
//! the signer draws a fresh 32-byte random nonce and reads the clock for every attempt.

use crate::providers::common::hex;
use std::fmt;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{Error, InputProblem, Result};
use crate::transport::{AUTHORIZATION, SignableRequest, Signer, sensitive_header};

/// A PayConex API key: its id (`api_…`) and its secret.
#[derive(Clone)]
pub struct Credentials {
    key_id: String,
    secret: SecretString,
}

impl Credentials {
    /// Builds credentials from an API key id and its secret.
    pub fn new(key_id: impl Into<String>, secret: SecretString) -> Self {
        Credentials {
            key_id: key_id.into(),
            secret,
        }
    }

    /// The API key id (not secret).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Which authentication scheme to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HMAC-SHA-256 request signing: the default, and the only scheme production accepts.
    #[default]
    Hmac,
    /// HTTP Basic: certification environment only.
    Basic,
}

impl AuthMethod {
    /// The scheme `PAYCONEX_AUTH` names: `hmac` (also when unset) or `basic`, in any case.
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidInput`] naming the variable when it holds anything else.
    pub fn from_env() -> crate::Result<Self> {
        match std::env::var("PAYCONEX_AUTH")
            .ok()
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("hmac") => Ok(AuthMethod::Hmac),
            Some("basic") => Ok(AuthMethod::Basic),
            Some(_) => Err(crate::Error::invalid(
                "environment variable PAYCONEX_AUTH",
                crate::error::InputProblem::Format {
                    expected: "hmac or basic".into(),
                },
            )),
        }
    }
}

/// The `Basic` header value for a key: `Basic base64("<id>:<secret>")`.
pub fn basic_authorization(credentials: &Credentials) -> String {
    let raw = format!(
        "{}:{}",
        credentials.key_id,
        credentials.secret.expose_secret()
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
    drop(SecretString::from(raw));
    format!("Basic {encoded}")
}

/// Lower-case hex SHA-256 of `body` (of the empty string for GET and DELETE).
pub fn body_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// The string PayConex signs ([PayConex Account Updater v4 reference](https://developers.bluefin.com/payconex/v4/reference/api-endpoint-overview)).
pub fn canonical_request(
    method: &str,
    path: &str,
    nonce: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    format!(
        "{} {}\n{}\n{}\n\n{}",
        method.to_ascii_uppercase(),
        path,
        nonce,
        timestamp,
        body_hash(body)
    )
}

/// The HMAC `response` value: lower-case hex HMAC-SHA-256 of the canonical request, keyed with
/// the API secret's UTF-8 bytes as they are (not hex- or base64-decoded).
pub fn hmac_response(
    credentials: &Credentials,
    method: &str,
    path: &str,
    nonce: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<String> {
    // HMAC takes keys of any length; the error arm exists only because the API is fallible.
    let mut mac = Hmac::<Sha256>::new_from_slice(credentials.secret.expose_secret().as_bytes())
        .map_err(|_| {
            Error::invalid(
                "credentials.secret",
                InputProblem::Format {
                    expected: "an HMAC key".into(),
                },
            )
        })?;
    mac.update(canonical_request(method, path, nonce, timestamp, body).as_bytes());
    Ok(hex(&mac.finalize().into_bytes()))
}

/// The full `Authorization` header value for HMAC, with an explicit nonce and timestamp (the
/// signer supplies fresh ones; tests inject the documented ones).
pub fn hmac_authorization(
    credentials: &Credentials,
    method: &str,
    path: &str,
    nonce: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<String> {
    Ok(format!(
        r#"Hmac id="{}", nonce="{}", timestamp="{}", response="{}""#,
        credentials.key_id,
        nonce,
        timestamp,
        hmac_response(credentials, method, path, nonce, timestamp, body)?
    ))
}

/// A fresh nonce: 32 random bytes as 64 lower-case hex characters, like Bluefin's samples.
pub(crate) fn fresh_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Signs each attempt with HMAC, a fresh nonce and the current time.
#[derive(Debug, Clone)]
pub(crate) struct HmacSigner {
    credentials: Credentials,
}

impl HmacSigner {
    /// A signer for these credentials.
    pub fn new(credentials: Credentials) -> Self {
        HmacSigner { credentials }
    }
}

impl Signer for HmacSigner {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let timestamp = chrono::Utc::now().timestamp().max(0) as u64;
        // PayConex paths carry no query; were one present it would be signed verbatim.
        let path = if request.query.is_empty() {
            std::borrow::Cow::Borrowed(request.path)
        } else {
            std::borrow::Cow::Owned(format!("{}?{}", request.path, request.query))
        };
        let value = hmac_authorization(
            &self.credentials,
            request.method.as_str(),
            &path,
            &fresh_nonce(),
            timestamp,
            request.body,
        )?;
        request
            .headers
            .insert(AUTHORIZATION, sensitive_header(&value)?);
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.credentials.secret.clone()]
    }
}

/// Adds `Authorization: Basic …`.
#[derive(Debug, Clone)]
pub(crate) struct BasicSigner {
    credentials: Credentials,
}

impl BasicSigner {
    /// A signer for these credentials.
    pub fn new(credentials: Credentials) -> Self {
        BasicSigner { credentials }
    }
}

impl Signer for BasicSigner {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let value = basic_authorization(&self.credentials);
        request
            .headers
            .insert(AUTHORIZATION, sensitive_header(&value)?);
        Ok(())
    }

    /// The secret, and the Basic value's base64 part, which carries it.
    fn redactions(&self) -> Vec<SecretString> {
        let value = basic_authorization(&self.credentials);
        let encoded = value.trim_start_matches("Basic ").to_owned();
        vec![self.credentials.secret.clone(), SecretString::from(encoded)]
    }
}

/// The parts of an HMAC `Authorization` header, for servers (the emulator) that verify one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HmacHeader {
    /// The API key id.
    pub id: String,
    /// The nonce.
    pub nonce: String,
    /// Unix seconds.
    pub timestamp: u64,
    /// The hex HMAC.
    pub response: String,
}

impl HmacHeader {
    /// Parses `Hmac id="…", nonce="…", timestamp="…", response="…"` (the timestamp quoted or
    /// not). `None` when it is not that shape.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("Hmac ")?;
        let (mut id, mut nonce, mut timestamp, mut response) = (None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim() {
                "id" => id = Some(v),
                "nonce" => nonce = Some(v),
                "timestamp" => timestamp = v.parse().ok(),
                "response" => response = Some(v),
                _ => return None,
            }
        }
        Some(HmacHeader {
            id: id?,
            nonce: nonce?,
            timestamp: timestamp?,
            response: response?,
        })
    }
}
