//! PayConex end to end against the embedded emulator: the example's lifecycle through the
//! unified trait and the native client, webhook delivery to a local receiver, the emulator's
//! auth checks (tampered signature, reused nonce, stale timestamp, Basic), schema 422s, and no
//! PAN or secret in the `tracing` output of the whole flow.

use crate::common;

use std::time::Duration;

use account_updater::ProviderId;
use account_updater::providers::payconex::Credentials;
use account_updater::providers::payconex::wire::SubscriptionPatch;
use account_updater::providers::payconex::{AuthMethod, PayConexClient};
use account_updater::testing::payconex::hmac_authorization;
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::webhook::{self, Authenticity};
use account_updater::{CardNumber, Error, ErrorKind, Expiry, ExpiryFormat, Outcome, SecretString};
use account_updater::{
    ids::{Flow, ResultsQuery},
    provider::{
        Cadence, CardToUpdate, JobState, Provider, RemoveCard, SubscribeRequest,
        WebhookRegistration,
    },
};
use account_updater_emulator::payconex::{
    DEFAULT_KEY_ID, DEFAULT_SECRET, PayConexEmulator, PayConexEmulatorConfig,
};
use account_updater_emulator::{Fault, WebhookSink};
use serde_json::json;

const PANS: [&str; 4] = [
    "5194560012341234",
    "4457000300000007",
    "4457000900000001",
    "4100200300011001",
];

fn client_for(emu: &PayConexEmulator, auth: AuthMethod) -> PayConexClient {
    PayConexClient::builder(emu.account_id(), emu.credentials())
        .base_url(emu.base_url())
        .auth(auth)
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn pan(i: usize, exp: &str) -> CardToUpdate {
    CardToUpdate::pan(
        format!("pan-{i}"),
        CardNumber::parse(PANS[i]).unwrap(),
        Expiry::parse(exp, ExpiryFormat::MmSlashYy).unwrap(),
    )
}

#[tokio::test]
async fn the_whole_lifecycle_on_the_emulator_without_leaking_card_data() {
    let logs = common::capture_traces();
    let emu = PayConexEmulator::start().await.unwrap();
    let client = client_for(&emu, AuthMethod::Hmac);
    assert!(
        Flow::ALL.iter().all(|f| client.capabilities().supports(*f)
            != matches!(f, Flow::Submit | Flow::UpdateAccount))
    );

    let sink = WebhookSink::start().await.unwrap();
    let hook = client
        .register_webhook(WebhookRegistration::new(sink.url()))
        .await
        .unwrap();
    assert_eq!(hook.events, ["ACCOUNT_UPDATER_BATCH_UPDATES"]);
    assert_eq!(client.list_webhooks().await.unwrap()[0].id, hook.ids[0]);

    let cards = vec![
        pan(0, "12/50"),
        pan(1, "01/50"),
        pan(2, "08/50"),
        pan(3, "05/50"),
        CardToUpdate::token("tok-1", ProviderId::PayConex, "100001234561"),
        CardToUpdate::token("tok-2", ProviderId::PayConex, "100001234563"),
    ];
    let receipt = client
        .subscribe(SubscribeRequest::new(cards).cadence(Cadence::Weekly))
        .await
        .unwrap();
    assert!(receipt.is_complete());
    assert_eq!(
        receipt.accepted().len(),
        2,
        "PANs and tokens go to two subscriptions"
    );
    assert_eq!(receipt.accepted_cards(), 6);
    let ids: Vec<_> = receipt
        .accepted()
        .iter()
        .flat_map(|j| j.cards().iter().map(|c| c.id()))
        .collect();
    assert_eq!(ids, ["pan-0", "pan-1", "pan-2", "pan-3", "tok-1", "tok-2"]);
    assert!(
        receipt
            .accepted()
            .iter()
            .flat_map(|j| j.cards())
            .all(|c| { c.provider_ref().is_some_and(|r| r.starts_with("cssr_")) })
    );
    let (pan_job, token_job) = (
        receipt.accepted()[0].job().clone(),
        receipt.accepted()[1].job().clone(),
    );

    let sub = client.get_subscription(&pan_job.id).await.unwrap();
    assert_eq!(sub.records.len(), 4);
    assert_eq!(
        sub.period_date.map(|d| d.0),
        Some(chrono::Utc::now().date_naive())
    );

    // Add then remove a record.
    let added = client
        .add_cards(
            &pan_job,
            vec![CardToUpdate::pan(
                "pan-x",
                CardNumber::parse("6011010000000003").unwrap(),
                Expiry::new(3, 2050).unwrap(),
            )],
        )
        .await
        .unwrap();
    let placed = added.accepted()[0].cards()[0].clone();
    assert_eq!(placed.id(), "pan-x");
    assert_eq!(
        client.job_status(&pan_job).await.unwrap().counts.submitted,
        Some(5)
    );
    assert!(placed.confirmed(), "one new record with the card's expiry");
    let removal = client
        .remove_cards(&pan_job, vec![RemoveCard::Placed(placed.clone())])
        .await
        .unwrap();
    assert_eq!(removal.removed(), ["pan-x"]);
    assert_eq!(
        client.job_status(&pan_job).await.unwrap().counts.submitted,
        Some(4)
    );
    // Removing it again: the record is gone.
    let again = client
        .remove_cards(&pan_job, vec![RemoveCard::Placed(placed)])
        .await
        .unwrap();
    let failed = &again.failed()[0];
    assert_eq!(failed.card_ids(), ["pan-x"]);
    assert_eq!(failed.error().kind(), ErrorKind::NotFound);

    // Run the PAN schedule: a notification arrives, parses unsigned, and its updates map back.
    let run = emu.run_schedule(&pan_job.id).await.unwrap();
    assert_eq!(run.updates, 4);
    assert_eq!(run.deliveries, vec![(sink.url().to_string(), Some(200))]);
    let delivered = sink.next(Duration::from_secs(5)).await.unwrap();
    let event = webhook::receive(&client, &delivered.headers, &delivered.body).unwrap();
    assert_eq!(event.authenticity, Authenticity::Unsigned);
    assert_eq!(event.id, run.update_id);
    let mut updates = client.fetch_results_for(&event).await.unwrap();
    receipt.join_card_ids(&mut updates);
    updates.sort_by(|a, b| a.card_id.cmp(&b.card_id));
    let got: Vec<_> = updates
        .iter()
        .map(|u| (u.card_id.as_deref().unwrap(), u.outcome.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("pan-0", Outcome::NewAccountNumber),
            ("pan-1", Outcome::NewExpiry),
            ("pan-2", Outcome::Closed),
            ("pan-3", Outcome::Valid),
        ]
    );
    // MC 5194… is reissued as a Visa: the new number arrives as a CardNumber with its new brand.
    assert_eq!(
        updates[0].new_card.as_ref().map(|c| c.masked()),
        Some("445701******0009".into())
    );
    assert_eq!(updates[0].new_brand, Some(account_updater::CardBrand::Visa));
    assert_eq!(updates[0].new_expiry, Some(Expiry::new(12, 2053).unwrap()));
    assert_eq!(updates[1].new_expiry, Some(Expiry::new(1, 2053).unwrap()));
    assert_eq!(updates[2].raw_code, "contact_closed");

    // Schedule results give the same outcomes per record.
    let results = client
        .fetch_results(&ResultsQuery::Job(pan_job.clone()))
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    // The token schedule has not run: no results yet.
    assert!(
        client
            .fetch_results(&ResultsQuery::Job(token_job.clone()))
            .await
            .unwrap()
            .is_empty()
    );
    emu.run_schedule(&token_job.id).await.unwrap();
    sink.next(Duration::from_secs(5)).await.unwrap();
    let mut token_results = client
        .fetch_results(&ResultsQuery::Job(token_job.clone()))
        .await
        .unwrap();
    receipt.join_card_ids(&mut token_results);
    token_results.sort_by(|a, b| a.card_id.cmp(&b.card_id));
    assert_eq!(token_results[0].outcome, Outcome::NewAccountNumber);
    assert!(
        token_results[0]
            .new_token
            .as_deref()
            .is_some_and(|t| t.len() == 12 && t != "100001234561")
    );
    assert_eq!(token_results[1].outcome, Outcome::Closed);

    // Pause with PATCH: the emulator then produces nothing.
    let paused = client
        .update_subscription(&pan_job.id, &SubscriptionPatch::default().enabled(false))
        .await
        .unwrap();
    assert_eq!(paused.enabled, Some(false));
    assert_eq!(
        client.job_status(&pan_job).await.unwrap().state,
        JobState::Disabled
    );
    assert!(emu.run_schedule(&pan_job.id).await.is_none());

    // Delete everything.
    client.cancel(&pan_job).await.unwrap();
    client.cancel(&token_job).await.unwrap();
    assert_eq!(
        client
            .get_subscription(&pan_job.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    client.delete_webhook(&hook.ids[0]).await.unwrap();
    assert!(client.list_webhooks().await.unwrap().is_empty());

    let text = logs.contents();
    assert!(text.contains("account_updater.http"), "spans are recorded");
    assert!(
        text.contains("/api/v4/accounts/{accountId}/account-updater/pan/subscribe"),
        "path templates, not paths"
    );
    // Every endpoint's template names the account the same way (it once said `{account}` under
    // `subscriptions/`), and no concrete account id reaches the logs.
    assert!(
        text.contains(
            "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}"
        )
    );
    assert!(!text.contains("{account}/"));
    assert!(!text.contains(&format!("/accounts/{}/", emu.account_id())));
    common::assert_no_leak(
        &text,
        &PANS,
        &[DEFAULT_SECRET, "4457010000000009", "6011010000000003"],
    );
}

fn raw_client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn raw_get(emu: &PayConexEmulator, authorization: &str) -> u16 {
    let url = emu
        .base_url()
        .join(&format!("api/v4/accounts/{}/webhooks", emu.account_id()))
        .unwrap();
    raw_client()
        .get(url)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn creds() -> Credentials {
    Credentials::new(
        DEFAULT_KEY_ID,
        SecretString::from(DEFAULT_SECRET.to_owned()),
    )
}

#[tokio::test]
async fn the_emulator_refuses_tampered_reused_and_stale_signatures() {
    let emu = PayConexEmulator::start().await.unwrap();
    let path = format!("/api/v4/accounts/{}/webhooks", emu.account_id());
    let now = chrono::Utc::now().timestamp() as u64;
    let nonce = "a".repeat(64);
    let good = hmac_authorization(&creds(), "GET", &path, &nonce, now, b"").unwrap();
    assert_eq!(raw_get(&emu, &good).await, 200);
    // The same nonce again within 15 minutes.
    assert_eq!(raw_get(&emu, &good).await, 401);
    // A tampered response digest.
    let fresh = hmac_authorization(&creds(), "GET", &path, &"b".repeat(64), now, b"").unwrap();
    let last = fresh.len() - 2; // the digest's last hex digit, before the closing quote
    let flipped = if &fresh[last..last + 1] == "0" {
        "1"
    } else {
        "0"
    };
    let tampered = format!("{}{flipped}\"", &fresh[..last]);
    assert_ne!(tampered, fresh);
    assert_eq!(raw_get(&emu, &tampered).await, 401);
    assert_eq!(raw_get(&emu, &fresh).await, 200);
    // Signed for another path.
    let other = hmac_authorization(
        &creds(),
        "GET",
        "/api/v4/accounts/000000000000/webhooks",
        &"c".repeat(64),
        now,
        b"",
    )
    .unwrap();
    assert_eq!(raw_get(&emu, &other).await, 401);
    // Sixteen minutes old.
    let stale =
        hmac_authorization(&creds(), "GET", &path, &"d".repeat(64), now - 16 * 60, b"").unwrap();
    assert_eq!(raw_get(&emu, &stale).await, 401);
    // A wrong secret.
    let wrong = Credentials::new(
        DEFAULT_KEY_ID,
        SecretString::from("not-the-secret".to_owned()),
    );
    assert_eq!(
        raw_get(
            &emu,
            &hmac_authorization(&wrong, "GET", &path, &"e".repeat(64), now, b"").unwrap()
        )
        .await,
        401
    );
    assert_eq!(raw_get(&emu, "Bearer x").await, 401);

    // The 401 body is the documented ApiViolation, and the client maps it to Error::Auth.
    let bad_client = PayConexClient::builder(emu.account_id(), wrong)
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let e = bad_client.list_webhooks().await.unwrap_err();
    let Error::Auth { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail.code.as_deref(), Some("40002"));
    assert!(detail.trace_id.is_some());
}

#[tokio::test]
async fn basic_is_accepted_only_where_allowed() {
    let cert = PayConexEmulator::start().await.unwrap();
    assert!(
        client_for(&cert, AuthMethod::Basic)
            .list_webhooks()
            .await
            .is_ok()
    );
    let prod_like =
        PayConexEmulator::start_with(PayConexEmulatorConfig::default().allow_basic(false))
            .await
            .unwrap();
    assert_eq!(
        client_for(&prod_like, AuthMethod::Basic)
            .list_webhooks()
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Auth
    );
    assert!(
        client_for(&prod_like, AuthMethod::Hmac)
            .list_webhooks()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unknown_properties_are_a_422_naming_the_field() {
    let emu = PayConexEmulator::start().await.unwrap();
    let path = format!("/api/v4/accounts/{}/webhooks", emu.account_id());
    let body =
        br#"{"url":"https://example.com/h","event":"ACCOUNT_UPDATER_BATCH_UPDATES","random":1}"#;
    let auth = hmac_authorization(
        &creds(),
        "POST",
        &path,
        &"f".repeat(64),
        chrono::Utc::now().timestamp() as u64,
        body,
    )
    .unwrap();
    let resp = raw_client()
        .post(emu.base_url().join(&path[1..]).unwrap())
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["errorType"], "invalid_request");
    assert_eq!(v["errorCode"], 40001);
    assert_eq!(v["details"][0]["source"], "random");

    // Through the client: a 422 from the server (a period the emulator does not know) names the field.
    let client = client_for(&emu, AuthMethod::Hmac);
    let e = client
        .subscribe_tokens(
            &account_updater::providers::payconex::wire::TokenSubscription::new(
                vec![account_updater::providers::payconex::wire::TokenRecord::new("7")],
                account_updater::providers::payconex::wire::PeriodId::Other("YEARLY_Q4_1".into()),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.provider_detail().and_then(|d| d.field.as_deref()),
        Some("periodId")
    );
    assert_eq!(e.provider_detail().and_then(|d| d.status), Some(422));
}

#[tokio::test]
async fn injected_faults_map_like_any_provider_error() {
    let emu = PayConexEmulator::start().await.unwrap();
    let client = client_for(&emu, AuthMethod::Hmac);
    emu.inject_fault(Fault::json(429, json!({"message": "slow down"})).header("Retry-After", "7"));
    match client.list_webhooks().await.unwrap_err() {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    emu.inject_fault(Fault::html(502));
    assert_eq!(
        client.list_webhooks().await.unwrap_err().kind(),
        ErrorKind::Provider
    );
    emu.inject_fault(Fault::truncated(200));
    assert_eq!(
        client.list_webhooks().await.unwrap_err().kind(),
        ErrorKind::Decode
    );
    assert!(client.list_webhooks().await.is_ok());
}

/// The emulator answering as the documents' examples show (tokens zero-padded to 12 digits) and
/// with records in another order than sent: every card is still placed under its own record,
/// and the results join back to the caller's ids.
#[tokio::test]
async fn unified_flows_hold_with_zero_padded_tokens_and_records_in_another_order() {
    let emu = PayConexEmulator::start_with(
        PayConexEmulatorConfig::default()
            .zero_padded_tokens(true)
            .records_reversed(true),
    )
    .await
    .unwrap();
    let client = client_for(&emu, AuthMethod::Hmac);
    let sink = WebhookSink::start().await.unwrap();
    client
        .register_webhook(WebhookRegistration::new(sink.url()))
        .await
        .unwrap();
    let receipt = client
        .subscribe(SubscribeRequest::new(vec![
            CardToUpdate::token("tok-a", ProviderId::PayConex, "71"),
            CardToUpdate::token("tok-b", ProviderId::PayConex, "82"),
            pan(0, "12/50"),
            pan(1, "01/50"),
        ]))
        .await
        .unwrap();
    assert!(receipt.is_complete(), "{:?}", receipt.failed());
    let placed: Vec<_> = receipt
        .accepted()
        .iter()
        .flat_map(|j| j.cards().to_vec())
        .collect();
    assert_eq!(placed.len(), 4);
    assert!(
        placed
            .iter()
            .all(|p| p.confirmed() && p.provider_ref().is_some()),
        "{placed:?}"
    );
    // Each card under its own record: the results name the records, and the join gives back
    // each caller's id with its own outcome.
    let mut seen = Vec::new();
    for job in receipt.accepted() {
        emu.run_schedule(&job.job().id).await.unwrap();
        sink.next(Duration::from_secs(5)).await.unwrap();
        let mut results = client
            .fetch_results(&ResultsQuery::Job(job.job().clone()))
            .await
            .unwrap();
        receipt.join_card_ids(&mut results);
        seen.extend(
            results
                .into_iter()
                .map(|u| (u.card_id.unwrap_or_default(), u.raw_code)),
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("pan-0".to_owned(), "updated_card".to_owned()),
            ("pan-1".to_owned(), "updated_expiry".to_owned()),
            ("tok-a".to_owned(), "updated_card".to_owned()),
            ("tok-b".to_owned(), "updated_expiry".to_owned()),
        ]
    );
}

/// The vendor's schema makes `mostRecentUpdate` an `AccountUpdaterUpdate` and allows no null:
/// a record no schedule run has reached has none at all, and the client reads both shapes.
#[tokio::test]
async fn a_record_not_yet_run_has_no_most_recent_update_rather_than_null() {
    use base64::Engine;
    let emu = PayConexEmulator::start().await.unwrap();
    let client = client_for(&emu, AuthMethod::Hmac);
    let receipt = client
        .subscribe(SubscribeRequest::new(vec![CardToUpdate::token(
            "t",
            ProviderId::PayConex,
            "1001",
        )]))
        .await
        .unwrap();
    let schedule = receipt.accepted()[0].job().id.clone();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{DEFAULT_KEY_ID}:{DEFAULT_SECRET}"))
    );
    let results = || async {
        let url = emu
            .base_url()
            .join(&format!(
                "api/v4/accounts/{}/account-updater/schedules/{schedule}/results",
                emu.account_id()
            ))
            .unwrap();
        let body: serde_json::Value = raw_client()
            .get(url)
            .header("authorization", &basic)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["records"][0].clone()
    };
    let before = results().await;
    assert!(before.get("id").is_some(), "{before}");
    assert!(before.get("mostRecentUpdate").is_none(), "{before}");
    assert!(
        client
            .fetch_results(&ResultsQuery::Job(receipt.accepted()[0].job().clone()))
            .await
            .unwrap()
            .is_empty()
    );
    emu.run_schedule(&schedule).await.unwrap();
    let after = results().await;
    assert_eq!(
        after["mostRecentUpdate"]["status"], "updated_card",
        "{after}"
    );
}
