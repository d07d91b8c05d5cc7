//! Acquired's input rules, checked before any request ([Acquired's API reference](https://developer.acquired.com/integrations/api): field formats).

use secrecy::ExposeSecret;

use super::client::{NewCard, card_type};
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

/// The new card of an UPDATE_BILLING card change: not expired today, of a brand Acquired names
/// (its `card_type`, which this returns), with a security code of 3 or 4 digits if any.
pub(super) fn check_new_card(card: &NewCard) -> Result<&'static str> {
    let today = chrono::Utc::now().date_naive();
    if card.expiry.is_expired_at(today) {
        return Err(Error::invalid(
            "billing.cardexp",
            InputProblem::NotAllowed {
                reason: "the card has expired".into(),
            },
        ));
    }
    let card_type = card_type(card.number.brand()).ok_or_else(|| {
        Error::invalid(
            "billing.cardnumber",
            InputProblem::NotAllowed {
                reason: "unknown card brand".into(),
            },
        )
    })?;
    if let Some(cvv) = &card.cvv {
        let c = cvv.expose_secret();
        if !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format_error("billing.cardcvv", "3 or 4 digits"));
        }
    }
    Ok(card_type)
}

/// `timestamp`: `yyyymmddhhmmss`, 14 digits (the client's clock writes it; a custom clock could
/// write anything).
pub(super) fn check_timestamp(timestamp: &str) -> Result<()> {
    if timestamp.len() != 14 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format_error("timestamp", "14 digits yyyymmddhhmmss"));
    }
    Ok(())
}

/// `currency_code_iso3`: an ISO 4217 alpha-3 code, upper case.
pub(super) fn check_currency(currency: &str) -> Result<()> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format_error("currency", "an ISO 4217 alpha-3 code"));
    }
    Ok(())
}
