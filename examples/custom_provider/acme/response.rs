//! Acme's error mapping, in one place.

use account_updater::error::ProviderError;
use account_updater::transport::ApiResponse;
use account_updater::{Error, Result};
use serde::Deserialize;

use super::ACME;

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

/// Acme's one error mapping: a non-2xx status by the unified table, a 2xx whose body holds
/// `error` as a refusal, anything unreadable as a decode error.
pub(super) fn decode_response<T: for<'de> Deserialize<'de>>(response: &ApiResponse) -> Result<T> {
    let detail = |e: Option<ErrorDetail>| {
        let mut d = ProviderError::status(response.status.as_u16());
        if let Some(e) = e {
            if let Some(c) = e.code {
                d = d.with_code(c);
            }
            if let Some(m) = e.message {
                d = d.with_message(m);
            }
        }
        d
    };
    if !response.is_success() {
        let body = serde_json::from_slice::<ErrorBody>(&response.body).ok();
        return Err(response.status_error(detail(body.and_then(|b| b.error))));
    }
    if let Ok(ErrorBody { error: Some(e) }) = serde_json::from_slice::<ErrorBody>(&response.body) {
        let unauthorized = e.code.as_deref() == Some("unauthorized");
        return Err(Error::refusal(ACME, unauthorized, detail(Some(e))));
    }
    response.json()
}
