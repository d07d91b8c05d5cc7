//! What callers hand a provider: cards to update, subscriptions, removals, account updates,
//! webhook registrations.

use std::fmt;

use chrono::NaiveDate;
use secrecy::SecretString;
use url::Url;

use super::receipts::PlacedCard;
use crate::card::{CardNumber, Expiry};
use crate::ids::ProviderId;

/// How the caller holds a card.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardSource {
    /// The card number itself (kept secret by [`CardNumber`]).
    Pan(CardNumber),
    /// A provider token standing for the card (PayConex transaction id, Acquired INIT
    /// `transaction_id`, AccountVault `accountID`), with the provider that issued it: a token
    /// is only meaningful in its issuer's vault, so every provider refuses another's token
    /// ([`InputProblem::ForeignToken`](crate::error::InputProblem::ForeignToken)) and a router
    /// can send it only to its issuer.
    Token {
        /// The provider that issued the token.
        issuer: ProviderId,
        /// The token.
        token: String,
    },
}

impl CardSource {
    /// The token's issuer, for a token.
    pub fn token_issuer(&self) -> Option<ProviderId> {
        match self {
            CardSource::Token { issuer, .. } => Some(*issuer),
            CardSource::Pan(_) => None,
        }
    }
}

impl fmt::Debug for CardSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CardSource::Pan(p) => write!(f, "Pan({p:?})"),
            CardSource::Token { issuer, token } => write!(f, "Token({issuer}: {token:?})"),
        }
    }
}

/// One card submitted for updates, identified by the caller's own `id` (echoed in results and
/// receipts so that every card can be joined back).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CardToUpdate {
    /// The caller's identifier, unique within a request.
    pub id: String,
    /// The card or token.
    pub source: CardSource,
    /// Current expiry on file (required by most providers for PANs).
    pub expiry: Option<Expiry>,
    /// American Express Service Establishment number, required by CardSync for Amex cards.
    pub amex_se_number: Option<String>,
    /// The caller's own tag for the card (a customer group, a region), for routing rules to
    /// match on ([`crate::routing`]); never sent to a provider.
    pub tag: Option<String>,
}

impl CardToUpdate {
    /// A card given by its number and expiry.
    pub fn pan(id: impl Into<String>, number: CardNumber, expiry: Expiry) -> Self {
        CardToUpdate {
            id: id.into(),
            source: CardSource::Pan(number),
            expiry: Some(expiry),
            amex_se_number: None,
            tag: None,
        }
    }

    /// A card given by a provider token.
    pub fn token(id: impl Into<String>, issuer: ProviderId, token: impl Into<String>) -> Self {
        CardToUpdate {
            id: id.into(),
            source: CardSource::Token {
                issuer,
                token: token.into(),
            },
            expiry: None,
            amex_se_number: None,
            tag: None,
        }
    }

    /// Sets the expiry on file.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Sets the Amex SE number (CardSync Amex subscriptions).
    pub fn with_amex_se_number(mut self, se: impl Into<String>) -> Self {
        self.amex_se_number = Some(se.into());
        self
    }

    /// Sets the caller's tag ([`CardToUpdate::tag`]).
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }
}

/// How often a subscription is refreshed. Providers that refresh on their own schedule
/// (CardSync Amex) ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cadence {
    /// Every week.
    Weekly,
    /// Every two weeks.
    EveryTwoWeeks,
    /// Every month.
    Monthly,
    /// Every two months.
    EveryTwoMonths,
    /// Every three months.
    Quarterly,
    /// Every six months.
    HalfYearly,
    /// Every year.
    Yearly,
}

/// Subscribe cards for ongoing updates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SubscribeRequest {
    /// The cards.
    pub cards: Vec<CardToUpdate>,
    /// How often to refresh (default monthly where a provider needs one).
    pub cadence: Cadence,
    /// When the schedule starts (default: today). PayConex advises about ten business days
    /// before the updated data is needed.
    pub starts_on: Option<NaiveDate>,
}

impl SubscribeRequest {
    /// Subscribe `cards` monthly, starting today.
    pub fn new(cards: Vec<CardToUpdate>) -> Self {
        SubscribeRequest {
            cards,
            cadence: Cadence::Monthly,
            starts_on: None,
        }
    }

    /// Sets the cadence.
    pub fn cadence(mut self, cadence: Cadence) -> Self {
        self.cadence = cadence;
        self
    }

    /// Sets the start date.
    pub fn starts_on(mut self, date: NaiveDate) -> Self {
        self.starts_on = Some(date);
        self
    }
}

/// New card data for a stored account.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewCardData {
    /// The new number, if it changed.
    pub number: Option<CardNumber>,
    /// The new expiry.
    pub expiry: Option<Expiry>,
    /// The security code, when the provider wants one for the change (Acquired's zero-amount
    /// authorisation). Never logged.
    pub security_code: Option<SecretString>,
    /// The cardholder name printed on the card.
    pub holder_name: Option<String>,
}

impl NewCardData {
    /// New card data with the given number and expiry.
    pub fn new(number: Option<CardNumber>, expiry: Option<Expiry>) -> Self {
        NewCardData {
            number,
            expiry,
            security_code: None,
            holder_name: None,
        }
    }

    /// Sets the security code.
    pub fn with_security_code(mut self, code: SecretString) -> Self {
        self.security_code = Some(code);
        self
    }

    /// Sets the cardholder name.
    pub fn with_holder_name(mut self, name: impl Into<String>) -> Self {
        self.holder_name = Some(name.into());
        self
    }
}

impl fmt::Debug for NewCardData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCardData")
            .field("number", &self.number)
            .field("expiry", &self.expiry)
            .field(
                "security_code",
                &self.security_code.as_ref().map(|_| "[REDACTED]"),
            )
            .field("holder_name", &self.holder_name)
            .finish()
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Address {
    /// First line.
    pub line1: Option<String>,
    /// Second line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State / region code.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code (`US`, `GB`); providers that want the numeric code
    /// (AccountVault) convert it.
    pub country: Option<String>,
}

/// Holder (customer) data on a stored account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HolderData {
    /// Given name.
    pub first_name: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company name (instead of a person's name where the provider allows).
    pub company: Option<String>,
    /// Billing address.
    pub address: Option<Address>,
    /// Phone number (digits; providers apply their own rules).
    pub phone: Option<String>,
    /// Phone country calling code (`1`, `44`).
    pub phone_country_code: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// Update a stored account: new card data and/or new holder data.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountUpdateRequest {
    /// The provider's id for the stored account (AccountVault `accountID`, Acquired INIT
    /// `transaction_id`).
    pub account_id: String,
    /// New card data.
    pub card: Option<NewCardData>,
    /// New holder data.
    pub holder: Option<HolderData>,
}

impl AccountUpdateRequest {
    /// An update of `account_id` with nothing in it yet.
    pub fn new(account_id: impl Into<String>) -> Self {
        AccountUpdateRequest {
            account_id: account_id.into(),
            card: None,
            holder: None,
        }
    }

    /// Sets the new card data.
    pub fn card(mut self, card: NewCardData) -> Self {
        self.card = Some(card);
        self
    }

    /// Sets the new holder data.
    pub fn holder(mut self, holder: HolderData) -> Self {
        self.holder = Some(holder);
        self
    }
}

/// Register a webhook URL.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookRegistration {
    /// Where the provider should POST.
    pub url: Url,
}

impl WebhookRegistration {
    /// Register `url` for every account-updater event the provider has.
    pub fn new(url: Url) -> Self {
        WebhookRegistration { url }
    }
}

/// A card to take out of updates.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoveCard {
    /// A card placed by an earlier receipt (the provider's record reference is used).
    Placed(PlacedCard),
    /// A card given again in full (CardSync Amex unsubscribe needs the card and SE number).
    Card(CardToUpdate),
}

impl fmt::Debug for RemoveCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveCard::Placed(p) => write!(f, "Placed({p:?})"),
            RemoveCard::Card(c) => write!(f, "Card({c:?})"),
        }
    }
}
