//! The fault suite: every provider, through its native client and through `Arc<dyn Provider>`,
//! against a hostile peer (`common::hostile`) that
//!
//! - streams a body forever, or declares an 8 GiB `Content-Length` (→ `ResponseTooLarge`, the
//!   memory taken bounded by the limit);
//! - answers 302/307/308 pointing at another origin (→ `Redirected`; the other origin receives
//!   nothing, so no PAN, CVV or password travels there);
//! - echoes the whole request, headers and body, in every error field a provider reads (→ no
//!   PAN, CVV, API secret, Basic value, bearer token or password in any error or receipt);
//! - returns documented bodies whose strings hold non-ASCII text at parser offsets (→ no panic);
//! - is asked for ids with control characters or beyond the length limit (→ input errors, zero
//!   requests);
//! - takes a burst of 2,000 concurrent calls (→ no more TCP connections than the in-flight cap);
//! - answers a retried DELETE with 404/410 after a first attempt timed out (→ done, not failed).

use crate::common;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use account_updater::providers::accountvault::wire::{Card, Name, Owner, UpdateAccount};
use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
use account_updater::providers::acquired::{AcquiredClient, Credentials as AcquiredCredentials};
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::providers::cardsync::wire::BatchCard;
use account_updater::providers::payconex::wire::PanRecord;
use account_updater::providers::payconex::{AuthMethod, Credentials, PayConexClient};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{CardNumber, Error, ErrorKind, Expiry, SecretString, webhook};
use account_updater::{
    ids::{JobKind, JobRef, ProviderId, ResultsQuery},
    provider::{
        AccountUpdateRequest, BoxFuture, CardToUpdate, NewCardData, Provider, SubmissionReceipt,
        SubscribeRequest,
    },
};
use common::assert_no_leak;
use common::hostile::{Hostile, Mode};
use reqwest::header::HeaderMap;
use serde_json::Value;

const PAN: &str = "4457010000000009";
const CVV: &str = "8529";
const PAYCONEX_ACCOUNT: &str = "120615523104";
const PAYCONEX_KEY_ID: &str = "api_0c169931aa624727a6d7202ab1e9d320";
const PAYCONEX_SECRET: &str = "f4u1tPayConexApiSecretValue0001";
const CARDSYNC_KEY: &str = "api_faultCardSyncMerchantKey0001";
const AV_CLIENT: &str = "FaultSuiteClientId0001";
const AV_TOKEN: &str = "faultBearerTokenAccountVault0123456789";
const AV_ACCOUNT: &str = "FaultSuiteAccount00001";
const ACQ_PASS: &str = "faultCompanyPass01";
const ACQ_HASH: &str = "fault_hash_code_0001";
const ACQ_TOKEN: &str = "306751";

const PROVIDERS: [ProviderId; 4] = [
    ProviderId::PayConex,
    ProviderId::CardSync,
    ProviderId::AccountVault,
    ProviderId::Acquired,
];

/// The secrets a provider's client puts on the wire (Basic's base64 value included).
fn secrets(id: ProviderId) -> Vec<String> {
    use base64::Engine;
    match id {
        ProviderId::PayConex => vec![
            PAYCONEX_SECRET.into(),
            base64::engine::general_purpose::STANDARD
                .encode(format!("{PAYCONEX_KEY_ID}:{PAYCONEX_SECRET}")),
        ],
        ProviderId::CardSync => vec![CARDSYNC_KEY.into()],
        ProviderId::AccountVault => vec![AV_TOKEN.into()],
        _ => vec![ACQ_PASS.into(), ACQ_HASH.into()],
    }
}

fn config() -> TransportConfig {
    TransportConfig::default()
        .retry(RetryPolicy::none())
        .max_response_bytes(1 << 20)
        .timeout(Duration::from_secs(20))
}

/// One provider's native client and the same client as `Arc<dyn Provider>`.
enum Native {
    PayConex(PayConexClient),
    CardSync(CardSyncClient),
    AccountVault(AccountVaultClient),
    Acquired(AcquiredClient),
}

struct Subject {
    id: ProviderId,
    native: Native,
    dynamic: Arc<dyn Provider>,
}

fn subject(id: ProviderId, peer: &Hostile, config: TransportConfig) -> Subject {
    let (native, dynamic): (Native, Arc<dyn Provider>) = match id {
        ProviderId::PayConex => {
            // Basic auth: the most dangerous to echo, since the header carries the secret.
            let c = PayConexClient::builder(
                PAYCONEX_ACCOUNT,
                Credentials::new(PAYCONEX_KEY_ID, SecretString::from(PAYCONEX_SECRET)),
            )
            .auth(AuthMethod::Basic)
            .base_url(peer.url(""))
            .transport_config(config)
            .build()
            .unwrap();
            (Native::PayConex(c.clone()), Arc::new(c))
        }
        ProviderId::CardSync => {
            let c = CardSyncClient::builder(SecretString::from(CARDSYNC_KEY))
                .base_url(peer.url(""))
                .transport_config(config)
                .build_merchant()
                .unwrap();
            (Native::CardSync(c.clone()), Arc::new(c))
        }
        ProviderId::AccountVault => {
            let c = AccountVaultClient::builder(AV_CLIENT, SecretString::from(AV_TOKEN))
                .base_url(peer.url(""))
                .transport_config(config)
                .build()
                .unwrap();
            (Native::AccountVault(c.clone()), Arc::new(c))
        }
        _ => {
            let credentials = AcquiredCredentials::new(
                "133",
                SecretString::from(ACQ_PASS),
                None,
                SecretString::from(ACQ_HASH),
            )
            .unwrap();
            let c = AcquiredClient::builder(credentials)
                .base_url(peer.url("/api.php"))
                .transport_config(config)
                .build()
                .unwrap();
            (Native::Acquired(c.clone()), Arc::new(c))
        }
    };
    Subject {
        id,
        native,
        dynamic,
    }
}

/// What a call left behind: its error, if any, and every text a caller could print of it.
struct Observed {
    error: Option<Error>,
    text: String,
}

fn observe<T: Debug>(result: Result<T, Error>) -> Observed {
    match result {
        Ok(v) => Observed {
            error: None,
            text: format!("{v:?}"),
        },
        Err(e) => Observed {
            text: format!("{e} {e:?}"),
            error: Some(e),
        },
    }
}

/// A receipt's first failed chunk is the call's error; the receipt's `Debug` is kept as text.
fn observe_receipt(result: Result<SubmissionReceipt, Error>) -> Observed {
    match result {
        Ok(r) => {
            let text = format!("{r:?}");
            Observed {
                error: r.into_parts().1.pop().map(|c| c.into_error()),
                text,
            }
        }
        Err(e) => observe::<()>(Err(e)),
    }
}

fn pan() -> CardNumber {
    CardNumber::parse(PAN).unwrap()
}

fn exp() -> Expiry {
    Expiry::new(1, 2050).unwrap()
}

fn pan_card(id: &str) -> CardToUpdate {
    CardToUpdate::pan(id, pan(), exp())
}

/// A native call whose body carries the card (and Acquired's password and the CVV).
async fn native_card_call(s: &Subject) -> Observed {
    match &s.native {
        Native::PayConex(c) => observe(c.add_pans("css_1", &[PanRecord::new(pan(), exp())]).await),
        Native::CardSync(c) => observe(c.create_batch(&[BatchCard::new("c1", pan(), exp())]).await),
        Native::AccountVault(c) => {
            let body = UpdateAccount::new(Owner::new(Name::person("Ada", "Lovelace")))
                .card(Card::plain(pan(), Some(exp())));
            observe(
                c.update_account(AV_ACCOUNT, &body, DuplicateCheck::Off)
                    .await,
            )
        }
        Native::Acquired(c) => {
            let mut card = account_updater::providers::acquired::NewCard::new(pan(), exp());
            card.cvv = Some(SecretString::from(CVV));
            observe(c.update_card(ACQ_TOKEN, &card, None, None).await)
        }
    }
}

/// The same kind of call through the trait.
async fn trait_card_call(s: &Subject) -> Observed {
    let p = &s.dynamic;
    match s.id {
        ProviderId::PayConex => observe_receipt(
            p.subscribe(SubscribeRequest::new(vec![pan_card("c1")]))
                .await,
        ),
        ProviderId::CardSync => observe_receipt(p.submit(vec![pan_card("c1")]).await),
        ProviderId::AccountVault => observe(
            p.update_account(
                AccountUpdateRequest::new(AV_ACCOUNT)
                    .card(NewCardData::new(Some(pan()), Some(exp()))),
            )
            .await,
        ),
        _ => observe(
            p.update_account(
                AccountUpdateRequest::new(ACQ_TOKEN).card(
                    NewCardData::new(Some(pan()), Some(exp()))
                        .with_security_code(SecretString::from(CVV)),
                ),
            )
            .await,
        ),
    }
}

/// Both paths, in order: native, then trait.
async fn both_card_calls(s: &Subject) -> [Observed; 2] {
    [native_card_call(s).await, trait_card_call(s).await]
}

fn assert_clean(id: ProviderId, o: &Observed) {
    let secrets = secrets(id);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_leak(&o.text, &[PAN], &secrets);
    for quoted in [format!("\"{CVV}\""), format!("\\\"{CVV}\\\"")] {
        assert!(
            !o.text.contains(&quoted),
            "{id}: the CVV leaked: {}",
            o.text
        );
    }
}

fn kind(o: &Observed) -> Option<ErrorKind> {
    o.error.as_ref().map(Error::kind)
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_limit() {
    let peer = Hostile::start(Mode::Endless).await;
    for id in PROVIDERS {
        let s = subject(id, &peer, config());
        for o in both_card_calls(&s).await {
            assert_eq!(
                kind(&o),
                Some(ErrorKind::ResponseTooLarge),
                "{id}: {}",
                o.text
            );
            let e = o.error.unwrap();
            assert!(e.may_have_reached_provider());
            assert!(!e.is_retryable());
            assert!(matches!(
                e,
                Error::ResponseTooLarge {
                    limit: 1_048_576,
                    declared: None,
                    ..
                }
            ));
        }
    }
}

#[tokio::test]
async fn a_huge_declared_length_is_refused_before_reading() {
    let peer = Hostile::start(Mode::HugeLength).await;
    for id in PROVIDERS {
        let s = subject(id, &peer, config());
        for o in both_card_calls(&s).await {
            match o.error {
                Some(Error::ResponseTooLarge { declared, .. }) => {
                    assert_eq!(declared, Some(8 << 30), "{id}")
                }
                other => panic!("{id}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let elsewhere = Hostile::start(Mode::Fixed {
        status: 200,
        body: "{}".into(),
    })
    .await;
    let location = elsewhere.url("/stolen").to_string();
    let peer = Hostile::start(Mode::Endless).await;
    for status in [301, 302, 303, 307, 308] {
        peer.set_mode(Mode::Redirect {
            status,
            location: location.clone(),
        });
        for id in PROVIDERS {
            let s = subject(id, &peer, config());
            for o in both_card_calls(&s).await {
                match &o.error {
                    Some(Error::Redirected { status: got, .. }) => assert_eq!(*got, status),
                    other => panic!("{id} {status}: {other:?}"),
                }
                assert!(
                    !o.text.contains("stolen"),
                    "the Location leaked: {}",
                    o.text
                );
            }
        }
    }
    assert_eq!(
        elsewhere.requests(),
        0,
        "a redirect target received a request"
    );
}

#[tokio::test]
async fn a_caller_built_reqwest_client_does_not_follow_redirects_either() {
    use account_updater::transport::HttpClient;
    let elsewhere = Hostile::start(Mode::Fixed {
        status: 200,
        body: "{}".into(),
    })
    .await;
    let peer = Hostile::start(Mode::Redirect {
        status: 307,
        location: elsewhere.url("/stolen").to_string(),
    })
    .await;
    // The caller asks for the most permissive policy; the crate overrides it.
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10));
    let shared = HttpClient::from_builder(builder).unwrap();
    for id in PROVIDERS {
        let s = subject(id, &peer, config().http_client(shared.clone()));
        for o in both_card_calls(&s).await {
            assert_eq!(kind(&o), Some(ErrorKind::Redirected), "{id}: {}", o.text);
        }
    }
    assert_eq!(elsewhere.requests(), 0);
}

#[tokio::test]
async fn an_echoing_server_gets_nothing_secret_into_errors_or_receipts() {
    let peer = Hostile::start(Mode::Echo { status: 400 }).await;
    for status in [400, 200, 500] {
        peer.set_mode(Mode::Echo { status });
        for id in PROVIDERS {
            let s = subject(id, &peer, config());
            for o in both_card_calls(&s).await {
                assert!(
                    o.error.is_some(),
                    "{id} {status}: an echo is never a success"
                );
                assert_clean(id, &o);
            }
        }
    }
    assert!(peer.requests() >= 24);
}

/// Replaces the second character of every ASCII string of three or more bytes with `é`,
/// keeping its byte length: exactly what made byte-offset parsers panic (`"1230"` → `"1é0"`).
fn non_ascii_at_offsets(v: &mut Value) {
    match v {
        Value::String(s) if s.is_ascii() && s.len() >= 3 => {
            *s = format!("{}é{}", &s[..1], &s[3..]);
        }
        Value::Array(items) => items.iter_mut().for_each(non_ascii_at_offsets),
        Value::Object(map) => map.values_mut().for_each(non_ascii_at_offsets),
        _ => {}
    }
}

fn mutated(fixture: &str) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    non_ascii_at_offsets(&mut v);
    v.to_string()
}

/// The calls that decode result bodies, native and through the trait.
async fn decoding_calls(s: &Subject) -> Vec<Observed> {
    let p = &s.dynamic;
    match &s.native {
        Native::PayConex(c) => {
            let job = JobRef::new(ProviderId::PayConex, JobKind::Subscription, "css_1");
            vec![
                observe(c.schedule_results("css_1").await),
                observe(p.fetch_results(&ResultsQuery::Job(job)).await),
            ]
        }
        Native::CardSync(c) => {
            let job = JobRef::new(ProviderId::CardSync, JobKind::Batch, "b1");
            vec![
                observe(c.batch_results("b1", None).await),
                observe(p.fetch_results(&ResultsQuery::Job(job)).await),
            ]
        }
        Native::AccountVault(c) => vec![
            observe(c.retrieve_account(AV_ACCOUNT).await),
            observe(
                p.update_account(
                    AccountUpdateRequest::new(AV_ACCOUNT)
                        .card(NewCardData::new(Some(pan()), Some(exp()))),
                )
                .await,
            ),
        ],
        Native::Acquired(_) => Vec::new(),
    }
}

#[tokio::test]
async fn non_ascii_text_at_parser_offsets_never_panics() {
    let cases = [
        (ProviderId::PayConex, "payconex/schedule_results.json"),
        (ProviderId::PayConex, "payconex/subscription.json"),
        (ProviderId::CardSync, "cardsync/batch_results_response.json"),
        (
            ProviderId::CardSync,
            "cardsync/subscription_results_response.json",
        ),
        (
            ProviderId::AccountVault,
            "accountvault/retrieve_response.json",
        ),
    ];
    let peer = Hostile::start(Mode::Endless).await;
    for (id, fixture) in cases {
        peer.set_mode(Mode::Fixed {
            status: 200,
            body: mutated(fixture).into(),
        });
        let s = subject(id, &peer, config());
        // Reaching the assertions at all is the point: a panic fails the test.
        for o in decoding_calls(&s).await {
            if let Some(e) = &o.error {
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::Decode | ErrorKind::Provider | ErrorKind::InvalidInput
                    ),
                    "{id} {fixture}: {e:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_non_ascii_expiry_in_a_signed_acquired_webhook_is_refused_not_a_crash() {
    use account_updater::testing::acquired::webhook_hash;
    let peer = Hostile::start(Mode::Endless).await;
    let s = subject(ProviderId::Acquired, &peer, config());
    let Native::Acquired(native) = &s.native else {
        unreachable!()
    };
    // `cardexp` is not covered by the hash: an attacker can edit it freely.
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let (id, ts, company, event) = ("wh_1", now.as_str(), "133", "account_updater");
    let hash = webhook_hash(
        id,
        ts,
        company,
        event,
        &SecretString::from(ACQ_HASH.to_owned()),
    );
    for cardexp in [
        "1é345",
        "2é1234",
        "12é45",
        "1é2",
        "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
    ] {
        let body = serde_json::json!({
            "id": id, "timestamp": ts, "company_id": company, "event": event, "hash": hash,
            "transaction_id": ACQ_TOKEN, "cardexp": cardexp, "update_result": "updated_expiry",
        })
        .to_string();
        let via_trait = webhook::receive(s.dynamic.as_ref(), &HeaderMap::new(), body.as_bytes());
        let native = native.verify_webhook(body.as_bytes());
        for r in [via_trait, native] {
            let event = r.expect("the envelope is genuine");
            assert_eq!(event.updates.len(), 1);
            assert_eq!(event.updates[0].new_expiry, None, "{cardexp:?}");
            assert!(event.unauthenticated_fields.contains(&"cardexp".to_owned()));
        }
    }
    assert_eq!(peer.requests(), 0);
}

#[tokio::test]
async fn ids_with_control_characters_or_too_long_are_refused_before_the_network() {
    let peer = Hostile::start(Mode::Fixed {
        status: 200,
        body: "{}".into(),
    })
    .await;
    let long = "a".repeat(129);
    let bad_ids = [
        "bad\nid",
        "bad\rid",
        "bad\u{1b}[31mid",
        "bad\u{0}id",
        long.as_str(),
    ];
    for id in PROVIDERS {
        let s = subject(id, &peer, config());
        for bad in bad_ids {
            let mut seen = Vec::new();
            // Caller ids of cards, through the trait.
            let card = match id {
                ProviderId::Acquired => CardToUpdate::token(bad, ProviderId::Acquired, ACQ_TOKEN),
                _ => pan_card(bad),
            };
            match id {
                ProviderId::PayConex => seen.push(observe_receipt(
                    s.dynamic.subscribe(SubscribeRequest::new(vec![card])).await,
                )),
                ProviderId::CardSync | ProviderId::Acquired => {
                    seen.push(observe_receipt(s.dynamic.submit(vec![card]).await))
                }
                _ => {}
            }
            // Path ids, native and through the trait.
            match &s.native {
                Native::PayConex(c) => seen.push(observe(c.get_subscription(bad).await)),
                Native::CardSync(c) => seen.push(observe(c.batch_status(bad).await)),
                Native::AccountVault(c) => seen.push(observe(c.retrieve_account(bad).await)),
                Native::Acquired(c) => seen.push(observe(c.disable_token(bad, None).await)),
            }
            let job = JobRef::new(id, JobKind::Subscription, bad);
            if s.dynamic
                .capabilities()
                .supports(account_updater::Flow::JobStatus)
            {
                seen.push(observe(s.dynamic.job_status(&job).await));
            }
            seen.push(observe(
                s.dynamic
                    .update_account(
                        AccountUpdateRequest::new(bad).card(NewCardData::new(None, Some(exp()))),
                    )
                    .await,
            ));
            for o in &seen {
                let kind = kind(o);
                assert!(
                    matches!(kind, Some(ErrorKind::InvalidInput | ErrorKind::Unsupported)),
                    "{id} {bad:?}: {}",
                    o.text
                );
                assert!(!o.text.contains('\n') && !o.text.contains('\u{1b}'));
            }
        }
    }
    assert_eq!(peer.requests(), 0, "a refused id reached the network");
}

/// Runs `calls` copies of `call` at once.
async fn burst<F>(calls: usize, call: F) -> Vec<Observed>
where
    F: Fn() -> BoxFuture<'static, Observed>,
{
    futures::future::join_all((0..calls).map(|_| call())).await
}

#[tokio::test]
async fn a_burst_of_calls_stays_within_the_in_flight_cap() {
    const CAP: usize = 8;
    const CALLS: usize = 2_000;
    for id in PROVIDERS {
        for via_trait in [false, true] {
            let peer = Hostile::start(Mode::Fixed {
                status: 404,
                body: "{}".into(),
            })
            .await;
            let s = Arc::new(subject(id, &peer, config().max_in_flight(CAP)));
            let results = burst(CALLS, || {
                let s = s.clone();
                Box::pin(async move {
                    if via_trait {
                        trait_card_call(&s).await
                    } else {
                        native_card_call(&s).await
                    }
                })
            })
            .await;
            for o in &results {
                assert!(
                    !matches!(kind(o), Some(ErrorKind::Transport | ErrorKind::Timeout)),
                    "{id}: {}",
                    o.text
                );
            }
            assert_eq!(peer.requests(), CALLS, "{id} trait={via_trait}");
            assert!(
                peer.connections() <= CAP,
                "{id} trait={via_trait}: {} connections for a cap of {CAP}",
                peer.connections()
            );
        }
    }
}

/// A server whose first DELETE is answered too late (a timeout: the delete may have happened)
/// when `first_times_out`, and every DELETE after that with `gone`.
async fn deleting_server(gone: u16, first_times_out: bool) -> wiremock::MockServer {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    if first_times_out {
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("DELETE"))
        .respond_with(
            ResponseTemplate::new(gone)
                .set_body_string(r#"{"SC":410,"EC":"50000000","EM":"Deleted"}"#),
        )
        .mount(&server)
        .await;
    server
}

/// A DELETE whose first attempt timed out (it may have deleted) and whose retry is answered
/// 404 or 410 is done; the same answer to a first attempt is still `NotFound`.
#[tokio::test]
async fn a_retried_delete_answered_gone_is_done() {
    let retrying = || {
        TransportConfig::default()
            .timeout(Duration::from_millis(300))
            .retry(
                RetryPolicy::default()
                    .max_attempts(2)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(1))
                    .max_retry_after(Duration::from_secs(1)),
            )
    };
    let payconex = |server: &wiremock::MockServer| {
        PayConexClient::builder(
            PAYCONEX_ACCOUNT,
            Credentials::new(PAYCONEX_KEY_ID, SecretString::from(PAYCONEX_SECRET)),
        )
        .base_url(url::Url::parse(&server.uri()).unwrap())
        .transport_config(retrying())
        .build()
        .unwrap()
    };
    let vault = |server: &wiremock::MockServer| {
        AccountVaultClient::builder(AV_CLIENT, SecretString::from(AV_TOKEN))
            .base_url(url::Url::parse(&server.uri()).unwrap())
            .transport_config(retrying())
            .build()
            .unwrap()
    };
    let job = JobRef::new(ProviderId::PayConex, JobKind::Subscription, "css_1");
    for gone in [404u16, 410] {
        for first_times_out in [true, false] {
            let mut results: Vec<(&str, Result<(), Error>)> = Vec::new();
            let s = deleting_server(gone, first_times_out).await;
            results.push((
                "delete_record",
                payconex(&s).delete_record("css_1", "cssr_1").await,
            ));
            let s = deleting_server(gone, first_times_out).await;
            results.push((
                "delete_subscription",
                payconex(&s).delete_subscription("css_1").await,
            ));
            let s = deleting_server(gone, first_times_out).await;
            results.push(("delete_webhook", payconex(&s).delete_webhook("wbh_1").await));
            let s = deleting_server(gone, first_times_out).await;
            results.push(("cancel", payconex(&s).cancel(&job).await));
            let s = deleting_server(gone, first_times_out).await;
            results.push((
                "delete_account",
                vault(&s).delete_account(AV_ACCOUNT, false).await.map(drop),
            ));
            let s = deleting_server(gone, first_times_out).await;
            results.push((
                "delete_key",
                vault(&s)
                    .delete_key("KeyId0000000000000001")
                    .await
                    .map(drop),
            ));
            for (what, r) in results {
                if first_times_out {
                    assert!(r.is_ok(), "{what} {gone}: {r:?}");
                } else {
                    assert_eq!(
                        r.unwrap_err().kind(),
                        ErrorKind::NotFound,
                        "{what} {gone}: a first answer of gone is not a success"
                    );
                }
            }
        }
    }
}
