//! Every PayConex Account Updater v4 endpoint as an [`Operation`] value: the endpoint template
//! as the v4 reference writes it, the request it builds (after the input rules of
//! `validate.rs`) and the mapping of its answer (through `response.rs`). The client's methods
//! are each one [`PayConexClient::execute`] of one of these.

use super::client::PayConexClient;
use super::response::decode_response;
use super::validate::{
    check_not_empty, check_pan, check_patch, check_period, check_shieldconex, check_token,
};
use super::wire::{
    PanRecord, PanSubscription, Schedule, ShieldconexRecord, ShieldconexSubscription,
    SubscriptionPatch, TokenRecord, TokenSubscription, Update, Webhook, WebhookResponse,
};
use crate::error::Result;
use crate::transport::{ApiRequest, ApiResponse, Endpoint, Method, Operation, path_segment};
use serde::de::DeserializeOwned;

// The endpoints, each declared once (PayConex Account Updater v4 reference).
const CREATE_WEBHOOK: Endpoint<1> =
    Endpoint::new(Method::POST, "/api/v4/accounts/{accountId}/webhooks");
const LIST_WEBHOOKS: Endpoint<1> =
    Endpoint::new(Method::GET, "/api/v4/accounts/{accountId}/webhooks");
const GET_WEBHOOK: Endpoint<2> = Endpoint::new(
    Method::GET,
    "/api/v4/accounts/{accountId}/webhooks/{webhookID}",
);
const UPDATE_WEBHOOK: Endpoint<2> = Endpoint::new(
    Method::PATCH,
    "/api/v4/accounts/{accountId}/webhooks/{webhookID}",
);
const DELETE_WEBHOOK: Endpoint<2> = Endpoint::new(
    Method::DELETE,
    "/api/v4/accounts/{accountId}/webhooks/{webhookID}",
);
const SUBSCRIBE_TOKENS: Endpoint<1> = Endpoint::new(
    Method::POST,
    "/api/v4/accounts/{accountId}/account-updater/payconex/subscribe",
);
const SUBSCRIBE_PANS: Endpoint<1> = Endpoint::new(
    Method::POST,
    "/api/v4/accounts/{accountId}/account-updater/pan/subscribe",
);
const SUBSCRIBE_SHIELDCONEX: Endpoint<1> = Endpoint::new(
    Method::POST,
    "/api/v4/accounts/{accountId}/account-updater/shieldconex/subscribe",
);
const GET_SUBSCRIPTION: Endpoint<2> = Endpoint::new(
    Method::GET,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}",
);
const UPDATE_SUBSCRIPTION: Endpoint<2> = Endpoint::new(
    Method::PATCH,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}",
);
const DELETE_SUBSCRIPTION: Endpoint<2> = Endpoint::new(
    Method::DELETE,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}",
);
const ADD_TOKENS: Endpoint<2> = Endpoint::new(
    Method::POST,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}/payconex",
);
const ADD_SHIELDCONEX: Endpoint<2> = Endpoint::new(
    Method::POST,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}/shieldconex",
);
const ADD_PANS: Endpoint<2> = Endpoint::new(
    Method::POST,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}/pan",
);
const DELETE_RECORD: Endpoint<3> = Endpoint::new(
    Method::DELETE,
    "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}/records/{recordId}",
);
const SCHEDULE_RESULTS: Endpoint<2> = Endpoint::new(
    Method::GET,
    "/api/v4/accounts/{accountId}/account-updater/schedules/{scheduleId}/results",
);
const UPDATES: Endpoint<2> = Endpoint::new(
    Method::GET,
    "/api/v4/accounts/{accountId}/account-updater/updates/{updateId}",
);

/// A success's body as `T`, or the violation it is.
fn json<T: DeserializeOwned>(response: ApiResponse) -> Result<T> {
    decode_response(response)?.json()
}

/// A DELETE's answer: done when 2xx, or 404/410 after a retry whose first attempt may have
/// deleted the resource already ([`ApiResponse::gone_after_retry`]).
fn deleted(response: ApiResponse) -> Result<()> {
    if response.gone_after_retry() {
        return Ok(());
    }
    decode_response(response).map(drop)
}

/// Declares an operation: its struct (borrowing its input), and `impl Operation` whose
/// `build_request` runs `$build` with `$client` and `self` in scope and whose answer `$map`s.
macro_rules! operation {
    (
        $(#[$doc:meta])*
        $name:ident $(<$lt:lifetime>)? { $($(#[$fdoc:meta])* $field:ident: $ty:ty),* $(,)? }
        -> $output:ty, map $map:expr,
        |$self_:ident, $client:ident| $build:block
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name $(<$lt>)? { $($(#[$fdoc])* pub $field: $ty),* }

        impl $(<$lt>)? Operation<PayConexClient> for $name $(<$lt>)? {
            type Output = $output;

            fn build_request(&$self_, $client: &PayConexClient) -> Result<ApiRequest> $build

            fn map_response(&self, _: &PayConexClient, response: ApiResponse) -> Result<$output> {
                $map(response)
            }
        }
    };
}

operation! {
    /// `POST /api/v4/accounts/{accountId}/webhooks` → 201: registers a webhook. Errors and
    /// delivery as [`PayConexClient::create_webhook`].
    CreateWebhook<'a> {
        /// The URL and event.
        webhook: &'a Webhook,
    } -> WebhookResponse, map json,
    |self, client| { Ok(CREATE_WEBHOOK.request([client.account()]).json(self.webhook)) }
}

operation! {
    /// `GET /api/v4/accounts/{accountId}/webhooks`: every registered webhook.
    ListWebhooks {} -> Vec<WebhookResponse>, map json,
    |self, client| { Ok(LIST_WEBHOOKS.request([client.account()])) }
}

operation! {
    /// `GET /api/v4/accounts/{accountId}/webhooks/{webhookID}`.
    GetWebhook<'a> {
        /// `wbh_…`.
        webhook_id: &'a str,
    } -> WebhookResponse, map json,
    |self, client| {
        let id = path_segment("webhook_id", self.webhook_id)?;
        Ok(GET_WEBHOOK.request([client.account(), &id]))
    }
}

operation! {
    /// `PATCH /api/v4/accounts/{accountId}/webhooks/{webhookID}`.
    UpdateWebhook<'a> {
        /// `wbh_…`.
        webhook_id: &'a str,
        /// The new URL and event.
        webhook: &'a Webhook,
    } -> WebhookResponse, map json,
    |self, client| {
        let id = path_segment("webhook_id", self.webhook_id)?;
        Ok(UPDATE_WEBHOOK.request([client.account(), &id]).json(self.webhook))
    }
}

operation! {
    /// `DELETE /api/v4/accounts/{accountId}/webhooks/{webhookID}` → 204.
    DeleteWebhook<'a> {
        /// `wbh_…`.
        webhook_id: &'a str,
    } -> (), map deleted,
    |self, client| {
        let id = path_segment("webhook_id", self.webhook_id)?;
        Ok(DELETE_WEBHOOK.request([client.account(), &id]))
    }
}

operation! {
    /// `POST …/account-updater/payconex/subscribe` → 201: a schedule of PayConex tokens.
    SubscribeTokens<'a> {
        /// The tokens and the schedule.
        subscription: &'a TokenSubscription,
    } -> Schedule, map json,
    |self, client| {
        let body = self.subscription;
        check_not_empty("tokens", &body.tokens)?;
        for (i, t) in body.tokens.iter().enumerate() {
            check_token(&format!("tokens[{i}].token"), &t.token)?;
        }
        check_period(&body.period_id, body.period_date)?;
        Ok(SUBSCRIBE_TOKENS.request([client.account()]).json(body))
    }
}

operation! {
    /// `POST …/account-updater/pan/subscribe` → 201: a schedule of card numbers.
    SubscribePans<'a> {
        /// The cards and the schedule.
        subscription: &'a PanSubscription,
    } -> Schedule, map json,
    |self, client| {
        let body = self.subscription;
        check_not_empty("cards", &body.cards)?;
        for (i, c) in body.cards.iter().enumerate() {
            check_pan(&format!("cards[{i}].pan"), &c.pan)?;
        }
        check_period(&body.period_id, body.period_date)?;
        Ok(SUBSCRIBE_PANS.request([client.account()]).json(body))
    }
}

operation! {
    /// `POST …/account-updater/shieldconex/subscribe` → 201: a schedule of ShieldConex tokens.
    SubscribeShieldconex<'a> {
        /// The tokens and the schedule.
        subscription: &'a ShieldconexSubscription,
    } -> Schedule, map json,
    |self, client| {
        let body = self.subscription;
        check_not_empty("tokens", &body.tokens)?;
        for (i, t) in body.tokens.iter().enumerate() {
            check_shieldconex(i, t)?;
        }
        check_period(&body.period_id, body.period_date)?;
        Ok(SUBSCRIBE_SHIELDCONEX.request([client.account()]).json(body))
    }
}

operation! {
    /// `GET …/account-updater/subscriptions/{subscriptionId}`.
    GetSubscription<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
    } -> Schedule, map json,
    |self, client| {
        let id = path_segment("subscription_id", self.subscription_id)?;
        Ok(GET_SUBSCRIPTION.request([client.account(), &id]))
    }
}

operation! {
    /// `PATCH …/account-updater/subscriptions/{subscriptionId}` (`enabled: false` pauses).
    UpdateSubscription<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
        /// What changes; a patch that changes nothing is refused.
        patch: &'a SubscriptionPatch,
    } -> Schedule, map json,
    |self, client| {
        check_patch(self.patch)?;
        let id = path_segment("subscription_id", self.subscription_id)?;
        Ok(UPDATE_SUBSCRIPTION.request([client.account(), &id]).json(self.patch))
    }
}

operation! {
    /// `DELETE …/account-updater/subscriptions/{subscriptionId}` → 204: every record is
    /// disabled and unsubscribed.
    DeleteSubscription<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
    } -> (), map deleted,
    |self, client| {
        let id = path_segment("subscription_id", self.subscription_id)?;
        Ok(DELETE_SUBSCRIPTION.request([client.account(), &id]))
    }
}

operation! {
    /// `POST …/subscriptions/{subscriptionId}/payconex` with a bare JSON array of tokens.
    AddTokens<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
        /// The tokens to add.
        records: &'a [TokenRecord],
    } -> Schedule, map json,
    |self, client| {
        check_not_empty("records", self.records)?;
        for (i, t) in self.records.iter().enumerate() {
            check_token(&format!("records[{i}].token"), &t.token)?;
        }
        let id = path_segment("subscription_id", self.subscription_id)?;
        Ok(ADD_TOKENS.request([client.account(), &id]).json(self.records))
    }
}

operation! {
    /// `POST …/subscriptions/{subscriptionId}/shieldconex` with a bare JSON array.
    AddShieldconex<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
        /// The ShieldConex tokens to add.
        records: &'a [ShieldconexRecord],
    } -> Schedule, map json,
    |self, client| {
        check_not_empty("records", self.records)?;
        for (i, t) in self.records.iter().enumerate() {
            check_shieldconex(i, t)?;
        }
        let id = path_segment("subscription_id", self.subscription_id)?;
        Ok(ADD_SHIELDCONEX.request([client.account(), &id]).json(self.records))
    }
}

operation! {
    /// `POST …/subscriptions/{subscriptionId}/pan` with a bare JSON array of cards.
    AddPans<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
        /// The cards to add.
        records: &'a [PanRecord],
    } -> Schedule, map json,
    |self, client| {
        check_not_empty("records", self.records)?;
        for (i, c) in self.records.iter().enumerate() {
            check_pan(&format!("records[{i}].pan"), &c.pan)?;
        }
        let id = path_segment("subscription_id", self.subscription_id)?;
        Ok(ADD_PANS.request([client.account(), &id]).json(self.records))
    }
}

operation! {
    /// `DELETE …/subscriptions/{subscriptionId}/records/{recordId}` → 204.
    DeleteRecord<'a> {
        /// The schedule's id.
        subscription_id: &'a str,
        /// The record's id.
        record_id: &'a str,
    } -> (), map deleted,
    |self, client| {
        let subscription = path_segment("subscription_id", self.subscription_id)?;
        let record = path_segment("record_id", self.record_id)?;
        Ok(DELETE_RECORD.request([client.account(), &subscription, &record]))
    }
}

operation! {
    /// `GET …/account-updater/schedules/{scheduleId}/results`: each record with its most recent
    /// update.
    ScheduleResults<'a> {
        /// The schedule's id.
        schedule_id: &'a str,
    } -> Schedule, map json,
    |self, client| {
        let id = path_segment("schedule_id", self.schedule_id)?;
        Ok(SCHEDULE_RESULTS.request([client.account(), &id]))
    }
}

operation! {
    /// `GET …/account-updater/updates/{updateId}`: the updates a notification announced.
    Updates<'a> {
        /// The notification's `updateId`.
        update_id: &'a str,
    } -> Vec<Update>, map json,
    |self, client| {
        let id = path_segment("update_id", self.update_id)?;
        Ok(UPDATES.request([client.account(), &id]))
    }
}

#[cfg(test)]
mod tests {
    //! Requests and answers checked without a server, the v4 reference's examples as vectors.

    use super::*;
    use crate::ErrorKind;
    use crate::card::{CardNumber, Expiry, ExpiryFormat};
    use crate::providers::payconex::Credentials;
    use crate::providers::payconex::wire::{PeriodId, UpdateStatus, WebhookEventType};
    use secrecy::SecretString;
    use serde_json::Value;

    const ACCOUNT: &str = "120615523104";

    fn client() -> PayConexClient {
        let credentials = Credentials::new("api_test", SecretString::from("secret"));
        PayConexClient::builder(ACCOUNT, credentials)
            .build()
            .expect("a valid client")
    }

    fn fixture(name: &str) -> Value {
        let text = match name {
            "webhook_request" => include_str!("../../../tests/fixtures/payconex/webhook_request.json"),
            "subscribe_pan_request" => {
                include_str!("../../../tests/fixtures/payconex/subscribe_pan_request.json")
            }
            "subscribe_payconex_request" => {
                include_str!("../../../tests/fixtures/payconex/subscribe_payconex_request.json")
            }
            "subscribe_shieldconex_request" => {
                include_str!("../../../tests/fixtures/payconex/subscribe_shieldconex_request.json")
            }
            _ => unreachable!("no fixture {name}"),
        };
        serde_json::from_str(text).expect("fixtures are JSON")
    }

    fn body(request: &ApiRequest) -> Value {
        serde_json::from_slice(request.body().expect("a body")).expect("a JSON body")
    }

    #[test]
    fn webhook_create_is_the_reference_example() {
        let webhook = Webhook::new(
            "https://thetiredwindow.com/bfaccountupdate/webhook",
            WebhookEventType::AccountUpdaterBatchUpdates,
        );
        let request = CreateWebhook { webhook: &webhook }.build_request(&client()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.path(), "/api/v4/accounts/120615523104/webhooks");
        assert_eq!(request.template(), "/api/v4/accounts/{accountId}/webhooks");
        assert_eq!(body(&request), fixture("webhook_request"));
    }

    #[test]
    fn pan_subscription_body_carries_the_reference_fields() {
        let vector = fixture("subscribe_pan_request");
        let card = &vector["cards"][0];
        let pan = CardNumber::parse(card["pan"].as_str().unwrap()).unwrap();
        let expiry = Expiry::parse(card["expiry"].as_str().unwrap(), ExpiryFormat::Mmyy).unwrap();
        let mut subscription = PanSubscription::new(
            vec![PanRecord::new(pan, expiry)],
            PeriodId::Period1W,
        );
        subscription.response_format = Some(super::super::wire::ResponseFormat::Pan);
        subscription.period_date = Some(super::super::wire::PeriodDate(
            chrono::NaiveDate::from_ymd_opt(2024, 6, 27).unwrap(),
        ));
        let request = SubscribePans { subscription: &subscription }
            .build_request(&client())
            .unwrap();
        assert_eq!(
            request.path(),
            "/api/v4/accounts/120615523104/account-updater/pan/subscribe"
        );
        let sent = body(&request);
        // Every field the example shows, with its value; the anchor date goes as the OpenAPI's
        // `format: date` (the example's Unix time is the same day, 2024-06-27).
        assert_eq!(sent["cards"], vector["cards"]);
        assert_eq!(sent["responseFormat"], vector["responseFormat"]);
        assert_eq!(sent["periodId"], vector["periodId"]);
        assert_eq!(sent["periodDate"], "2024-06-27");
    }

    /// The token and ShieldConex subscription examples, field for field (the anchor date as
    /// the OpenAPI's `format: date`, the same day as the example's Unix time).
    #[test]
    fn token_and_shieldconex_subscriptions_are_the_reference_examples() {
        use super::super::wire::{PeriodDate, ResponseFormat};
        let anchor = Some(PeriodDate(
            chrono::NaiveDate::from_ymd_opt(2024, 6, 27).unwrap(),
        ));
        let with_date = |mut v: Value| {
            v["periodDate"] = "2024-06-27".into();
            v
        };

        let vector = fixture("subscribe_payconex_request");
        let token = vector["tokens"][0]["token"].as_str().unwrap();
        let mut tokens =
            TokenSubscription::new(vec![TokenRecord::new(token)], PeriodId::Period1W);
        tokens.response_format = Some(ResponseFormat::Payconex);
        tokens.period_date = anchor;
        let request = SubscribeTokens {
            subscription: &tokens,
        }
        .build_request(&client())
        .unwrap();
        assert_eq!(
            request.path(),
            "/api/v4/accounts/120615523104/account-updater/payconex/subscribe"
        );
        assert_eq!(body(&request), with_date(vector));

        let vector = fixture("subscribe_shieldconex_request");
        let example = &vector["tokens"][0];
        let expiry = Expiry::parse(example["expiry"].as_str().unwrap(), ExpiryFormat::Mmyy).unwrap();
        let mut shielded = ShieldconexSubscription::new(
            vec![ShieldconexRecord::new(
                example["token"].as_str().unwrap(),
                example["bfid"].as_str().unwrap(),
                expiry,
            )],
            PeriodId::Period1W,
        );
        shielded.response_format = Some(ResponseFormat::Shieldconex);
        shielded.period_date = anchor;
        let request = SubscribeShieldconex {
            subscription: &shielded,
        }
        .build_request(&client())
        .unwrap();
        assert_eq!(
            request.path(),
            "/api/v4/accounts/120615523104/account-updater/shieldconex/subscribe"
        );
        assert_eq!(body(&request), with_date(vector.clone()));
    }

    #[test]
    fn a_bad_input_is_refused_while_building() {
        let client = client();
        let empty = TokenSubscription::new(Vec::new(), PeriodId::MonthlyFirst);
        let refused = SubscribeTokens { subscription: &empty }.build_request(&client).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
        let unsafe_id = GetSubscription { subscription_id: "" }.build_request(&client).unwrap_err();
        assert_eq!(unsafe_id.kind(), ErrorKind::InvalidInput);
        let no_change = UpdateSubscription {
            subscription_id: "css_1",
            patch: &SubscriptionPatch::default(),
        };
        assert_eq!(no_change.build_request(&client).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn ids_are_encoded_into_the_documented_paths() {
        let client = client();
        let delete = DeleteRecord { subscription_id: "css 1", record_id: "r/2" }
            .build_request(&client)
            .unwrap();
        assert_eq!(delete.method(), Method::DELETE);
        assert_eq!(
            delete.path(),
            "/api/v4/accounts/120615523104/account-updater/subscriptions/css%201/records/r%2F2"
        );
        let results = ScheduleResults { schedule_id: "css_9" }.build_request(&client).unwrap();
        assert_eq!(results.method(), Method::GET);
        assert!(results.body().is_none());
        assert_eq!(
            results.template(),
            "/api/v4/accounts/{accountId}/account-updater/schedules/{scheduleId}/results"
        );
    }

    #[test]
    fn answers_map_from_the_reference_examples() {
        let client = client();
        let updates = Updates { update_id: "u1" }
            .map_response(
                &client,
                ApiResponse::answered(
                    super::super::PROVIDER,
                    200,
                    include_str!("../../../tests/fixtures/payconex/updates.json"),
                ),
            )
            .unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].status, Some(UpdateStatus::Valid));
        assert_eq!(updates[0].id.as_deref(), Some("auru_2f418b31a4ce4736a54ed7d90126d8fe"));
        let refused = ListWebhooks {}
            .map_response(
                &client,
                ApiResponse::answered(
                    super::super::PROVIDER,
                    422,
                    include_str!("../../../tests/fixtures/payconex/error_422.json"),
                ),
            )
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Provider);
        assert!(refused.to_string().contains("40001"), "{refused}");
    }

    #[test]
    fn a_delete_gone_after_a_retry_is_done() {
        let client = client();
        let mut gone = ApiResponse::answered(super::super::PROVIDER, 404, "{}");
        assert!(DeleteWebhook { webhook_id: "wbh_1" }.map_response(&client, gone.clone()).is_err());
        gone.after_possible_delivery = true;
        assert!(DeleteWebhook { webhook_id: "wbh_1" }.map_response(&client, gone).is_ok());
    }
}
