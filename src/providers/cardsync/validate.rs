//! CardSync's input rules, checked before any request: enrollment fields, and per request
//! at most 10,000 cards, ids present and unique, Visa / Mastercard / Discover in batches, every
//! Amex card with its SE number ([CardSync Universal Account Updater API v2 docs](https://api.cardsync.io/)).

use super::MAX_CARDS_PER_REQUEST;
use super::wire::{Merchant, Webhooks};
use crate::card::{CardBrand, CardNumber};
use crate::error::{Error, InputProblem, Result};
use crate::model::check_card_ids;

pub(super) fn validate_merchant(m: &Merchant) -> Result<()> {
    let required = [
        ("legal_business_name", &m.legal_business_name),
        ("name", &m.name),
        ("description", &m.description),
        ("website", &m.website),
        ("phone", &m.phone),
        ("receipt_email", &m.receipt_email),
        ("timezone", &m.timezone),
        ("fee_schedule_id", &m.fee_schedule_id),
        ("primary_contact.first_name", &m.primary_contact.first_name),
        ("primary_contact.last_name", &m.primary_contact.last_name),
        ("primary_contact.company", &m.primary_contact.company),
        (
            "primary_contact.address_line_1",
            &m.primary_contact.address_line_1,
        ),
        ("primary_contact.city", &m.primary_contact.city),
        ("primary_contact.state", &m.primary_contact.state),
        (
            "primary_contact.postal_code",
            &m.primary_contact.postal_code,
        ),
        ("primary_contact.country", &m.primary_contact.country),
        ("primary_contact.phone", &m.primary_contact.phone),
        ("primary_contact.email", &m.primary_contact.email),
        ("user.username", &m.user.username),
        ("user.email", &m.user.email),
        ("user.status", &m.user.status),
        ("user.role", &m.user.role),
        ("card_info.type_of_biller", &m.card_info.type_of_biller),
        ("card_info.mcc", &m.card_info.mcc),
    ];
    for (field, value) in required {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, InputProblem::Missing));
        }
    }
    let counts = [
        (
            "card_info.total_number_of_records",
            m.card_info.total_number_of_records,
        ),
        ("card_info.number_of_visa", m.card_info.number_of_visa),
        (
            "card_info.number_of_mastercard",
            m.card_info.number_of_mastercard,
        ),
        (
            "card_info.number_of_discover",
            m.card_info.number_of_discover,
        ),
        ("card_info.number_of_amex", m.card_info.number_of_amex),
    ];
    for (field, n) in counts {
        if n < 0 {
            return Err(Error::invalid(
                field,
                InputProblem::Format {
                    expected: "a count of zero or more".into(),
                },
            ));
        }
    }
    Ok(())
}

/// Checks one request's cards: ids present and unique, ≤ 10,000, not empty, every Amex card with
/// an SE number, and (for batches) no Amex at all. Errors name the card id.
pub(super) fn validate_request<'a>(
    cards: impl ExactSizeIterator<Item = (&'a str, &'a CardNumber, Option<&'a str>)> + Clone,
    amex_only: bool,
) -> Result<()> {
    let len = cards.len();
    if len == 0 {
        return Err(Error::invalid("cards", InputProblem::Empty));
    }
    if len > MAX_CARDS_PER_REQUEST {
        return Err(Error::invalid(
            "cards",
            InputProblem::TooMany {
                max: MAX_CARDS_PER_REQUEST,
                got: len,
            },
        ));
    }
    check_card_ids(cards.clone().map(|(id, _, _)| id))?;
    for (id, card, se) in cards {
        check_brand(id, card.brand(), amex_only)?;
        if amex_only && se.is_none_or(str::is_empty) {
            return Err(Error::invalid(
                format!("cards[id={id}].se_number"),
                InputProblem::Missing,
            ));
        }
    }
    Ok(())
}

pub(super) fn check_brand(id: &str, brand: CardBrand, amex_only: bool) -> Result<()> {
    let ok = match brand {
        CardBrand::Amex => amex_only,
        CardBrand::Visa | CardBrand::Mastercard | CardBrand::Discover => !amex_only,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let reason = if amex_only {
        format!(
            "{brand} card: subscriptions are for American Express only; send other brands in a batch"
        )
    } else if brand == CardBrand::Amex {
        "American Express cards cannot go in a batch; subscribe them with their SE number"
            .to_owned()
    } else {
        format!(
            "{brand} card: CardSync updates Visa, Mastercard, Discover and American Express only"
        )
    };
    Err(Error::invalid(
        format!("cards[id={id}].card"),
        InputProblem::NotAllowed { reason },
    ))
}

/// A webhook registration names at least one trigger, each with an absolute URL (CardSync POSTs
/// to it; a relative or placeholder URL, as the v2 example shows, could never be reached).
pub(super) fn validate_webhooks(webhooks: &Webhooks) -> Result<()> {
    if webhooks.webhooks.is_empty() {
        return Err(Error::invalid("webhooks", InputProblem::Empty));
    }
    for (i, w) in webhooks.webhooks.iter().enumerate() {
        if url::Url::parse(&w.url).is_err() {
            return Err(Error::invalid(
                format!("webhooks[{i}].url"),
                InputProblem::Format {
                    expected: "an absolute URL".into(),
                },
            ));
        }
    }
    Ok(())
}
