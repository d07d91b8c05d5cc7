//! One vocabulary for what an account updater said about a card (shared by every provider).
//!
//! Every provider's status is mapped onto [`Outcome`], and the raw provider code is always kept
//! beside it in [`CardUpdate::raw_code`], so nothing the provider said is lost in translation.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::card::{CardBrand, CardNumber, Expiry, NewNumberProblem};
use crate::ids::ProviderId;

/// What the updater found for one card.
///
/// Each variant says what the networks said, in words a billing engineer can act on, and
/// [`Outcome::action`] says what to do with it in one call. The variants are named after the
/// network answer, not after a vendor's word for it: which vendor code maps to which variant
/// is the published table in [`crate::codes`], and the vendor's code itself is always kept in
/// [`CardUpdate::raw_code`].
///
/// Billing: the networks bill an updater *hit* (Visa A/E/C/Q, Mastercard R/B/E/C);
/// [`Outcome::is_billable`] says which outcomes those are, for a cost preview.
///
/// ```
/// use account_updater::outcome::{Action, Outcome};
///
/// // Mastercard's CONTAC reason means the account is closed, not "contact the cardholder".
/// let closed = Outcome::Closed;
/// assert_eq!(closed.action(), Action::StopCharging);
/// assert!(closed.is_billable());
/// assert!(closed.stops_updates(), "do not pay to submit it again");
///
/// assert_eq!(Outcome::NonParticipating.action(), Action::Nothing);
/// assert!(!Outcome::NonParticipating.is_billable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A new account number (or a new token standing for one), maybe with a new expiry and a
    /// new brand ([`CardUpdate::brand_changed`]). Replace the stored number. Billable. Network
    /// codes: Visa A, Mastercard R (replacement) and B (brand change), Mastercard push A;
    /// vendor word `updated_card`.
    NewAccountNumber,
    /// Same account number, new expiry. Replace the stored expiry. Billable. Network codes:
    /// Visa E, Mastercard E / `EXPIRY`, Mastercard push E; vendor word `updated_expiry`.
    NewExpiry,
    /// The account is closed and there is no replacement: stop charging it and ask the
    /// customer for another card. Billable. Network codes: Visa C, Mastercard C / `CONTAC`
    /// (which means *closed*, not "contact"), Mastercard push C; vendor words `closed`,
    /// `contact_closed`.
    Closed,
    /// The issuer asks the merchant to contact the cardholder; no new data is given. Ask the
    /// customer. Billable. Network code: Visa Q; vendor word `contact`.
    ContactCardholder,
    /// The card on file is valid as it is (a match, no change). Nothing to do; not billable.
    /// Network codes: Visa V, Mastercard V / `VALID`; vendor word `valid`, and CardSync's empty
    /// status ("generally means the card is valid").
    Valid,
    /// The updater found no change (the data sent is the latest it has). Nothing to do; not
    /// billable. Vendor word `no_change`; Real Time VAU `VAU012`.
    NoChange,
    /// The issuer takes part but no match was found for the account. Nothing to do (the card
    /// may still work); not billable. Network codes: Visa P, Mastercard P / `UNKNWN`; vendor
    /// word `no_match`.
    NoMatch,
    /// The issuer (the card's BIN) does not take part in the updater, so no update can come.
    /// Nothing to do; not billable; resubmitting later is harmless (issuers join). Network
    /// codes: Visa N, Mastercard N / `UNKNWN`; Real Time VAU `VAU009`.
    NonParticipating,
    /// The cardholder opted out of updates: none will ever come for this number. The card may
    /// still work; nothing to do; not billable; do not resubmit it. Network codes: Visa O,
    /// Real Time VAU `VAU014`.
    OptedOut,
    /// The issuer, Visa or the cardholder put a stop in place: stop advice on the PAN, a
    /// stop-payment order, or the merchant blocked. Stop charging the card and stop submitting
    /// it; charging on risks disputes. Not billable. Real Time VAU `VAU010`, `VAU011`,
    /// `VAU016`.
    StopUpdates,
    /// The inquiry did not qualify, for the reason given (a token instead of a PAN, a card
    /// not of the network, a transaction type or MCC the service does not take, …). Nothing
    /// to do for the card; fix the request if the reason is yours. Not billable. Real Time
    /// VAU `VAU001`–`VAU008`, `VAU013`, `VAU015`.
    NotEligible {
        /// The network's description of why.
        reason: Cow<'static, str>,
    },
    /// The provider reported an update whose data must **not** be applied: the "new" number
    /// fails its check digit or its brand's length rule. The number is not handed out
    /// ([`CardUpdate::new_card`] stays `None`); keep the card on file and raise it with the
    /// provider. Billable as the hit the network reported.
    InvalidUpdate {
        /// What is wrong with the data.
        problem: NewNumberProblem,
    },
    /// A status this crate does not know; the raw value is kept. Review it.
    Unknown(String),
}

/// What a billing platform should do with a card, given its [`Outcome`]
/// ([`Outcome::action`], [`CardUpdate::action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Replace the stored card number (and the expiry, when a new one came).
    ReplaceNumber,
    /// Replace the stored expiry.
    ReplaceExpiry,
    /// Stop charging the card; ask the customer for another one.
    StopCharging,
    /// Ask the customer for their current card details.
    ContactCustomer,
    /// Nothing: keep the card as stored.
    Nothing,
    /// Do not apply the update: the data the provider sent is unusable.
    DoNotApply,
    /// The crate cannot tell: a person should look at the raw code.
    Review,
}

impl Action {
    /// A stable snake_case name (`replace_number`, `stop_charging`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReplaceNumber => "replace_number",
            Action::ReplaceExpiry => "replace_expiry",
            Action::StopCharging => "stop_charging",
            Action::ContactCustomer => "contact_customer",
            Action::Nothing => "nothing",
            Action::DoNotApply => "do_not_apply",
            Action::Review => "review",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Outcome {
    /// `true` when the stored card data should be replaced (new number or new expiry).
    pub fn has_new_card_data(&self) -> bool {
        matches!(self, Outcome::NewAccountNumber | Outcome::NewExpiry)
    }

    /// `true` when the card should no longer be charged as stored.
    pub fn requires_action(&self) -> bool {
        matches!(
            self.action(),
            Action::ReplaceNumber
                | Action::ReplaceExpiry
                | Action::StopCharging
                | Action::ContactCustomer
        )
    }

    /// What to do with the card, in one call.
    pub fn action(&self) -> Action {
        match self {
            Outcome::NewAccountNumber => Action::ReplaceNumber,
            Outcome::NewExpiry => Action::ReplaceExpiry,
            Outcome::Closed | Outcome::StopUpdates => Action::StopCharging,
            Outcome::ContactCardholder => Action::ContactCustomer,
            Outcome::Valid
            | Outcome::NoChange
            | Outcome::NoMatch
            | Outcome::NonParticipating
            | Outcome::OptedOut
            | Outcome::NotEligible { .. } => Action::Nothing,
            Outcome::InvalidUpdate { .. } => Action::DoNotApply,
            Outcome::Unknown(_) => Action::Review,
        }
    }

    /// `true` for the answers the networks bill as a hit: Visa A/E/C/Q and Mastercard
    /// R/B/E/C (new number, new expiry, closed, contact the cardholder), and an
    /// [`Outcome::InvalidUpdate`], which came from one of those codes. V, P, N, O and the
    /// Real Time VAU failures are not billed.
    pub fn is_billable(&self) -> bool {
        matches!(
            self,
            Outcome::NewAccountNumber
                | Outcome::NewExpiry
                | Outcome::Closed
                | Outcome::ContactCardholder
                | Outcome::InvalidUpdate { .. }
        )
    }

    /// `true` when submitting the same card again can bring no update and may cost a hit: the
    /// account is closed, the cardholder opted out, or a stop is in place. A new card number
    /// for the customer starts afresh.
    pub fn stops_updates(&self) -> bool {
        matches!(
            self,
            Outcome::Closed | Outcome::OptedOut | Outcome::StopUpdates
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
            Outcome::NonParticipating => "non_participating",
            Outcome::OptedOut => "opted_out",
            Outcome::StopUpdates => "stop_updates",
            Outcome::NotEligible { .. } => "not_eligible",
            Outcome::InvalidUpdate { .. } => "invalid_update",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Unknown(raw) => write!(f, "unknown({raw})"),
            Outcome::NotEligible { reason } => write!(f, "not_eligible({reason})"),
            Outcome::InvalidUpdate { problem } => write!(f, "invalid_update({})", problem.as_str()),
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
    /// `true` when the card moved to another brand: the network said so (Mastercard `B`), or
    /// the new number's brand differs from the old one's where both are known (a Visa ↔
    /// Mastercard portfolio move). A platform that routes or prices by brand must re-read it.
    pub brand_changed: bool,
    /// Provider reference of this result (PayConex update `id`; CardSync: the `batch_id` for
    /// a batch's results, however fetched, and the `event_id` for an Amex subscription's).
    pub provider_ref: Option<String>,
    /// When the provider recorded the update.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Per-card results handed out one at a time
/// ([`Provider::fetch_results_iter`](crate::Provider::fetch_results_iter)): each
/// [`CardUpdate`] is built from the provider's compact decoding of the answer as it is asked
/// for, so that a results fetch holds the body and an index of it, not every card as an owned
/// struct beside the body (`cargo bench --bench decode_memory` prints the peak of both forms
/// as multiples of the body's size). Collect it into a `Vec` for the owned form
/// ([`Provider::fetch_results`](crate::Provider::fetch_results) does).
pub struct CardUpdates {
    remaining: usize,
    updates: Box<dyn Iterator<Item = CardUpdate> + Send>,
}

impl CardUpdates {
    /// `len` updates produced by `updates` (which must yield exactly that many).
    pub fn new(len: usize, updates: impl Iterator<Item = CardUpdate> + Send + 'static) -> Self {
        CardUpdates {
            remaining: len,
            updates: Box::new(updates),
        }
    }

    /// Updates already built.
    pub fn from_vec(updates: Vec<CardUpdate>) -> Self {
        CardUpdates::new(updates.len(), updates.into_iter())
    }
}

impl From<Vec<CardUpdate>> for CardUpdates {
    fn from(updates: Vec<CardUpdate>) -> Self {
        CardUpdates::from_vec(updates)
    }
}

impl Iterator for CardUpdates {
    type Item = CardUpdate;

    fn next(&mut self) -> Option<CardUpdate> {
        let next = self.updates.next();
        self.remaining = if next.is_some() {
            self.remaining.saturating_sub(1)
        } else {
            0
        };
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for CardUpdates {}

impl fmt::Debug for CardUpdates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardUpdates")
            .field("remaining", &self.remaining)
            .finish()
    }
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
            brand_changed: false,
            provider_ref: None,
            updated_at: None,
        }
    }

    /// What to do with the card ([`Outcome::action`]).
    pub fn action(&self) -> Action {
        self.outcome.action()
    }

    /// Offers the number the provider returned as the card's new number: a valid one is kept
    /// (with its brand, and [`CardUpdate::brand_changed`] set when it differs from the
    /// previous card's); one that fails its check digit or length rule turns the outcome into
    /// [`Outcome::InvalidUpdate`] and is zeroed, so it is never handed out. Public so that a
    /// provider written outside this crate applies the same rule.
    ///
    /// ```
    /// use account_updater::{CardUpdate, Outcome, ProviderId};
    ///
    /// let mut update = CardUpdate::new(ProviderId::CardSync, Outcome::NewAccountNumber, "updated_card");
    /// update.offer_new_number("4457010000000008".to_owned()); // wrong check digit
    /// assert_eq!(update.outcome.as_str(), "invalid_update");
    /// assert!(update.new_card.is_none());
    /// ```
    pub fn offer_new_number(&mut self, digits: String) {
        self.offer_checked_number(CardNumber::parse_new_number(digits));
    }

    /// [`CardUpdate::offer_new_number`] for a number already checked
    /// ([`CardNumber::parse_new_number`], [`CardNumber::into_new_number`]).
    pub fn offer_checked_number(&mut self, checked: Result<CardNumber, NewNumberProblem>) {
        match checked {
            Ok(card) => {
                let brand = card.brand();
                let before = self.previous_card.as_ref().map(CardNumber::brand);
                if before.is_some_and(|b| b != brand) {
                    self.brand_changed = true;
                }
                self.new_brand = Some(brand);
                self.new_card = Some(card);
            }
            Err(problem) => {
                self.outcome = Outcome::InvalidUpdate { problem };
                self.new_card = None;
                self.new_brand = None;
                self.new_expiry = None;
            }
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
