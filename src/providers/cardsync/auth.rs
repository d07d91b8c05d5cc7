//! CardSync authentication: the API key travels bare in `Authorization`, with no scheme
//! (CardSync Universal Account Updater API v2 docs, "Authentication").

use crate::error::Result;
use crate::transport::{AUTHORIZATION, SignableRequest, Signer, sensitive_header};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Sends the bare key as `Authorization` (no `Bearer`, CardSync v2 docs).
#[derive(Clone)]
pub struct ApiKeySigner {
    key: SecretString,
}

impl ApiKeySigner {
    /// A signer for `key`.
    pub fn new(key: SecretString) -> Self {
        ApiKeySigner { key }
    }
}

impl fmt::Debug for ApiKeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySigner([REDACTED])")
    }
}

impl Signer for ApiKeySigner {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        request
            .headers
            .insert(AUTHORIZATION, sensitive_header(self.key.expose_secret())?);
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.key.clone()]
    }
}
