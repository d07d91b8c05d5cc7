//! Constructors and setters for the request bodies, which are `#[non_exhaustive]`: a field
//! the vendor adds later is not a breaking change for callers who build them this way.

use super::*;
use crate::providers::common::setters;

impl WebhookTarget {
    /// Notifications of `trigger_id` posted to `url`.
    pub fn new(trigger_id: Trigger, url: impl Into<String>) -> Self {
        WebhookTarget {
            trigger_id,
            url: url.into(),
        }
    }
}

impl Webhooks {
    /// The body registering `webhooks`.
    pub fn new(webhooks: Vec<WebhookTarget>) -> Self {
        Webhooks { webhooks }
    }
}

setters!(PrimaryContact {
    string first_name,
    string last_name,
    string company,
    string address_line_1,
    string address_line_2,
    string city,
    string state,
    string postal_code,
    string country,
    string phone,
    string email,
});

setters!(User {
    string username,
    string email,
    string status,
    string role,
    value create_api_key: bool,
});

impl CardInfo {
    /// Card counts and biller details; every field but the delivery frequency is set with its
    /// setter (CardSync requires them all but the Amex SE number: checked before enrollment).
    pub fn new(delivery_frequency: DeliveryFrequency) -> Self {
        CardInfo {
            type_of_biller: String::new(),
            total_number_of_records: 0,
            number_of_visa: 0,
            number_of_mastercard: 0,
            number_of_discover: 0,
            number_of_amex: 0,
            amex_se_number: None,
            delivery_frequency,
            mcc: String::new(),
        }
    }
}

setters!(CardInfo {
    text amex_se_number / set_amex_se_number,
    string type_of_biller,
    string mcc,
    value total_number_of_records: i32,
    value number_of_visa: i32,
    value number_of_mastercard: i32,
    value number_of_discover: i32,
    value number_of_amex: i32,
});

impl Merchant {
    /// An enrollment with its three parts; the merchant's own fields are set with their setters
    /// (CardSync requires them all but `phone_ext`: checked before the request).
    pub fn new(primary_contact: PrimaryContact, user: User, card_info: CardInfo) -> Self {
        Merchant {
            legal_business_name: String::new(),
            name: String::new(),
            description: String::new(),
            website: String::new(),
            phone: String::new(),
            phone_ext: None,
            receipt_email: String::new(),
            timezone: String::new(),
            fee_schedule_id: String::new(),
            primary_contact,
            user,
            card_info,
        }
    }
}

setters!(Merchant {
    text phone_ext / set_phone_ext,
    string legal_business_name,
    string name,
    string description,
    string website,
    string phone,
    string receipt_email,
    string timezone,
    string fee_schedule_id,
});

impl BatchCard {
    /// A card for a batch, under the caller's unique `id`.
    pub fn new(id: impl Into<String>, card: CardNumber, exp: Expiry) -> Self {
        BatchCard {
            id: id.into(),
            card,
            exp,
        }
    }
}

impl AmexCard {
    /// An American Express card for the merchant's SE number, under the caller's unique `id`.
    pub fn new(
        se_number: impl Into<String>,
        id: impl Into<String>,
        card: CardNumber,
        exp: Expiry,
    ) -> Self {
        AmexCard {
            se_number: se_number.into(),
            id: id.into(),
            card,
            exp,
        }
    }
}
