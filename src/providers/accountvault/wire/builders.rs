//! Constructors and setters for the request bodies, which are `#[non_exhaustive]`: a field
//! the vendor adds later is not a breaking change for callers who build them this way.

use super::*;
use crate::providers::common::setters;

impl Device {
    /// A P2PE device's card data.
    pub fn new(id: impl Into<String>, blob: SecretString) -> Self {
        Device {
            id: id.into(),
            blob,
        }
    }
}

setters!(Card {
    text key_id / set_key_id,
    text data / set_data,
    optional account_number / set_account_number: CardNumber,
    optional expiration_date / set_expiration_date: Expiry,
    optional mode / set_mode: u8,
});

impl Bank {
    /// An ACH account.
    pub fn new(
        routing_number: impl Into<String>,
        account_number: SecretString,
        account_type: BankAccountType,
    ) -> Self {
        Bank {
            routing_number: routing_number.into(),
            account_number,
            account_type,
        }
    }
}

setters!(Name {
    text first / set_first,
    text middle / set_middle,
    text last / set_last,
    text suffix / set_suffix,
});

setters!(Address {
    text line1 / set_line1,
    text line2 / set_line2,
    text city / set_city,
    text state / set_state,
    text zipcode / set_zipcode,
    text country / set_country,
});

setters!(Phone {
    text country_code / set_country_code,
});

impl Owner {
    /// Sets or clears the address.
    pub fn set_address(mut self, address: Option<Address>) -> Self {
        self.address = address;
        self
    }

    /// Sets or clears the phone.
    pub fn set_phone(mut self, phone: Option<Phone>) -> Self {
        self.phone = phone;
        self
    }
}

impl CreateAccount {
    /// A new account under `reference_id` for `owner`; give it a card or a bank account.
    pub fn new(reference_id: impl Into<String>, owner: Owner) -> Self {
        CreateAccount {
            reference_id: reference_id.into(),
            bank: None,
            card: None,
            owner,
        }
    }
}

setters!(CreateAccount {
    optional bank / set_bank: Bank,
    optional card / set_card: Card,
});

impl UpdateAccount {
    /// A full replace for `owner`; give it a card or a bank account.
    pub fn new(owner: Owner) -> Self {
        UpdateAccount {
            bank: None,
            card: None,
            owner,
        }
    }
}

setters!(UpdateAccount {
    optional bank / set_bank: Bank,
    optional card / set_card: Card,
});

setters!(CardV2 {
    optional expiration_date / set_expiration_date: Expiry,
});

setters!(OwnerV2 {
    optional name / set_name: Name,
    optional address / set_address: Address,
    optional phone / set_phone: Phone,
});

setters!(UpdateAccountV2 {
    optional card / set_card: CardV2,
    optional owner / set_owner: OwnerV2,
});

impl CreateKey {
    /// A request for a key in `format`.
    pub fn new(format: KeyFormat) -> Self {
        CreateKey { format }
    }
}
