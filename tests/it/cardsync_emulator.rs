//! CardSync end to end against the embedded emulator: the example's flow (webhooks, enrollment,
//! status, batch + Amex submission, completion, results), webhook delivery to a local receiver,
//! the emulator's own refusals, and no PAN or key in the `tracing` output.

use crate::common;

use std::time::Duration;

use account_updater::providers::cardsync::{CardSyncClient, CardSyncPartner};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::webhook::{self, Deduplicator};
use account_updater::{
    CardBrand, CardNumber, Error, ErrorKind, Expiry, ExpiryFormat, ExposeSecret, Outcome,
    ProviderId, SecretString, WebhookKind,
};
use account_updater::{
    ids::{Flow, JobKind, JobRef, ResultsQuery},
    provider::{
        CardToUpdate, JobState, Provider, RemoveCard, SubscribeRequest, WebhookRegistration,
    },
};
use account_updater_emulator::WebhookSink;
use account_updater_emulator::cardsync::{CardSyncEmulator, CardSyncEmulatorConfig, Completion};

const TEST_CARDS: [(&str, &str, &str); 16] = [
    ("4457010000000009", "01/50", "updated_card"),
    ("4457000300000007", "01/50", "updated_expiry"),
    ("4457010200000247", "08/50", "no_match"),
    ("4100200300011001", "05/50", "valid"),
    ("4457010140000141", "09/50", "contact"),
    ("4457000900000001", "08/50", "closed"),
    ("5194560012341234", "12/50", "updated_card"),
    ("5112010000000003", "02/50", "updated_expiry"),
    ("5112000200000002", "11/50", "no_match"),
    ("5112002200000008", "11/50", "valid"),
    ("5435101234510196", "07/50", "closed"),
    ("6011010000000003", "03/50", "updated_card"),
    ("6011010140000004", "08/50", "updated_expiry"),
    ("6500102012345662", "01/50", "valid"),
    ("6011102087026223", "01/50", "contact"),
    ("6011010100000002", "08/50", "closed"),
];
const AMEX: [(&str, &str); 3] = [
    ("342132335566772", "updated_card"),
    ("376655111122997", "updated_expiry"),
    ("349900006577234", "closed"),
];

fn partner(emu: &CardSyncEmulator) -> CardSyncPartner {
    CardSyncPartner::builder(emu.partner_key())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build_partner()
        .unwrap()
}

async fn enrolled(
    emu: &CardSyncEmulator,
    tag: &str,
) -> (CardSyncPartner, CardSyncClient, SecretString) {
    let p = partner(emu);
    let created = p
        .enroll_merchant(&common::cardsync_merchant(tag))
        .await
        .unwrap();
    let key = SecretString::from(created.api_key.expose_secret().to_owned());
    let m = p.merchant(key.clone()).unwrap();
    (p, m, key)
}

fn test_cards() -> Vec<CardToUpdate> {
    let mut cards: Vec<_> = TEST_CARDS
        .iter()
        .enumerate()
        .map(|(i, (pan, exp, _))| {
            CardToUpdate::pan(
                format!("c{i:02}"),
                CardNumber::parse(pan).unwrap(),
                Expiry::parse(exp, ExpiryFormat::MmSlashYy).unwrap(),
            )
        })
        .collect();
    cards.extend(AMEX.iter().enumerate().map(|(i, (pan, _))| {
        CardToUpdate::pan(
            format!("a{i}"),
            CardNumber::parse(pan).unwrap(),
            Expiry::new(12, 2028).unwrap(),
        )
        .with_amex_se_number("1234567890")
    }));
    cards
}

#[tokio::test]
async fn the_example_flow_end_to_end_without_leaking_card_data() {
    let logs = common::capture_traces();
    let emu = CardSyncEmulator::start_with(
        CardSyncEmulatorConfig::default().completion(Completion::Manual),
    )
    .await
    .unwrap();
    let sink = WebhookSink::start().await.unwrap();
    let p = partner(&emu);
    let (_, m, key) = {
        // Webhooks first, as the docs order it (with the partner key: no merchant exists yet).
        let hooks = account_updater::providers::cardsync::wire::Webhooks::new(
            account_updater::providers::cardsync::wire::Trigger::ALL
                .iter()
                .map(|t| {
                    account_updater::providers::cardsync::wire::WebhookTarget::new(
                        *t,
                        sink.url().to_string(),
                    )
                })
                .collect(),
        );
        p.set_webhooks(&hooks).await.unwrap();
        enrolled(&emu, "e2e").await
    };
    let dedup = Deduplicator::default();
    let enrollment = sink
        .next(Duration::from_secs(5))
        .await
        .expect("trigger 21 delivered");
    let event = webhook::receive(&m, &enrollment.headers, &enrollment.body).unwrap();
    assert_eq!(event.kind, WebhookKind::EnrollmentCompleted);
    assert!(dedup.first_seen(&event));
    let merchant_id = event.raw["merchant_id"].as_str().unwrap().to_owned();
    assert_eq!(
        p.merchant_status(&merchant_id)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("active")
    );
    assert!(m.capabilities().supports(Flow::Submit) && !m.capabilities().supports(Flow::Cancel));

    let receipt = m.submit(test_cards()).await.unwrap();
    assert!(receipt.is_complete());
    assert_eq!(receipt.accepted_cards(), 19);
    let batch = receipt
        .accepted()
        .iter()
        .find(|j| j.job().kind == JobKind::Batch)
        .unwrap()
        .job()
        .clone();
    let amex_job = receipt
        .accepted()
        .iter()
        .find(|j| j.job().kind == JobKind::Subscription)
        .unwrap();
    assert_eq!(
        (amex_job.job().id.as_str(), amex_job.cards().len()),
        ("1234567890", 3)
    );
    assert_eq!(emu.subscription_count(), 3);

    // Pending until completed on command.
    assert_eq!(m.job_status(&batch).await.unwrap().state, JobState::Pending);
    let amex_hook = sink
        .next(Duration::from_secs(5))
        .await
        .expect("trigger 23 delivered");
    let event_id = emu.complete_batch(&batch.id).await.unwrap();
    assert_eq!(
        m.job_status(&batch).await.unwrap().state,
        JobState::Completed
    );
    let done = sink
        .next(Duration::from_secs(5))
        .await
        .expect("trigger 20 delivered");
    let done = webhook::receive(&m, &done.headers, &done.body).unwrap();
    assert_eq!(done.kind, WebhookKind::BatchCompleted);
    assert_eq!(done.raw["event_id"], event_id.as_str());
    assert!(dedup.first_seen(&done));
    assert!(
        !dedup.first_seen(
            &webhook::receive(&m, &Default::default(), done.raw.to_string().as_bytes()).unwrap()
        ),
        "redelivery is a duplicate"
    );

    let mut results = m.fetch_results_for(&done).await.unwrap();
    results.sort_by(|a, b| a.card_id.cmp(&b.card_id));
    assert_eq!(results.len(), 16);
    for (r, (_, _, status)) in results.iter().zip(TEST_CARDS) {
        assert_eq!(r.raw_code, status);
    }
    // MC 5194… comes back as a Visa.
    let mc = &results[6];
    assert_eq!(
        (mc.outcome.clone(), mc.new_brand),
        (Outcome::NewAccountNumber, Some(CardBrand::Visa))
    );
    assert_eq!(mc.new_expiry, Some(Expiry::new(12, 2053).unwrap()));
    let same = m
        .fetch_results(&ResultsQuery::Job(batch.clone()))
        .await
        .unwrap();
    assert_eq!(same.len(), 16);

    let amex_event = webhook::receive(&m, &amex_hook.headers, &amex_hook.body).unwrap();
    assert_eq!(amex_event.kind, WebhookKind::UpdatesAvailable);
    let mut amex = m.fetch_results_for(&amex_event).await.unwrap();
    amex.sort_by(|a, b| a.card_id.cmp(&b.card_id));
    let got: Vec<_> = amex.iter().map(|u| u.raw_code.as_str()).collect();
    assert_eq!(got, ["updated_card", "updated_expiry", "closed"]);

    // Unsubscribe one card / SE pair.
    let first_amex = test_cards().pop().unwrap();
    m.remove_cards(amex_job.job(), vec![RemoveCard::Card(first_amex)])
        .await
        .unwrap();
    assert_eq!(emu.subscription_count(), 2);

    let text = logs.contents();
    assert!(
        text.contains("/v2/batch"),
        "{}",
        &text[..text.len().min(3000)]
    );
    let pans: Vec<&str> = TEST_CARDS
        .iter()
        .map(|c| c.0)
        .chain(AMEX.iter().map(|c| c.0))
        .collect();
    common::assert_no_leak(
        &text,
        &pans,
        &[
            key.expose_secret(),
            emu.partner_key().expose_secret(),
            "4457010000000009",
        ],
    );
    drop(key);
}

#[tokio::test]
async fn wrong_keys_and_wrong_levels_are_refused() {
    let emu = CardSyncEmulator::start().await.unwrap();
    let stranger = CardSyncPartner::builder(SecretString::from("api_wrong".to_owned()))
        .base_url(emu.base_url())
        .build_partner()
        .unwrap();
    let e = stranger
        .enroll_merchant(&common::cardsync_merchant("x"))
        .await
        .unwrap_err();
    let Error::Auth { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (
            detail.status,
            detail.code.as_deref(),
            detail.message.as_deref()
        ),
        (Some(401), Some("failed"), Some("unauthorized"))
    );
    // The partner key cannot submit batches; a merchant key cannot enroll.
    let p = partner(&emu);
    let as_merchant = p.merchant(emu.partner_key()).unwrap();
    assert_eq!(
        as_merchant.submit(test_cards()).await.unwrap().failed()[0]
            .error()
            .kind(),
        ErrorKind::Auth
    );
    let (_, m, key) = enrolled(&emu, "keys").await;
    let m_as_partner = CardSyncPartner::builder(key)
        .base_url(emu.base_url())
        .build_partner()
        .unwrap();
    assert_eq!(
        m_as_partner
            .enroll_merchant(&common::cardsync_merchant("y"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Auth
    );
    // Duplicate legal name: refused in the body of an HTTP 200.
    let e = p
        .enroll_merchant(&common::cardsync_merchant("keys"))
        .await
        .unwrap_err();
    assert_eq!(e.provider_detail().unwrap().status, Some(200));
    assert!(
        e.provider_detail()
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .contains("unique")
    );
    // Another merchant's batch is invisible.
    let r = m.submit(test_cards()[..2].to_vec()).await.unwrap();
    let (_, other, _) = enrolled(&emu, "other").await;
    assert_eq!(
        other
            .job_status(r.accepted()[0].job())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Provider
    );
}

#[tokio::test]
async fn the_emulator_enforces_the_limits_the_client_validates() {
    let emu = CardSyncEmulator::start().await.unwrap();
    let (_, _, key) = enrolled(&emu, "raw").await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(emu.base_url().join(path).unwrap())
            .header("authorization", key.expose_secret())
            .json(&body)
            .send()
    };
    let cases = [
        (
            "v2/batch",
            serde_json::json!({"cards": [{"id": "1", "card": "378282246310005", "exp": "12/28"}]}),
            "Visa, Mastercard and Discover",
        ),
        (
            "v2/batch",
            serde_json::json!({"cards": [{"id": "1", "card": "4457010000000008", "exp": "01/50"}]}),
            "not a valid card number",
        ),
        (
            "v2/batch",
            serde_json::json!({"cards": [{"id": "1", "card": "4457010000000009", "exp": "2050-01"}]}),
            "MM/YY",
        ),
        (
            "v2/batch",
            serde_json::json!({"cards": [{"id": "1", "card": "4457010000000009", "exp": "01/50"}, {"id": "1", "card": "4457000300000007", "exp": "01/50"}]}),
            "not unique",
        ),
        ("v2/batch", serde_json::json!({"cards": []}), "empty"),
        (
            "v2/subscribe",
            serde_json::json!({"cards": [{"id": "1", "card": "342132335566772", "exp": "12/28"}]}),
            "se_number",
        ),
    ];
    for (path, body, needle) in cases {
        let v: serde_json::Value = post(path, body).await.unwrap().json().await.unwrap();
        assert_eq!(v["status"], "failure");
        assert!(v["message"].as_str().unwrap().contains(needle), "{v}");
    }
    let many: Vec<_> = (0..10_001).map(|i| serde_json::json!({"id": i.to_string(), "card": "4457010000000009", "exp": "01/50"})).collect();
    let v: serde_json::Value = post("v2/batch", serde_json::json!({"cards": many}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["message"].as_str().unwrap().contains("at most 10000"),
        "{v}"
    );
    assert_eq!(emu.batch_count(), 0);
}

#[tokio::test]
async fn unified_subscribe_is_for_amex_and_a_failed_batch_is_reported() {
    let emu = CardSyncEmulator::start_with(
        CardSyncEmulatorConfig::default().completion(Completion::Manual),
    )
    .await
    .unwrap();
    let (_, m, _) = enrolled(&emu, "sub").await;
    let sink = WebhookSink::start().await.unwrap();
    m.register_webhook(WebhookRegistration::new(sink.url()))
        .await
        .unwrap();
    let visa = test_cards().remove(0);
    assert_eq!(
        m.subscribe(SubscribeRequest::new(vec![visa]))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let amex: Vec<_> = test_cards().into_iter().skip(16).collect();
    let r = m.subscribe(SubscribeRequest::new(amex)).await.unwrap();
    assert_eq!(r.accepted()[0].job().kind, JobKind::Subscription);
    let extra = CardToUpdate::pan(
        "a-extra",
        CardNumber::parse("378282246310005").unwrap(),
        Expiry::new(12, 2028).unwrap(),
    );
    let added = m
        .add_cards(r.accepted()[0].job(), vec![extra])
        .await
        .unwrap();
    assert_eq!(
        added.accepted()[0].job().id,
        "1234567890",
        "added under the job's SE number"
    );
    assert_eq!(emu.subscription_count(), 4);
    // Trigger 22 from the emulator parses as a failed batch.
    let batch = m
        .submit(test_cards()[..3].to_vec())
        .await
        .unwrap()
        .accepted()[0]
        .job()
        .clone();
    while sink.next(Duration::from_millis(300)).await.is_some() {}
    emu.fail_batch(
        &batch.id,
        "Validation",
        "3 errors occurred in during the batch validation process",
        3,
    )
    .await
    .unwrap();
    let failed = sink.next(Duration::from_secs(5)).await.unwrap();
    let event = webhook::receive(&m, &failed.headers, &failed.body).unwrap();
    assert_eq!(event.kind, WebhookKind::BatchFailed);
    assert_eq!(event.raw["batch_id"], batch.id.as_str());
}

/// The emulator answering as the v2 documents literally show: a created batch without
/// `batch_id`, subscribe and unsubscribe with an empty 200. Nothing the vendor accepted is
/// reported as failed; results still join back through the webhook and the echoed card ids.
#[tokio::test]
async fn unified_flows_hold_when_answers_are_as_the_documents_show() {
    let emu = CardSyncEmulator::start_with(
        CardSyncEmulatorConfig::default()
            .completion(Completion::Manual)
            .batch_create_without_id(true)
            .subscribe_empty_body(true),
    )
    .await
    .unwrap();
    let sink = WebhookSink::start().await.unwrap();
    let (p, m, _) = enrolled(&emu, "as-documented").await;
    let hooks = account_updater::providers::cardsync::wire::Webhooks::new(vec![
        account_updater::providers::cardsync::wire::WebhookTarget::new(
            account_updater::providers::cardsync::wire::Trigger::BatchAvailable,
            sink.url().to_string(),
        ),
    ]);
    p.set_webhooks(&hooks).await.unwrap();

    let receipt = m.submit(test_cards()).await.unwrap();
    assert!(receipt.is_complete(), "{:?}", receipt.failed());
    assert_eq!(receipt.accepted_cards(), 19);
    let batch = receipt
        .accepted()
        .iter()
        .find(|j| j.job().kind == JobKind::Batch)
        .unwrap();
    assert!(batch.job().is_id_pending());
    assert_eq!(*batch.state(), JobState::Pending);
    assert_eq!(
        m.job_status(batch.job()).await.unwrap_err().kind(),
        ErrorKind::InvalidInput,
        "no request for a job with no id yet"
    );
    assert_eq!(
        emu.subscription_count(),
        3,
        "the Amex subscribe was accepted"
    );

    // The batch completes; its webhook names it, and the results echo the caller's ids.
    let batch_id = emu.batch_ids().pop().unwrap();
    emu.complete_batch(&batch_id).await.unwrap();
    let done = sink.next(Duration::from_secs(5)).await.expect("trigger 20");
    let done = webhook::receive(&m, &done.headers, &done.body).unwrap();
    let results = m.fetch_results_for(&done).await.unwrap();
    assert_eq!(results.len(), 16);
    assert!(
        results
            .iter()
            .all(|r| r.card_id.as_deref().is_some_and(|id| id.starts_with('c')))
    );

    // Unsubscribe with an empty 200 is done too.
    let amex = test_cards().pop().unwrap();
    let amex_job = JobRef::new(ProviderId::CardSync, JobKind::Subscription, "1234567890");
    let removal = m
        .remove_cards(&amex_job, vec![RemoveCard::Card(amex)])
        .await
        .unwrap();
    assert_eq!(removal.removed(), ["a2"]);
    assert_eq!(emu.subscription_count(), 2);
}

/// Which key registers webhooks is not documented. Through the unified layer a merchant client
/// derived from the partner tries the partner key first and falls back to its own; the partner
/// client is a provider too, for registering before any merchant exists.
#[tokio::test]
async fn webhooks_register_through_the_unified_layer_with_whichever_key_is_accepted() {
    use account_updater::providers::cardsync::wire::EnrollmentState;
    use account_updater_emulator::cardsync::WebhookKey;
    for policy in [
        WebhookKey::Either,
        WebhookKey::PartnerOnly,
        WebhookKey::MerchantOnly,
    ] {
        let emu =
            CardSyncEmulator::start_with(CardSyncEmulatorConfig::default().webhook_key(policy))
                .await
                .unwrap();
        let sink = WebhookSink::start().await.unwrap();
        let registration = || WebhookRegistration::new(sink.url());
        let partner = partner(&emu);
        let as_provider: &dyn Provider = &partner;
        assert!(as_provider.capabilities().supports(Flow::RegisterWebhook));
        let before_any_merchant = as_provider.register_webhook(registration()).await;
        assert_eq!(
            before_any_merchant.is_ok(),
            policy != WebhookKey::MerchantOnly,
            "{policy:?}: {before_any_merchant:?}"
        );
        let (_, merchant, key) = enrolled(&emu, &format!("{policy:?}")).await;
        let receipt = merchant.register_webhook(registration()).await.unwrap();
        assert_eq!(receipt.events, ["20", "21", "22", "23"], "{policy:?}");
        // A merchant client built from its key alone has only that key.
        let alone = CardSyncClient::builder(key)
            .base_url(emu.base_url())
            .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
            .build_merchant()
            .unwrap();
        let r = alone.register_webhook(registration()).await;
        match policy {
            WebhookKey::PartnerOnly => assert_eq!(r.unwrap_err().kind(), ErrorKind::Auth),
            _ => assert!(r.is_ok(), "{policy:?}"),
        }
    }
    // The enrollment state is typed.
    let emu = CardSyncEmulator::start().await.unwrap();
    let p = partner(&emu);
    let created = p
        .enroll_merchant(&common::cardsync_merchant("state"))
        .await
        .unwrap();
    let status = p.merchant_status(&created.merchant_id).await.unwrap();
    assert_eq!(status.state(), Some(EnrollmentState::Active));
    let mut s = status.clone();
    for (raw, state) in [
        ("pending", EnrollmentState::Pending),
        ("pending_activation", EnrollmentState::Pending),
        ("suspended", EnrollmentState::Other("suspended".into())),
    ] {
        s.status = Some(raw.into());
        assert_eq!(s.state(), Some(state));
    }
}
