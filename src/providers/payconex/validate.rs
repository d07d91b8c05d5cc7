//! PayConex's input rules, checked before any request: token and card formats, non-empty
//! record lists, period settings, ShieldConex records (the PayConex v4 reference's schemas).

use super::wire::{PeriodDate, PeriodId, ShieldconexRecord, SubscriptionPatch};
use super::{AuthMethod, PRODUCTION_HOST};
use crate::card::CardNumber;
use crate::error::{Error, InputProblem, Result};

pub(super) fn check_token(field: &str, token: &str) -> Result<()> {
    if token.is_empty() || token.len() > 12 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            field,
            InputProblem::Format {
                expected: "a PayConex transaction id of 1 to 12 digits".into(),
            },
        ));
    }
    Ok(())
}

pub(super) fn check_pan(field: &str, pan: &CardNumber) -> Result<()> {
    if pan.len() < 13 {
        return Err(Error::invalid(
            field,
            InputProblem::Format {
                expected: "a card number of 13 to 19 digits".into(),
            },
        ));
    }
    Ok(())
}

pub(super) fn check_not_empty<T>(field: &str, items: &[T]) -> Result<()> {
    if items.is_empty() {
        return Err(Error::invalid(field, InputProblem::Empty));
    }
    Ok(())
}

pub(super) fn check_period(period_id: &PeriodId, period_date: Option<PeriodDate>) -> Result<()> {
    if period_id.requires_period_date() && period_date.is_none() {
        return Err(Error::invalid("periodDate", InputProblem::Missing));
    }
    Ok(())
}

pub(super) fn check_shieldconex(i: usize, t: &ShieldconexRecord) -> Result<()> {
    check_token(&format!("tokens[{i}].token"), &t.token)?;
    if t.bfid.is_empty() || t.bfid.len() > 1024 {
        return Err(Error::invalid(
            format!("tokens[{i}].bfid"),
            InputProblem::Format {
                expected: "a ShieldConex token of 1 to 1024 characters".into(),
            },
        ));
    }
    Ok(())
}

/// A subscription PATCH must change something (every field of `AccountUpdaterSubscriptionRequest`
/// is optional; an empty one would be a request for nothing).
pub(super) fn check_patch(patch: &SubscriptionPatch) -> Result<()> {
    if patch == &SubscriptionPatch::default() {
        return Err(Error::invalid("patch", InputProblem::Empty));
    }
    Ok(())
}

/// The account id: 12 digits (the v4 reference's `accountId`).
pub(super) fn check_account_id(account_id: &str) -> Result<()> {
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "account_id",
            InputProblem::Format {
                expected: "12 digits".into(),
            },
        ));
    }
    Ok(())
}

/// Basic auth is "only available in the certification environment" (PayConex Account Updater
/// v4 authentication): refused against the production host.
pub(super) fn check_auth_for(auth: AuthMethod, base_url: &url::Url) -> Result<()> {
    if auth == AuthMethod::Basic
        && base_url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(PRODUCTION_HOST))
    {
        return Err(Error::invalid(
            "auth",
            InputProblem::NotAllowed {
                reason: "PayConex accepts Basic auth only in certification; production requires HMAC".into(),
            },
        ));
    }
    Ok(())
}
