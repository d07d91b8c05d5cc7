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
    if !response.is_success() {
        let detail = match &envelope {
            Ok(e) => failure_detail(response.status.as_u16(), &e.status, e.message.as_deref()),
            Err(_) => failure_detail(response.status.as_u16(), "", None),
        };
        return Err(response.status_error(detail));
    }
    let envelope = envelope?;
    if envelope.status != "success" {
        return Err(refused_envelope(
            response.status.as_u16(),
            &envelope.status,
            envelope.message.as_deref(),
        ));
    }
    Ok(envelope)
}

/// What CardSync said about a failed request: the HTTP status, the envelope's `status` as
/// the code and its message.
fn failure_detail(http: u16, status: &str, message: Option<&str>) -> ProviderError {
    let mut detail = ProviderError::status(http);
    if !status.is_empty() {
        detail = detail.with_code(status);
    }
    if let Some(m) = message {
        detail = detail.with_message(m);
    }
    detail
}

/// The error for a 2xx answer whose envelope's `status` is not `success` (CardSync reports
/// failures under HTTP 200): a refusal, of the credentials when the message says
/// `unauthorized`.
pub(super) fn refused_envelope(http: u16, status: &str, message: Option<&str>) -> Error {
    let detail = failure_detail(
        http,
        if status.is_empty() {
            "missing status"
        } else {
            status
        },
        message,
    );
    Error::refusal(PROVIDER, message == Some("unauthorized"), detail)
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

/// A results answer checked as every answer is (HTTP status, the body's `status`), and
/// indexed in place. A 2xx body is read once: the index reads the envelope's `status` and
/// message on its way to the cards (a results body is the largest answer CardSync gives, and
/// reading it a second time only to check the envelope cost a fifth of its decoding). When the
/// index cannot read it, the error is the one the envelope check gives, if it gives one (a
/// failure envelope with an odd `data`), as when the check came first.
pub(super) fn compact_results(mut response: ApiResponse) -> Result<CompactResults> {
    if !response.is_success() {
        decode_response::<serde::de::IgnoredAny>(&response)?;
    }
    let http = response.status.as_u16();
    let envelope_error = |body: &[u8]| {
        match serde_json::from_slice::<Envelope<serde::de::IgnoredAny>>(body) {
            Err(e) => Some(Error::decode_json(PROVIDER, http, &e, body)),
            Ok(e) if e.status != "success" => {
                Some(refused_envelope(http, &e.status, e.message.as_deref()))
            }
            Ok(_) => None,
        }
    };
    CompactResults::parse(http, std::mem::take(&mut response.body), envelope_error)
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
    use reqwest::StatusCode;

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

    /// A results body is read once, the envelope with the cards: every answer the envelope
    /// check refuses is refused with the very error it gives (failures under 200, a missing
    /// or odd `status`, repeated fields, a body that is not UTF-8), and a success is indexed.
    #[test]
    fn results_read_in_one_pass_are_judged_as_the_envelope_check_judges_them() {
        let refused: [&[u8]; 9] = [
            include_bytes!("../../../tests/fixtures/cardsync/error_200_invalid_id.json"),
            br#"{"status":"failure","message":"unauthorized"}"#,
            br#"{"status":"failure","msg":"try later","data":"not an object"}"#,
            br#"{"status":"failed","data":{"cards":[{"id":"c1","status":"no_change"}]}}"#,
            br#"{"message":"no status","data":{"cards":[]}}"#,
            br#"{"status":"success","status":"success","data":{"cards":[]}}"#,
            br#"{"status":"success","message":"a","msg":"b","data":{"cards":[]}}"#,
            br#"{"status":"success","data":{"cards":[]},"data":{"cards":[]}}"#,
            br#"{"status":1,"data":{"cards":[]}}"#,
        ];
        for body in refused {
            let response = || ApiResponse::new(PROVIDER, StatusCode::OK, body.to_vec());
            let expected = decode_response::<serde::de::IgnoredAny>(&response())
                .map(|_| String::from_utf8_lossy(body).into_owned())
                .expect_err("the envelope check refuses it");
            let Err(got) = compact_results(response()) else {
                panic!("indexed: {}", String::from_utf8_lossy(body));
            };
            assert_eq!(got.to_string(), expected.to_string());
            assert_eq!(got.kind(), expected.kind());
            assert_eq!(
                got.provider_detail().map(|d| (d.code.clone(), d.message.clone())),
                expected
                    .provider_detail()
                    .map(|d| (d.code.clone(), d.message.clone()))
            );
        }
        let ok = br#"{"status":"success","message":null,"data":{"batch_id":"b1","cards":[{"id":"c1","status":"no_change"},{"id":"c2","status":"closed"}]}}"#;
        let results = compact_results(ApiResponse::new(PROVIDER, StatusCode::OK, ok.to_vec()))
            .expect("a success is indexed");
        assert_eq!(results.len(), 2);
        assert_eq!(results.batch_id.as_deref(), Some("b1"));
        // A success envelope whose card is not UTF-8 (the envelope check skips the cards'
        // strings unread) or without data: the envelope is fine, the results are not.
        let not_utf8 = b"{\"status\":\"success\",\"data\":{\"cards\":[{\"id\":\"\xff\"}]}}";
        let error = compact_results(ApiResponse::new(PROVIDER, StatusCode::OK, not_utf8.to_vec()))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode);
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        let error = compact_results(answer(200, r#"{"status":"success"}"#)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode);
        // An error status is judged by the status first, as every answer is.
        let error = compact_results(answer(
            401,
            include_str!("../../../tests/fixtures/cardsync/error_401_unauthorized.json"),
        ))
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Auth);
    }
}
