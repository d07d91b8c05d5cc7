//! Acme's input rules, checked before any request.

use account_updater::provider::{CardSource, CardToUpdate};
use account_updater::{CardNumber, Error, Expiry, Result};

/// A card Acme can inquire about: a card number with its expiry (Acme takes no tokens).
pub(super) fn card_for_inquiry(card: &CardToUpdate) -> Result<(&CardNumber, Expiry)> {
    let CardSource::Pan(pan) = &card.source else {
        return Err(Error::invalid(
            format!("cards[id={}].card", card.id),
            account_updater::error::InputProblem::NotAllowed {
                reason: "Acme takes card numbers, not tokens".into(),
            },
        ));
    };
    let expiry = card.expiry.ok_or_else(|| {
        Error::invalid(
            format!("cards[id={}].expiry", card.id),
            account_updater::error::InputProblem::Missing,
        )
    })?;
    Ok((pan, expiry))
}
