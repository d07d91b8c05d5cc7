//! The native Acme client: one way to send any of its [`operations`](super::operations).

use std::sync::Arc;

use account_updater::transport::{CallOptions, Operation, Transport, TransportConfig};
use account_updater::{Result, SecretString};
use url::Url;

use super::ACME;
use super::auth::ApiKey;

/// The Acme client.
#[derive(Debug, Clone)]
pub struct AcmeClient {
    pub(super) transport: Transport,
}

impl AcmeClient {
    /// A client for `base_url` with `api_key`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](account_updater::Error::InvalidInput) for a plain-HTTP URL that
    /// is not loopback.
    pub fn new(base_url: Url, api_key: SecretString, config: TransportConfig) -> Result<Self> {
        let transport = Transport::new(ACME, base_url, Arc::new(ApiKey(api_key)), config)?;
        Ok(AcmeClient { transport })
    }

    /// Sends one operation and maps its answer.
    ///
    /// # Errors
    ///
    /// The operation's input error (nothing sent), the transport's failures, or Acme's answer
    /// mapped by `response.rs`.
    pub async fn execute<O: Operation<Self> + Sync>(&self, operation: &O) -> Result<O::Output> {
        self.transport
            .execute(self, operation, &CallOptions::default())
            .await
    }
}
