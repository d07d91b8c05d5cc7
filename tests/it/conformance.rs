//! Cross-provider conformance: one generic set of checks run against every provider's emulator,
//! through the `Provider` trait and the unified webhook entry point only.
//!
//! - every `Flow` works or returns `Error::Unsupported`, exactly as `capabilities()` declares;
//! - 401, 404, 429 with `Retry-After`, 5xx, a 200 whose body says failure, an HTML error page and
//!   a truncated body map to the same unified error kind whatever the provider;
//! - webhooks: a genuine one parses; a tampered one is refused (signed providers) or flagged
//!   unsigned; a replay is caught by the deduplicator; a malformed one is refused;
//! - redaction: no PAN (not even 7 consecutive digits), key, password, hash code or bearer token
//!   in the TRACE-level logs of all of the above, nor in any error message.
//!
//! The fifth provider of `examples/custom_provider` (written outside the library, against its
//! public kit) runs through the same checks.
//!
//! The per-provider part is only set-up (emulator, credentials, valid inputs, how the emulator
//! is told to produce a webhook, and what "a 200 that says failure" looks like on its wire).

use crate::common;

/// The example fifth provider (`cargo run --example custom_provider`), written outside the
/// library against its public kit: the suite holds it to the same checks as the built-in four.
#[path = "../../examples/custom_provider/acme/mod.rs"]
mod acme;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use account_updater::ProviderId;
use account_updater::providers::accountvault::AccountVaultClient;
use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::CardSyncPartner;
use account_updater::providers::payconex::PayConexClient;
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::webhook::{self, Authenticity, Deduplicator};
use account_updater::{
    CardNumber, Error, ErrorKind, Expiry, ExpiryFormat, ExposeSecret, SecretString,
};
use account_updater::{
    ids::{Flow, JobKind, JobRef, ResultsQuery},
    provider::{
        AccountUpdateRequest, BoxFuture, CardToUpdate, HolderData, NewCardData, Provider,
        RemoveCard, SubmissionReceipt, SubscribeRequest, WebhookRegistration,
    },
};
use account_updater_emulator::accountvault::AccountVaultEmulator;
use account_updater_emulator::acquired::AcquiredEmulator;
use account_updater_emulator::cardsync::CardSyncEmulator;
use account_updater_emulator::payconex::PayConexEmulator;
use account_updater_emulator::{Fault, WebhookSink};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

type Trigger = Box<dyn Fn(Vec<JobRef>) -> BoxFuture<'static, ()> + Send + Sync>;

/// One provider on its emulator, with valid inputs for every flow it has.
struct Harness {
    provider: Arc<dyn Provider>,
    inject: Box<dyn Fn(Fault) + Send + Sync>,
    subscribe: Vec<CardToUpdate>,
    add: Vec<CardToUpdate>,
    batch: Vec<CardToUpdate>,
    account_update: AccountUpdateRequest,
    /// What "HTTP 200, the body says it failed" looks like from this provider.
    failure_200: Fault,
    sink: WebhookSink,
    trigger: Option<Trigger>,
    pans: Vec<&'static str>,
    secrets: Vec<String>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

fn no_retries() -> TransportConfig {
    TransportConfig::default().retry(RetryPolicy::none())
}

fn card(id: &str, pan: &str, exp: &str) -> CardToUpdate {
    CardToUpdate::pan(
        id,
        CardNumber::parse(pan).unwrap(),
        Expiry::parse(exp, ExpiryFormat::MmSlashYy).unwrap(),
    )
}

async fn payconex() -> Harness {
    let emu = Arc::new(PayConexEmulator::start().await.unwrap());
    let client = PayConexClient::builder(emu.account_id(), emu.credentials())
        .base_url(emu.base_url())
        .transport_config(no_retries())
        .build()
        .unwrap();
    let e1 = emu.clone();
    let e2 = emu.clone();
    Harness {
        provider: Arc::new(client),
        inject: Box::new(move |f| e1.inject_fault(f)),
        subscribe: vec![
            card("p1", "5194560012341234", "12/50"),
            card("p2", "4457000300000007", "01/50"),
        ],
        add: vec![card("p3", "6011010000000003", "03/50")],
        batch: vec![card("b1", "4457010000000009", "01/50")],
        account_update: AccountUpdateRequest::new("none"),
        failure_200: Fault::json(
            200,
            json!({"message": "Invalid Input", "errorType": "invalid_request", "errorCode": 40001, "traceId": "t"}),
        ),
        sink: WebhookSink::start().await.unwrap(),
        trigger: Some(Box::new(move |jobs| {
            let emu = e2.clone();
            Box::pin(async move {
                for j in jobs {
                    emu.run_schedule(&j.id).await;
                }
            })
        })),
        pans: vec![
            "5194560012341234",
            "4457000300000007",
            "6011010000000003",
            "4457010000000009",
        ],
        secrets: vec![account_updater_emulator::payconex::DEFAULT_SECRET.into()],
        _guard: Box::new(emu),
    }
}

async fn cardsync() -> Harness {
    let emu = Arc::new(CardSyncEmulator::start().await.unwrap());
    let partner = CardSyncPartner::builder(emu.partner_key())
        .base_url(emu.base_url())
        .transport_config(no_retries())
        .build_partner()
        .unwrap();
    let created = partner
        .enroll_merchant(&common::cardsync_merchant("conformance"))
        .await
        .unwrap();
    let key = created.api_key.expose_secret().to_owned();
    let merchant = partner.merchant(SecretString::from(key.clone())).unwrap();
    let e1 = emu.clone();
    Harness {
        provider: Arc::new(merchant),
        inject: Box::new(move |f| e1.inject_fault(f)),
        subscribe: vec![card("a1", "342132335566772", "12/28").with_amex_se_number("1234567890")],
        add: vec![card("a2", "376655111122997", "12/28")],
        batch: vec![
            card("b1", "4457010000000009", "01/50"),
            card("b2", "5112010000000003", "02/50"),
        ],
        account_update: AccountUpdateRequest::new("none"),
        failure_200: Fault::json(200, json!({"status": "failure", "message": "failure"})),
        sink: WebhookSink::start().await.unwrap(),
        trigger: None,
        pans: vec![
            "342132335566772",
            "376655111122997",
            "4457010000000009",
            "5112010000000003",
        ],
        secrets: vec![key, emu.partner_key().expose_secret().to_owned()],
        _guard: Box::new(emu),
    }
}

async fn accountvault() -> Harness {
    let emu = Arc::new(AccountVaultEmulator::start().await.unwrap());
    let client = AccountVaultClient::builder(emu.client_id(), emu.token())
        .base_url(emu.base_url())
        .transport_config(no_retries())
        .build()
        .unwrap();
    let account = client
        .create_account(
            &CreateAccount::new("conf", Owner::new(Name::person("Ada", "Lovelace"))).card(
                Card::plain(
                    CardNumber::parse("4000056655665556").unwrap(),
                    Expiry::new(12, 2030).ok(),
                ),
            ),
            account_updater::providers::accountvault::DuplicateCheck::Off,
        )
        .await
        .unwrap()
        .account_id
        .unwrap();
    let e1 = emu.clone();
    Harness {
        provider: Arc::new(client),
        inject: Box::new(move |f| e1.inject_fault(f)),
        subscribe: Vec::new(),
        add: Vec::new(),
        batch: Vec::new(),
        account_update: AccountUpdateRequest::new(account)
            .card(NewCardData::new(None, Expiry::new(6, 2031).ok())),
        failure_200: Fault::json(200, json!({"SC": 400, "EC": "3C304949", "EM": "accountID"})),
        sink: WebhookSink::start().await.unwrap(),
        trigger: None,
        pans: vec!["4000056655665556"],
        secrets: vec![emu.token().expose_secret().to_owned()],
        _guard: Box::new(emu),
    }
}

async fn acquired() -> Harness {
    let emu = Arc::new(AcquiredEmulator::start().await.unwrap());
    let sink = WebhookSink::start().await.unwrap();
    emu.set_webhook_url(&sink.url());
    let client = AcquiredClient::builder(emu.credentials())
        .base_url(emu.base_url())
        .transport_config(no_retries())
        .build()
        .unwrap();
    let t1 = emu.create_token(
        &CardNumber::parse("4457000300000007").unwrap(),
        Expiry::new(1, 2030).unwrap(),
    );
    let t2 = emu.create_token(
        &CardNumber::parse("4457010000000009").unwrap(),
        Expiry::new(1, 2030).unwrap(),
    );
    let mut holder = HolderData::default();
    holder.last_name = Some("Lovelace".into());
    // A signed "Error:Invalid Parameters" answer, as the API gives it with HTTP 200.
    let ts = "20240101120000";
    let hashcode =
        SecretString::from(account_updater_emulator::acquired::DEFAULT_HASHCODE.to_owned());
    let failure = json!({
        "timestamp": ts, "response_code": "102", "response_message": "Error:Invalid Parameters", "company_id": "133",
        "transaction_id": "", "transaction_type": "SUBSCRIPTION_MANAGE",
        "response_hash": account_updater::testing::acquired::response_hash(ts, "SUBSCRIPTION_MANAGE", "133", "", "102", &hashcode),
    });
    let e1 = emu.clone();
    Harness {
        provider: Arc::new(client),
        inject: Box::new(move |f| e1.inject_fault(f)),
        subscribe: Vec::new(),
        add: vec![CardToUpdate::token("t2", ProviderId::Acquired, t2.clone())],
        batch: vec![CardToUpdate::token("t1", ProviderId::Acquired, t1.clone())],
        account_update: AccountUpdateRequest::new(t1).holder(holder),
        failure_200: Fault::json(200, failure),
        sink,
        trigger: None,
        pans: vec!["4457000300000007", "4457010000000009"],
        secrets: vec![
            account_updater_emulator::acquired::DEFAULT_COMPANY_PASS.into(),
            account_updater_emulator::acquired::DEFAULT_HASHCODE.into(),
        ],
        _guard: Box::new(emu),
    }
}

/// Every error seen, for the redaction check.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn note(&self, e: &Error) {
        self.0.lock().unwrap().push(format!("{e} {e:?}"));
    }
}

async fn acme() -> Harness {
    let emu = Arc::new(acme::AcmeEmulator::start().await.unwrap());
    let sink = WebhookSink::start().await.unwrap();
    emu.set_webhook_url(&sink.url());
    let client = acme::AcmeClient::new(
        emu.base_url(),
        SecretString::from(acme::EMULATOR_KEY.to_owned()),
        no_retries(),
    )
    .unwrap();
    let e1 = emu.clone();
    let e2 = emu.clone();
    Harness {
        provider: Arc::new(client),
        inject: Box::new(move |f| e1.inject_fault(f)),
        subscribe: Vec::new(),
        add: Vec::new(),
        batch: vec![
            card("x1", "4457010000000009", "01/50"),
            card("x2", "4457000300000007", "01/50"),
        ],
        account_update: AccountUpdateRequest::new("none"),
        failure_200: Fault::json(
            200,
            json!({"error": {"code": "invalid_card", "message": "refused"}}),
        ),
        sink,
        trigger: Some(Box::new(move |jobs| {
            let emu = e2.clone();
            Box::pin(async move {
                for j in jobs {
                    emu.notify(&j.id).await;
                }
            })
        })),
        pans: vec!["4457010000000009", "4457000300000007"],
        secrets: vec![acme::EMULATOR_KEY.into()],
        _guard: Box::new(emu),
    }
}

fn dummy_job(h: &Harness) -> JobRef {
    JobRef::new(h.provider.id(), JobKind::Subscription, "dummy")
}

/// What earlier flows left for later ones.
#[derive(Default)]
struct State {
    jobs: Vec<JobRef>,
    to_remove: Vec<RemoveCard>,
}

/// Calls `flow` with valid inputs, recording the jobs and cards it created in `state`.
async fn exercise(h: &Harness, flow: Flow, state: &mut State, seen: &Seen) -> Result<(), Error> {
    let p = h.provider.as_ref();
    let jobs = &mut state.jobs;
    let job = jobs.first().cloned().unwrap_or_else(|| dummy_job(h));
    let keep = |r: SubmissionReceipt, jobs: &mut Vec<JobRef>| -> Result<(), Error> {
        let (accepted, failed) = r.into_parts();
        if let Some(f) = failed.into_iter().next() {
            return Err(f.into_error());
        }
        jobs.extend(accepted.into_iter().map(|a| a.job().clone()));
        Ok(())
    };
    let result = match flow {
        Flow::Subscribe => match p
            .subscribe(SubscribeRequest::new(h.subscribe.clone()))
            .await
        {
            Ok(r) => keep(r, jobs),
            Err(e) => Err(e),
        },
        Flow::AddCards => match p.add_cards(&job, h.add.clone()).await {
            Ok(r) => {
                let placed: Vec<_> = r
                    .accepted()
                    .iter()
                    .flat_map(|a| a.cards().to_vec())
                    .collect();
                // Remove what was added, by each provider's own reference rules.
                let remove: Vec<RemoveCard> = if p.id() == account_updater::ProviderId::CardSync {
                    h.add
                        .iter()
                        .cloned()
                        .map(|c| RemoveCard::Card(c.with_amex_se_number(job.id.clone())))
                        .collect()
                } else if p.id() == account_updater::ProviderId::Acquired {
                    h.add.iter().cloned().map(RemoveCard::Card).collect()
                } else {
                    placed.into_iter().map(RemoveCard::Placed).collect()
                };
                state.to_remove = remove;
                keep(r, &mut Vec::new())
            }
            Err(e) => Err(e),
        },
        Flow::RemoveCards => match p
            .remove_cards(&job, std::mem::take(&mut state.to_remove))
            .await
        {
            Ok(r) => match r.into_parts().1.pop() {
                Some(f) => Err(f.into_error()),
                None => Ok(()),
            },
            Err(e) => Err(e),
        },
        Flow::Cancel => p.cancel(&job).await,
        Flow::Submit => match p.submit(h.batch.clone()).await {
            Ok(r) => {
                let mut batch_jobs = Vec::new();
                let out = keep(r, &mut batch_jobs);
                // Batch jobs go first: job status and results are asked of them.
                for j in batch_jobs.into_iter().rev() {
                    jobs.insert(0, j);
                }
                out
            }
            Err(e) => Err(e),
        },
        Flow::JobStatus => p.job_status(&job).await.map(drop),
        Flow::FetchResults => {
            let query = ResultsQuery::Job(job.clone());
            let owned = p.fetch_results(&query).await;
            // One at a time, the same updates (or the same refusal).
            let one_by_one = p.fetch_results_iter(&query).await.map(|updates| {
                let announced = updates.len();
                let all: Vec<_> = updates.collect();
                assert_eq!(all.len(), announced, "{:?}: the count it announced", p.id());
                all
            });
            match (&owned, &one_by_one) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{:?}: fetch_results_iter", p.id()),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{:?}", p.id()),
                (a, b) => panic!("{:?}: {a:?} vs {b:?}", p.id()),
            }
            owned.map(drop)
        }
        Flow::UpdateAccount => p.update_account(h.account_update.clone()).await.map(drop),
        Flow::RegisterWebhook => p
            .register_webhook(WebhookRegistration::new(h.sink.url()))
            .await
            .map(drop),
        Flow::ParseWebhook => {
            let (headers, body) = if p.capabilities().supports(Flow::ParseWebhook) {
                genuine_webhook(h, &state.jobs).await
            } else {
                (HeaderMap::new(), b"{}".to_vec())
            };
            webhook::receive(p, &headers, &body).map(drop)
        }
        _ => Ok(()),
    };
    if let Err(e) = &result {
        seen.note(e);
    }
    result
}

/// A webhook the emulator really delivered, or (for a provider without webhooks) any JSON.
async fn genuine_webhook(h: &Harness, jobs: &[JobRef]) -> (HeaderMap, Vec<u8>) {
    if let Some(t) = &h.trigger {
        t(jobs.to_vec()).await;
    }
    match h.sink.next(Duration::from_secs(3)).await {
        Some(d) => (d.headers, d.body),
        None => (HeaderMap::new(), b"{}".to_vec()),
    }
}

const ORDER: [Flow; 10] = [
    Flow::RegisterWebhook,
    Flow::Subscribe,
    Flow::AddCards,
    Flow::RemoveCards,
    Flow::Submit,
    Flow::JobStatus,
    Flow::FetchResults,
    Flow::UpdateAccount,
    Flow::ParseWebhook,
    Flow::Cancel,
];

async fn flows_match_capabilities(h: Harness) {
    let logs = common::capture_traces();
    let seen = Seen::default();
    let caps = h.provider.capabilities();
    let mut state = State::default();
    for flow in ORDER {
        let result = exercise(&h, flow, &mut state, &seen).await;
        match (caps.supports(flow), result) {
            (true, Ok(())) => {}
            (true, Err(e)) => panic!("{} declares {flow} but it failed: {e}", h.provider.id()),
            (false, Err(Error::Unsupported { provider, flow: f })) => {
                assert_eq!((provider, f), (h.provider.id(), flow));
            }
            (false, other) => panic!(
                "{} does not declare {flow} but answered {other:?}",
                h.provider.id()
            ),
        }
    }
    no_leak(&h, &logs.contents(), &seen);
}

/// A call that reaches the provider and reads its answer.
async fn probe(h: &Harness, jobs: &[JobRef]) -> Result<(), Error> {
    let p = h.provider.as_ref();
    if p.capabilities().supports(Flow::JobStatus) {
        p.job_status(&jobs[0]).await.map(drop)
    } else {
        p.update_account(h.account_update.clone()).await.map(drop)
    }
}

async fn errors_map_the_same_everywhere(h: Harness) {
    let logs = common::capture_traces();
    let seen = Seen::default();
    let mut state = State::default();
    // A job to ask about, where the provider has job status.
    for flow in [Flow::Submit, Flow::Subscribe] {
        if h.provider.capabilities().supports(flow) && state.jobs.is_empty() {
            exercise(&h, flow, &mut state, &seen).await.unwrap();
        }
    }
    let jobs = state.jobs;
    assert!(
        probe(&h, &jobs).await.is_ok(),
        "the probe works without a fault"
    );
    let json_error = |status: u16| {
        Fault::json(
            status,
            json!({"message": "refused", "status": "failed", "SC": status, "EC": "X"}),
        )
    };
    let cases: Vec<(&str, Fault, ErrorKind)> = vec![
        ("401", json_error(401), ErrorKind::Auth),
        ("404", json_error(404), ErrorKind::NotFound),
        (
            "429",
            json_error(429).header("Retry-After", "7"),
            ErrorKind::RateLimited,
        ),
        ("503", json_error(503), ErrorKind::Provider),
        (
            "200 failure body",
            h.failure_200.clone(),
            ErrorKind::Provider,
        ),
        ("HTML 502", Fault::html(502), ErrorKind::Provider),
        ("HTML 200", Fault::html(200), ErrorKind::Decode),
        ("truncated 200", Fault::truncated(200), ErrorKind::Decode),
    ];
    for (name, fault, kind) in cases {
        (h.inject)(fault);
        let e = probe(&h, &jobs).await.expect_err(name);
        seen.note(&e);
        assert_eq!(e.kind(), kind, "{}: {name}: {e:?}", h.provider.id());
        assert_eq!(e.provider(), Some(h.provider.id()));
        match (name, &e) {
            ("429", Error::RateLimited { retry_after, .. }) => {
                assert_eq!(*retry_after, Some(Duration::from_secs(7)))
            }
            ("503", _) | ("HTML 502", _) => {
                assert!(e.is_retryable());
                assert_eq!(
                    e.provider_detail().unwrap().status,
                    Some(if name == "503" { 503 } else { 502 })
                );
            }
            ("200 failure body", _) => assert_eq!(e.provider_detail().unwrap().status, Some(200)),
            _ => {}
        }
    }
    assert!(probe(&h, &jobs).await.is_ok(), "faults are one-shot");
    no_leak(&h, &logs.contents(), &seen);
}

async fn webhooks_are_verified_deduplicated_or_refused(h: Harness) {
    let logs = common::capture_traces();
    let seen = Seen::default();
    let p = h.provider.clone();
    if !p.capabilities().supports(Flow::ParseWebhook) {
        let e = webhook::receive(p.as_ref(), &HeaderMap::new(), b"{}").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        return;
    }
    let mut state = State::default();
    for flow in [Flow::RegisterWebhook, Flow::Subscribe, Flow::Submit] {
        if p.capabilities().supports(flow) {
            exercise(&h, flow, &mut state, &seen).await.unwrap();
        }
    }
    let (headers, body) = genuine_webhook(&h, &state.jobs).await;
    let event = webhook::receive(p.as_ref(), &headers, &body).expect("a genuine webhook parses");
    assert_eq!(event.provider, p.id());
    assert!(!event.id.is_empty());
    let signed = event.authenticity == Authenticity::Verified;

    // A replay: same id, flagged by the deduplicator.
    let dedup = Deduplicator::new(16);
    assert!(dedup.first_seen(&event));
    assert!(!dedup.first_seen(&webhook::receive(p.as_ref(), &headers, &body).unwrap()));

    // Tampered: every string value altered.
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    for (_, value) in v.as_object_mut().unwrap().iter_mut() {
        if let Value::String(s) = value {
            s.push('x');
        }
    }
    let tampered = serde_json::to_vec(&v).unwrap();
    match webhook::receive(p.as_ref(), &headers, &tampered) {
        Err(e) => {
            assert!(
                signed,
                "only a signing provider can refuse a tampered webhook"
            );
            assert_eq!(e.kind(), ErrorKind::Integrity);
            seen.note(&e);
        }
        Ok(flagged) => {
            assert!(!signed, "a signing provider must refuse a tampered webhook");
            assert_eq!(
                flagged.authenticity,
                Authenticity::Unsigned,
                "an unsigned webhook is only a hint"
            );
        }
    }
    // Malformed.
    for bad in [&b"not json"[..], b"[1,2]", b"{}"] {
        let e = webhook::receive(p.as_ref(), &headers, bad).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Decode | ErrorKind::Integrity),
            "{e:?}"
        );
        seen.note(&e);
    }
    no_leak(&h, &logs.contents(), &seen);
}

fn no_leak(h: &Harness, logs: &str, seen: &Seen) {
    let errors = seen.0.lock().unwrap().join("\n");
    let secrets: Vec<&str> = h.secrets.iter().map(String::as_str).collect();
    common::assert_no_leak(logs, &h.pans, &secrets);
    common::assert_no_leak(&errors, &h.pans, &secrets);
}

macro_rules! conformance {
    ($($provider:ident),*) => {
        mod flows {
            $(
                #[tokio::test]
                async fn $provider() {
                    super::flows_match_capabilities(super::$provider().await).await;
                }
            )*
        }
        mod errors {
            $(
                #[tokio::test]
                async fn $provider() {
                    super::errors_map_the_same_everywhere(super::$provider().await).await;
                }
            )*
        }
        mod webhooks {
            $(
                #[tokio::test]
                async fn $provider() {
                    super::webhooks_are_verified_deduplicated_or_refused(super::$provider().await).await;
                }
            )*
        }
    };
}

conformance!(payconex, cardsync, accountvault, acquired, acme);
