//! Property tests: no input makes the crate panic.
//!
//! - `CardNumber::parse` and `Expiry::parse` (every layout) over arbitrary strings;
//! - every provider's response decoders, native and through `Arc<dyn Provider>`, over arbitrary
//!   bytes and over the documented bodies (the fixtures) with arbitrary strings, numbers and
//!   nulls put in place of their values, under every status the providers use;
//! - `webhook::receive` for every provider over arbitrary bytes and mutated genuine webhooks
//!   (Acquired's signed with a valid hash, since the hash leaves most fields uncovered).
//!
//! Each property runs `PROPTEST_CASES` cases (default: 1,000 for the ones that go through HTTP,
//! 4,000 for the pure ones); raise it for a longer search, e.g.
//! `PROPTEST_CASES=100000 cargo test --test properties`.

use crate::common;

use std::sync::Arc;

use account_updater::providers::accountvault::AccountVaultClient;
use account_updater::providers::acquired::{AcquiredClient, Credentials as AcquiredCredentials};
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::providers::payconex::{Credentials, PayConexClient};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{CardNumber, Expiry, ExpiryFormat, SecretString, webhook};
use account_updater::{
    ids::{JobKind, JobRef, ProviderId, ResultsQuery},
    provider::{AccountUpdateRequest, NewCardData, Provider},
};
use common::hostile::{Hostile, Mode};
use proptest::prelude::*;
use reqwest::header::HeaderMap;
use serde_json::Value;

const HASHCODE: &str = "prop_hash_code";

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A replacement for one leaf of a documented body.
#[derive(Debug, Clone)]
enum Leaf {
    Text(String),
    Number(i64),
    Float(f64),
    Null,
    Bool(bool),
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        4 => any::<String>().prop_map(Leaf::Text),
        2 => "[0-9é/ -]{0,8}".prop_map(Leaf::Text),
        // Expiry and card shapes of the exact byte lengths parsers check (4, 5, 6), with a
        // two-byte character where byte-offset parsers cut.
        4 => prop_oneof![
            "[0-9]é[0-9]",
            "[0-9]é[0-9]{3}",
            "[0-9]{3}é[0-9]",
            "[0-9]é/[0-9]{2}",
            "[0-9]{2}é[0-9]{2}",
        ]
        .prop_map(Leaf::Text),
        1 => any::<i64>().prop_map(Leaf::Number),
        1 => any::<f64>().prop_map(Leaf::Float),
        1 => Just(Leaf::Null),
        1 => any::<bool>().prop_map(Leaf::Bool),
    ]
}

/// Replaces the leaves of `v` in document order with `with` (as far as it goes).
fn mutate(v: &mut Value, with: &[Leaf], next: &mut usize) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| mutate(i, with, next)),
        Value::Object(map) => map.values_mut().for_each(|i| mutate(i, with, next)),
        leaf => {
            if let Some(r) = with.get(*next) {
                *leaf = match r {
                    Leaf::Text(s) => Value::String(s.clone()),
                    Leaf::Number(n) => Value::from(*n),
                    Leaf::Float(f) => serde_json::Number::from_f64(*f)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                    Leaf::Null => Value::Null,
                    Leaf::Bool(b) => Value::Bool(*b),
                };
            }
            *next += 1;
        }
    }
}

/// Each leaf of a document replaced with probability 1/4.
fn sparse_leaves() -> impl Strategy<Value = Vec<Option<Leaf>>> {
    proptest::collection::vec(proptest::option::weighted(0.25, leaf()), 64)
}

/// A body: arbitrary bytes, or one of `fixtures` with some of its leaves replaced.
fn body(fixtures: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        4 => (0..fixtures.len(), sparse_leaves()).prop_map(move |(i, with)| {
            let mut v = fixture(fixtures[i]);
            mutate_sparse(&mut v, &with, &mut 0);
            v.to_string().into_bytes()
        }),
    ]
}

fn mutate_sparse(v: &mut Value, with: &[Option<Leaf>], next: &mut usize) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| mutate_sparse(i, with, next)),
        Value::Object(map) => map.values_mut().for_each(|i| mutate_sparse(i, with, next)),
        _ => {
            if let Some(Some(r)) = with.get(*next) {
                let mut n = 0;
                mutate(v, std::slice::from_ref(r), &mut n);
            }
            *next += 1;
        }
    }
}

fn status() -> impl Strategy<Value = u16> {
    prop::sample::select(vec![
        200u16, 201, 204, 207, 400, 401, 404, 409, 410, 421, 429, 500,
    ])
}

fn config() -> TransportConfig {
    TransportConfig::default().retry(RetryPolicy::none())
}

/// One runtime and one peer for all the cases of a property.
struct Bench {
    runtime: tokio::runtime::Runtime,
    peer: Hostile,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let peer = runtime.block_on(Hostile::start(Mode::Fixed {
            status: 200,
            body: b"{}".to_vec(),
        }));
        Bench { runtime, peer }
    }

    fn answer(&self, status: u16, body: Vec<u8>) {
        self.peer.set_mode(Mode::Fixed { status, body });
    }
}

fn pan() -> CardNumber {
    CardNumber::parse("4457010000000009").unwrap()
}

fn exp() -> Expiry {
    Expiry::new(1, 2050).unwrap()
}

#[test]
fn card_numbers_and_expiries_never_panic() {
    let formats = [
        ExpiryFormat::Mmyy,
        ExpiryFormat::MmSlashYy,
        ExpiryFormat::Yyyymm,
        ExpiryFormat::Mmyyyy,
    ];
    proptest!(cases(4_000), |(s in any::<String>(), t in "[0-9é/\u{0}]{0,7}")| {
        for input in [&s, &t] {
            let _ = CardNumber::parse(input);
            for f in formats {
                if let Ok(e) = Expiry::parse(input, f) {
                    // Whatever parses formats back to itself.
                    prop_assert_eq!(Expiry::parse(&e.format(f), f), Ok(e));
                }
            }
        }
    });
}

#[test]
fn the_crashing_expiries_are_format_errors() {
    for (input, format) in [
        ("1é2", ExpiryFormat::Mmyy),
        ("é123", ExpiryFormat::Mmyy),
        ("2é1234", ExpiryFormat::Mmyyyy),
        ("202é1", ExpiryFormat::Yyyymm),
        ("1é/25", ExpiryFormat::MmSlashYy),
    ] {
        assert!(
            matches!(
                Expiry::parse(input, format),
                Err(account_updater::card::ExpiryError::Format { .. })
            ),
            "{input}"
        );
    }
}

#[test]
fn payconex_decoders_never_panic() {
    const FIXTURES: &[&str] = &[
        "payconex/schedule_results.json",
        "payconex/subscription.json",
        "payconex/updates.json",
        "payconex/webhook_response.json",
        "payconex/error_422_schema_details.json",
        "payconex/error_default.json",
    ];
    let bench = Bench::new();
    let client = PayConexClient::builder(
        "120615523104",
        Credentials::new("api_k", SecretString::from("prop-secret")),
    )
    .base_url(bench.peer.url(""))
    .transport_config(config())
    .build()
    .unwrap();
    let dynamic: Arc<dyn Provider> = Arc::new(client.clone());
    let job = JobRef::new(ProviderId::PayConex, JobKind::Subscription, "css_1");
    let event = ResultsQuery::Event {
        provider: ProviderId::PayConex,
        kind: JobKind::Subscription,
        event_id: "aupres_1".into(),
        job_id: None,
    };
    proptest!(cases(1_000), |(status in status(), body in body(FIXTURES))| {
        bench.answer(status, body);
        bench.runtime.block_on(async {
            let _ = client.schedule_results("css_1").await;
            let _ = client.updates("aupres_1").await;
            let _ = client.list_webhooks().await;
            let _ = dynamic.fetch_results(&ResultsQuery::Job(job.clone())).await;
            let _ = dynamic.fetch_results(&event).await;
            let _ = dynamic.job_status(&job).await;
        });
    });
}

#[test]
fn cardsync_decoders_never_panic() {
    const FIXTURES: &[&str] = &[
        "cardsync/batch_results_response.json",
        "cardsync/batch_status_response.json",
        "cardsync/batch_create_response.json",
        "cardsync/subscription_results_response.json",
        "cardsync/amex_results_schema_example.json",
        "cardsync/error_200_invalid_id.json",
        "cardsync/generic_response.json",
    ];
    let bench = Bench::new();
    let client = CardSyncClient::builder(SecretString::from("api_prop_key"))
        .base_url(bench.peer.url(""))
        .transport_config(config())
        .build_merchant()
        .unwrap();
    let dynamic: Arc<dyn Provider> = Arc::new(client.clone());
    let job = JobRef::new(ProviderId::CardSync, JobKind::Batch, "b1");
    proptest!(cases(1_000), |(status in status(), body in body(FIXTURES))| {
        bench.answer(status, body);
        bench.runtime.block_on(async {
            let owned = client.batch_results("b1", None).await;
            let compact = client.batch_results_compact("b1", None).await;
            // Where both decodings accept a body, they read the same cards.
            if let (Ok(owned), Ok(compact)) = (&owned, &compact) {
                assert_eq!(owned.cards.len(), compact.len());
                for (view, card) in compact.iter().zip(&owned.cards) {
                    assert_eq!(&view.to_result_card(), card);
                }
            }
            // A body the owned decoding refuses as malformed JSON, the compact one refuses too.
            if let Err(e) = &owned {
                if e.kind() == account_updater::ErrorKind::Decode && compact.is_ok() {
                    let text = e.to_string();
                    assert!(!text.contains("invalid JSON"), "{text}");
                }
            }
            let _ = client.subscription_results_compact("e1").await;
            let _ = client.batch_status("b1").await;
            let _ = client.subscription_results("e1").await;
            let _ = dynamic.fetch_results(&ResultsQuery::Job(job.clone())).await;
            let _ = dynamic.job_status(&job).await;
            let card = account_updater::provider::CardToUpdate::pan("c1", pan(), exp());
            let _ = dynamic.submit(vec![card]).await;
        });
    });
}

#[test]
fn accountvault_decoders_never_panic() {
    const FIXTURES: &[&str] = &[
        "accountvault/retrieve_response.json",
        "accountvault/retrieve_bank_response.json",
        "accountvault/retrieve_by_reference_response.json",
        "accountvault/create_response.json",
        "accountvault/update_response.json",
        "accountvault/update_response_207.json",
        "accountvault/conflict_409.json",
        "accountvault/error_421.json",
        "accountvault/key_error_429.json",
    ];
    let bench = Bench::new();
    let client = AccountVaultClient::builder("PropClientId0000000001", SecretString::from("tok"))
        .base_url(bench.peer.url(""))
        .transport_config(config())
        .build()
        .unwrap();
    let dynamic: Arc<dyn Provider> = Arc::new(client.clone());
    proptest!(cases(1_000), |(status in status(), body in body(FIXTURES))| {
        bench.answer(status, body);
        bench.runtime.block_on(async {
            let _ = client.retrieve_account("PropAccount00000000001").await;
            let _ = client.retrieve_by_reference("ref1").await;
            let _ = dynamic
                .update_account(
                    AccountUpdateRequest::new("PropAccount00000000001")
                        .card(NewCardData::new(Some(pan()), Some(exp()))),
                )
                .await;
            let _ = dynamic
                .update_account(
                    AccountUpdateRequest::new("PropAccount00000000001")
                        .card(NewCardData::new(None, Some(exp()))),
                )
                .await;
        });
    });
}

fn acquired_credentials() -> AcquiredCredentials {
    AcquiredCredentials::new(
        "133",
        SecretString::from("propCompanyPass1"),
        None,
        SecretString::from(HASHCODE),
    )
    .unwrap()
}

#[test]
fn acquired_decoders_never_panic() {
    const FIXTURES: &[&str] = &[
        "acquired/disable_response.json",
        "acquired/update_billing_response.json",
        "acquired/subscription_manage_response.json",
    ];
    let bench = Bench::new();
    let client = AcquiredClient::builder(acquired_credentials())
        .base_url(bench.peer.url("/api.php"))
        .transport_config(config())
        .build()
        .unwrap();
    let dynamic: Arc<dyn Provider> = Arc::new(client.clone());
    proptest!(cases(1_000), |(status in status(), body in body(FIXTURES))| {
        bench.answer(status, body);
        bench.runtime.block_on(async {
            let _ = client.disable_token("306751", None).await;
            let _ = dynamic
                .update_account(
                    AccountUpdateRequest::new("306751")
                        .card(NewCardData::new(Some(pan()), Some(exp()))),
                )
                .await;
            let token = account_updater::provider::CardToUpdate::token("t1", ProviderId::AccountVault, "306751");
            let _ = dynamic.submit(vec![token]).await;
        });
    });
}

/// A genuine Acquired `account_updater` webhook, signed with [`HASHCODE`].
fn acquired_webhook() -> Value {
    use account_updater::testing::acquired::webhook_hash;
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let (id, ts, company, event) = ("wh_1", now.as_str(), "133", "account_updater");
    let hash = webhook_hash(id, ts, company, event, &SecretString::from(HASHCODE));
    serde_json::json!({
        "id": id, "timestamp": ts, "company_id": company, "event": event, "hash": hash,
        "transaction_id": "306751", "cardexp": "012030", "update_result": "updated_expiry",
        "card_last4": "0009",
    })
}

#[test]
fn every_webhook_receiver_survives_any_body() {
    let peer_url = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let providers: Vec<(Arc<dyn Provider>, Vec<Value>)> = vec![
        (
            Arc::new(
                PayConexClient::builder(
                    "120615523104",
                    Credentials::new("api_k", SecretString::from("s")),
                )
                .base_url(peer_url.clone())
                .build()
                .unwrap(),
            ),
            vec![
                serde_json::json!({"id": "n1", "updateId": "aupres_1", "event": "ACCOUNT_UPDATER_BATCH_UPDATES"}),
            ],
        ),
        (
            Arc::new(
                CardSyncClient::builder(SecretString::from("api_k"))
                    .base_url(peer_url.clone())
                    .build_merchant()
                    .unwrap(),
            ),
            [
                "cardsync/webhook_amex_update.json",
                "cardsync/webhook_batch_available.json",
                "cardsync/webhook_batch_error.json",
                "cardsync/webhook_enrollment_complete.json",
            ]
            .iter()
            .map(|f| fixture(f))
            .collect(),
        ),
        (
            Arc::new(
                AcquiredClient::builder(acquired_credentials())
                    .base_url(peer_url)
                    .build()
                    .unwrap(),
            ),
            vec![acquired_webhook()],
        ),
    ];
    let headers = HeaderMap::new();
    for (provider, genuine) in &providers {
        // Genuine webhooks are accepted as they are.
        for g in genuine {
            webhook::receive(provider.as_ref(), &headers, g.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", provider.id()));
        }
        let genuine = genuine.clone();
        proptest!(cases(4_000), |(
            raw in proptest::collection::vec(any::<u8>(), 0..256),
            pick in any::<prop::sample::Index>(),
            with in sparse_leaves(),
        )| {
            let _ = webhook::receive(provider.as_ref(), &headers, &raw);
            let mut v = pick.get(&genuine).clone();
            mutate_sparse(&mut v, &with, &mut 0);
            let _ = webhook::receive(provider.as_ref(), &headers, v.to_string().as_bytes());
        });
    }
}
