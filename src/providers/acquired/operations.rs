//! Acquired.com's one endpoint (`api.php`) and its transaction types, each as an [`Operation`]
//! value: SUBSCRIPTION_MANAGE (billing change, enable, disable), the UPDATE_BILLING card change
//! and ACCOUNT_UPDATER. Building one checks the input (`validate.rs`), stamps it with the
//! client's clock and hashes it with the client's hash code; mapping its answer verifies the
//! `response_hash` before anything else in it is read (`response.rs`). The client's methods are
//! each one [`AcquiredClient::execute`] of one of these.

use super::client::{AcquiredClient, Answer, NewCard};
use super::hash;
use super::response::decode_response;
use super::validate::{check_new_card, check_order_id, check_timestamp, check_token};
use super::wire::{BillingAddress, Customer, Shipping, Transaction};
use crate::card::ExpiryFormat;
use crate::error::{Error, InputProblem, Result};
use crate::transport::{ApiRequest, ApiResponse, Endpoint, Method, Operation};
use secrecy::ExposeSecret;
use serde::Serialize;

// The one endpoint (Acquired.com API documentation: every request is a JSON POST to
// `api.php`). The configured URL is that endpoint itself, so nothing is appended to it.
const API: Endpoint<0> = Endpoint::at_base_url(Method::POST, "/api.php");

#[derive(Serialize)]
struct Body<'a> {
    timestamp: &'a str,
    company_id: &'a str,
    company_pass: &'a str,
    company_mid_id: &'a str,
    request_hash: String,
    transaction: &'a Transaction,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<&'a Customer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing: Option<&'a BillingBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping: Option<&'a Shipping>,
}

/// A request's `billing`: the address and contact fields (what SUBSCRIPTION_MANAGE changes,
/// and what may go beside a card change) and, for an UPDATE_BILLING card change, the new
/// card. Typed and borrowed: the card number and security code are read from the caller's
/// secret-holding types as the body is written, never copied into a JSON tree that outlives
/// the request unzeroed.
#[derive(Serialize)]
struct BillingBody<'a> {
    #[serde(flatten)]
    address: Option<&'a BillingAddress>,
    #[serde(flatten)]
    card: Option<CardFields<'a>>,
}

/// The card fields of `billing` for UPDATE_BILLING, in the order of Acquired's example
/// (`cardholder_name`, `cardnumber`, `card_type`, `cardcvv`, `cardexp` as `MMYYYY`).
#[derive(Serialize)]
struct CardFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cardholder_name: Option<&'a str>,
    cardnumber: &'a str,
    card_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cardcvv: Option<&'a str>,
    cardexp: String,
}

impl<'a> CardFields<'a> {
    /// The fields for `card`, whose brand Acquired names `card_type`.
    fn new(card: &'a NewCard, card_type: &'static str) -> Self {
        CardFields {
            cardholder_name: card.holder_name.as_deref(),
            cardnumber: card.number.expose_secret(),
            card_type,
            cardcvv: card.cvv.as_ref().map(|c| c.expose_secret()),
            cardexp: card.expiry.format(ExpiryFormat::Mmyyyy),
        }
    }
}


/// `given`, checked, or a fresh `au-<timestamp>-<random>` (Acquired requires a merchant order id
/// on SUBSCRIPTION_MANAGE and AUTH_ONLY).
fn order_id(given: Option<&str>, timestamp: &str) -> Result<String> {
    match given {
        Some(id) => {
            check_order_id(id)?;
            Ok(id.to_owned())
        }
        None => {
            use rand::Rng;
            Ok(format!(
                "au-{timestamp}-{:08x}",
                rand::rng().random::<u32>()
            ))
        }
    }
}

/// The request for `transaction` with the client's credentials and its `request_hash`
/// ([Acquired API reference](https://developer.acquired.com/integrations/api): SHA-256 of the timestamp, type, company id and order ids, then of
/// that with the hash code).
fn signed_request(
    client: &AcquiredClient,
    timestamp: &str,
    transaction: &Transaction,
    customer: Option<&Customer>,
    billing: Option<&BillingBody<'_>>,
    shipping: Option<&Shipping>,
) -> Result<ApiRequest> {
    check_timestamp(timestamp)?;
    let c = &client.credentials;
    let request_hash = hash::request_hash(
        timestamp,
        &transaction.transaction_type,
        &c.company_id,
        transaction.merchant_order_id.as_deref().unwrap_or(""),
        transaction.original_transaction_id.as_deref().unwrap_or(""),
        &c.hashcode,
    );
    let body = Body {
        timestamp,
        company_id: &c.company_id,
        company_pass: c.company_pass.expose_secret(),
        company_mid_id: c.company_mid_id.as_deref().unwrap_or(""),
        request_hash,
        transaction,
        customer,
        billing,
        shipping,
    };
    Ok(API.request([]).json(&body))
}

/// The answer, once its `response_hash` verifies.
fn verified(client: &AcquiredClient, response: &ApiResponse) -> Result<Answer> {
    decode_response(response, |parsed| client.verify(parsed))
}

/// Change a token's customer / billing / shipping data (SUBSCRIPTION_MANAGE).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ManageBilling {
    /// The token (INIT `transaction_id`).
    pub original_transaction_id: String,
    /// Your order id (generated when `None`).
    pub merchant_order_id: Option<String>,
    /// `subscription_type`: the samples and SDKs send `UPDATE_BILLING` (the default); the
    /// prose says `SUBSCRIPTION_MANAGE`. Override here if your account needs it.
    pub subscription_type: Option<String>,
    /// New customer data.
    pub customer: Option<Customer>,
    /// New billing address / contact.
    pub billing: Option<BillingAddress>,
    /// New shipping data.
    pub shipping: Option<Shipping>,
}

impl ManageBilling {
    /// A change for `token`.
    pub fn new(token: impl Into<String>) -> Self {
        ManageBilling {
            original_transaction_id: token.into(),
            ..ManageBilling::default()
        }
    }
}

impl Operation<AcquiredClient> for ManageBilling {
    type Output = Answer;

    fn build_request(&self, client: &AcquiredClient) -> Result<ApiRequest> {
        check_token("original_transaction_id", &self.original_transaction_id)?;
        if self.customer.is_none() && self.billing.is_none() && self.shipping.is_none() {
            return Err(Error::invalid("billing", InputProblem::Empty));
        }
        let ts = client.now();
        let transaction = Transaction {
            merchant_order_id: Some(order_id(self.merchant_order_id.as_deref(), &ts)?),
            transaction_type: "SUBSCRIPTION_MANAGE".into(),
            subscription_type: Some(
                self.subscription_type
                    .clone()
                    .unwrap_or_else(|| "UPDATE_BILLING".into()),
            ),
            original_transaction_id: Some(self.original_transaction_id.clone()),
            ..Transaction::default()
        };
        let billing = self.billing.as_ref().map(|address| BillingBody {
            address: Some(address),
            card: None,
        });
        signed_request(
            client,
            &ts,
            &transaction,
            self.customer.as_ref(),
            billing.as_ref(),
            self.shipping.as_ref(),
        )
    }

    fn map_response(&self, client: &AcquiredClient, response: ApiResponse) -> Result<Answer> {
        verified(client, &response)
    }
}

/// SUBSCRIPTION_MANAGE with `subscription_type` `ENABLE` or `DISABLE`: stops or resumes
/// charging a token.
#[derive(Debug, Clone, Copy)]
pub struct SetTokenEnabled<'a> {
    /// The token (`original_transaction_id`).
    pub token: &'a str,
    /// `true` sends ENABLE, `false` DISABLE.
    pub enabled: bool,
    /// The merchant order id; a fresh one when `None`.
    pub merchant_order_id: Option<&'a str>,
}

impl Operation<AcquiredClient> for SetTokenEnabled<'_> {
    type Output = Answer;

    fn build_request(&self, client: &AcquiredClient) -> Result<ApiRequest> {
        check_token("original_transaction_id", self.token)?;
        let ts = client.now();
        let transaction = Transaction {
            merchant_order_id: Some(order_id(self.merchant_order_id, &ts)?),
            transaction_type: "SUBSCRIPTION_MANAGE".into(),
            subscription_type: Some(if self.enabled { "ENABLE" } else { "DISABLE" }.into()),
            original_transaction_id: Some(self.token.to_owned()),
            ..Transaction::default()
        };
        signed_request(client, &ts, &transaction, None, None, None)
    }

    fn map_response(&self, client: &AcquiredClient, response: ApiResponse) -> Result<Answer> {
        verified(client, &response)
    }
}

/// AUTH_ONLY of 0 with `subscription_type` `UPDATE_BILLING`: replaces a token's card. Refused
/// before sending: an expired card, a brand Acquired does not name, a security code that is
/// not 3 or 4 digits.
#[derive(Debug, Clone, Copy)]
pub struct UpdateCard<'a> {
    /// The token (`original_transaction_id`).
    pub token: &'a str,
    /// The new card.
    pub card: &'a NewCard,
    /// Address fields to send beside it.
    pub billing: Option<&'a BillingAddress>,
    /// The merchant order id; a fresh one when `None`.
    pub merchant_order_id: Option<&'a str>,
}

impl Operation<AcquiredClient> for UpdateCard<'_> {
    type Output = Answer;

    fn build_request(&self, client: &AcquiredClient) -> Result<ApiRequest> {
        check_token("original_transaction_id", self.token)?;
        let card = self.card;
        let card_type = check_new_card(card)?;
        let ts = client.now();
        let transaction = Transaction {
            merchant_order_id: Some(order_id(self.merchant_order_id, &ts)?),
            transaction_type: "AUTH_ONLY".into(),
            subscription_type: Some("UPDATE_BILLING".into()),
            original_transaction_id: Some(self.token.to_owned()),
            amount: Some("0".into()),
            currency_code_iso3: Some(client.currency.clone()),
            ..Transaction::default()
        };
        let billing = BillingBody {
            address: self.billing,
            card: Some(CardFields::new(card, card_type)),
        };
        signed_request(client, &ts, &transaction, None, Some(&billing), None)
    }

    fn map_response(&self, client: &AcquiredClient, response: ApiResponse) -> Result<Answer> {
        verified(client, &response)
    }
}

/// ACCOUNT_UPDATER: asks the networks about a token's card; the result comes by signed webhook.
#[derive(Debug, Clone, Copy)]
pub struct RequestAccountUpdate<'a> {
    /// The token (`original_transaction_id`).
    pub token: &'a str,
    /// A merchant order id, sent only when given.
    pub merchant_order_id: Option<&'a str>,
}

impl Operation<AcquiredClient> for RequestAccountUpdate<'_> {
    type Output = Answer;

    fn build_request(&self, client: &AcquiredClient) -> Result<ApiRequest> {
        check_token("original_transaction_id", self.token)?;
        let ts = client.now();
        let transaction = Transaction {
            merchant_order_id: self
                .merchant_order_id
                .map(|m| check_order_id(m).map(|()| m.to_owned()))
                .transpose()?,
            transaction_type: "ACCOUNT_UPDATER".into(),
            original_transaction_id: Some(self.token.to_owned()),
            ..Transaction::default()
        };
        signed_request(client, &ts, &transaction, None, None, None)
    }

    fn map_response(&self, client: &AcquiredClient, response: ApiResponse) -> Result<Answer> {
        verified(client, &response)
    }
}

#[cfg(test)]
mod tests {
    //! Requests and answers checked without a server, Acquired's examples as vectors.

    use super::*;
    use crate::ErrorKind;
    use crate::card::{CardNumber, Expiry};
    use crate::providers::acquired::Credentials;
    use secrecy::SecretString;
    use serde_json::Value;
    use std::sync::Arc;

    /// The examples' `company_pass` ("password") is shorter than the 10 characters Acquired
    /// requires: the tests use a valid one in its place.
    const PASSWORD: &str = "aPassword10to30";

    /// A client with the examples' company and clock.
    fn client(timestamp: &'static str) -> AcquiredClient {
        let credentials = Credentials::new(
            "133",
            SecretString::from(PASSWORD),
            None,
            SecretString::from("hashcode_for_tests"),
        )
        .expect("valid credentials");
        AcquiredClient::builder(credentials)
            .clock(Arc::new(move || timestamp.to_owned()))
            .build()
            .expect("a valid client")
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("fixtures are JSON")
    }

    fn body(request: &ApiRequest) -> Value {
        serde_json::from_slice(request.body().expect("a body")).expect("a JSON body")
    }

    /// Everything but the hash, which the examples truncate; the hash is checked against the
    /// documented recipe separately.
    fn without_hash(mut v: Value) -> Value {
        let object = v.as_object_mut().unwrap();
        object.remove("request_hash");
        object.insert("company_pass".into(), PASSWORD.into());
        v
    }

    #[test]
    fn disable_is_the_reference_example() {
        let vector = json(include_str!("../../../tests/fixtures/acquired/disable_request.json"));
        let client = client("20170612200234");
        let op = SetTokenEnabled {
            token: "1234567",
            enabled: false,
            merchant_order_id: Some("20170612200234"),
        };
        let request = op.build_request(&client).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.path(), "");
        assert_eq!(request.template(), "/api.php");
        let sent = body(&request);
        let expected_hash = hash::request_hash(
            "20170612200234",
            "SUBSCRIPTION_MANAGE",
            "133",
            "20170612200234",
            "1234567",
            &SecretString::from("hashcode_for_tests"),
        );
        assert_eq!(sent["request_hash"], expected_hash);
        assert_eq!(without_hash(sent), without_hash(vector));
    }

    #[test]
    fn card_change_carries_the_reference_fields() {
        let vector = json(include_str!("../../../tests/fixtures/acquired/update_billing_request.json"));
        let example = vector["billing"].clone();
        let client = client("20201126154545");
        let mut card = NewCard::new(
            CardNumber::parse(example["cardnumber"].as_str().unwrap()).unwrap(),
            // The example's 03/2026 has passed; a later expiry, the same format.
            Expiry::new(3, 2036).unwrap(),
        );
        card.cvv = Some(SecretString::from(example["cardcvv"].as_str().unwrap()));
        card.holder_name = example["cardholder_name"].as_str().map(str::to_owned);
        let op = UpdateCard {
            token: "1234567",
            card: &card,
            billing: None,
            merchant_order_id: Some("20170612200234"),
        };
        let mut sent = without_hash(body(&op.build_request(&client).unwrap()));
        assert_eq!(sent["billing"]["cardexp"], "032036");
        sent["billing"]["cardexp"] = example["cardexp"].clone();
        assert_eq!(sent, without_hash(vector));
        // An expired card is refused before anything is built.
        let mut expired = card.clone();
        expired.expiry = Expiry::new(1, 2020).unwrap();
        let op = UpdateCard { card: &expired, ..op };
        let refused = op.build_request(&client).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
        // The error names the field, never the number.
        assert!(!format!("{refused:?}").contains(example["cardnumber"].as_str().unwrap()));
    }

    #[test]
    fn an_answer_whose_hash_does_not_verify_is_discarded() {
        let client = client("20170612200234");
        let op = RequestAccountUpdate {
            token: "1234567",
            merchant_order_id: None,
        };
        let refused = op
            .map_response(
                &client,
                ApiResponse::answered(
                    crate::ids::ProviderId::Acquired,
                    200,
                    include_str!("../../../tests/fixtures/acquired/disable_response.json"),
                ),
            )
            .unwrap_err();
        // The example was hashed with another company's code: it must not be believed.
        assert_eq!(refused.kind(), ErrorKind::Integrity);
    }
}

#[cfg(test)]
mod billing_body_tests {
    use super::*;
    use crate::card::{CardNumber, Expiry};
    use secrecy::SecretString;

    const DOCUMENTED_REQUEST: &str =
        include_str!("../../../tests/fixtures/acquired/update_billing_request.json");

    /// The example's card number, read from the fixture (no card number is written in src/).
    fn documented_number() -> String {
        let request: serde_json::Value = serde_json::from_str(DOCUMENTED_REQUEST).unwrap();
        request["billing"]["cardnumber"].as_str().unwrap().to_owned()
    }

    fn documented_card() -> NewCard {
        let mut card = NewCard::new(
            CardNumber::parse(&documented_number()).unwrap(),
            Expiry::new(3, 2026).unwrap(),
        );
        card.cvv = Some(SecretString::from("456".to_owned()));
        card.holder_name = Some("MR E N JOHNSON".into());
        card
    }

    /// The card change's `billing` is the UPDATE_BILLING example's, byte for byte (field
    /// order included).
    #[test]
    fn a_card_change_writes_the_documented_billing() {
        let card = documented_card();
        let billing = BillingBody {
            address: None,
            card: Some(CardFields::new(&card, "VISA")),
        };
        // `billing` is the example's last member: its text runs to the outer object's end.
        let start = DOCUMENTED_REQUEST.find(r#""billing":"#).unwrap() + r#""billing":"#.len();
        let rest = DOCUMENTED_REQUEST[start..].trim_end();
        let documented = rest.strip_suffix('}').unwrap();
        assert_eq!(serde_json::to_string(&billing).unwrap(), documented);
    }

    /// Address fields go beside the card's (Acquired's SDKs allow both), and an address
    /// change alone carries no card field.
    #[test]
    fn address_fields_go_beside_the_card_or_alone() {
        let card = documented_card();
        let address = BillingAddress::default()
            .billing_city("London")
            .billing_zipcode("W1U7AL");
        let both = BillingBody {
            address: Some(&address),
            card: Some(CardFields::new(&card, "VISA")),
        };
        assert_eq!(
            serde_json::to_string(&both).unwrap(),
            format!(
                r#"{{"billing_city":"London","billing_zipcode":"W1U7AL","cardholder_name":"MR E N JOHNSON","cardnumber":"{}","card_type":"VISA","cardcvv":"456","cardexp":"032026"}}"#,
                documented_number()
            )
        );
        let alone = BillingBody {
            address: Some(&address),
            card: None,
        };
        assert_eq!(
            serde_json::to_string(&alone).unwrap(),
            r#"{"billing_city":"London","billing_zipcode":"W1U7AL"}"#
        );
    }
}
