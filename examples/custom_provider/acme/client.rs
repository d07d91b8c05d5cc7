//! The native Acme client: its endpoints, each declared once, and one way to send.

use std::sync::Arc;

use account_updater::transport::{Endpoint, Method, Transport, TransportConfig};
use account_updater::{Result, SecretString};
use serde::Deserialize;
use url::Url;

use super::ACME;
use super::auth::ApiKey;
use super::response::decode_response;

pub(super) const CREATE_INQUIRY: Endpoint<0> = Endpoint::new(Method::POST, "/v1/inquiries");
pub(super) const INQUIRY: Endpoint<1> = Endpoint::new(Method::GET, "/v1/inquiries/{inquiryId}");
pub(super) const RESULTS: Endpoint<1> =
    Endpoint::new(Method::GET, "/v1/inquiries/{inquiryId}/results");

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
    /// [`Error::InvalidInput`] for a plain-HTTP URL that is not loopback.
    pub fn new(base_url: Url, api_key: SecretString, config: TransportConfig) -> Result<Self> {
        let transport = Transport::new(ACME, base_url, Arc::new(ApiKey(api_key)), config)?;
        Ok(AcmeClient { transport })
    }

    pub(super) async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: account_updater::transport::ApiRequest,
    ) -> Result<T> {
        let response = self.transport.send(request).await?;
        decode_response(&response)
    }
}
