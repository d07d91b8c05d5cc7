//! Endpoints as values: an [`Operation`] knows its endpoint, builds its request and maps its
//! answer; [`Transport::execute`] sends any of them, with [`CallOptions`] for one call.
//!
//! Splitting the three steps is what makes the vendor rules testable without a server: a
//! request body is checked by calling [`Operation::build_request`], and an answer's mapping by
//! calling [`Operation::map_response`] on a response built from the vendor document's example.
//! Each endpoint method of the vendor clients is one `execute` of one operation value
//! (validation in the vendor's `validate.rs`, error mapping in its `response.rs`).

use std::time::Duration;

use super::{ApiRequest, ApiResponse, RetryPolicy, Transport};
use crate::error::Result;

/// One call to one vendor endpoint, as a value. `C` is the client whose identity fills the
/// request (an account id in the path, credentials hashed into the body) and checks the answer
/// (Acquired's response hash): an operation can only be executed by the client it is for.
///
/// Building validates everything the vendor documents about the input, so an
/// [`Error::InvalidInput`](crate::Error::InvalidInput) from [`Operation::build_request`] means
/// nothing was sent.
pub trait Operation<C: ?Sized> {
    /// What a successful answer decodes into.
    type Output;

    /// Checks the input and builds the request: path, query, body.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field a vendor rule
    /// refuses; nothing has been sent.
    fn build_request(&self, client: &C) -> Result<ApiRequest>;

    /// Maps the provider's answer, whatever its status, onto the output or the unified error.
    ///
    /// # Errors
    ///
    /// The vendor's error mapping (its `response.rs`): a refusal, an authentication failure, an
    /// answer that does not decode or does not verify.
    fn map_response(&self, client: &C, response: ApiResponse) -> Result<Self::Output>;
}

/// Overrides for one call: a longer timeout for a large results download, no retries for a
/// caller that retries itself. Anything unset is the client's
/// [`TransportConfig`](super::TransportConfig).
///
/// ```
/// use account_updater::transport::{CallOptions, RetryPolicy};
/// use std::time::Duration;
///
/// let options = CallOptions::default()
///     .timeout(Duration::from_secs(120))
///     .retry(RetryPolicy::none());
/// assert_eq!(options.timeout_override(), Some(Duration::from_secs(120)));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

impl CallOptions {
    /// The timeout of each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The retry policy of this call. Whatever it says, a request that is not idempotent is
    /// only repeated when it certainly was not sent.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The timeout this call overrides, if any.
    pub fn timeout_override(&self) -> Option<Duration> {
        self.timeout
    }

    /// The retry policy this call overrides, if any.
    pub fn retry_override(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }
}

impl Transport {
    /// Builds `operation`'s request for `client`, sends it (retrying where safe, as
    /// [`Transport::send`]) and maps the answer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) from building (nothing sent); the
    /// failures of [`Transport::send`], each with its
    /// [`Delivery`](crate::error::Delivery); whatever the operation's mapping makes of the
    /// answer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may leave the request delivered (the provider
    /// may have acted) with the answer lost, exactly as a timeout after sending would.
    pub async fn execute<C, O>(
        &self,
        client: &C,
        operation: &O,
        options: &CallOptions,
    ) -> Result<O::Output>
    where
        C: ?Sized + Sync,
        O: Operation<C> + Sync + ?Sized,
    {
        let request = operation.build_request(client)?;
        let response = self.send_with(request, options).await?;
        operation.map_response(client, response)
    }
}
