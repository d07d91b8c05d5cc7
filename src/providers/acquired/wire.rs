//! Acquired.com legacy JSON API wire types ([Acquired.com's API reference at developer.acquired.com](https://developer.acquired.com/integrations/api); [Acquired's SUBSCRIPTION_MANAGE guide](https://developer.acquired.com/cardstorage/manage)).
//!
//! One JSON document per request, credentials in the body; responses are flat objects whose
//! numbers may arrive as strings and the other way round.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::providers::common::setters;
use crate::providers::lenient;

/// `transaction` of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Transaction {
    /// Your unique order id, `[A-Za-z0-9_-]{1,50}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_order_id: Option<String>,
    /// `SUBSCRIPTION_MANAGE`, `AUTH_ONLY`, `ACCOUNT_UPDATER`, …
    pub transaction_type: String,
    /// `UPDATE_BILLING`, `ENABLE`, `DISABLE`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_type: Option<String>,
    /// The token: the INIT transaction's `transaction_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_transaction_id: Option<String>,
    /// Amount (`"0"` for an UPDATE_BILLING card change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// ISO 4217 alpha-3 currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_code_iso3: Option<String>,
    /// Your customer reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_customer_id: Option<String>,
    /// Custom field 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_custom_1: Option<String>,
    /// Custom field 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_custom_2: Option<String>,
    /// Custom field 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_custom_3: Option<String>,
}

/// `customer` of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Customer {
    /// e.g. `Mr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_title: Option<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_fname: Option<String>,
    /// Middle name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_mname: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_lname: Option<String>,
    /// `M` or `F`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_gender: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_dob: Option<String>,
    /// IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ipaddress: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_company: Option<String>,
}

/// The address and contact part of `billing` (what SUBSCRIPTION_MANAGE may change: every billing
/// field except card number and expiry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BillingAddress {
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_street: Option<String>,
    /// Street, second line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_street2: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_city: Option<String>,
    /// State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_state: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_zipcode: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_country_code_iso2: Option<String>,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_phone: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_email: Option<String>,
}

/// `shipping` of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Shipping {
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_street: Option<String>,
    /// Street, second line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_street2: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_city: Option<String>,
    /// State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_state: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_zipcode: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_country_code_iso2: Option<String>,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_phone: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_email: Option<String>,
}

/// An API response (auth-style, as [Acquired's API reference](https://developer.acquired.com/integrations/api) and SUBSCRIPTION_MANAGE guide show
/// it). Every field is read
/// leniently as a string; unknown fields are kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Response {
    /// Response time, `yyyymmddhhmmss`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub timestamp: Option<String>,
    /// `1` success, `11` pending, anything else a failure ([Acquired API reference](https://developer.acquired.com/integrations/api)).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub response_code: Option<String>,
    /// e.g. `Transaction Success`, `Error:Invalid Parameters`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub response_message: Option<String>,
    /// Echoed company id.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub company_id: Option<String>,
    /// The MID used.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub mid: Option<String>,
    /// Acquired's id for this transaction.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub transaction_id: Option<String>,
    /// Echoed type (`AUTH_ONLY` for an UPDATE_BILLING card change).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub transaction_type: Option<String>,
    /// Echoed order id.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub merchant_order_id: Option<String>,
    /// Echoed amount.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub amount: Option<String>,
    /// Echoed currency.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub currency_code_iso3: Option<String>,
    /// Issuer authorisation code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub authorization_code: Option<String>,
    /// Acquirer reference number.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub acquirer_reference_number: Option<String>,
    /// AVS address result.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub avsaddress: Option<String>,
    /// AVS postcode result.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub avszipcode: Option<String>,
    /// CVV result.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cvvresult: Option<String>,
    /// The issuing bank's code (e.g. `00`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub bank_response_code: Option<String>,
    /// BIN details.
    #[serde(default)]
    pub bin: Option<serde_json::Value>,
    /// The hash to verify ([Acquired API reference](https://developer.acquired.com/integrations/api)).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub response_hash: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

setters!(Transaction {
    text merchant_order_id / set_merchant_order_id,
    text subscription_type / set_subscription_type,
    text original_transaction_id / set_original_transaction_id,
    text amount / set_amount,
    text currency_code_iso3 / set_currency_code_iso3,
    text merchant_customer_id / set_merchant_customer_id,
    text merchant_custom_1 / set_merchant_custom_1,
    text merchant_custom_2 / set_merchant_custom_2,
    text merchant_custom_3 / set_merchant_custom_3,
    value transaction_type: String,
});

setters!(Customer {
    text customer_title / set_customer_title,
    text customer_fname / set_customer_fname,
    text customer_mname / set_customer_mname,
    text customer_lname / set_customer_lname,
    text customer_gender / set_customer_gender,
    text customer_dob / set_customer_dob,
    text customer_ipaddress / set_customer_ipaddress,
    text customer_company / set_customer_company,
});

setters!(BillingAddress {
    text billing_street / set_billing_street,
    text billing_street2 / set_billing_street2,
    text billing_city / set_billing_city,
    text billing_state / set_billing_state,
    text billing_zipcode / set_billing_zipcode,
    text billing_country_code_iso2 / set_billing_country_code_iso2,
    text billing_phone / set_billing_phone,
    text billing_email / set_billing_email,
});

setters!(Shipping {
    text shipping_street / set_shipping_street,
    text shipping_street2 / set_shipping_street2,
    text shipping_city / set_shipping_city,
    text shipping_state / set_shipping_state,
    text shipping_zipcode / set_shipping_zipcode,
    text shipping_country_code_iso2 / set_shipping_country_code_iso2,
    text shipping_phone / set_shipping_phone,
    text shipping_email / set_shipping_email,
});
