//! Acquired end to end against the embedded emulator: the example's flow (billing update,
//! disable, refused inquiry, enable, inquiry, signed webhook, card change), the emulator's hash
//! and credential checks, unified flows, and no PAN, password or hash code in `tracing` output.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use account_updater::providers::acquired::wire::BillingAddress;
use account_updater::providers::acquired::{
    AcquiredClient, Answer, Credentials, ManageBilling, NewCard,
};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::webhook::{self, Authenticity, Deduplicator};
use account_updater::{
    CardNumber, ErrorKind, Expiry, Outcome, ProviderId, SecretString, WebhookKind,
};
use account_updater::{
    ids::{Flow, JobKind, JobRef},
    provider::{
        AccountUpdateRequest, Address, CardToUpdate, HolderData, JobState, NewCardData, PlacedCard,
        Provider, RemoveCard,
    },
};
use account_updater_emulator::WebhookSink;
use account_updater_emulator::acquired::{
    AcquiredEmulator, DEFAULT_COMPANY_PASS, DEFAULT_HASHCODE,
};

fn client(emu: &AcquiredEmulator) -> AcquiredClient {
    AcquiredClient::builder(emu.credentials())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn card(pan: &str) -> CardNumber {
    CardNumber::parse(pan).unwrap()
}

#[tokio::test]
async fn the_example_flow_end_to_end_without_leaking_secrets() {
    let logs = common::capture_traces();
    let emu = AcquiredEmulator::start().await.unwrap();
    let sink = WebhookSink::start().await.unwrap();
    emu.set_webhook_url(&sink.url());
    let c = client(&emu);
    let token = emu.create_token(&card("4457000300000007"), Expiry::new(1, 2030).unwrap());

    let mut change = ManageBilling::new(token.clone());
    change.billing = Some(
        BillingAddress::default()
            .billing_city("London")
            .billing_zipcode("W1U7AL"),
    );
    assert!(matches!(
        c.manage_billing(&change).await.unwrap(),
        Answer::Success(_)
    ));
    let data = emu.token_state(&token).unwrap().fields;
    assert_eq!(data["billing_city"], "London");

    c.disable_token(&token, None).await.unwrap();
    assert!(!emu.token_state(&token).unwrap().enabled);
    let refused = c.request_account_update(&token, None).await.unwrap_err();
    assert_eq!(
        refused.provider_detail().unwrap().code.as_deref(),
        Some("102")
    );
    let refused = c
        .update_card(
            &token,
            &NewCard::new(card("4024007164218280"), Expiry::new(3, 2031).unwrap()),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        ErrorKind::Provider,
        "UPDATE_BILLING refused on a disabled token"
    );
    c.enable_token(&token, None).await.unwrap();

    let answer = c.request_account_update(&token, None).await.unwrap();
    assert!(matches!(answer, Answer::Pending(ref r) if r.response_code.as_deref() == Some("11")));
    let delivered = sink
        .next(Duration::from_secs(5))
        .await
        .expect("account_updater webhook");
    let event = webhook::receive(&c, &delivered.headers, &delivered.body).unwrap();
    assert_eq!(
        (event.kind.clone(), event.authenticity),
        (WebhookKind::AccountUpdated, Authenticity::Verified)
    );
    let dedup = Deduplicator::default();
    assert!(dedup.first_seen(&event));
    assert!(
        !dedup.first_seen(&webhook::receive(&c, &delivered.headers, &delivered.body).unwrap()),
        "a redelivery is flagged"
    );
    // The emulator answers with the testing page's columns (status, the Visa code); the new
    // expiry comes in `cardexp`. None of them is covered by the hash, and the event says so.
    assert_eq!(event.updates[0].outcome, Outcome::NewExpiry);
    assert_eq!(event.updates[0].raw_code, "response_code=E;status=1");
    assert_eq!(
        event.updates[0].new_expiry,
        Some(Expiry::new(1, 2033).unwrap())
    );
    for field in ["status", "response_code", "cardexp"] {
        assert!(
            event.unauthenticated_fields.contains(&field.to_owned()),
            "{field}"
        );
    }
    assert_eq!(
        emu.token_state(&token).unwrap().expiry,
        "012033",
        "the stored card was updated in place"
    );

    let mut new_card = NewCard::new(card("4024007164218280"), Expiry::new(3, 2031).unwrap());
    new_card.cvv = Some(SecretString::from("456".to_owned()));
    c.update_card(&token, &new_card, None, None).await.unwrap();
    assert_eq!(
        emu.token_state(&token).unwrap().masked_card,
        "402400******8280"
    );

    common::assert_no_leak(
        &logs.contents(),
        &["4457000300000007", "4024007164218280"],
        &[DEFAULT_COMPANY_PASS, DEFAULT_HASHCODE],
    );
}

#[tokio::test]
async fn the_emulator_checks_hashes_and_credentials() {
    let emu = AcquiredEmulator::start().await.unwrap();
    let token = emu.create_token(&card("4457010000000009"), Expiry::new(1, 2030).unwrap());
    // A client with the wrong hash code: the emulator refuses with 107, signed with its own
    // code, which this client cannot verify. A failure is never acted upon, so it is reported
    // as what it says (Auth), marked unverified.
    let wrong_code = Credentials::new(
        "133",
        SecretString::from(DEFAULT_COMPANY_PASS.to_owned()),
        None,
        SecretString::from("other_code".to_owned()),
    )
    .unwrap();
    let c = AcquiredClient::builder(wrong_code)
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let e = c.disable_token(&token, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(
        e.provider_detail()
            .and_then(|d| d.message.as_deref())
            .is_some_and(|m| m.contains("unverified")),
        "{e}"
    );
    // The right code but a wrong password: 103.
    let wrong_pass = Credentials::new(
        "133",
        SecretString::from("wrongPassword1".to_owned()),
        None,
        SecretString::from(DEFAULT_HASHCODE.to_owned()),
    )
    .unwrap();
    let c = AcquiredClient::builder(wrong_pass)
        .base_url(emu.base_url())
        .build()
        .unwrap();
    assert_eq!(
        c.disable_token(&token, None)
            .await
            .unwrap_err()
            .provider_detail()
            .unwrap()
            .code
            .as_deref(),
        Some("103")
    );
    // Card number and expiry cannot change through SUBSCRIPTION_MANAGE; unknown tokens fail.
    let c = client(&emu);
    assert_eq!(
        c.disable_token("999999", None)
            .await
            .unwrap_err()
            .provider_detail()
            .unwrap()
            .code
            .as_deref(),
        Some("102")
    );
    let raw = reqwest::Client::new();
    let ts = "20240101120000";
    let hash = account_updater::testing::acquired::request_hash(
        ts,
        "SUBSCRIPTION_MANAGE",
        "133",
        "",
        &token,
        &SecretString::from(DEFAULT_HASHCODE.to_owned()),
    );
    let body = serde_json::json!({"timestamp": ts, "company_id": "133", "company_pass": DEFAULT_COMPANY_PASS, "company_mid_id": "", "request_hash": hash,
        "transaction": {"transaction_type": "SUBSCRIPTION_MANAGE", "subscription_type": "UPDATE_BILLING", "original_transaction_id": token},
        "billing": {"cardexp": "012040"}});
    let v: serde_json::Value = raw
        .post(emu.base_url())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["response_code"], "102");
    let mut bad_hash = body.clone();
    bad_hash["request_hash"] = serde_json::json!("0".repeat(64));
    let v: serde_json::Value = raw
        .post(emu.base_url())
        .json(&bad_hash)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["response_code"].as_str(), v["response_message"].as_str()),
        (Some("107"), Some("Error:Incorrect Hash String"))
    );
}

#[tokio::test]
async fn unified_flows_on_the_emulator() {
    let emu = AcquiredEmulator::start().await.unwrap();
    let sink = WebhookSink::start().await.unwrap();
    emu.set_webhook_url(&sink.url());
    let c = client(&emu);
    assert_eq!(
        c.capabilities().flows().collect::<Vec<_>>(),
        [
            Flow::AddCards,
            Flow::RemoveCards,
            Flow::Submit,
            Flow::UpdateAccount,
            Flow::ParseWebhook
        ]
    );
    let t1 = emu.create_token(&card("4457010000000009"), Expiry::new(1, 2030).unwrap());
    let t2 = emu.create_token(&card("4457000900000001"), Expiry::new(8, 2030).unwrap());
    let t3 = emu.create_token(&card("4100200300011001"), Expiry::new(5, 2030).unwrap());
    let job = JobRef::new(ProviderId::Acquired, JobKind::Subscription, "tokens");
    c.remove_cards(
        &job,
        vec![RemoveCard::Card(CardToUpdate::token(
            "c3",
            ProviderId::Acquired,
            t3.clone(),
        ))],
    )
    .await
    .unwrap();
    let receipt = c
        .submit(vec![
            CardToUpdate::token("c1", ProviderId::Acquired, t1.clone()),
            CardToUpdate::token("c2", ProviderId::Acquired, t2.clone()),
            CardToUpdate::token("c3", ProviderId::Acquired, t3.clone()),
        ])
        .await
        .unwrap();
    assert_eq!((receipt.accepted().len(), receipt.failed().len()), (2, 1));
    assert!(
        receipt
            .accepted()
            .iter()
            .all(|j| *j.state() == JobState::Pending && j.job().kind == JobKind::Inquiry)
    );
    assert_eq!(receipt.failed()[0].card_ids(), ["c3"], "the disabled token");
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let d = sink.next(Duration::from_secs(5)).await.unwrap();
        let mut e = webhook::receive(&c, &d.headers, &d.body).unwrap();
        // The webhook names the token, not the caller's id; the receipt joins them.
        assert_eq!(e.updates[0].card_id, None);
        let token = e.updates[0].card_ref.clone().unwrap();
        receipt.join_card_ids(&mut e.updates);
        let id = e.updates[0].card_id.clone().unwrap();
        let said = e.updates[0].outcome.clone();
        outcomes.push((id, token, said));
    }
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        outcomes,
        [
            ("c1".to_owned(), t1.clone(), Outcome::NewAccountNumber),
            ("c2".to_owned(), t2.clone(), Outcome::Closed),
        ]
    );
    let added = c
        .add_cards(
            &job,
            vec![CardToUpdate::token("c3", ProviderId::Acquired, t3.clone())],
        )
        .await
        .unwrap();
    assert!(added.is_complete());
    assert!(emu.token_state(&t3).unwrap().enabled);

    // Holder data → SUBSCRIPTION_MANAGE; a new card → UPDATE_BILLING with the billing address.
    let mut holder = HolderData::default();
    holder.first_name = Some("Ann".into());
    let mut address = Address::default();
    address.city = Some("Leeds".into());
    address.country = Some("GB".into());
    holder.address = Some(address.clone());
    holder.email = Some("ann@example.com".into());
    let r = c
        .update_account(AccountUpdateRequest::new(&t1).holder(holder))
        .await
        .unwrap();
    assert_eq!(r.raw_code, "1");
    let data = emu.token_state(&t1).unwrap().fields;
    assert_eq!(
        (
            data["customer_fname"].as_str(),
            data["billing_city"].as_str(),
            data["billing_email"].as_str()
        ),
        (Some("Ann"), Some("Leeds"), Some("ann@example.com"))
    );
    let mut billing_only = HolderData::default();
    billing_only.address = Some(address);
    let new = NewCardData::new(Some(card("5112010000000003")), Expiry::new(2, 2032).ok())
        .with_security_code(SecretString::from("123".to_owned()));
    c.update_account(
        AccountUpdateRequest::new(&t1)
            .card(new)
            .holder(billing_only),
    )
    .await
    .unwrap();
    assert_eq!(
        emu.token_state(&t1).unwrap().masked_card,
        "511201******0003"
    );
    assert_eq!(
        c.fetch_results(&account_updater::ids::ResultsQuery::Job(job.clone()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
}

#[tokio::test]
async fn removing_placed_cards_disables_their_tokens_never_the_caller_ids() {
    let emu = AcquiredEmulator::start().await.unwrap();
    let c = client(&emu);
    let t1 = emu.create_token(&card("4457010000000009"), Expiry::new(1, 2030).unwrap());
    let t2 = emu.create_token(&card("4457000900000001"), Expiry::new(8, 2030).unwrap());
    // A caller id that is also a live token: disabling by caller id would hit this card.
    let bystander = emu.create_token(&card("4100200300011001"), Expiry::new(5, 2030).unwrap());
    let job = JobRef::new(ProviderId::Acquired, JobKind::Subscription, "tokens");
    let added = c
        .add_cards(
            &job,
            vec![
                CardToUpdate::token(bystander.clone(), ProviderId::Acquired, t1.clone()),
                CardToUpdate::token("c2", ProviderId::Acquired, t2.clone()),
            ],
        )
        .await
        .unwrap();
    let placed: Vec<PlacedCard> = added
        .accepted()
        .iter()
        .flat_map(|j| j.cards().to_vec())
        .collect();
    let refs: Vec<_> = placed
        .iter()
        .map(|p| p.provider_ref().map(str::to_owned))
        .collect();
    assert_eq!(
        refs,
        [Some(t1.clone()), Some(t2.clone())],
        "receipts carry the tokens"
    );

    // A placed card whose token is unknown is refused before anything is sent.
    let unknown = PlacedCard::new("c9", None);
    let e = c
        .remove_cards(&job, vec![RemoveCard::Placed(unknown)])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // One token the gateway does not know: the receipt says which were disabled.
    let mut remove: Vec<RemoveCard> = placed.into_iter().map(RemoveCard::Placed).collect();
    remove.push(RemoveCard::Placed(PlacedCard::new(
        "c3",
        Some("999999".into()),
    )));
    let receipt = c.remove_cards(&job, remove).await.unwrap();
    assert_eq!(receipt.removed(), [bystander.clone(), "c2".to_owned()]);
    assert_eq!(receipt.failed().len(), 1);
    assert_eq!(receipt.failed()[0].card_ids(), ["c3"]);
    assert_eq!(receipt.failed()[0].provider_refs(), ["999999"]);
    assert!(!emu.token_state(&t1).unwrap().enabled, "t1 disabled");
    assert!(!emu.token_state(&t2).unwrap().enabled, "t2 disabled");
    assert!(
        emu.token_state(&bystander).unwrap().enabled,
        "the token named like a caller id is untouched"
    );
}

/// The emulator answering bad credentials with no `response_hash`: through the unified layer the
/// refusal is an `Auth` error (marked unverified), never an integrity failure that hides the
/// cause; good credentials work as before; an unsigned success is still never used.
#[tokio::test]
async fn unsigned_credential_errors_are_auth_errors_and_unsigned_successes_are_refused() {
    use account_updater_emulator::acquired::AcquiredEmulatorConfig;
    let emu = AcquiredEmulator::start_with(
        AcquiredEmulatorConfig::default().unsigned_credential_errors(true),
    )
    .await
    .unwrap();
    let token = emu.create_token(&card("4457010000000009"), Expiry::new(1, 2030).unwrap());
    let wrong_pass = Credentials::new(
        "133",
        SecretString::from("wrongPassword1".to_owned()),
        None,
        SecretString::from(DEFAULT_HASHCODE.to_owned()),
    )
    .unwrap();
    let bad: Arc<dyn Provider> = Arc::new(
        AcquiredClient::builder(wrong_pass)
            .base_url(emu.base_url())
            .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
            .build()
            .unwrap(),
    );
    let mut holder = HolderData::default();
    holder.last_name = Some("Lovelace".into());
    let e = bad
        .update_account(AccountUpdateRequest::new(&token).holder(holder.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(e.provider_detail().unwrap().code.as_deref(), Some("103"));
    let job = JobRef::new(ProviderId::Acquired, JobKind::Subscription, "tokens");
    let removal = bad
        .remove_cards(
            &job,
            vec![RemoveCard::Card(CardToUpdate::token(
                "c1",
                ProviderId::Acquired,
                token.clone(),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(removal.failed()[0].error().kind(), ErrorKind::Auth);
    assert!(
        emu.token_state(&token).unwrap().enabled,
        "nothing was disabled"
    );

    let good: Arc<dyn Provider> = Arc::new(client(&emu));
    good.update_account(AccountUpdateRequest::new(&token).holder(holder))
        .await
        .unwrap();

    // A success without a valid hash is never used, whatever it says.
    emu.inject_fault(account_updater_emulator::Fault::json(
        200,
        serde_json::json!({"timestamp": "20240101120000", "response_code": "1",
            "response_message": "Transaction Success", "company_id": "133",
            "transaction_type": "SUBSCRIPTION_MANAGE"}),
    ));
    let e = good
        .remove_cards(
            &job,
            vec![RemoveCard::Card(CardToUpdate::token(
                "c1",
                ProviderId::Acquired,
                token.clone(),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(e.failed()[0].error().kind(), ErrorKind::Integrity);
}

/// A webhook the receiver does not answer 200 is delivered again, the same signed body each
/// time, as Acquired does ("retries every 10 min for 1 h"; the emulator's interval is set to
/// 20 ms here), and not again once it is answered 200.
#[tokio::test]
async fn a_webhook_not_answered_200_is_delivered_again_until_it_is() {
    use account_updater_emulator::acquired::AcquiredEmulatorConfig;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/acquired"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/acquired"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let mut config = AcquiredEmulatorConfig::default();
    config.webhook_retry_interval = Duration::from_millis(20);
    let emu = AcquiredEmulator::start_with(config).await.unwrap();
    emu.set_webhook_url(&format!("{}/acquired", receiver.uri()).parse().unwrap());
    let token = emu.create_token(&card("4457000300000007"), Expiry::new(1, 2030).unwrap());
    client(&emu)
        .request_account_update(&token, None)
        .await
        .unwrap();
    let mut received = Vec::new();
    for _ in 0..1_000 {
        received = receiver.received_requests().await.unwrap();
        if received.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        received.len(),
        3,
        "two refusals, then the delivery answered 200"
    );
    assert!(received.iter().all(|r| r.body == received[0].body));
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["event"], "account_updater");
    // Answered 200: nothing more comes, however long one waits.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received_requests().await.unwrap().len(), 3);
}

/// `Duration::ZERO` turns redelivery off: one attempt, as a receiver testing its own
/// error path wants.
#[tokio::test]
async fn a_zero_retry_interval_delivers_once() {
    use account_updater_emulator::acquired::AcquiredEmulatorConfig;
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let mut config = AcquiredEmulatorConfig::default();
    config.webhook_retry_interval = Duration::ZERO;
    let emu = AcquiredEmulator::start_with(config).await.unwrap();
    emu.set_webhook_url(&receiver.uri().parse().unwrap());
    let token = emu.create_token(&card("4457000300000007"), Expiry::new(1, 2030).unwrap());
    assert!(emu.hold_results(&token));
    client(&emu)
        .request_account_update(&token, None)
        .await
        .unwrap();
    // Released deliveries are awaited: the one attempt has been answered when this returns.
    assert_eq!(emu.release_results().await, 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1);
}
