//! PayConex's error mapping, in one place: an error status or a 2xx whose body is an
//! `ApiViolation` (the v4 reference's error object) becomes the crate's typed error with the
//! violation's code, message, trace id and offending field.

use super::PROVIDER;
use super::wire::ApiViolation;
use crate::error::{Error, ProviderError, Result};
use crate::transport::ApiResponse;

/// The two keys that make a 2xx body an `ApiViolation`, read without building anything.
#[derive(serde::Deserialize)]
pub(super) struct ViolationProbe {
    #[serde(rename = "errorType")]
    error_type: Option<serde::de::IgnoredAny>,
    #[serde(rename = "errorCode")]
    error_code: Option<serde::de::IgnoredAny>,
}

/// `true` when a 2xx body is an `ApiViolation` object. Only objects are probed (a JSON array,
/// such as the webhook list, would otherwise be read positionally into the probe's fields).
pub(super) fn is_violation(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<ViolationProbe>(body)
            .is_ok_and(|p| p.error_type.is_some() || p.error_code.is_some())
}

/// The response when it is a success; otherwise (an error status, or a 2xx whose body is an
/// `ApiViolation`) the typed error.
pub(super) fn decode_response(response: ApiResponse) -> Result<ApiResponse> {
    if response.is_success() {
        // A 2xx whose body is an ApiViolation is a failure too: the lenient response types
        // would otherwise read it as an empty success. The probe allocates nothing, so the
        // common success path costs one scan of the body and no `serde_json::Value`.
        if is_violation(&response.body) {
            let parsed: ApiViolation = serde_json::from_slice(&response.body).unwrap_or_default();
            return Err(Error::Provider {
                provider: PROVIDER,
                detail: Box::new(violation_detail(response.status.as_u16(), parsed)),
            });
        }
        return Ok(response);
    }
    let violation: ApiViolation = serde_json::from_slice(&response.body).unwrap_or_default();
    Err(response.status_error(violation_detail(response.status.as_u16(), violation)))
}

/// Maps an `ApiViolation` body onto the crate's error detail: `errorCode` (or the fallback
/// `code`), `message`, `traceId`, and the offending field from `details[].source` or `source`.
pub fn violation_detail(status: u16, v: ApiViolation) -> ProviderError {
    let mut detail = ProviderError::status(status);
    if let Some(code) = v.error_code.or(v.code) {
        detail = detail.with_code(code);
    }
    let detail_text = v.details.iter().find_map(|d| d.text().map(str::to_owned));
    let message = match (v.message, detail_text) {
        (Some(m), Some(d)) => Some(format!("{m}: {d}")),
        (m, d) => m.or(d),
    };
    if let Some(m) = message {
        detail = detail.with_message(m);
    }
    if let Some(t) = v.trace_id {
        detail = detail.with_trace_id(t);
    }
    if let Some(field) = v.details.iter().find_map(|d| d.source.clone()).or(v.source) {
        detail = detail.with_field(field);
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn answer(status: u16, body: &str) -> ApiResponse {
        ApiResponse::answered(PROVIDER, status, body)
    }

    /// The reference's 422 example: its code, message with the detail, trace id and field.
    #[test]
    fn a_documented_violation_is_the_typed_error() {
        let body = include_str!("../../../tests/fixtures/payconex/error_422.json");
        let error = decode_response(answer(422, body)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Provider);
        let detail = error.provider_detail().unwrap();
        assert_eq!(detail.code.as_deref(), Some("40001"));
        assert_eq!(
            detail.message.as_deref(),
            Some("Invalid Input: Payload schema violation: property \"random\" is unsupported")
        );
        assert_eq!(detail.field.as_deref(), Some("random"));
    }

    /// A 2xx whose body is a violation is a failure, not an empty success; a 2xx without
    /// one is the answer itself.
    #[test]
    fn a_violation_under_200_fails_and_a_plain_200_passes() {
        let body = include_str!("../../../tests/fixtures/payconex/error_422.json");
        assert!(decode_response(answer(200, body)).is_err());
        let ok = decode_response(answer(200, r#"[{"id":"w1"}]"#)).unwrap();
        assert_eq!(ok.body, br#"[{"id":"w1"}]"#);
    }
}
