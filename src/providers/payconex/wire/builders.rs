//! Constructors and setters for the request bodies, which are `#[non_exhaustive]`: a field
//! the vendor adds later is not a breaking change for callers who build them this way.

use super::*;
use crate::providers::common::setters;

impl Webhook {
    /// A webhook for `event` posted to `url`.
    pub fn new(url: impl Into<String>, event: WebhookEventType) -> Self {
        Webhook {
            url: url.into(),
            event,
        }
    }
}

impl TokenRecord {
    /// A token to keep updated.
    pub fn new(token: impl Into<String>) -> Self {
        TokenRecord {
            token: token.into(),
            enabled: None,
        }
    }
}
setters!(TokenRecord { optional enabled / set_enabled: bool, });

impl PanRecord {
    /// A card to keep updated.
    pub fn new(pan: CardNumber, expiry: Expiry) -> Self {
        PanRecord {
            pan,
            expiry,
            enabled: None,
        }
    }
}
setters!(PanRecord { optional enabled / set_enabled: bool, });

impl ShieldconexRecord {
    /// A ShieldConex token (with its BFID and the card's expiry) to keep updated.
    pub fn new(token: impl Into<String>, bfid: impl Into<String>, expiry: Expiry) -> Self {
        ShieldconexRecord {
            token: token.into(),
            bfid: bfid.into(),
            expiry,
            enabled: None,
        }
    }
}
setters!(ShieldconexRecord { optional enabled / set_enabled: bool, });

setters!(SubscriptionPatch {
    optional response_format / set_response_format: ResponseFormat,
    optional period_date / set_period_date: PeriodDate,
    optional period_id / set_period_id: PeriodId,
    optional enabled / set_enabled: bool,
});
