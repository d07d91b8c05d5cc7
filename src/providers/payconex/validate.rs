//! PayConex's input rules, checked before any request: token and card formats, non-empty
//! record lists, period settings, ShieldConex records (the PayConex v4 reference's schemas).

use super::wire::{PeriodDate, PeriodId, ShieldconexRecord};
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
