//! Acquired.com native client against wiremock: the hash vectors, the seed's requests with the
//! right `request_hash`, response-hash verification, webhook verification, the validation table
//! with zero requests, and the response-code mapping.

use crate::common;
use crate::common::luhn;

use std::sync::Arc;

use account_updater::error::InputProblem;
use account_updater::provider::{
    AccountUpdateRequest, CardToUpdate, HolderData, NewCardData, Provider,
};
use account_updater::providers::acquired::wire::{BillingAddress, Customer};
use account_updater::providers::acquired::{
    AcquiredClient, Answer, Credentials, DEFAULT_WEBHOOK_FRESHNESS, ManageBilling, NewCard,
};
use account_updater::testing::acquired::{request_hash, response_hash, webhook_hash};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::webhook::Authenticity;
use account_updater::{
    CardNumber, Error, ErrorKind, Expiry, ExpiryFormat, Outcome, SecretString, WebhookKind,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const HASHCODE: &str = "hash_code";
const PASS: &str = "password123";

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/acquired/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn creds(company: &str, mid: Option<&str>) -> Credentials {
    Credentials::new(company, secret(PASS), mid.map(Into::into), secret(HASHCODE)).unwrap()
}

fn client(
    server: &MockServer,
    company: &str,
    mid: Option<&str>,
    timestamp: &'static str,
) -> AcquiredClient {
    AcquiredClient::builder(creds(company, mid))
        .base_url(Url::parse(&format!("{}/api.php", server.uri())).unwrap())
        .clock(Arc::new(move || timestamp.to_owned()))
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn sha(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A response signed with the test hash code.
fn signed(mut v: Value) -> Value {
    let s = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .or_else(|| v[k].as_i64().map(|n| n.to_string()))
            .unwrap_or_default()
    };
    let h = response_hash(
        &s("timestamp"),
        &s("transaction_type"),
        &s("company_id"),
        &s("transaction_id"),
        &s("response_code"),
        &secret(HASHCODE),
    );
    v["response_hash"] = json!(h);
    v
}

#[test]
fn the_three_worked_hash_values() {
    assert_eq!(
        request_hash(
            "20170612200234",
            "AUTH_ONLY",
            "133",
            "20170612200234",
            "",
            &secret(HASHCODE)
        ),
        "e850da7a9f1c825deaa912f3457b82b4cd6e4c496ff1e54ce5b58a6969dca49e"
    );
    // SUBSCRIPTION_MANAGE hashes original_transaction_id, not merchant_order_id.
    assert_eq!(
        request_hash(
            "20201124154420",
            "SUBSCRIPTION_MANAGE",
            "113",
            "a9f0ce93-6f0d-4a15-a18b-45f1304b4bc0",
            "123456",
            &secret(HASHCODE)
        ),
        "269a0b14557df06d6dfb8ac2d1a71e527039934eeeddf41cd771fe675efb7947"
    );
    assert_eq!(
        response_hash(
            "20201126154546",
            "AUTH_ONLY",
            "133",
            "306751",
            "1",
            &secret(HASHCODE)
        ),
        "e0e007f3ce2d390b5f4ca8c64c8347e5020bc8054ebd2b82a9b93d3151f0a6e0"
    );
    // ACCOUNT_UPDATER hashes original_transaction_id too.
    assert_eq!(
        request_hash(
            "20190601000000",
            "ACCOUNT_UPDATER",
            "133",
            "order-1",
            "1234567",
            &secret(HASHCODE)
        ),
        sha("20190601000000ACCOUNT_UPDATER1331234567hash_code")
    );
}

#[test]
fn the_webhook_hash_is_a_double_sha256() {
    let inner = sha("0f6b1e4c-2b7a-4c5e-9d1f-3a2b1c0d9e8f20240101120000133account_updater");
    assert_eq!(
        webhook_hash(
            "0f6b1e4c-2b7a-4c5e-9d1f-3a2b1c0d9e8f",
            "20240101120000",
            "133",
            "account_updater",
            &secret(HASHCODE)
        ),
        sha(&format!("{inner}hash_code"))
    );
}

struct JsonEq(Value);
impl Match for JsonEq {
    fn matches(&self, r: &Request) -> bool {
        serde_json::from_slice::<Value>(&r.body).ok().as_ref() == Some(&self.0)
    }
}

/// The seed's request as the client must send it for the same inputs: company ids as strings
/// (the API takes both; the crate sends strings), the test password, the full request hash.
fn expected_request(name: &str, hash: &str) -> Value {
    let mut v = fixture(name);
    for k in ["company_id", "company_mid_id"] {
        if let Some(n) = v[k].as_i64() {
            v[k] = json!(n.to_string());
        }
    }
    v["company_pass"] = json!(PASS);
    v["request_hash"] = json!(hash);
    v
}

#[tokio::test]
async fn the_seed_subscription_manage_request_is_sent_as_documented() {
    let server = MockServer::start().await;
    let hash = request_hash(
        "20201124154420",
        "SUBSCRIPTION_MANAGE",
        "113",
        "",
        "123456",
        &secret(HASHCODE),
    );
    assert_eq!(
        hash,
        "269a0b14557df06d6dfb8ac2d1a71e527039934eeeddf41cd771fe675efb7947"
    );
    let mut response = fixture("subscription_manage_response.json");
    response["company_id"] = json!("113");
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/api.php"))
        .and(wiremock::matchers::header(
            "content-type",
            "application/json",
        ))
        .and(JsonEq(expected_request(
            "subscription_manage_request.json",
            &hash,
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(signed(response)))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, "113", Some("1045"), "20201124154420");
    let mut change = ManageBilling::new("123456");
    change.merchant_order_id = Some("a9f0ce93-6f0d-4a15-a18b-45f1304b4bc0".into());
    change.billing = Some(
        BillingAddress::default()
            .billing_street("Suite 2, 4th Floor")
            .billing_street2("44 Baker Street")
            .billing_city("London")
            .billing_zipcode("W1U7AL")
            .billing_phone("+44(0)2039826580")
            .billing_email("support@acquired.com"),
    );
    let answer = c.manage_billing(&change).await.unwrap();
    let Answer::Success(r) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(
        (
            r.transaction_id.as_deref(),
            r.mid.as_deref(),
            r.bank_response_code.as_deref()
        ),
        (Some("312791"), Some("1330"), Some("00"))
    );
}

#[tokio::test]
async fn the_seed_disable_request_is_sent_as_documented() {
    let server = MockServer::start().await;
    let hash = sha("20170612200234SUBSCRIPTION_MANAGE1331234567hash_code");
    let mut response = fixture("disable_response.json");
    response["company_id"] = json!("133");
    Mock::given(wiremock::matchers::method("POST"))
        .and(JsonEq(expected_request("disable_request.json", &hash)))
        .respond_with(ResponseTemplate::new(200).set_body_json(signed(response)))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, "133", None, "20170612200234");
    let answer = c
        .disable_token("1234567", Some("20170612200234"))
        .await
        .unwrap();
    assert_eq!(answer.response().transaction_id.as_deref(), Some("316790"));
}

#[tokio::test]
async fn the_update_billing_card_change_matches_the_documented_sample() {
    let server = MockServer::start().await;
    let c = client(&server, "133", None, "20201126154545");
    let mut card = NewCard::new(
        CardNumber::parse("4024007164218280").unwrap(),
        Expiry::parse("032026", ExpiryFormat::Mmyyyy).unwrap(),
    );
    card.cvv = Some(secret("456"));
    card.holder_name = Some("MR E N JOHNSON".into());
    // The documented card (03/2026) has expired: refused before sending.
    let e = c
        .update_card("1234567", &card, None, Some("20170612200234"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(i) if i.field == "billing.cardexp"),
        "{e:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    // The same sample ten years on.
    card.expiry = Expiry::new(3, 2036).unwrap();
    let hash = sha("20201126154545AUTH_ONLY13320170612200234hash_code");
    let mut expected = expected_request("update_billing_request.json", &hash);
    expected["billing"]["cardexp"] = json!("032036");
    Mock::given(wiremock::matchers::method("POST"))
        .and(JsonEq(expected))
        // The documented response with the spec's worked response_hash (hash code "hash_code").
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("update_billing_response.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let answer = c
        .update_card("1234567", &card, None, Some("20170612200234"))
        .await
        .unwrap();
    let r = answer.response();
    assert_eq!(
        (
            r.transaction_type.as_deref(),
            r.transaction_id.as_deref(),
            r.authorization_code.as_deref()
        ),
        (Some("AUTH_ONLY"), Some("306751"), Some("123456"))
    );
    assert_eq!(r.bin.as_ref().unwrap()["issuing_bank"], "BANK OF AMERICA");
}

#[tokio::test]
async fn an_altered_or_missing_response_hash_is_an_integrity_error() {
    let server = MockServer::start().await;
    let mut tampered = fixture("update_billing_response.json");
    tampered["response_code"] = json!("1");
    tampered["transaction_id"] = json!("306752");
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tampered))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let mut unsigned = fixture("update_billing_response.json");
    unsigned.as_object_mut().unwrap().remove("response_hash");
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(unsigned))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let mut wrong_case = fixture("update_billing_response.json");
    wrong_case["response_hash"] =
        json!(wrong_case["response_hash"].as_str().unwrap().to_uppercase());
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(wrong_case))
        .mount(&server)
        .await;
    let c = client(&server, "133", None, "20201126154545");
    for _ in 0..2 {
        let e = c.request_account_update("1234567", None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e:?}");
        assert!(e.may_have_reached_provider());
    }
    // Upper-case hex verifies (comparison is case-insensitive).
    assert!(c.request_account_update("1234567", None).await.is_ok());
}

#[tokio::test]
async fn response_codes_map_to_success_pending_or_a_typed_error() {
    let cases: &[(Value, &str)] = &[
        (json!("1"), "success"),
        (json!(11), "pending"),
        (json!("101"), "Declined"),
        (json!(102), "Error:Invalid Parameters"),
        (json!("107"), "Error:Incorrect Hash String"),
        (json!("204"), "Error:Invalid or Expired cardexp"),
        (json!("325"), "Declined:Card Expired"),
        (json!("402"), "Declined:Lost or Stolen Card"),
        (json!("999"), "999"),
    ];
    for (code, expect) in cases {
        let server = MockServer::start().await;
        let mut body = json!({"timestamp": 20240101120000u64, "response_code": code, "company_id": 133, "transaction_id": 42, "transaction_type": "ACCOUNT_UPDATER", "bank_response_code": "05", "extra_field": [1, 2]});
        if code != &json!("999") && !matches!(*expect, "success" | "pending") {
            body["response_message"] = json!(expect);
        }
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(signed(body)))
            .mount(&server)
            .await;
        let c = client(&server, "133", None, "20240101120000");
        match (c.request_account_update("1234567", None).await, *expect) {
            (Ok(Answer::Success(_)), "success") | (Ok(Answer::Pending(_)), "pending") => {}
            (Err(e @ (Error::Provider { .. } | Error::Auth { .. })), message) => {
                let code_str = code
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| code.to_string());
                // Refused credentials (103 MID info, 107 hash string) are Auth; the rest Provider.
                let expected_kind = if matches!(code_str.as_str(), "103" | "107") {
                    ErrorKind::Auth
                } else {
                    ErrorKind::Provider
                };
                assert_eq!(e.kind(), expected_kind, "{code_str}");
                let detail = e.provider_detail().unwrap();
                assert_eq!(detail.code.as_deref(), Some(code_str.as_str()));
                assert_eq!(detail.issuer_code.as_deref(), Some("05"));
                assert_eq!(detail.trace_id.as_deref(), Some("42"));
                if message != "999" {
                    assert_eq!(detail.message.as_deref(), Some(message));
                } else {
                    assert_eq!(detail.message, None, "unknown codes keep no invented text");
                }
            }
            (other, e) => panic!("{e}: {other:?}"),
        }
    }
    assert_eq!(
        account_updater::providers::acquired::response_code_meaning("107"),
        Some("Error:Incorrect Hash String")
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_a_typed_error_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let c = client(&server, "133", None, "20240101120000");
    let field = |e: Error| match e {
        Error::InvalidInput(i) => i.field,
        other => panic!("{other:?}"),
    };
    // Credentials.
    assert_eq!(
        field(Credentials::new("13a", secret(PASS), None, secret(HASHCODE)).unwrap_err()),
        "company_id"
    );
    assert_eq!(
        field(Credentials::new("133", secret("password"), None, secret(HASHCODE)).unwrap_err()),
        "company_pass"
    );
    assert_eq!(
        field(
            Credentials::new(
                "133",
                secret("password_with_underscore"),
                None,
                secret(HASHCODE)
            )
            .unwrap_err()
        ),
        "company_pass"
    );
    assert_eq!(
        field(
            Credentials::new("133", secret(PASS), Some("x1".into()), secret(HASHCODE)).unwrap_err()
        ),
        "company_mid_id"
    );
    assert_eq!(
        field(Credentials::new("133", secret(PASS), None, secret("bad-code")).unwrap_err()),
        "company_hashcode"
    );
    assert!(
        Credentials::new("133", secret(PASS), Some(String::new()), secret(HASHCODE)).is_ok(),
        "an empty MID is allowed"
    );
    // Operations.
    assert_eq!(
        field(c.disable_token("12a", None).await.unwrap_err()),
        "original_transaction_id"
    );
    assert_eq!(
        field(c.disable_token("12345678901", None).await.unwrap_err()),
        "original_transaction_id"
    );
    assert_eq!(
        field(c.enable_token("123", Some("bad id!")).await.unwrap_err()),
        "merchant_order_id"
    );
    assert_eq!(
        field(
            c.enable_token("123", Some(&"x".repeat(51)))
                .await
                .unwrap_err()
        ),
        "merchant_order_id"
    );
    assert_eq!(
        field(
            c.manage_billing(&ManageBilling::new("123"))
                .await
                .unwrap_err()
        ),
        "billing"
    );
    let visa = CardNumber::parse("4024007164218280").unwrap();
    let expired = NewCard::new(visa.clone(), Expiry::new(1, 2020).unwrap());
    assert_eq!(
        field(
            c.update_card("123", &expired, None, None)
                .await
                .unwrap_err()
        ),
        "billing.cardexp"
    );
    let mut bad_cvv = NewCard::new(visa.clone(), Expiry::new(1, 2040).unwrap());
    bad_cvv.cvv = Some(secret("12"));
    assert_eq!(
        field(
            c.update_card("123", &bad_cvv, None, None)
                .await
                .unwrap_err()
        ),
        "billing.cardcvv"
    );
    let unknown = CardNumber::parse(&luhn("990000000000000")).unwrap();
    assert_eq!(
        field(
            c.update_card(
                "123",
                &NewCard::new(unknown, Expiry::new(1, 2040).unwrap()),
                None,
                None
            )
            .await
            .unwrap_err()
        ),
        "billing.cardnumber"
    );
    // Unified: expiry without number, a card number as an inquiry, names with a card change.
    let e = c
        .update_account(
            AccountUpdateRequest::new("123")
                .card(NewCardData::new(None, Expiry::new(1, 2040).ok())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput(ref i) if matches!(i.problem, InputProblem::NotAllowed { .. })),
        "{e:?}"
    );
    let e = c
        .submit(vec![CardToUpdate::pan(
            "p",
            visa.clone(),
            Expiry::new(1, 2040).unwrap(),
        )])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let mut holder = HolderData::default();
    holder.first_name = Some("Ann".into());
    let e = c
        .update_account(
            AccountUpdateRequest::new("123")
                .card(NewCardData::new(Some(visa), Expiry::new(1, 2040).ok()))
                .holder(holder),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn webhook(company: &str, hashcode: &str, event: &str) -> Value {
    let id = "6c2b8f1e-0a4d-4b7e-9c3f-2d1e0f9a8b7c";
    let ts = "20240101120000";
    json!({
        "id": id, "timestamp": ts, "company_id": company, "event": event,
        "hash": webhook_hash(id, ts, company, event, &secret(hashcode)),
        "original_transaction_id": "1234567", "response_code": "1", "some_unpublished_field": {"a": 1},
    })
}

/// Ten minutes after the test webhook's timestamp.
const WEBHOOK_NOW: &str = "20240101121000";

/// A client of `c` whose clock reads `now` (webhooks are verified against it).
fn client_at(c: &Credentials, now: &'static str) -> AcquiredClient {
    AcquiredClient::builder(c.clone())
        .clock(Arc::new(move || now.to_owned()))
        .build()
        .unwrap()
}

fn verify(c: &Credentials, body: &Value) -> Result<account_updater::WebhookEvent, Error> {
    client_at(c, WEBHOOK_NOW).verify_webhook(body.to_string().as_bytes())
}

#[test]
fn webhooks_are_verified_and_tampered_or_unsigned_ones_refused() {
    let c = creds("133", None);
    let good = webhook("133", HASHCODE, "account_updater");
    let e = verify(&c, &good).unwrap();
    assert_eq!(
        (e.kind.clone(), e.authenticity),
        (WebhookKind::AccountUpdated, Authenticity::Verified)
    );
    assert_eq!(e.id, "6c2b8f1e-0a4d-4b7e-9c3f-2d1e0f9a8b7c");
    assert_eq!(e.updates.len(), 1);
    assert_eq!(e.updates[0].card_id, None);
    assert_eq!(e.updates[0].card_ref.as_deref(), Some("1234567"));
    // Acquired's own response code (1, success) is not a scheme code: with nothing else, the
    // outcome stays unknown with the raw values.
    assert_eq!(
        e.updates[0].outcome,
        Outcome::Unknown("response_code=1".into()),
        "no code the table knows: nothing guessed"
    );
    assert_eq!(e.updates[0].raw_code, "response_code=1");
    assert_eq!(e.raw["some_unpublished_field"]["a"], 1);
    // The hash covers the envelope only: everything else is listed as unauthenticated.
    assert_eq!(
        e.unauthenticated_fields,
        [
            "original_transaction_id",
            "response_code",
            "some_unpublished_field"
        ]
    );
    // An updater word in `update_result` is one of the plausible readings: tied to the
    // table, it maps, with the new expiry from `cardexp`, and both are flagged unsigned.
    let mut with_result = webhook("133", HASHCODE, "account_updater");
    with_result["update_result"] = json!("updated_expiry");
    with_result["cardexp"] = json!("012031");
    let e = verify(&c, &with_result).unwrap();
    assert_eq!(
        (e.updates[0].outcome.clone(), e.updates[0].new_expiry),
        (Outcome::NewExpiry, Some(Expiry::new(1, 2031).unwrap()))
    );
    assert_eq!(
        e.updates[0].raw_code,
        "response_code=1;update_result=updated_expiry"
    );
    assert!(e.unauthenticated_fields.contains(&"cardexp".to_owned()));
    assert!(
        e.unauthenticated_fields
            .contains(&"update_result".to_owned())
    );

    let mut tampered = good.clone();
    tampered["event"] = json!("dispute_new");
    let mut unsigned = good.clone();
    unsigned.as_object_mut().unwrap().remove("hash");
    let wrong_key = webhook("133", "another_code", "account_updater");
    let other_company = webhook("999", HASHCODE, "account_updater");
    for (bad, kind) in [
        (tampered, ErrorKind::Integrity),
        (unsigned, ErrorKind::Integrity),
        (wrong_key, ErrorKind::Integrity),
        (other_company, ErrorKind::Integrity),
    ] {
        assert_eq!(verify(&c, &bad).unwrap_err().kind(), kind);
    }
    let mut incomplete = good.clone();
    incomplete.as_object_mut().unwrap().remove("timestamp");
    assert_eq!(
        verify(&c, &incomplete).unwrap_err().kind(),
        ErrorKind::Decode
    );
    assert_eq!(
        client_at(&c, WEBHOOK_NOW)
            .verify_webhook(b"{not json")
            .unwrap_err()
            .kind(),
        ErrorKind::Decode
    );
    // Other events are verified and kept.
    let other = verify(&c, &webhook("133", HASHCODE, "transaction_outcome")).unwrap();
    assert_eq!(other.kind, WebhookKind::Other("transaction_outcome".into()));
}

#[test]
fn a_replayed_genuine_webhook_outside_the_freshness_window_is_refused() {
    let c = creds("133", None);
    let good = webhook("133", HASHCODE, "account_updater").to_string();
    let at = |now: &'static str| client_at(&c, now).verify_webhook(good.as_bytes());
    // Within two hours either way (Acquired retries for an hour; its time zone is unstated).
    for now in ["20240101120000", "20240101135959", "20240101100001"] {
        at(now).unwrap_or_else(|e| panic!("{now}: {e}"));
    }
    for now in ["20240101140001", "20240101095959", "20240102120000"] {
        assert_eq!(at(now).unwrap_err().kind(), ErrorKind::Integrity, "{now}");
    }
    // The default window is the documented one, and a client on today's clock refuses this
    // 2024 webhook.
    assert_eq!(
        DEFAULT_WEBHOOK_FRESHNESS,
        std::time::Duration::from_secs(2 * 3600)
    );
    let today = AcquiredClient::builder(c.clone()).build().unwrap();
    assert_eq!(
        today.verify_webhook(good.as_bytes()).unwrap_err().kind(),
        ErrorKind::Integrity
    );
    // The window is configurable: the client's clock and window decide.
    client_at(&c, "20240101121500")
        .verify_webhook(good.as_bytes())
        .unwrap();
    let strict = AcquiredClient::builder(c)
        .clock(Arc::new(|| "20240101121500".to_owned()))
        .webhook_freshness(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(
        strict.verify_webhook(good.as_bytes()).unwrap_err().kind(),
        ErrorKind::Integrity
    );
}

#[test]
fn credentials_and_clients_never_print_secrets() {
    let c = AcquiredClient::builder(creds("133", Some("1045")))
        .build()
        .unwrap();
    let mut card = NewCard::new(
        CardNumber::parse("4024007164218280").unwrap(),
        Expiry::new(3, 2036).unwrap(),
    );
    card.cvv = Some(secret("456"));
    let customer = Customer::default().customer_fname("Ann");
    let shown = format!("{c:?} {:?} {card:?} {customer:?}", creds("133", None));
    common::assert_no_leak(&shown, &["4024007164218280"], &[PASS, HASHCODE, "456"]);
    assert_eq!(c.base_url().as_str(), "https://qaapi.acquired.com/api.php");
}

/// A signed `account_updater` webhook carrying `fields` beside the envelope.
fn updater_webhook(fields: Value) -> Value {
    let mut body = webhook("133", HASHCODE, "account_updater");
    body.as_object_mut().unwrap().remove("response_code");
    body.as_object_mut()
        .unwrap()
        .remove("some_unpublished_field");
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Acquired does not publish the fields of its `account_updater` event: every plausible
/// reading of its testing page (the columns snake-cased, a nested object, Acquired's own
/// `response_code` beside the scheme's, an updater word) maps to the same outcome, and
/// readings that do not agree, or that the table cannot tie, are never guessed.
#[test]
fn account_updater_webhooks_map_under_every_plausible_reading() {
    let c = creds("133", None);
    let read = |fields: Value| {
        let e = verify(&c, &updater_webhook(fields)).unwrap();
        assert_eq!(e.updates.len(), 1);
        e.updates.into_iter().next().unwrap()
    };
    let cases: Vec<(Value, Outcome)> = vec![
        // The testing page's columns at the top level: Visa.
        (
            json!({"status": "1", "response_code": "A"}),
            Outcome::NewAccountNumber,
        ),
        (json!({"status": 2, "response_code": "C"}), Outcome::Closed),
        (
            json!({"status": "1", "response_code": "E"}),
            Outcome::NewExpiry,
        ),
        (
            json!({"status": "2", "response_code": "N"}),
            Outcome::NonParticipating,
        ),
        (
            json!({"status": "2", "response_code": "P"}),
            Outcome::NoMatch,
        ),
        (
            json!({"status": "2", "response_code": "Q"}),
            Outcome::ContactCardholder,
        ),
        (json!({"status": "2", "response_code": "V"}), Outcome::Valid),
        // Mastercard: indicator and reason identifier.
        (
            json!({"status": "1", "response_indicator": "R", "reason_identifier": "UPDATE"}),
            Outcome::NewAccountNumber,
        ),
        (
            json!({"status": "1", "response_indicator": "B", "reason_identifier": "UPDATE"}),
            Outcome::NewAccountNumber,
        ),
        (
            json!({"status": "2", "response_indicator": "C", "reason_identifier": "CONTAC"}),
            Outcome::Closed,
        ),
        (
            json!({"status": "1", "response_indicator": "E", "reason_identifier": "EXPIRY"}),
            Outcome::NewExpiry,
        ),
        (
            json!({"status": "2", "response_indicator": "V", "reason_identifier": "VALID"}),
            Outcome::Valid,
        ),
        (
            json!({"status": "2", "response_indicator": "P", "reason_identifier": "UNKNWN"}),
            Outcome::NoMatch,
        ),
        (
            json!({"status": "2", "response_indicator": "N", "reason_identifier": "UNKNWN"}),
            Outcome::NonParticipating,
        ),
        // A reason identifier alone says what the table says: CONTAC is closed.
        (json!({"reason_identifier": "CONTAC"}), Outcome::Closed),
        // Nested, beside Acquired's own numeric response code (success), which is not read.
        (
            json!({"response_code": "1", "account_updater": {"status": "1", "response_code": "a"}}),
            Outcome::NewAccountNumber,
        ),
        (
            json!({"data": {"update_result": "contact_closed"}}),
            Outcome::Closed,
        ),
        // Letters the table has beyond the testing page, and Real Time VAU codes.
        (json!({"response_code": "O"}), Outcome::OptedOut),
        (
            json!({"account_update_failure_code": "VAU016"}),
            Outcome::StopUpdates,
        ),
        (json!({"result_code": "VAU009"}), Outcome::NonParticipating),
    ];
    for (fields, expected) in cases {
        let u = read(fields.clone());
        assert_eq!(u.outcome, expected, "{fields}");
        assert!(!u.raw_code.is_empty(), "the raw code is kept: {fields}");
    }
    // The brand change (Mastercard B) is said; R is not one.
    let b = read(
        json!({"status": "1", "response_indicator": "B", "reason_identifier": "UPDATE", "cardexp": "022031"}),
    );
    assert!(b.brand_changed);
    assert_eq!(b.new_expiry, Some(Expiry::new(2, 2031).unwrap()));
    assert_eq!(
        b.raw_code,
        "reason_identifier=UPDATE;response_indicator=B;status=1"
    );
    assert!(!read(json!({"response_indicator": "R"})).brand_changed);

    // Never guessed: codes that disagree, a status that contradicts the code, a status alone,
    // a code the table does not hold, and look-alike values in fields that carry no code.
    for fields in [
        json!({"response_code": "A", "reason_identifier": "CONTAC"}),
        json!({"status": "2", "response_code": "A"}),
        json!({"status": "1", "response_code": "C"}),
        json!({"status": "1"}),
        json!({"status": "1", "update_status": "2", "response_code": "A"}),
        json!({"response_indicator": "R", "reason_identifier": "EXPIRY"}),
        json!({"response_indicator": "C", "reason_identifier": "UNKNWN"}),
        json!({"response_code": "Z"}),
        json!({"cvvresult": "N", "avsaddress": "C", "card_type": "V"}),
        json!({"result": ""}),
    ] {
        let u = read(fields.clone());
        assert!(
            matches!(&u.outcome, Outcome::Unknown(raw) if *raw == u.raw_code),
            "{fields}: {:?}",
            u.outcome
        );
    }

    // New card data: a full number is checked before it is handed out; a masked one is not
    // read as a number at all.
    let good = read(
        json!({"status": "1", "response_code": "A", "cardnumber": "4457010000000009", "cardexp": "012031"}),
    );
    assert_eq!(good.outcome, Outcome::NewAccountNumber);
    assert_eq!(
        good.new_card.as_ref().map(CardNumber::masked).as_deref(),
        Some("445701******0009")
    );
    let bad = read(
        json!({"status": "1", "response_code": "A", "cardnumber": "4457010000000008", "cardexp": "012031"}),
    );
    assert_eq!(
        bad.outcome,
        Outcome::InvalidUpdate {
            problem: account_updater::card::NewNumberProblem::Luhn
        }
    );
    assert_eq!((bad.new_card.is_none(), bad.new_expiry), (true, None));
    assert_eq!(bad.action(), account_updater::Action::DoNotApply);
    assert!(!format!("{bad:?}").contains("4457010000000008"));
    let masked =
        read(json!({"status": "1", "response_code": "A", "cardnumber": "445701******0009"}));
    assert_eq!(
        (masked.outcome, masked.new_card.is_none()),
        (Outcome::NewAccountNumber, true)
    );
    // A "new" Visa number of 17 digits breaks Visa's length rule.
    let long = read(json!({"response_code": "A", "cardnumber": "44570100000000002"}));
    assert!(
        matches!(long.outcome, Outcome::InvalidUpdate { .. }),
        "{:?}",
        long.outcome
    );
}
