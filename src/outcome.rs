//! One vocabulary for what an account updater said about a card (shared by every provider).
//!
//! Every provider's status is mapped onto [`Outcome`], and the raw provider code is always kept
//! beside it in [`CardUpdate::raw_code`], so nothing the provider said is lost in translation.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::card::{CardBrand, CardNumber, Expiry};
use crate::ids::ProviderId;

/// What the updater found for one card.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A new account number (or a new token standing for one), maybe with a new expiry and a new
    /// brand. Network codes: Visa A, Mastercard R/B.
    NewAccountNumber,
    /// Same account number, new expiry. Network codes: Visa E, Mastercard E.
    NewExpiry,
    /// The account is closed: stop charging it. Network codes: Visa C, Mastercard C.
    Closed,
    /// The issuer asks the merchant to contact the cardholder. Network code: Visa Q.
    ContactCardholder,
    /// The card on file is valid as it is. Network code: Visa V.
    Valid,
    /// The updater found no change.
    NoChange,
    /// The issuer does not take part or the account was not found. Network code: Visa P.
    NoMatch,
    /// A status this crate does not know; the raw value is kept.
    Unknown(String),
}

impl Outcome {
    /// `true` when the stored card data should be replaced (new number or new expiry).
    pub fn has_new_card_data(&self) -> bool {
        matches!(self, Outcome::NewAccountNumber | Outcome::NewExpiry)
    }

    /// `true` when the card should no longer be charged as stored.
    pub fn requires_action(&self) -> bool {
        matches!(
            self,
            Outcome::NewAccountNumber
                | Outcome::NewExpiry
                | Outcome::Closed
                | Outcome::ContactCardholder
        )
    }

    /// A stable snake_case name (`new_account_number`, `closed`, …; `unknown` for the rest).
    pub fn as_str(&self) -> &str {
        match self {
            Outcome::NewAccountNumber => "new_account_number",
            Outcome::NewExpiry => "new_expiry",
            Outcome::Closed => "closed",
            Outcome::ContactCardholder => "contact_cardholder",
            Outcome::Valid => "valid",
            Outcome::NoChange => "no_change",
            Outcome::NoMatch => "no_match",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Unknown(raw) => write!(f, "unknown({raw})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One card's result, the same shape whatever the provider.
///
/// `Debug` is safe: card numbers inside are [`CardNumber`]s, which print masked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CardUpdate {
    /// Which provider produced it.
    pub provider: ProviderId,
    /// The caller's identifier for the card, as submitted, when the crate knows it: the
    /// provider echoes it (CardSync `id`), or [`crate::provider::SubmissionReceipt::join_card_ids`]
    /// filled it in from the receipt of the submission. `None` otherwise, never a provider's
    /// reference: that is in [`CardUpdate::card_ref`]. The same meaning for every provider, so
    /// a caller never mistakes a provider reference for one of its own ids.
    pub card_id: Option<String>,
    /// The provider's reference for the card (PayConex record `cssr_…`, Acquired token), when it
    /// has one: what a receipt's [`crate::provider::PlacedCard::provider_ref`] holds, and what
    /// joins the update back to the caller's id.
    pub card_ref: Option<String>,
    /// What the updater found.
    pub outcome: Outcome,
    /// The provider's own status or code, verbatim.
    pub raw_code: String,
    /// The card as it was on file, when the provider echoes it.
    pub previous_card: Option<CardNumber>,
    /// The card on file before, as a token, when the provider works with tokens.
    pub previous_token: Option<String>,
    /// The previous expiry, when known.
    pub previous_expiry: Option<Expiry>,
    /// The new card number, when the provider returns it in clear (PayConex `pan` format,
    /// CardSync results).
    pub new_card: Option<CardNumber>,
    /// The new token, when the provider returns one instead of a number.
    pub new_token: Option<String>,
    /// The new expiry, when there is one.
    pub new_expiry: Option<Expiry>,
    /// The new card's brand, when the number changed (the brand may change: MC → Visa).
    pub new_brand: Option<CardBrand>,
    /// Provider reference of this result (PayConex update `id`, CardSync `event_id`, …).
    pub provider_ref: Option<String>,
    /// When the provider recorded the update.
    pub updated_at: Option<DateTime<Utc>>,
}

impl CardUpdate {
    /// A result with only the required parts; the optional ones (the caller's id among them)
    /// are set by the provider mappers.
    pub fn new(provider: ProviderId, outcome: Outcome, raw_code: impl Into<String>) -> Self {
        CardUpdate {
            provider,
            card_id: None,
            card_ref: None,
            outcome,
            raw_code: raw_code.into(),
            previous_card: None,
            previous_token: None,
            previous_expiry: None,
            new_card: None,
            new_token: None,
            new_expiry: None,
            new_brand: None,
            provider_ref: None,
            updated_at: None,
        }
    }

    /// The card to show in a report, masked: the new number if any, else the previous one.
    pub fn masked_card(&self) -> Option<String> {
        self.new_card
            .as_ref()
            .or(self.previous_card.as_ref())
            .map(CardNumber::masked)
    }
}
