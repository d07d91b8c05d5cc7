//! AccountVault's error mapping, in one place: 200 and 207 succeed, 409 is a conflict naming
//! the duplicate accounts, anything else the unified status mapping with `EC` and `EM`; the
//! body's `SC` echoes the HTTP status and is kept in each decoded answer.

use super::PROVIDER;
use super::wire::{Account, AccountRef, Created, Key, Status};
use crate::error::{Error, ProviderError, Result};
use crate::transport::ApiResponse;
use serde::de::DeserializeOwned;

/// Maps a response: 200 and 207 succeed (207 with its [`Warning`]), 409 is
/// [`Error::Conflict`] with `duplicateAccountIDs`, everything else the unified status mapping
/// with `EC` as the code and `EM` as the message.
pub(super) fn decode_response<T: DeserializeOwned>(response: &ApiResponse) -> Result<T> {
    let body: Status = serde_json::from_slice(&response.body).unwrap_or_default();
    // `SC` echoes the HTTP status; a 2xx whose body says otherwise is treated by its `SC`.
    let status = match body.sc {
        Some(sc) if response.is_success() && sc >= 300 => sc,
        _ => response.status.as_u16(),
    };
    if status < 300 {
        return response.json();
    }
    let mut detail = ProviderError::status(response.status.as_u16());
    if let Some(ec) = &body.ec {
        detail = detail.with_code(ec.clone());
    }
    if let Some(em) = &body.em {
        detail = detail.with_message(em).with_field(em.clone());
    }
    if status == 409 {
        return Err(Error::Conflict {
            provider: PROVIDER,
            duplicates: body.duplicate_account_ids,
            detail: Box::new(detail),
        });
    }
    Err(Error::from_status(
        PROVIDER,
        status,
        response.retry_after(),
        detail,
    ))
}

/// A DELETE's answer: as [`decode_with_status`], except that a 404/410 answering a retry whose first
/// attempt may have deleted the resource is success ([`ApiResponse::gone_after_retry`]), with
/// that status in `SC`.
pub(super) fn decode_delete(response: &ApiResponse) -> Result<Status> {
    if response.gone_after_retry() {
        let mut status: Status = serde_json::from_slice(&response.body).unwrap_or_default();
        status.sc = Some(response.status.as_u16());
        return Ok(status);
    }
    decode_with_status(response)
}

/// Like [`decode_response`], recording the real HTTP status in the body's `SC`.
pub(super) fn decode_with_status<T: DeserializeOwned + HasStatus>(
    response: &ApiResponse,
) -> Result<T> {
    let mut value: T = decode_response(response)?;
    value.status_mut().sc = Some(response.status.as_u16());
    Ok(value)
}

pub(super) trait HasStatus {
    fn status_mut(&mut self) -> &mut Status;
}

impl HasStatus for Status {
    fn status_mut(&mut self) -> &mut Status {
        self
    }
}

macro_rules! has_status {
    ($($t:ty),*) => {$(
        impl HasStatus for $t {
            fn status_mut(&mut self) -> &mut Status {
                &mut self.status
            }
        }
    )*};
}

has_status!(Created, Account, AccountRef, Key);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn answer(status: u16, body: &str) -> ApiResponse {
        ApiResponse::answered(PROVIDER, status, body)
    }

    /// The documented 409 is a conflict naming the duplicate account, with `EC` and `EM`.
    #[test]
    fn the_documented_conflict_names_the_duplicates() {
        let body = include_str!("../../../tests/fixtures/accountvault/conflict_409.json");
        match decode_response::<Status>(&answer(409, body)).unwrap_err() {
            Error::Conflict {
                duplicates, detail, ..
            } => {
                assert_eq!(duplicates, ["ih0V8HSE2S6gAUqCkG29uw"]);
                assert_eq!(detail.code.as_deref(), Some("3C463000"));
                assert_eq!(detail.message.as_deref(), Some("Duplicate"));
            }
            other => panic!("not a conflict: {other:?}"),
        }
    }

    /// A 2xx whose `SC` says otherwise is judged by its `SC`; a decoded answer keeps the real
    /// HTTP status in `SC` (207 with its warning).
    #[test]
    fn sc_decides_and_is_kept() {
        let error = decode_response::<Status>(&answer(200, r#"{"SC":421,"EC":"X","EM":"no"}"#))
            .unwrap_err();
        assert_ne!(error.kind(), ErrorKind::Decode);
        assert_eq!(error.provider_detail().unwrap().code.as_deref(), Some("X"));
        let body = include_str!("../../../tests/fixtures/accountvault/update_response_207.json");
        let status: Status = decode_with_status(&answer(207, body)).unwrap();
        assert_eq!(status.sc, Some(207));
    }
}
