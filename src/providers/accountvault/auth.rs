//! AccountVault authentication: `Authorization: Bearer <token>` (TabaPay's Account API reference,
//! "Authentication"), the token kept secret and never logged.

use crate::error::Result;
use crate::transport::{AUTHORIZATION, SignableRequest, Signer, sensitive_header};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Sends `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerSigner {
    token: SecretString,
}

impl BearerSigner {
    /// A signer for `token`.
    pub fn new(token: SecretString) -> Self {
        BearerSigner { token }
    }
}

impl fmt::Debug for BearerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerSigner([REDACTED])")
    }
}

impl Signer for BearerSigner {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let value = format!("Bearer {}", self.token.expose_secret());
        request
            .headers
            .insert(AUTHORIZATION, sensitive_header(&value)?);
        drop(SecretString::from(value));
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.token.clone()]
    }
}
