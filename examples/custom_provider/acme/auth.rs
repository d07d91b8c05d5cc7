//! Acme's credentials and how a request is authorised: the API key in `X-Api-Key`.

use account_updater::transport::{SignableRequest, Signer};
use account_updater::{Error, ExposeSecret, Result, SecretString};

/// Acme's authentication: the key in `X-Api-Key`, marked sensitive, and overwritten in any
/// response body that echoes it.
#[derive(Debug)]
pub(super) struct ApiKey(pub(super) SecretString);

impl Signer for ApiKey {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let mut value =
            reqwest::header::HeaderValue::from_str(self.0.expose_secret()).map_err(|_| {
                Error::invalid("api_key", account_updater::error::InputProblem::Missing)
            })?;
        value.set_sensitive(true);
        request.headers.insert("x-api-key", value);
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.0.clone()]
    }
}
