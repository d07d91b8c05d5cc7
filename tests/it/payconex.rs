//! PayConex v4 native client against wiremock: the HMAC and Basic vectors, every endpoint's
//! exact method, path, headers and body, the seed responses, and the error mapping.

use account_updater::ProviderId;
use account_updater::error::{InputProblem, ProviderError};
use std::sync::Arc;

use account_updater::providers::payconex::wire::{
    NewValue, PanRecord, PanSubscription, PeriodDate, PeriodId, ResponseFormat, Schedule,
    ShieldconexRecord, ShieldconexSubscription, SubscriptionPatch, TokenRecord, TokenSubscription,
    Update, UpdateStatus, Webhook, WebhookEventType,
};
use account_updater::providers::payconex::{AuthMethod, Credentials};
use account_updater::providers::payconex::{Environment, PayConexClient, card_update};
use account_updater::testing::payconex::{
    self as auth, HmacHeader, basic_authorization, canonical_request, hmac_authorization,
};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{
    CardBrand, CardNumber, Error, ErrorKind, Expiry, ExpiryFormat, Outcome, SecretString,
};
use account_updater::{
    ids::{JobKind, JobRef, ResultsQuery},
    provider::{CardToUpdate, Provider, SubscribeRequest},
};
use chrono::NaiveDate;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "120615523104";
const KEY_ID: &str = "api_0c169931aa624727a6d7202ab1e9d320";
const SECRET: &str = "6bf6b48e1794489598bbef89aab69948";
const NONCE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn creds() -> Credentials {
    Credentials::new(KEY_ID, SecretString::from(SECRET.to_owned()))
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/payconex/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn client(server: &MockServer, auth: AuthMethod) -> PayConexClient {
    PayConexClient::builder(ACCOUNT, creds())
        .base_url(Url::parse(&server.uri()).unwrap())
        .auth(auth)
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- auth vectors

#[test]
fn hmac_vector_a_get_with_empty_body() {
    let path = "/api/v4/accounts/120615523104/account-updater/updates/aupres_7d7366c9b6564b9abff22829c3b9ce66";
    assert_eq!(
        canonical_request("GET", path, NONCE, 1664932648, b""),
        format!(
            "GET {path}\n{NONCE}\n1664932648\n\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
    );
    assert_eq!(
        hmac_authorization(&creds(), "GET", path, NONCE, 1664932648, b"").unwrap(),
        r#"Hmac id="api_0c169931aa624727a6d7202ab1e9d320", nonce="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", timestamp="1664932648", response="626df534e244bf690e0b9095fa87db22b3cf8a882def74d9b90561bb0cce2b68""#
    );
}

#[test]
fn hmac_vector_b_post_with_json_body() {
    let body = br#"{"url":"https://thetiredwindow.com/bfaccountupdate/webhook","event":"ACCOUNT_UPDATER_BATCH_UPDATES"}"#;
    assert_eq!(
        auth::body_hash(body),
        "6c0cf5834574402e19372fade2b9ae1f76b28f6510749a1692cb2799f00c59cc"
    );
    assert_eq!(
        auth::hmac_response(
            &creds(),
            "POST",
            "/api/v4/accounts/120615523104/webhooks",
            NONCE,
            1664932648,
            body
        )
        .unwrap(),
        "da09dbb0a3801cbe863dcfbe7a568c7dea8f117d8a09b180fa6322692aad4022"
    );
    // The client serialises the documented webhook body to exactly these bytes.
    let ours = serde_json::to_vec(&Webhook::new(
        "https://thetiredwindow.com/bfaccountupdate/webhook",
        WebhookEventType::AccountUpdaterBatchUpdates,
    ))
    .unwrap();
    assert_eq!(ours, body);
}

#[test]
fn basic_worked_example() {
    assert_eq!(
        basic_authorization(&creds()),
        "Basic YXBpXzBjMTY5OTMxYWE2MjQ3MjdhNmQ3MjAyYWIxZTlkMzIwOjZiZjZiNDhlMTc5NDQ4OTU5OGJiZWY4OWFhYjY5OTQ4"
    );
}

#[test]
fn credentials_and_client_never_print_the_secret() {
    let c = PayConexClient::builder(ACCOUNT, creds()).build().unwrap();
    let shown = format!("{:?} {:?}", creds(), c);
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(KEY_ID));
}

#[test]
fn builder_refuses_basic_in_production_and_bad_account_ids() {
    let err = PayConexClient::builder(ACCOUNT, creds())
        .environment(Environment::Production)
        .auth(AuthMethod::Basic)
        .build()
        .unwrap_err();
    match err {
        Error::InvalidInput(e) => {
            assert_eq!(e.field, "auth");
            assert!(matches!(e.problem, InputProblem::NotAllowed { .. }));
        }
        other => panic!("{other:?}"),
    }
    // HMAC in production, Basic in certification: fine.
    PayConexClient::builder(ACCOUNT, creds())
        .environment(Environment::Production)
        .build()
        .unwrap();
    let cert = PayConexClient::builder(ACCOUNT, creds())
        .auth(AuthMethod::Basic)
        .build()
        .unwrap();
    assert_eq!(cert.base_url().as_str(), "https://api-cert.payconex.net/");
    for bad in ["12061552310", "1206155231045", "12061552310a", ""] {
        let e = PayConexClient::builder(bad, creds()).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
    }
    let e = PayConexClient::builder(ACCOUNT, creds())
        .base_url(Url::parse("http://api.payconex.net").unwrap())
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(ref i) if i.problem == InputProblem::InsecureUrl));
}

// ---------------------------------------------------------------- wire checks

/// Verifies a PayConex HMAC `Authorization` header against the request as received.
struct ValidHmac;

impl Match for ValidHmac {
    fn matches(&self, request: &Request) -> bool {
        let Some(value) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(h) = HmacHeader::parse(value) else {
            return false;
        };
        let now = chrono::Utc::now().timestamp() as u64;
        h.id == KEY_ID
            && h.nonce.len() == 64
            && h.nonce.bytes().all(|b| b.is_ascii_hexdigit())
            && now.abs_diff(h.timestamp) < 60
            && value
                == hmac_authorization(
                    &creds(),
                    request.method.as_str(),
                    request.url.path(),
                    &h.nonce,
                    h.timestamp,
                    &request.body,
                )
                .unwrap()
    }
}

/// The body, parsed, equals `expected` (compared as JSON).
struct JsonEq(Value);

impl Match for JsonEq {
    fn matches(&self, request: &Request) -> bool {
        serde_json::from_slice::<Value>(&request.body).ok().as_ref() == Some(&self.0)
    }
}

struct NoBody;

impl Match for NoBody {
    fn matches(&self, request: &Request) -> bool {
        request.body.is_empty()
    }
}

async fn expect(
    server: &MockServer,
    m: &str,
    p: &str,
    body: Option<Value>,
    status: u16,
    response: Option<Value>,
) {
    let mut mock = Mock::given(method(m)).and(path(p)).and(ValidHmac);
    let template = match response {
        Some(r) => ResponseTemplate::new(status).set_body_json(r),
        None => ResponseTemplate::new(status),
    };
    mock = match body {
        Some(b) => mock
            .and(header("content-type", "application/json"))
            .and(JsonEq(b)),
        None => mock.and(NoBody),
    };
    mock.respond_with(template).expect(1).mount(server).await;
}

const BASE: &str = "/api/v4/accounts/120615523104";

#[tokio::test]
async fn webhook_endpoints() {
    let server = MockServer::start().await;
    let c = client(&server, AuthMethod::Hmac);
    let hook = Webhook::new(
        "https://thetiredwindow.com/bfaccountupdate/webhook",
        WebhookEventType::AccountUpdaterBatchUpdates,
    );
    let id = "wbh_5249941f13564471b3be9f96a6d532c1";
    expect(
        &server,
        "POST",
        &format!("{BASE}/webhooks"),
        Some(fixture("webhook_request.json")),
        201,
        Some(fixture("webhook_response.json")),
    )
    .await;
    expect(
        &server,
        "GET",
        &format!("{BASE}/webhooks"),
        None,
        200,
        Some(json!([fixture("webhook_response.json")])),
    )
    .await;
    expect(
        &server,
        "GET",
        &format!("{BASE}/webhooks/{id}"),
        None,
        200,
        Some(fixture("webhook_response.json")),
    )
    .await;
    expect(
        &server,
        "PATCH",
        &format!("{BASE}/webhooks/{id}"),
        Some(fixture("webhook_request.json")),
        200,
        Some(fixture("webhook_response.json")),
    )
    .await;
    expect(
        &server,
        "DELETE",
        &format!("{BASE}/webhooks/{id}"),
        None,
        204,
        None,
    )
    .await;

    let created = c.create_webhook(&hook).await.unwrap();
    assert_eq!(created.id, id);
    assert_eq!(
        created.event,
        Some(WebhookEventType::AccountUpdaterBatchUpdates)
    );
    assert_eq!(c.list_webhooks().await.unwrap(), vec![created.clone()]);
    assert_eq!(c.get_webhook(id).await.unwrap(), created);
    assert_eq!(c.update_webhook(id, &hook).await.unwrap().url, hook.url);
    c.delete_webhook(id).await.unwrap();
}

fn june_27() -> Option<PeriodDate> {
    Some(PeriodDate(NaiveDate::from_ymd_opt(2024, 6, 27).unwrap()))
}

/// The seed's request with `periodDate` sent as the documented `YYYY-MM-DD` form of the same day
/// (the seed shows the Unix time 1719491006 = 2024-06-27).
fn seed_request(name: &str) -> Value {
    let mut v = fixture(name);
    v["periodDate"] = json!("2024-06-27");
    v
}

#[tokio::test]
async fn subscribe_endpoints_send_the_seed_bodies_and_decode_the_seed_responses() {
    let server = MockServer::start().await;
    let c = client(&server, AuthMethod::Hmac);
    expect(
        &server,
        "POST",
        &format!("{BASE}/account-updater/payconex/subscribe"),
        Some(seed_request("subscribe_payconex_request.json")),
        201,
        Some(fixture("subscribe_payconex_response.json")),
    )
    .await;
    expect(
        &server,
        "POST",
        &format!("{BASE}/account-updater/pan/subscribe"),
        Some(seed_request("subscribe_pan_request.json")),
        201,
        Some(fixture("subscribe_pan_response.json")),
    )
    .await;
    expect(
        &server,
        "POST",
        &format!("{BASE}/account-updater/shieldconex/subscribe"),
        Some(seed_request("subscribe_shieldconex_request.json")),
        201,
        Some(fixture("subscribe_shieldconex_response.json")),
    )
    .await;

    let s = c
        .subscribe_tokens(
            &TokenSubscription::new(vec![TokenRecord::new("000000000007")], PeriodId::Period1W)
                .response_format(ResponseFormat::Payconex)
                .set_period_date(june_27()),
        )
        .await
        .unwrap();
    assert_eq!(s.id, "css_c139326a47d84f338253b4fa9fee109b");
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0].id, "cssr_72cd887bc5f54a9799b528b396db1737");
    assert_eq!(s.records[0].expiry(), Some(Expiry::new(12, 2030).unwrap()));
    assert_eq!(s.period_date, june_27());
    assert_eq!(s.template_ref, None);

    let s = c
        .subscribe_pans(
            &PanSubscription::new(
                vec![PanRecord::new(
                    CardNumber::parse("4444333322221111").unwrap(),
                    Expiry::parse("1230", ExpiryFormat::Mmyy).unwrap(),
                )],
                PeriodId::Period1W,
            )
            .response_format(ResponseFormat::Pan)
            .set_period_date(june_27()),
        )
        .await
        .unwrap();
    assert_eq!(s.response_format, Some(ResponseFormat::Pan));
    assert_eq!(s.records[0].record_type, Some(ResponseFormat::Shieldconex));
    // The seed's "9929" is kept verbatim but is not a valid MMYY.
    assert_eq!(s.records[0].expiry_raw.as_deref(), Some("9929"));
    assert_eq!(s.records[0].expiry(), None);

    let s = c
        .subscribe_shieldconex(
            &ShieldconexSubscription::new(
                vec![ShieldconexRecord::new(
                    "000000002687",
                    "djI6MTIwMjQwN...",
                    Expiry::parse("1225", ExpiryFormat::Mmyy).unwrap(),
                )],
                PeriodId::Period1W,
            )
            .response_format(ResponseFormat::Shieldconex)
            .set_period_date(june_27()),
        )
        .await
        .unwrap();
    assert_eq!(s.records[0].bfid.as_deref(), Some("djI6MTIwMjQwN..."));
    assert_eq!(
        s.template_ref.as_deref(),
        Some("shieldconex_template_reference")
    );
}

#[tokio::test]
async fn subscription_and_record_endpoints() {
    let server = MockServer::start().await;
    let c = client(&server, AuthMethod::Hmac);
    let sub = "css_d3b97f26b7d641c49fed010ac5b23dfd";
    let sp = format!("{BASE}/account-updater/subscriptions/{sub}");
    expect(
        &server,
        "GET",
        &sp,
        None,
        200,
        Some(fixture("subscription.json")),
    )
    .await;
    expect(
        &server,
        "PATCH",
        &sp,
        Some(json!({"enabled": false})),
        200,
        Some(fixture("subscription.json")),
    )
    .await;
    expect(&server, "DELETE", &sp, None, 204, None).await;
    expect(
        &server,
        "POST",
        &format!("{sp}/payconex"),
        Some(json!([{"token": "100001234567"}])),
        200,
        Some(fixture("subscription.json")),
    )
    .await;
    expect(
        &server,
        "POST",
        &format!("{sp}/pan"),
        Some(json!([{"pan": "4444333322221111", "expiry": "1230", "enabled": true}])),
        200,
        Some(fixture("subscription.json")),
    )
    .await;
    expect(
        &server,
        "POST",
        &format!("{sp}/shieldconex"),
        Some(json!([{"token": "000000002687", "bfid": "djI6MTIwMjQwN...", "expiry": "1225"}])),
        200,
        Some(fixture("subscription.json")),
    )
    .await;
    expect(
        &server,
        "DELETE",
        &format!("{sp}/records/cssr_736262bb213647879883715f7d98d8c3"),
        None,
        204,
        None,
    )
    .await;

    let s = c.get_subscription(sub).await.unwrap();
    assert_eq!(s.records[0].card_sync_schedule_id.as_deref(), Some(sub));
    assert_eq!(s.period_id, Some(PeriodId::Period1W));
    let patched = c
        .update_subscription(sub, &SubscriptionPatch::default().enabled(false))
        .await
        .unwrap();
    assert_eq!(patched.id, sub);
    c.add_tokens(sub, &[TokenRecord::new("100001234567")])
        .await
        .unwrap();
    c.add_pans(
        sub,
        &[PanRecord::new(
            CardNumber::parse("4444333322221111").unwrap(),
            Expiry::parse("1230", ExpiryFormat::Mmyy).unwrap(),
        )
        .enabled(true)],
    )
    .await
    .unwrap();
    c.add_shieldconex(
        sub,
        &[ShieldconexRecord::new(
            "000000002687",
            "djI6MTIwMjQwN...",
            Expiry::parse("1225", ExpiryFormat::Mmyy).unwrap(),
        )],
    )
    .await
    .unwrap();
    c.delete_record(sub, "cssr_736262bb213647879883715f7d98d8c3")
        .await
        .unwrap();
    c.delete_subscription(sub).await.unwrap();
}

#[tokio::test]
async fn results_endpoints_decode_and_map_onto_card_updates() {
    let server = MockServer::start().await;
    let c = client(&server, AuthMethod::Hmac);
    expect(
        &server,
        "GET",
        &format!("{BASE}/account-updater/updates/aupres_7d7366c9b6564b9abff22829c3b9ce66"),
        None,
        200,
        Some(fixture("updates.json")),
    )
    .await;
    // Fetched twice: natively, then through the unified trait.
    Mock::given(method("GET"))
        .and(path(format!(
            "{BASE}/account-updater/schedules/css_085a06dc9bbb408fa16c2e9d433abf1e/results"
        )))
        .and(ValidHmac)
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("schedule_results.json")))
        .expect(2)
        .mount(&server)
        .await;

    let updates = c
        .updates("aupres_7d7366c9b6564b9abff22829c3b9ce66")
        .await
        .unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].status, Some(UpdateStatus::Valid));
    assert_eq!(
        updates[0].new_token,
        Some(NewValue::Token("123456789121".into()))
    );
    assert_eq!(updates[0].recurring_schedules, vec![0]);
    let u = card_update(updates[0].clone());
    assert_eq!(u.outcome, Outcome::Valid);
    assert_eq!(u.raw_code, "valid");
    assert_eq!(u.card_id, None);
    assert_eq!(
        u.card_ref.as_deref(),
        Some("cssr_d468d4061ab44c309a46d3c3f4fd96e0")
    );
    assert_eq!(u.previous_token.as_deref(), Some("123456789101"));
    assert_eq!(
        u.provider_ref.as_deref(),
        Some("auru_2f418b31a4ce4736a54ed7d90126d8fe")
    );
    assert!(u.new_token.is_none() && u.new_card.is_none());
    assert!(u.updated_at.is_some());

    let s = c
        .schedule_results("css_085a06dc9bbb408fa16c2e9d433abf1e")
        .await
        .unwrap();
    // Unix-seconds periodDate, numeric token, null update, unknown field: all tolerated.
    assert_eq!(s.period_date, june_27());
    assert_eq!(s.records[1].token.as_deref(), Some("7"));
    assert!(s.records[1].most_recent_update.is_none());
    let update = s.records[0].most_recent_update.clone().unwrap();
    // Format `pan`: the new number is a CardNumber, never a plain string.
    let Some(NewValue::Card(card)) = &update.new_token else {
        panic!("{:?}", update.new_token)
    };
    assert_eq!(card.brand(), CardBrand::Mastercard);
    assert!(!format!("{update:?}").contains("5194560012341234"));

    let results = c
        .fetch_results(&ResultsQuery::Job(JobRef::new(
            account_updater::ProviderId::PayConex,
            JobKind::Subscription,
            "css_085a06dc9bbb408fa16c2e9d433abf1e",
        )))
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcome, Outcome::NewAccountNumber);
    assert_eq!(
        results[0].new_card.as_ref().map(|c| c.last4()),
        Some("1234")
    );
    assert_eq!(results[0].new_brand, Some(CardBrand::Mastercard));
    assert_eq!(results[0].new_expiry, Some(Expiry::new(12, 2035).unwrap()));
    assert_eq!(
        results[0].masked_card().as_deref(),
        Some("519456******1234")
    );
}

#[tokio::test]
async fn basic_auth_sends_the_documented_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/webhooks")))
        .and(header(
            "authorization",
            basic_authorization(&creds()).as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    assert!(
        client(&server, AuthMethod::Basic)
            .list_webhooks()
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn period_ids_cover_the_documented_sixteen_and_keep_unknown_values() {
    let names: Vec<_> = PeriodId::DOCUMENTED.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "PERIOD_1W",
            "PERIOD_2W",
            "PERIOD_1M",
            "PERIOD_2M",
            "PERIOD_3M",
            "PERIOD_6M",
            "PERIOD_1Y",
            "MONTHLY_1_15",
            "MONTHLY_5_20",
            "MONTHLY_FIRST",
            "MONTHLY_LAST",
            "QUARTERLY_1",
            "QUARTERLY_LAST",
            "YEARLY_Q1_1",
            "YEARLY_Q2_1",
            "YEARLY_Q3_1"
        ]
    );
    for p in PeriodId::DOCUMENTED {
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<PeriodId>(&text).unwrap(), p);
    }
    assert_eq!(
        serde_json::from_str::<PeriodId>(r#""YEARLY_Q4_1""#).unwrap(),
        PeriodId::Other("YEARLY_Q4_1".into())
    );
    assert!(PeriodId::Period6M.requires_period_date());
    assert!(!PeriodId::MonthlyLast.requires_period_date());
}

#[test]
fn every_status_maps_to_its_outcome() {
    let cases = [
        ("valid", Outcome::Valid),
        ("contact_closed", Outcome::Closed),
        ("contact", Outcome::ContactCardholder),
        ("no_match", Outcome::NoMatch),
        ("no_change", Outcome::NoChange),
        ("updated_card", Outcome::NewAccountNumber),
        ("updated_expiry", Outcome::NewExpiry),
        ("something_new", Outcome::Unknown("something_new".into())),
    ];
    for (status, outcome) in cases {
        let u: Update = serde_json::from_value(
            json!({"status": status, "newToken": 123, "newExpiry": "0131", "format": "payconex"}),
        )
        .unwrap();
        let mapped = card_update(u);
        assert_eq!(mapped.outcome, outcome);
        assert_eq!(mapped.raw_code, status);
        assert_eq!(
            mapped.new_token.is_some(),
            outcome.has_new_card_data(),
            "{status}"
        );
    }
}

// ---------------------------------------------------------------- errors

async fn error_for(status: u16, body: Value) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    client(&server, AuthMethod::Hmac)
        .get_subscription("css_x")
        .await
        .unwrap_err()
}

#[tokio::test]
async fn every_documented_error_maps_onto_the_crate_error() {
    let e = error_for(401, fixture("error_401.json")).await;
    let Error::Auth { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail.code.as_deref(), Some("40002"));
    assert_eq!(
        detail.trace_id.as_deref(),
        Some("3f2a1c8e-7b4d-4e2a-9c1f-5d6e7f8a9b0c")
    );
    assert_eq!(detail.field.as_deref(), Some("headers"));

    let e = error_for(403, fixture("error_403.json")).await;
    assert!(
        matches!(&e, Error::Auth { detail, .. } if detail.code.as_deref() == Some("40003")),
        "{e:?}"
    );

    let e = error_for(404, fixture("error_404.json")).await;
    let Error::NotFound { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail.code.as_deref(), Some("40005"));
    assert_eq!(
        detail.message.as_deref(),
        Some("The requested entity was not found")
    );

    let e = error_for(422, fixture("error_422.json")).await;
    let Error::Provider { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail.status, Some(422));
    assert_eq!(detail.code.as_deref(), Some("40001"));
    assert_eq!(detail.field.as_deref(), Some("random"));
    assert!(
        detail
            .message
            .as_deref()
            .unwrap()
            .contains(r#"property "random" is unsupported"#)
    );
    assert!(e.to_string().contains("field random"), "{e}");

    let e = error_for(422, fixture("error_422_schema_details.json")).await;
    let detail = e.provider_detail().unwrap();
    assert_eq!(detail.field.as_deref(), Some("periodId"));
    assert!(
        detail
            .message
            .as_deref()
            .unwrap()
            .contains("periodId must be one of")
    );

    let e = error_for(500, fixture("error_500.json")).await;
    assert_eq!(e.provider_detail().unwrap().code.as_deref(), Some("40004"));
    assert!(e.is_retryable());

    let e = error_for(400, fixture("error_default.json")).await;
    assert_eq!(
        e.provider_detail(),
        Some(
            &ProviderError::status(400)
                .with_code("400")
                .with_message("Bad Request")
        )
    );
}

#[tokio::test]
async fn invalid_input_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let c = client(&server, AuthMethod::Hmac);
    let bad_token =
        TokenSubscription::new(vec![TokenRecord::new("1234567890123")], PeriodId::Period1W)
            .set_period_date(june_27());
    assert_eq!(
        c.subscribe_tokens(&bad_token).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let no_date = TokenSubscription::new(vec![TokenRecord::new("7")], PeriodId::Period1W);
    let e = c.subscribe_tokens(&no_date).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(i) if i.field == "periodDate"),
        "{e:?}"
    );
    let empty = TokenSubscription::new(vec![], PeriodId::Period1W).set_period_date(june_27());
    assert!(
        matches!(c.subscribe_tokens(&empty).await.unwrap_err(), Error::InvalidInput(i) if i.problem == InputProblem::Empty)
    );
    assert_eq!(
        c.update_subscription("css_1", &SubscriptionPatch::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        c.get_subscription("").await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // Unified: a PAN without expiry, a duplicate id, a 12-digit PAN, an empty request.
    let pan = CardNumber::parse("4444333322221111").unwrap();
    let cases = vec![
        vec![
            CardToUpdate::token("a", ProviderId::PayConex, "7"),
            CardToUpdate::token("a", ProviderId::PayConex, "8"),
        ],
        vec![CardToUpdate::token(
            "a",
            ProviderId::PayConex,
            "12345678901234",
        )],
        vec![],
    ];
    for cards in cases {
        assert_eq!(
            c.subscribe(SubscribeRequest::new(cards))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
    }
    let mut no_expiry = CardToUpdate::pan("p", pan, Expiry::new(1, 2030).unwrap());
    no_expiry.expiry = None;
    let e = c
        .subscribe(SubscribeRequest::new(vec![no_expiry]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(i) if i.field == "cards[id=p].expiry"),
        "{e:?}"
    );
    let twelve =
        CardNumber::parse(&account_updater::card::with_check_digit("41111111111").unwrap())
            .unwrap();
    let e = c
        .subscribe(SubscribeRequest::new(vec![CardToUpdate::pan(
            "s",
            twelve,
            Expiry::new(1, 2030).unwrap(),
        )]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn notifications_parse_leniently_and_refuse_garbage() {
    let e = account_updater::providers::payconex::parse_webhook(
        br#"{"updateId":"aupres_7d7366c9b6564b9abff22829c3b9ce66"}"#,
    )
    .unwrap();
    assert_eq!(e.id, "aupres_7d7366c9b6564b9abff22829c3b9ce66");
    assert_eq!(
        e.authenticity,
        account_updater::webhook::Authenticity::Unsigned
    );
    assert_eq!(
        e.results,
        Some(ResultsQuery::Event {
            provider: account_updater::ProviderId::PayConex,
            kind: JobKind::Subscription,
            event_id: "aupres_7d7366c9b6564b9abff22829c3b9ce66".into(),
            job_id: None,
        })
    );
    let nested = account_updater::providers::payconex::parse_webhook(br#"{"id":"evt_1","event":"ACCOUNT_UPDATER_BATCH_UPDATES","data":{"updateId":"aupres_1"},"extra":[1]}"#).unwrap();
    assert_eq!(nested.id, "evt_1");
    assert_eq!(nested.kind, account_updater::WebhookKind::UpdatesAvailable);
    for bad in [
        &b"not json"[..],
        br#"{"update":"x"}"#,
        br#"{"updateId":""}"#,
        br#"{"updateId":5}"#,
    ] {
        assert_eq!(
            account_updater::providers::payconex::parse_webhook(bad)
                .unwrap_err()
                .kind(),
            ErrorKind::Decode
        );
    }
}

#[tokio::test]
async fn a_retried_request_gets_a_fresh_nonce() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let c = PayConexClient::builder(ACCOUNT, creds())
        .base_url(Url::parse(&server.uri()).unwrap())
        .transport_config(
            TransportConfig::default()
                .retry(RetryPolicy::default().initial_backoff(std::time::Duration::from_millis(5))),
        )
        .build()
        .unwrap();
    c.list_webhooks().await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    let nonces: Vec<_> = reqs
        .iter()
        .map(|r| {
            HmacHeader::parse(r.headers["authorization"].to_str().unwrap())
                .unwrap()
                .nonce
        })
        .collect();
    assert_ne!(nonces[0], nonces[1]);
    assert!(reqs.iter().all(|r| ValidHmac.matches(r)));
}

#[test]
fn schedule_decodes_tokens_or_records() {
    let s: Schedule = serde_json::from_value(
        json!({"id": "css_1", "tokens": [{"id": "cssr_1", "token": 100001234567u64}]}),
    )
    .unwrap();
    assert_eq!(s.records[0].token.as_deref(), Some("100001234567"));
    let s: Schedule = serde_json::from_value(json!({"id": "css_1", "records": null})).unwrap();
    assert!(s.records.is_empty());
}

// ------------------------------------------------- joining records to the caller's cards

fn pan_card(id: &str, pan: &str, mmyy: &str) -> CardToUpdate {
    CardToUpdate::pan(
        id,
        CardNumber::parse(pan).unwrap(),
        Expiry::parse(mmyy, ExpiryFormat::Mmyy).unwrap(),
    )
}

#[tokio::test]
async fn tokens_are_joined_without_leading_zeros_and_pans_never_by_position() {
    let server = MockServer::start().await;
    // The documents answer the token `7` as "000000000007".
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/v4/accounts/{ACCOUNT}/account-updater/payconex/subscribe"
        )))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(fixture("subscribe_payconex_response.json")),
        )
        .mount(&server)
        .await;
    // Two PAN records, in the opposite order to the request, each with its card's expiry.
    let mut two = fixture("subscribe_pan_response.json");
    let mut second = two["records"][0].clone();
    two["records"][0]["expiry"] = json!("0250");
    two["records"][0]["id"] = json!("cssr_second");
    second["expiry"] = json!("1250");
    second["id"] = json!("cssr_first");
    two["records"].as_array_mut().unwrap().push(second);
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/v4/accounts/{ACCOUNT}/account-updater/pan/subscribe"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(two))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // The seed's own answer: one record whose expiry "9929" is no card's.
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/v4/accounts/{ACCOUNT}/account-updater/pan/subscribe"
        )))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(fixture("subscribe_pan_response.json")),
        )
        .mount(&server)
        .await;
    let p: Arc<dyn Provider> = Arc::new(client(&server, AuthMethod::Hmac));

    let r = p
        .subscribe(SubscribeRequest::new(vec![CardToUpdate::token(
            "t-7",
            ProviderId::PayConex,
            "7",
        )]))
        .await
        .unwrap();
    assert!(r.failed().is_empty(), "{:?}", r.failed());
    let placed = &r.accepted()[0].cards()[0];
    assert_eq!(
        placed.provider_ref(),
        Some("cssr_72cd887bc5f54a9799b528b396db1737")
    );
    assert!(placed.confirmed());

    let pans = p
        .subscribe(SubscribeRequest::new(vec![
            pan_card("first", "5194560012341234", "1250"),
            pan_card("second", "4457000300000007", "0250"),
        ]))
        .await
        .unwrap();
    let joined: Vec<_> = pans.accepted()[0]
        .cards()
        .iter()
        .map(|c| (c.id(), c.provider_ref(), c.confirmed()))
        .collect();
    assert_eq!(
        joined,
        [
            ("first", Some("cssr_first"), true),
            ("second", Some("cssr_second"), true)
        ],
        "joined by expiry, not by position"
    );

    let unconfirmed = p
        .subscribe(SubscribeRequest::new(vec![pan_card(
            "only",
            "5194560012341234",
            "1250",
        )]))
        .await
        .unwrap();
    let placed = &unconfirmed.accepted()[0].cards()[0];
    assert_eq!((placed.provider_ref(), placed.confirmed()), (None, false));

    // Results name the record; the receipt gives the caller's id back, or leaves it unknown
    // rather than guess.
    let update = |record: &str| {
        card_update(
            serde_json::from_value(json!({"status": "updated_expiry", "newExpiry": "0152",
                "accountUpdaterScheduleRecordId": record}))
            .unwrap(),
        )
    };
    let mut updates = vec![
        update("cssr_second"),
        update("cssr_689d01c3a10a41088a036e88c61a5174"),
    ];
    assert!(updates.iter().all(|u| u.card_id.is_none()));
    pans.join_card_ids(&mut updates);
    unconfirmed.join_card_ids(&mut updates);
    assert_eq!(updates[0].card_id.as_deref(), Some("second"));
    assert_eq!(
        updates[1].card_id, None,
        "an unconfirmed card is never guessed"
    );
}

#[test]
fn a_new_token_without_a_format_that_is_a_card_number_is_held_masked() {
    const NEW_PAN: &str = "4457010000000009";
    for format in [json!(null), json!("pan")] {
        let mut body = json!({"id": "auru_1", "status": "updated_card", "newToken": NEW_PAN,
            "oldToken": "5850459886792406", "newExpiry": "1235",
            "accountUpdaterScheduleRecordId": "cssr_1"});
        if !format.is_null() {
            body["format"] = format.clone();
        }
        let update: Update = serde_json::from_value(body).unwrap();
        assert!(
            matches!(update.new_token, Some(NewValue::Card(_))),
            "{format}"
        );
        let u = card_update(update.clone());
        assert_eq!(u.new_token, None);
        assert_eq!(
            u.new_card.as_ref().map(|c| c.masked()).as_deref(),
            Some("445701******0009")
        );
        common_no_pan(&format!("{update:?} {u:?}"), NEW_PAN);
    }
    // A PayConex token (12 digits at most) stays a token even when it passes Luhn.
    let update: Update = serde_json::from_value(
        json!({"status": "updated_card", "newToken": "000000000026", "format": "payconex"}),
    )
    .unwrap();
    assert_eq!(
        update.new_token,
        Some(NewValue::Token("000000000026".into()))
    );
}

fn common_no_pan(text: &str, pan: &str) {
    for w in pan.as_bytes().windows(7) {
        assert!(!text.contains(std::str::from_utf8(w).unwrap()), "{text}");
    }
}

// ---------------------------------------------------------------- operations and call options

/// The same endpoint through its operation value and through the method: the same request on
/// the wire, the same typed answer.
#[tokio::test]
async fn an_operation_value_sends_what_its_method_sends() {
    use account_updater::providers::payconex::operations::GetSubscription;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/v4/accounts/{ACCOUNT}/account-updater/subscriptions/css_1"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("subscription.json")))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server, AuthMethod::Hmac);
    let by_value = client
        .execute(&GetSubscription {
            subscription_id: "css_1",
        })
        .await
        .unwrap();
    let by_method = client.get_subscription("css_1").await.unwrap();
    assert_eq!(by_value, by_method);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url, requests[1].url);
}

/// A call's own retry policy replaces the client's for that call only: a 503 is retried by
/// the client's policy, and answered once under `RetryPolicy::none()`.
#[tokio::test]
async fn a_call_can_override_the_clients_retry_policy() {
    use account_updater::providers::payconex::operations::ListWebhooks;
    use account_updater::transport::CallOptions;
    use std::time::Duration;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let retrying = PayConexClient::builder(ACCOUNT, creds())
        .base_url(Url::parse(&server.uri()).unwrap())
        .transport_config(
            TransportConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(3)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(2)),
            ),
        )
        .build()
        .unwrap();
    let once = CallOptions::default().retry(RetryPolicy::none());
    let error = retrying
        .execute_with(&ListWebhooks {}, &once)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Provider);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    retrying.list_webhooks().await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1 + 3);
}

/// A call's own timeout replaces the client's: a server that answers after a minute times the
/// call out, while the client's default timeout would have waited.
#[tokio::test]
async fn a_call_can_override_the_clients_timeout() {
    use account_updater::providers::payconex::operations::ListWebhooks;
    use account_updater::transport::CallOptions;
    use std::time::Duration;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("[]")
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&server)
        .await;
    let client = client(&server, AuthMethod::Hmac);
    let quick = CallOptions::default().timeout(Duration::from_millis(50));
    let error = client
        .execute_with(&ListWebhooks {}, &quick)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.provider_may_have_acted());
}
