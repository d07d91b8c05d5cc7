//! Every CardSync Universal Account Updater v2 endpoint as an [`Operation`] value: the endpoint
//! as the v2 reference writes it, the request it builds (after the input rules of
//! `validate.rs`) and the mapping of its answer (through `response.rs`). The clients' methods
//! are each one `execute` of one of these.
//!
//! Which client may send which operation is in the types: enrolling a merchant takes the
//! partner key ([`CardSyncPartner`]); batches, subscriptions and results take a merchant key
//! ([`CardSyncClient`]); webhooks and merchant status take either ([`CardSyncCaller`]).

use super::bulk::CardsBody;
use bytes::Bytes;
use super::response::{
    acknowledged, compact_results, decode_response, require_data, succeeded_without_envelope,
};
use super::validate::{validate_merchant, validate_request, validate_webhooks};
use super::wire::{
    AmexCard, Batch, BatchCard, Merchant, MerchantCreated, MerchantStatus, Results, Webhooks,
};
use super::{CardSyncClient, CardSyncPartner, CompactResults, PROVIDER};
use crate::error::{Error, Result};
use crate::transport::{ApiRequest, ApiResponse, Endpoint, Method, Operation, check_id};

// The endpoints, each declared once (CardSync Universal Account Updater API v2 reference).
const ENROLL_MERCHANT: Endpoint<0> = Endpoint::new(Method::POST, "/v2/merchant");
const MERCHANT_STATUS: Endpoint<0> = Endpoint::new(Method::GET, "/v2/merchant");
const CREATE_BATCH: Endpoint<0> = Endpoint::new(Method::POST, "/v2/batch");
const BATCH_STATUS: Endpoint<0> = Endpoint::new(Method::GET, "/v2/batch");
const BATCH_RESULTS: Endpoint<0> = Endpoint::new(Method::GET, "/v2/batch/results");
const SUBSCRIBE: Endpoint<0> = Endpoint::new(Method::POST, "/v2/subscribe");
const UNSUBSCRIBE: Endpoint<0> = Endpoint::new(Method::DELETE, "/v2/subscribe");
const SUBSCRIPTION_RESULTS: Endpoint<0> = Endpoint::new(Method::GET, "/v2/subscription/results");
const REGISTER_WEBHOOKS: Endpoint<0> = Endpoint::new(Method::POST, "/v2/webhooks");

/// A CardSync client of either key, the partner's or a merchant's: the operations both keys may
/// send ([`SetWebhooks`], [`GetMerchantStatus`]). Sealed: only the crate's two clients are.
pub trait CardSyncCaller: sealed::Sealed {}
impl CardSyncCaller for CardSyncPartner {}
impl CardSyncCaller for CardSyncClient {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::CardSyncPartner {}
    impl Sealed for super::CardSyncClient {}
}

/// `POST /v2/merchant` (partner key): enrolls a merchant; the answer holds its id and key.
///
/// Only the partner client can send it: a merchant client given one does not compile.
///
/// ```compile_fail
/// # async fn enroll(
/// #     merchant_client: account_updater::providers::cardsync::CardSyncClient,
/// #     merchant: account_updater::providers::cardsync::wire::Merchant,
/// # ) {
/// use account_updater::providers::cardsync::operations::EnrollMerchant;
/// // error: `EnrollMerchant` is an operation of `CardSyncPartner`, not of `CardSyncClient`.
/// let _ = merchant_client.execute(&EnrollMerchant { merchant: &merchant }).await;
/// # }
/// ```
///
/// ```
/// # async fn enroll(
/// #     partner: account_updater::providers::cardsync::CardSyncPartner,
/// #     merchant: account_updater::providers::cardsync::wire::Merchant,
/// # ) {
/// use account_updater::providers::cardsync::operations::EnrollMerchant;
/// let _ = partner.execute(&EnrollMerchant { merchant: &merchant }).await;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EnrollMerchant<'a> {
    /// The merchant's details.
    pub merchant: &'a Merchant,
}

impl Operation<CardSyncPartner> for EnrollMerchant<'_> {
    type Output = MerchantCreated;

    fn build_request(&self, _: &CardSyncPartner) -> Result<ApiRequest> {
        validate_merchant(self.merchant)?;
        Ok(ENROLL_MERCHANT.request([]).json(self.merchant))
    }

    fn map_response(&self, _: &CardSyncPartner, response: ApiResponse) -> Result<MerchantCreated> {
        let envelope = decode_response::<serde_json::Value>(&response)?;
        // Until 2022-01-19 the id and key came at the top level, not under `data`.
        let data = match envelope.data {
            Some(data) => data,
            None => response.json::<serde_json::Value>()?,
        };
        // serde's message would quote the merchant key: keep only the fact.
        serde_json::from_value(data).map_err(|_| {
            Error::decode(
                PROVIDER,
                response.status.as_u16(),
                "merchant enrollment data of the wrong shape",
                b"(merchant enrollment data withheld)",
            )
        })
    }
}

/// `GET /v2/merchant?merchant_id=`: a merchant's enrollment status (either key).
#[derive(Debug, Clone, Copy)]
pub struct GetMerchantStatus<'a> {
    /// The id enrollment answered.
    pub merchant_id: &'a str,
}

impl<C: CardSyncCaller> Operation<C> for GetMerchantStatus<'_> {
    type Output = MerchantStatus;

    fn build_request(&self, _: &C) -> Result<ApiRequest> {
        check_id("merchant_id", self.merchant_id)?;
        Ok(MERCHANT_STATUS
            .request([])
            .query("merchant_id", self.merchant_id))
    }

    fn map_response(&self, _: &C, response: ApiResponse) -> Result<MerchantStatus> {
        Ok(decode_response::<MerchantStatus>(&response)?
            .data
            .unwrap_or_default())
    }
}

/// `POST /v2/webhooks` (either key): the URL per trigger.
#[derive(Debug, Clone, Copy)]
pub struct SetWebhooks<'a> {
    /// One URL per trigger; at least one.
    pub webhooks: &'a Webhooks,
}

impl<C: CardSyncCaller> Operation<C> for SetWebhooks<'_> {
    type Output = ();

    fn build_request(&self, _: &C) -> Result<ApiRequest> {
        validate_webhooks(self.webhooks)?;
        Ok(REGISTER_WEBHOOKS.request([]).json(self.webhooks))
    }

    fn map_response(&self, _: &C, response: ApiResponse) -> Result<()> {
        decode_response::<serde_json::Value>(&response).map(drop)
    }
}

/// `POST /v2/batch`: up to 10,000 Visa / Mastercard / Discover cards. The answer's
/// `batch_id` may be absent (the "batch available" webhook names it then): a success all the
/// same, never a failure that would invite a second, billed submission.
#[derive(Debug, Clone, Copy)]
pub struct CreateBatch<'a> {
    /// The cards.
    pub cards: &'a [BatchCard],
}

impl Operation<CardSyncClient> for CreateBatch<'_> {
    type Output = Batch;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        validate_request(
            self.cards.iter().map(|c| (c.id.as_str(), &c.card, None)),
            false,
        )?;
        Ok(CREATE_BATCH.request([]).json(&CardsBody { cards: self.cards }))
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<Batch> {
        batch_created(&response)
    }
}

/// [`CreateBatch`] for cards the bulk planner has already checked, their body already
/// written ([`chunk_body`](super::bulk::chunk_body)).
pub(super) struct CheckedBatch {
    pub(super) body: Bytes,
}

impl Operation<CardSyncClient> for CheckedBatch {
    type Output = Batch;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        Ok(CREATE_BATCH.request([]).shared_json(self.body.clone()))
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<Batch> {
        batch_created(&response)
    }
}

/// A created batch: its data, or none when the answer says success without it.
fn batch_created(response: &ApiResponse) -> Result<Batch> {
    if succeeded_without_envelope(response) {
        return Ok(Batch::default());
    }
    Ok(decode_response::<Batch>(response)?.data.unwrap_or_default())
}

/// `GET /v2/batch?batch_id=`: a batch's status and counts.
#[derive(Debug, Clone, Copy)]
pub struct GetBatchStatus<'a> {
    /// The batch.
    pub batch_id: &'a str,
}

impl Operation<CardSyncClient> for GetBatchStatus<'_> {
    type Output = Batch;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        check_id("batch_id", self.batch_id)?;
        Ok(BATCH_STATUS.request([]).query("batch_id", self.batch_id))
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<Batch> {
        let envelope = decode_response::<Batch>(&response)?;
        let mut batch = require_data(envelope, "batch status", b"")?;
        batch
            .batch_id
            .get_or_insert_with(|| self.batch_id.to_owned());
        Ok(batch)
    }
}

/// `GET /v2/batch/results?batch_id=&event_id=`: a batch's results, owned and typed.
#[derive(Debug, Clone, Copy)]
pub struct GetBatchResults<'a> {
    /// The batch.
    pub batch_id: &'a str,
    /// The event a webhook named, if any (an empty one is left out).
    pub event_id: Option<&'a str>,
}

impl GetBatchResults<'_> {
    fn request(&self) -> Result<ApiRequest> {
        check_id("batch_id", self.batch_id)?;
        let mut request = BATCH_RESULTS.request([]).query("batch_id", self.batch_id);
        if let Some(event) = self.event_id.filter(|e| !e.is_empty()) {
            check_id("event_id", event)?;
            request = request.query("event_id", event);
        }
        Ok(request)
    }
}

impl Operation<CardSyncClient> for GetBatchResults<'_> {
    type Output = Results;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        self.request()
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<Results> {
        require_data(decode_response(&response)?, "batch results", b"")
    }
}

/// [`GetBatchResults`] decoded into the compact form (one buffer, no per-card allocation).
#[derive(Debug, Clone, Copy)]
pub struct GetBatchResultsCompact<'a> {
    /// The batch and event.
    pub results: GetBatchResults<'a>,
}

impl Operation<CardSyncClient> for GetBatchResultsCompact<'_> {
    type Output = CompactResults;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        self.results.request()
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<CompactResults> {
        compact_results(response)
    }
}

/// `POST /v2/subscribe`: Amex cards subscribed for updates, each with its SE number.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeAmex<'a> {
    /// The cards.
    pub cards: &'a [AmexCard],
}

/// Checks Amex cards: an SE number each, Amex numbers only.
fn check_amex(cards: &[AmexCard]) -> Result<()> {
    validate_request(
        cards
            .iter()
            .map(|c| (c.id.as_str(), &c.card, Some(c.se_number.as_str()))),
        true,
    )
}

impl Operation<CardSyncClient> for SubscribeAmex<'_> {
    type Output = ();

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        check_amex(self.cards)?;
        Ok(SUBSCRIBE.request([]).json(&CardsBody { cards: self.cards }))
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<()> {
        acknowledged(&response)
    }
}

/// [`SubscribeAmex`] for cards the bulk planner has already checked, their body already
/// written ([`chunk_body`](super::bulk::chunk_body)).
pub(super) struct CheckedSubscribe {
    pub(super) body: Bytes,
}

impl Operation<CardSyncClient> for CheckedSubscribe {
    type Output = ();

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        Ok(SUBSCRIBE.request([]).shared_json(self.body.clone()))
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<()> {
        acknowledged(&response)
    }
}

/// `DELETE /v2/subscribe` with a body: Amex cards unsubscribed. Not repeated once it may have
/// been sent (a DELETE with a body is not assumed idempotent).
#[derive(Debug, Clone, Copy)]
pub struct UnsubscribeAmex<'a> {
    /// The cards.
    pub cards: &'a [AmexCard],
}

impl Operation<CardSyncClient> for UnsubscribeAmex<'_> {
    type Output = ();

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        check_amex(self.cards)?;
        Ok(UNSUBSCRIBE
            .request([])
            .json(&CardsBody { cards: self.cards })
            .idempotent(false))
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<()> {
        acknowledged(&response)
    }
}

/// `GET /v2/subscription/results?event_id=`: the Amex results an "amex update" webhook named.
#[derive(Debug, Clone, Copy)]
pub struct GetSubscriptionResults<'a> {
    /// The webhook's event id.
    pub event_id: &'a str,
}

impl GetSubscriptionResults<'_> {
    fn request(&self) -> Result<ApiRequest> {
        check_id("event_id", self.event_id)?;
        Ok(SUBSCRIPTION_RESULTS
            .request([])
            .query("event_id", self.event_id))
    }
}

impl Operation<CardSyncClient> for GetSubscriptionResults<'_> {
    type Output = Results;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        self.request()
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<Results> {
        require_data(decode_response(&response)?, "subscription results", b"")
    }
}

/// [`GetSubscriptionResults`] decoded into the compact form.
#[derive(Debug, Clone, Copy)]
pub struct GetSubscriptionResultsCompact<'a> {
    /// The event.
    pub results: GetSubscriptionResults<'a>,
}

impl Operation<CardSyncClient> for GetSubscriptionResultsCompact<'_> {
    type Output = CompactResults;

    fn build_request(&self, _: &CardSyncClient) -> Result<ApiRequest> {
        self.results.request()
    }

    fn map_response(&self, _: &CardSyncClient, response: ApiResponse) -> Result<CompactResults> {
        compact_results(response)
    }
}

#[cfg(test)]
mod tests {
    //! Requests and answers checked without a server, the v2 reference's examples as vectors.

    use super::*;
    use crate::ErrorKind;
    use crate::card::{CardNumber, Expiry, ExpiryFormat};
    use crate::providers::cardsync::wire::{Trigger, WebhookTarget};
    use secrecy::SecretString;
    use serde_json::Value;

    fn merchant() -> CardSyncClient {
        CardSyncClient::builder(SecretString::from("merchant-key"))
            .build_merchant()
            .expect("a valid client")
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("fixtures are JSON")
    }

    fn body(request: &ApiRequest) -> Value {
        serde_json::from_slice(request.body().expect("a body")).expect("a JSON body")
    }

    #[test]
    fn batch_body_is_the_reference_example() {
        let vector = json(include_str!("../../../tests/fixtures/cardsync/batch_request.json"));
        let cards: Vec<BatchCard> = vector["cards"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                BatchCard::new(
                    format!("c{i}"),
                    CardNumber::parse(c["card"].as_str().unwrap()).unwrap(),
                    Expiry::parse(c["exp"].as_str().unwrap(), ExpiryFormat::MmSlashYy).unwrap(),
                )
            })
            .collect();
        let request = CreateBatch { cards: &cards }.build_request(&merchant()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.path(), "/v2/batch");
        let sent = body(&request);
        let sent = sent["cards"].as_array().unwrap();
        let example = vector["cards"].as_array().unwrap();
        assert_eq!(sent.len(), example.len());
        for (i, (sent, example)) in sent.iter().zip(example).enumerate() {
            assert_eq!(sent["id"], format!("c{i}"));
            assert_eq!(sent["card"], example["card"]);
            assert_eq!(sent["exp"], example["exp"]);
        }
    }

    #[test]
    fn webhooks_body_is_the_reference_example() {
        let vector = json(include_str!("../../../tests/fixtures/cardsync/webhooks_request.json"));
        let base = "https://merchant.example/";
        let webhooks = Webhooks::new(
            Trigger::ALL
                .iter()
                .map(|t| WebhookTarget::new(*t, format!("{base}{}", t.id())))
                .collect(),
        );
        let request = SetWebhooks { webhooks: &webhooks }.build_request(&merchant()).unwrap();
        let sent = body(&request);
        let ids = |v: &Value| -> Vec<Value> {
            v["webhooks"].as_array().unwrap().iter().map(|w| w["trigger_id"].clone()).collect()
        };
        assert_eq!(ids(&sent), ids(&vector));
        // The example's placeholders are not URLs: a real registration refuses them.
        let placeholders = Webhooks::new(vec![WebhookTarget::new(Trigger::ALL[0], "batch_available_url")]);
        let refused = SetWebhooks { webhooks: &placeholders }.build_request(&merchant()).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn results_queries_carry_the_ids_and_skip_an_empty_event() {
        let client = merchant();
        let with_event = GetBatchResults { batch_id: "b1", event_id: Some("e 1") };
        let url = client.transport.url_for(&with_event.build_request(&client).unwrap());
        assert_eq!(url.path(), "/v2/batch/results");
        assert_eq!(url.query(), Some("batch_id=b1&event_id=e+1"));
        let without = GetBatchResults { batch_id: "b1", event_id: Some("") };
        let url = client.transport.url_for(&without.build_request(&client).unwrap());
        assert_eq!(url.query(), Some("batch_id=b1"));
        let empty = GetSubscriptionResults { event_id: "" }.build_request(&client).unwrap_err();
        assert_eq!(empty.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn answers_map_from_the_reference_examples() {
        let client = merchant();
        let created = CreateBatch { cards: &[] }
            .map_response(
                &client,
                ApiResponse::answered(
                    PROVIDER,
                    200,
                    include_str!("../../../tests/fixtures/cardsync/batch_create_response.json"),
                ),
            )
            .unwrap();
        // The example's created batch has no id yet: a success, the id pending.
        assert_eq!(created.batch_id, None);
        let refused = GetBatchStatus { batch_id: "b1" }
            .map_response(
                &client,
                ApiResponse::answered(
                    PROVIDER,
                    200,
                    include_str!("../../../tests/fixtures/cardsync/error_200_invalid_id.json"),
                ),
            )
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Provider);
    }

    #[test]
    fn amex_bodies_are_the_reference_example_and_unsubscribing_is_never_repeated() {
        let client = merchant();
        let vector = json(include_str!("../../../tests/fixtures/cardsync/subscribe_request.json"));
        let cards: Vec<AmexCard> = vector["cards"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                AmexCard::new(
                    c["se_number"].as_str().unwrap(),
                    format!("a{i}"),
                    CardNumber::parse(c["card"].as_str().unwrap()).unwrap(),
                    Expiry::parse(c["exp"].as_str().unwrap(), ExpiryFormat::MmSlashYy).unwrap(),
                )
            })
            .collect();
        let subscribe = SubscribeAmex { cards: &cards }.build_request(&client).unwrap();
        assert_eq!((subscribe.method(), subscribe.path()), (&Method::POST, "/v2/subscribe"));
        let sent = body(&subscribe);
        for (sent, example) in sent["cards"].as_array().unwrap().iter().zip(vector["cards"].as_array().unwrap()) {
            for field in ["se_number", "card", "exp"] {
                assert_eq!(sent[field], example[field], "{field}");
            }
        }
        let unsubscribe = UnsubscribeAmex { cards: &cards }.build_request(&client).unwrap();
        assert_eq!(unsubscribe.method(), Method::DELETE);
        assert_eq!(unsubscribe.body(), subscribe.body());
        assert!(!unsubscribe.is_idempotent());
        // An Amex card without its SE number is refused before anything is built.
        let mut missing = cards.clone();
        missing[0].se_number.clear();
        let refused = SubscribeAmex { cards: &missing }.build_request(&client).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    }
}
