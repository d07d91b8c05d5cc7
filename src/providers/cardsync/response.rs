//! CardSync's error mapping, in one place: its answers are a `{status, message|msg, data}`
//! envelope whose `status` says failure even under HTTP 200, and some documented answers have
//! no envelope at all; results bodies are checked the same way before they are indexed.

use super::wire::Envelope;
use super::{CompactResults, PROVIDER};
use crate::error::{Error, ProviderError, Result};
use crate::transport::ApiResponse;
use serde::de::DeserializeOwned;

/// Decodes CardSync's `{status, message, data}` envelope; a failed status, or an error HTTP
/// status, is the typed error.
pub(super) fn decode_response<T: DeserializeOwned>(response: &ApiResponse) -> Result<Envelope<T>> {
    let envelope = response.json::<Envelope<T>>();
    let failure = |status: &str, message: Option<&str>| {
        let mut detail = ProviderError::status(response.status.as_u16());
        if !status.is_empty() {
            detail = detail.with_code(status);
        }
        if let Some(m) = message {
            detail = detail.with_message(m);
        }
        detail
    };
    if !response.is_success() {
        let detail = match &envelope {
            Ok(e) => failure(&e.status, e.message.as_deref()),
            Err(_) => failure("", None),
        };
        return Err(response.status_error(detail));
    }
    let envelope = envelope?;
    if envelope.status != "success" {
        let detail = failure(
            if envelope.status.is_empty() {
                "missing status"
            } else {
                &envelope.status
            },
            envelope.message.as_deref(),
        );
        let unauthorized = envelope.message.as_deref() == Some("unauthorized");
        return Err(Error::refusal(PROVIDER, unauthorized, detail));
    }
    Ok(envelope)
}

/// `true` for a 2xx whose body is not CardSync's envelope: empty, or JSON without a top-level
/// `status` (the documents give no response for subscribe, unsubscribe or, in one example,
/// create-batch, so such an answer is success). A body that is an envelope is judged by its
/// `status` as always, and one that is not JSON at all (an HTML page from a proxy) is not taken
/// for a success: it is a decode error, which says the request may have reached CardSync.
pub(super) fn succeeded_without_envelope(response: &ApiResponse) -> bool {
    #[derive(serde::Deserialize)]
    struct StatusProbe {
        status: Option<serde::de::IgnoredAny>,
    }
    if !response.is_success() {
        return false;
    }
    match response.body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(b'{') => {
            serde_json::from_slice::<StatusProbe>(&response.body).is_ok_and(|p| p.status.is_none())
        }
        Some(_) => serde_json::from_slice::<serde::de::IgnoredAny>(&response.body).is_ok(),
    }
}

/// A request whose answer carries nothing the client needs: success on a 2xx with no envelope
/// ([`succeeded_without_envelope`]) or an envelope that says success.
pub(super) fn acknowledged(response: &ApiResponse) -> Result<()> {
    if succeeded_without_envelope(response) {
        return Ok(());
    }
    decode_response::<serde::de::IgnoredAny>(response).map(drop)
}

/// A results answer checked as every answer is (HTTP status, the body's `status`), then
/// indexed in place.
pub(super) fn compact_results(response: ApiResponse) -> Result<CompactResults> {
    decode_response::<serde::de::IgnoredAny>(&response)?;
    CompactResults::parse(response.body)
}

pub(super) fn compact_results_from(status: u16, body: Vec<u8>) -> Result<CompactResults> {
    let status = reqwest::StatusCode::from_u16(status)
        .map_err(|_| Error::decode(PROVIDER, status, "not an HTTP status", b""))?;
    compact_results(ApiResponse::new(PROVIDER, status, body))
}

pub(super) fn require_data<T>(envelope: Envelope<T>, what: &str, body_hint: &[u8]) -> Result<T> {
    envelope.data.ok_or_else(|| {
        Error::decode(
            PROVIDER,
            200,
            format!("{what} response has no data"),
            body_hint,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn answer(status: u16, body: &str) -> ApiResponse {
        ApiResponse::answered(PROVIDER, status, body)
    }

    /// The reference's failure under HTTP 200 (`{"status":"failure","msg":…}`) is an error
    /// carrying the status as its code; `unauthorized` is an auth error.
    #[test]
    fn a_failure_envelope_under_200_is_the_typed_error() {
        let body = include_str!("../../../tests/fixtures/cardsync/error_200_invalid_id.json");
        let error = decode_response::<serde::de::IgnoredAny>(&answer(200, body)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Provider);
        let detail = error.provider_detail().unwrap();
        assert_eq!(detail.code.as_deref(), Some("failure"));
        assert_eq!(detail.message.as_deref(), Some("failure"));
        let body = include_str!("../../../tests/fixtures/cardsync/error_401_unauthorized.json");
        let error = decode_response::<serde::de::IgnoredAny>(&answer(401, body)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Auth);
    }

    /// The documented batch answer decodes; an empty 2xx (no envelope, as the documents show
    /// for subscribe) is acknowledged, an HTML page from a proxy is not.
    #[test]
    fn successes_with_and_without_an_envelope() {
        let body = include_str!("../../../tests/fixtures/cardsync/batch_create_response.json");
        let envelope = decode_response::<serde::de::IgnoredAny>(&answer(200, body)).unwrap();
        assert_eq!(envelope.status, "success");
        assert!(acknowledged(&answer(200, "")).is_ok());
        assert!(acknowledged(&answer(200, "<html>gateway</html>")).is_err());
    }
}
