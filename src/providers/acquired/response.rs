//! Acquired's error mapping, in one place: the response codes with a published meaning, the
//! codes that mean the credentials were refused, and how an answer becomes a success, a
//! pending inquiry or the typed error.

use super::PROVIDER;
use super::client::Answer;
use super::wire::Response;
use crate::error::{Error, ProviderError, Result};
use crate::transport::ApiResponse;

/// Response codes that mean the credentials were refused: 103 (invalid or inactive MID info,
/// which Acquired answers to a wrong company id or password) and 107 (incorrect hash string: a
/// wrong hash code).
const CREDENTIAL_CODES: [&str; 2] = ["103", "107"];

/// Acquired's response codes with a published meaning ([Acquired API reference](https://developer.acquired.com/integrations/api), "Response
/// codes"; partial).
pub fn response_code_meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "1" => "Transaction Success",
        "11" => "Pending: final outcome by webhook",
        "101" => "Declined",
        "102" => "Error:Invalid Parameters",
        "103" => "Error:Invalid or Inactive MID Info",
        "104" => "Error:Invalid or Unsupported Transaction Type",
        "105" => "Error:Invalid or Unsupported Currency",
        "106" => "Error:Invalid or Unsupported Card Type",
        "107" => "Error:Incorrect Hash String",
        "204" => "Error:Invalid or Expired cardexp",
        "325" => "Declined:Card Expired",
        "402" => "Declined:Lost or Stolen Card",
        "501" => "Pending:Card Enrolled",
        "502" => "Pending:Card Not Enrolled",
        _ => return None,
    })
}

/// Maps an answer, in one place: an HTTP error status is the unified status error; a
/// `response_code` of `1` (success) or `11` (pending) must carry a valid `response_hash`
/// (`verify`, the client's check with its hash code) before anything in it is acted upon; any
/// other code is the typed refusal (credentials refused for [`CREDENTIAL_CODES`]), with the
/// published meaning when the answer has no message, marked unverified when its hash does not
/// verify.
pub(super) fn decode_response(
    response: &ApiResponse,
    verify: impl FnOnce(&Response) -> Result<()>,
) -> Result<Answer> {
    if !response.is_success() {
        return Err(response.status_error(ProviderError::status(response.status.as_u16())));
    }
    let parsed: Response = response.json()?;
    let verified = verify(&parsed);
    let code = parsed.response_code.clone().unwrap_or_default();
    match code.as_str() {
        // A success is acted upon, so it must verify.
        "1" => verified.map(|()| Answer::Success(parsed)),
        "11" => verified.map(|()| Answer::Pending(parsed)),
        // A failure is never acted upon, so one that does not verify is still reported as
        // what it says (marked unverified): a gateway answering bad credentials may not know
        // which hash code to sign with, and "integrity check failed" would hide the cause.
        _ => {
            let message = parsed
                .response_message
                .clone()
                .or_else(|| response_code_meaning(&code).map(str::to_owned));
            let message = match (&verified, message) {
                (Ok(()), m) => m,
                (Err(_), Some(m)) => Some(format!("{m} (unverified: no valid response_hash)")),
                (Err(_), None) => Some("unverified: no valid response_hash".to_owned()),
            };
            let credentials_refused = CREDENTIAL_CODES.contains(&code.as_str());
            let mut detail = ProviderError::status(response.status.as_u16()).with_code(code);
            if let Some(m) = message {
                detail = detail.with_message(m);
            }
            if let Some(b) = parsed.bank_response_code.filter(|b| !b.is_empty()) {
                detail = detail.with_issuer_code(b);
            }
            if let Some(t) = parsed.transaction_id.filter(|t| !t.is_empty()) {
                detail = detail.with_trace_id(t);
            }
            Err(Error::refusal(PROVIDER, credentials_refused, detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn answer(body: &str) -> ApiResponse {
        ApiResponse::answered(PROVIDER, 200, body)
    }

    /// A `verify` that refuses, as a wrong hash code would.
    fn unverified(_: &Response) -> Result<()> {
        Err(Error::Integrity {
            provider: PROVIDER,
            what: "response_hash does not match".into(),
        })
    }

    const DOCUMENTED: &str = include_str!("../../../tests/fixtures/acquired/disable_response.json");

    /// A documented success is a success only when its hash verifies.
    #[test]
    fn a_success_must_verify() {
        assert!(matches!(
            decode_response(&answer(DOCUMENTED), |_| Ok(())),
            Ok(Answer::Success(_))
        ));
        let refused = decode_response(&answer(DOCUMENTED), unverified)
        .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Integrity);
    }

    /// A refused credential (103) is an auth error with the published meaning; an unverified
    /// failure says so instead of hiding its cause.
    #[test]
    fn refusals_carry_their_code_and_meaning() {
        let body = DOCUMENTED
            .replace(r#""response_code":"1""#, r#""response_code":"103""#)
            .replace(
                r#""response_message":"Transaction Success""#,
                r#""response_message":"""#,
            );
        let body = body.replace(r#""response_message":"","#, "");
        let error = decode_response(&answer(&body), unverified)
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Auth);
        let detail = error.provider_detail().unwrap();
        assert_eq!(detail.code.as_deref(), Some("103"));
        assert_eq!(
            detail.message.as_deref(),
            Some("Error:Invalid or Inactive MID Info (unverified: no valid response_hash)")
        );
    }
}
