//! Acquired's input rules, checked before any request ([Acquired's API reference](https://developer.acquired.com/integrations/api): field formats).

use crate::error::{Error, InputProblem, Result};

pub(super) fn format_error(field: &str, expected: &str) -> Error {
    Error::invalid(
        field,
        InputProblem::Format {
            expected: expected.into(),
        },
    )
}

pub(super) fn check_order_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 50
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format_error(
            "merchant_order_id",
            "1 to 50 characters [A-Za-z0-9_-]",
        ));
    }
    Ok(())
}

pub(super) fn check_token(field: &str, token: &str) -> Result<()> {
    if token.is_empty() || token.len() > 10 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format_error(
            field,
            "an INIT transaction_id of 1 to 10 digits",
        ));
    }
    Ok(())
}
