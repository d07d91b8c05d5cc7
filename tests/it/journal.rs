//! The job journal on real engines: SQLite in a temp dir, PostgreSQL as a throwaway cluster.
//! A loopback CardSync endpoint counts every card id it receives, so "sent twice" is counted
//! where it would cost money: at the provider.
//!
//! Crashes are simulated by dropping the run's future at a chosen point (its request tasks are
//! aborted with it; only what the journal committed survives, as after a kill).

use crate::common::postgres;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use account_updater::provider::{CardToUpdate, Provider};
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::submission::{Chunk, ChunkOutcome};
use account_updater::submission::{boxed_card_stream, card_stream};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{
    CardNumber, CardUpdate, ErrorKind, Expiry, Outcome, ProviderId, SecretString,
};
use account_updater_journal::{Journal, Resolution, RunObserver, RunOptions, SCHEMA_VERSION};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures::{FutureExt, StreamExt};
use tokio::sync::Notify;

/// What the loopback provider does with the n-th request (1-based).
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Accept,
    /// Never answers (the test drops the run meanwhile: a crash after the POST).
    Hang,
    /// Answers 503 (the provider may have acted).
    Unavailable,
}

#[derive(Default)]
struct Provider_ {
    requests: AtomicUsize,
    /// Every card id received, with how many times.
    received: Mutex<HashMap<String, u32>>,
    script: Mutex<HashMap<usize, Behaviour>>,
    hung: Notify,
}

impl Provider_ {
    fn times_received(&self) -> (usize, usize) {
        let r = self.received.lock().unwrap();
        (r.len(), r.values().filter(|&&n| n > 1).count())
    }
}

async fn loopback_provider() -> (url::Url, Arc<Provider_>) {
    let state = Arc::new(Provider_::default());
    let shared = state.clone();
    let handle = move |body: Bytes| {
        let state = shared.clone();
        async move {
            let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
            let behaviour = state
                .script
                .lock()
                .unwrap()
                .get(&n)
                .copied()
                .unwrap_or(Behaviour::Accept);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            if behaviour != Behaviour::Unavailable {
                let mut received = state.received.lock().unwrap();
                for c in v["cards"].as_array().unwrap() {
                    *received
                        .entry(c["id"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
            }
            match behaviour {
                Behaviour::Accept => (
                    StatusCode::OK,
                    format!(r#"{{"status":"success","data":{{"batch_id":"b{n}"}}}}"#),
                )
                    .into_response(),
                Behaviour::Unavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "<html>503</html>").into_response()
                }
                Behaviour::Hang => {
                    state.hung.notify_one();
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    StatusCode::OK.into_response()
                }
            }
        }
    };
    let app = axum::Router::new()
        .route("/v2/batch", axum::routing::post(handle.clone()))
        .route("/v2/subscribe", axum::routing::post(handle))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}").parse().unwrap(), state)
}

fn cardsync(base: &url::Url) -> CardSyncClient {
    CardSyncClient::builder(SecretString::from("merchant-key"))
        .base_url(base.clone())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .concurrency(2)
        .build_merchant()
        .unwrap()
}

fn with_check_digit(body: String) -> String {
    account_updater::card::with_check_digit(&body).unwrap()
}

/// Card `i` of the run: Visa / Mastercard / Discover, ids `c{i}`; the positions in `bad` are
/// tokens (rejected by CardSync).
fn cards(n: usize, bad: &'static [usize]) -> impl Iterator<Item = CardToUpdate> + Send + 'static {
    let exp = Expiry::new(1, 2030).unwrap();
    (0..n).map(move |i| {
        if bad.contains(&i) {
            return CardToUpdate::token(format!("c{i}"), ProviderId::Acquired, "tok");
        }
        let prefix = ["4", "51", "6011"][i % 3];
        let pan = with_check_digit(format!("{prefix}{i:0width$}", width = 14 - prefix.len()));
        CardToUpdate::pan(format!("c{i}"), CardNumber::parse(&pan).unwrap(), exp)
    })
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("au-journal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.db")
}

async fn sqlite(name: &str) -> Journal {
    Journal::open_sqlite(temp_db(name)).await.unwrap()
}

/// What a [`RunObserver`] was told: (chunk number, outcome, cards) and rejected positions.
#[derive(Default)]
struct Seen {
    chunks: Vec<(u64, &'static str, usize)>,
    rejected: Vec<u64>,
}

impl RunObserver for Seen {
    fn chunk(&mut self, chunk: &Chunk, outcome: &ChunkOutcome) {
        self.chunks
            .push((chunk.seq(), outcome.as_str(), chunk.len()));
    }
    fn rejected(&mut self, position: u64, _: &CardToUpdate, _: &account_updater::Error) {
        self.rejected.push(position);
    }
}

/// Stored results exported a page at a time: each page marked once its callback succeeds, a
/// failing callback stops the export with the pages before it marked.
async fn export_in_pages(journal: &Journal) {
    let updates: Vec<CardUpdate> = (0..2_500)
        .map(|i| {
            let mut u = CardUpdate::new(ProviderId::CardSync, Outcome::NewExpiry, "updated_expiry");
            u.card_id = Some(format!("c{i}"));
            u.new_expiry = Some(Expiry::new(2, 2031).unwrap());
            u
        })
        .collect();
    assert_eq!(journal.record_results("x", &updates).await.unwrap(), 2_500);
    // A callback failing on the second page: the first is marked, the error says why without
    // the card number the callback's message held.
    let mut pages = 0;
    let err = journal
        .export("x", false, 1_000, |page| {
            pages += 1;
            assert!(page.iter().all(|r| !r.applied && r.outcome == "new_expiry"));
            if pages == 2 {
                return Err("disk full writing 4111111111111111");
            }
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Journal);
    assert!(!err.to_string().contains("4111111111111111"), "{err}");
    assert_eq!(journal.status("x").await.unwrap().applied, 1_000);
    // The rest, once: 1,500 in two pages.
    let mut sizes = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let report = journal
        .export("x", false, 1_000, |page| {
            sizes.push(page.len());
            ids.extend(page.iter().map(|r| r.card_id.clone().unwrap()));
            Ok::<(), String>(())
        })
        .await
        .unwrap();
    assert_eq!(sizes, [1_000, 500]);
    assert_eq!((report.exported, report.marked), (1_500, 1_500));
    // Nothing left unexported; all of them again on request, already applied.
    let none = journal
        .export("x", false, 1_000, |_| Ok::<(), String>(()))
        .await
        .unwrap();
    assert_eq!(none.exported, 0);
    let mut all = 0;
    let report = journal
        .export("x", true, 700, |page| {
            all += page.len();
            assert!(page.iter().all(|r| r.applied));
            Ok::<(), String>(())
        })
        .await
        .unwrap();
    assert_eq!((all, report.marked), (2_500, 0));
    let status = journal.status("x").await.unwrap();
    assert_eq!((status.results, status.applied), (2_500, 2_500));
    assert_eq!(ids.len(), 1_500);
}

/// A run, its re-run, and the figures both leave in the journal.
async fn run_and_rerun(journal: &Journal) {
    let (base, provider) = loopback_provider().await;
    let client = cardsync(&base);
    let options = RunOptions::new("2026-11").worker("w1");
    let mut seen = Seen::default();
    let report = journal
        .run_observed(
            &client,
            &options,
            card_stream(cards(45_003, &[7, 20_000, 45_002])),
            &mut seen,
        )
        .await
        .unwrap();
    // The observer hears of each chunk and each rejected card once the journal has them.
    assert_eq!(seen.chunks.len(), 5);
    assert!(seen.chunks.iter().all(|(_, state, _)| *state == "accepted"));
    assert_eq!(seen.chunks.iter().map(|c| c.2).sum::<usize>(), 45_000);
    assert_eq!(seen.rejected, [7, 20_000, 45_002]);
    assert_eq!(report.receipt.accepted_cards(), 45_000);
    assert_eq!(report.status.accepted, 45_000);
    assert_eq!(report.status.rejected, 3);
    assert_eq!(report.status.chunks, 5);
    assert!(report.status.is_settled());
    assert_eq!(provider.times_received(), (45_000, 0));

    // The same input again: everything is recorded, nothing is sent.
    let requests = provider.requests.load(Ordering::SeqCst);
    let mut seen_again = Seen::default();
    let again = journal
        .run_observed(
            &client,
            &options.clone().worker("w2"),
            card_stream(cards(45_003, &[7, 20_000, 45_002])),
            &mut seen_again,
        )
        .await
        .unwrap();
    assert_eq!(again.receipt.skipped_cards(), 45_000);
    assert_eq!(seen_again.chunks.len(), 5);
    assert!(seen_again.chunks.iter().all(|(_, s, _)| *s == "skipped"));

    // The run is listed with its provider; its accepted chunks' jobs are there to poll.
    let runs = journal.runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].run_id.as_str(), runs[0].provider),
        ("2026-11", Some(ProviderId::CardSync))
    );
    let jobs = journal.accepted_jobs("2026-11").await.unwrap();
    // Each chunk's job is the batch id of the request that carried it. The chunks' requests
    // run concurrently, so which chunk got which id is not promised: the set is.
    let mut ids: Vec<String> = jobs
        .iter()
        .map(|j| j.job.as_ref().unwrap().id.clone())
        .collect();
    ids.sort();
    assert_eq!(ids, ["b1", "b2", "b3", "b4", "b5"]);
    assert!(jobs.iter().all(|j| j.chunks == 1));
    assert_eq!(jobs.iter().map(|j| j.cards).sum::<u64>(), 45_000);
    assert_eq!(
        jobs[0].job.as_ref().unwrap().kind,
        account_updater::ids::JobKind::Batch
    );
    let rejected = journal.rejected("2026-11").await.unwrap();
    assert_eq!(
        rejected
            .iter()
            .map(|r| (r.position, r.card_id.as_str()))
            .collect::<Vec<_>>(),
        [(7, "c7"), (20_000, "c20000"), (45_002, "c45002")]
    );
    export_in_pages(journal).await;
    assert_eq!(provider.requests.load(Ordering::SeqCst), requests);
    assert_eq!(again.status, report.status);
    assert_eq!(journal.schema_version().await.unwrap(), SCHEMA_VERSION);

    // The journal keeps the caller ids of each chunk, and the rejected cards.
    let first = journal.chunk_cards("2026-11", 0).await.unwrap();
    assert_eq!(first.len(), 10_000);
    assert_eq!((first[0].position, first[0].card_id.as_str()), (0, "c0"));
    assert!(!first.iter().any(|c| c.position == 7));

    // A run id belongs to one provider.
    let other = account_updater::providers::acquired::AcquiredClient::builder(
        account_updater::providers::acquired::Credentials::new(
            "1",
            SecretString::from("passwordpass"),
            None,
            SecretString::from("hash"),
        )
        .unwrap(),
    )
    .base_url(base.clone())
    .build()
    .unwrap();
    let err = journal
        .run(&other, &options, card_stream(cards(3, &[])))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_records_every_chunk_and_a_rerun_sends_nothing() {
    run_and_rerun(&sqlite("rerun").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_records_every_chunk_and_a_rerun_sends_nothing() {
    let Some(pg) = postgres::PgCluster::start("postgres_records_every_chunk") else {
        return;
    };
    let journal = Journal::connect_postgres(&pg.url).await.unwrap();
    run_and_rerun(&journal).await;
    // Migrating an up-to-date database again changes nothing.
    let again = Journal::connect_postgres(&pg.url).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
}

/// Crash points, each followed by a resume: cards lost and chunks the provider received twice
/// are counted at the provider.
async fn crash_and_resume(journal: &Journal, run: &str) {
    let (base, provider) = loopback_provider().await;
    let client = cardsync(&base);
    let n = 60_000;
    let options = RunOptions::new(run).worker("w1");

    // 1. A crash after the third request went out and before its answer came back.
    provider.script.lock().unwrap().insert(3, Behaviour::Hang);
    let run1 = journal.run(&client, &options, card_stream(cards(n, &[])));
    tokio::select! {
        _ = run1 => panic!("the run should hang on request 3"),
        _ = provider.hung.notified() => {}
    }
    // (the run's future is dropped here: the process is gone)
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = journal.status(run).await.unwrap();
    assert!(status.in_flight >= 10_000, "{status:?}");

    // 2. Resume (same worker name: its intents are certainly abandoned). The hung chunk (and
    //    any other chunk in flight at the crash) may have reached the provider: unknown, not
    //    resent. The provider then answers 503 for the next request (it may have acted):
    //    unknown too, not resent.
    let resumed_from = provider.requests.load(Ordering::SeqCst);
    provider
        .script
        .lock()
        .unwrap()
        .insert(resumed_from + 1, Behaviour::Unavailable);
    let report = journal
        .run(&client, &options, card_stream(cards(n, &[])))
        .await
        .unwrap();
    let unknown = journal.unknown_chunks(run).await.unwrap();
    let (crashed, refused): (Vec<_>, Vec<_>) = unknown
        .iter()
        .partition(|u| u.reason.contains("after writing the intent"));
    assert!((1..=2).contains(&crashed.len()), "{unknown:?}");
    assert_eq!(refused.len(), 1, "{unknown:?}");
    assert!(refused[0].reason.contains("503"), "{unknown:?}");
    assert_eq!(report.status.unknown, 10_000 * unknown.len() as u64);
    assert_eq!(report.status.accepted + report.status.unknown, n as u64);
    // Nothing received twice; the 503 chunk's cards not at all.
    let (distinct, repeated) = provider.times_received();
    assert_eq!(repeated, 0);
    assert!(distinct as u64 >= report.status.accepted && distinct <= n - 10_000);

    // 3. Another resume changes nothing: unknown chunks wait for results or a decision.
    let before = provider.requests.load(Ordering::SeqCst);
    let report = journal
        .run(&client, &options, card_stream(cards(n, &[])))
        .await
        .unwrap();
    assert_eq!(provider.requests.load(Ordering::SeqCst), before);
    assert_eq!(report.status.unknown, 10_000 * unknown.len() as u64);

    // 4. The provider's results name the cards it got: a crashed chunk it received is
    //    reconciled as accepted. One it never received (the crash came before the request
    //    left) is resent on the operator's decision, as is the 503 chunk it never processed.
    for chunk in unknown.iter() {
        let card_id = journal.chunk_cards(run, chunk.seq).await.unwrap()[0]
            .card_id
            .clone();
        let received = provider.received.lock().unwrap().contains_key(&card_id);
        if received {
            let mut update = CardUpdate::new(ProviderId::CardSync, Outcome::Valid, "valid");
            update.card_id = Some(card_id);
            update.provider_ref = Some("evt-1".into());
            journal.record_results(run, &[update]).await.unwrap();
        } else {
            journal
                .resolve_unknown(run, chunk.seq, Resolution::Resend)
                .await
                .unwrap();
            assert_eq!(
                journal
                    .resolve_unknown(run, chunk.seq, Resolution::Resend)
                    .await
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidInput
            );
        }
    }
    assert!(journal.unknown_chunks(run).await.unwrap().is_empty());

    // 5. The next run sends the chunks decided for resend, once.
    let report = journal
        .run(&client, &options, card_stream(cards(n, &[])))
        .await
        .unwrap();
    assert!(report.receipt.accepted_cards() >= 10_000);
    assert!(report.status.is_settled(), "{:?}", report.status);
    assert_eq!(report.status.accepted, n as u64);
    // Every card received exactly once: 0 lost, 0 repeated.
    assert_eq!(provider.times_received(), (n, 0));

    // 6. A crash while reading input (before any intent of the later chunks): those cards were
    //    never recorded, and the resume sends them once.
    let run2 = format!("{run}-b");
    let options2 = RunOptions::new(&run2).worker("w1");
    let (base2, provider2) = loopback_provider().await;
    let client2 = cardsync(&base2);
    // The input delivers 25,000 cards and then stalls: the process dies while reading.
    let stalled =
        futures::stream::iter(cards(30_000, &[]).take(25_000)).chain(futures::stream::pending());
    let crashed = tokio::time::timeout(
        Duration::from_secs(3),
        journal.run(&client2, &options2, boxed_card_stream(stalled)),
    )
    .await;
    assert!(crashed.is_err(), "the run should still be reading");
    let mid = journal.status(&run2).await.unwrap();
    assert_eq!(mid.accepted + mid.in_flight, 20_000, "{mid:?}");
    let report = journal
        .run(&client2, &options2, card_stream(cards(30_000, &[])))
        .await
        .unwrap();
    let status = report.status;
    assert_eq!(status.accepted + status.unknown, 30_000, "{status:?}");
    let (distinct, repeated) = provider2.times_received();
    assert_eq!(repeated, 0);
    // A chunk in flight at the crash is unknown: the provider got it or not, never twice.
    assert!(distinct as u64 >= status.accepted && distinct as u64 <= 30_000);

    // 7. A changed input is refused, nothing sent.
    let before = provider2.requests.load(Ordering::SeqCst);
    let err = journal
        .run(&client2, &options2, card_stream(cards(30_000, &[5])))
        .await
        .map(|r| r.receipt.stopped().map(|e| e.kind()))
        .unwrap();
    assert_eq!(err, Some(ErrorKind::InvalidInput));
    assert_eq!(provider2.requests.load(Ordering::SeqCst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crash_points_lose_nothing_and_send_nothing_twice() {
    crash_and_resume(&sqlite("crash").await, "crash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_points_lose_nothing_and_send_nothing_twice() {
    let Some(pg) = postgres::PgCluster::start("postgres_crash_points") else {
        return;
    };
    let journal = Journal::connect_postgres(&pg.url).await.unwrap();
    crash_and_resume(&journal, "crash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_workers_split_a_run_and_send_no_chunk_twice() {
    let Some(pg) = postgres::PgCluster::start("two_postgres_workers") else {
        return;
    };
    let (base, provider) = loopback_provider().await;
    let n = 200_000;
    let (a, b) = (
        Journal::connect_postgres(&pg.url).await.unwrap(),
        Journal::connect_postgres(&pg.url).await.unwrap(),
    );
    let (client_a, client_b) = (cardsync(&base), cardsync(&base));
    let (options_a, options_b) = (
        RunOptions::new("fleet").worker("a"),
        RunOptions::new("fleet").worker("b"),
    );
    let (report_a, report_b) = tokio::join!(
        a.run(&client_a, &options_a, card_stream(cards(n, &[]))),
        b.run(&client_b, &options_b, card_stream(cards(n, &[]))),
    );
    let (report_a, report_b) = (report_a.unwrap(), report_b.unwrap());
    let (sent_a, sent_b) = (
        report_a.receipt.accepted_cards(),
        report_b.receipt.accepted_cards(),
    );
    println!("two workers: a sent {sent_a} cards, b sent {sent_b}");
    assert_eq!(sent_a + sent_b, n as u64);
    assert_eq!(
        report_a.receipt.skipped_cards() + report_b.receipt.skipped_cards(),
        n as u64
    );
    assert_eq!(provider.times_received(), (n, 0));
    assert_eq!(provider.requests.load(Ordering::SeqCst), n / 10_000);
    let status = a.status("fleet").await.unwrap();
    assert_eq!(status.accepted, n as u64);
    assert!(status.is_settled());
}

#[tokio::test]
async fn results_are_stored_once_and_applied_once() {
    let journal = sqlite("results").await;
    let updates: Vec<CardUpdate> = (0..5)
        .map(|i| {
            let mut u = CardUpdate::new(ProviderId::CardSync, Outcome::NewExpiry, "updated_expiry");
            u.card_id = Some(format!("c{i}"));
            u.new_expiry = Some(Expiry::new(2, 2031).unwrap());
            u.provider_ref = Some("evt-9".into());
            u
        })
        .collect();
    assert_eq!(journal.record_results("r", &updates).await.unwrap(), 5);
    // The same results again (a webhook delivered twice, a second fetch): stored once.
    assert_eq!(journal.record_results("r", &updates).await.unwrap(), 0);

    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let report = journal
        .apply("r", &updates, |u| {
            let seen = seen.clone();
            async move {
                let id = u.card_id.clone().unwrap();
                if id == "c2" {
                    return Err("vault unavailable for 4111111111111111");
                }
                seen.lock().unwrap().push(id);
                Ok(())
            }
            .boxed()
        })
        .await
        .unwrap();
    assert_eq!(report.applied, 2);
    let message = report.failed.unwrap().message;
    assert!(!message.contains("4111111111111111"), "{message}");
    // Resumed apply: the two applied are not handed over again.
    let seen = calls.clone();
    let report = journal
        .apply("r", &updates, |u| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(u.card_id.clone().unwrap());
                Ok::<(), &str>(())
            }
            .boxed()
        })
        .await
        .unwrap();
    assert_eq!((report.applied, report.already_applied), (3, 2));
    assert_eq!(*calls.lock().unwrap(), ["c0", "c1", "c2", "c3", "c4"]);
    let status = journal.status("r").await.unwrap();
    assert_eq!((status.results, status.applied), (5, 5));
    // A different new expiry is a different result.
    let mut changed = updates[0].clone();
    changed.new_expiry = Some(Expiry::new(3, 2031).unwrap());
    assert_ne!(
        account_updater_journal::result_id(&changed),
        account_updater_journal::result_id(&updates[0])
    );
}

#[tokio::test]
async fn bad_run_ids_are_refused_before_anything_is_written_or_sent() {
    let journal = sqlite("badid").await;
    let (base, provider) = loopback_provider().await;
    for id in ["", "run\n1", &"x".repeat(129)] {
        let err = journal
            .run(
                &cardsync(&base),
                &RunOptions::new(id),
                card_stream(cards(10, &[])),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    assert_eq!(provider.requests.load(Ordering::SeqCst), 0);
    let _: &dyn Provider = &cardsync(&base);
}

/// Acquired's webhook names the token, not the caller's id: the journal joins it back through
/// the single-card chunk accepted under that token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_naming_only_the_token_join_back_to_the_caller_id() {
    use account_updater::providers::acquired::AcquiredClient;
    use account_updater_emulator::acquired::AcquiredEmulator;
    let emulator = AcquiredEmulator::start().await.unwrap();
    let client = AcquiredClient::builder(emulator.credentials())
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    let expiry = Expiry::new(12, 2030).unwrap();
    let tokens: Vec<String> = ["4457010000000009", "4457000300000007"]
        .iter()
        .map(|pan| emulator.create_token(&CardNumber::parse(pan).unwrap(), expiry))
        .collect();
    let cards: Vec<CardToUpdate> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| CardToUpdate::token(format!("cust-{i}"), ProviderId::Acquired, t.clone()))
        .collect();
    let journal = sqlite("join").await;
    let report = journal
        .run(
            &client,
            &RunOptions::new("acq").worker("w"),
            card_stream(cards),
        )
        .await
        .unwrap();
    assert_eq!(report.status.accepted, 2);
    let mut update = CardUpdate::new(ProviderId::Acquired, Outcome::Unknown("1".into()), "1");
    update.card_ref = Some(tokens[1].clone());
    let mut joined = vec![update.clone()];
    assert_eq!(
        journal.join_caller_ids("acq", &mut joined).await.unwrap(),
        1
    );
    assert_eq!(joined[0].card_id.as_deref(), Some("cust-1"));
    // record_results joins too, and stores it under the joined result's id.
    assert_eq!(
        journal
            .record_results("acq", &[update.clone()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(journal.record_results("acq", &joined).await.unwrap(), 0);
    let mut exported = Vec::new();
    journal
        .export("acq", false, 10, |page| {
            exported.extend(page.iter().map(|r| r.card_id.clone()));
            Ok::<(), String>(())
        })
        .await
        .unwrap();
    assert_eq!(exported, [Some("cust-1".to_owned())]);
    // A reference no chunk was accepted under stays unjoined.
    let mut stray = vec![update];
    stray[0].card_ref = Some("not-a-token-of-this-run".into());
    assert_eq!(journal.join_caller_ids("acq", &mut stray).await.unwrap(), 0);
    assert_eq!(stray[0].card_id, None);
}

/// A journal file is created owner-only (it holds caller ids and outcomes), and one that
/// cannot be opened is named with the reason in plain words.
#[tokio::test]
async fn a_journal_file_is_owner_only_and_open_failures_say_why() {
    let path = temp_db("owner-only");
    let journal = Journal::open_sqlite(&path).await.unwrap();
    journal.runs().await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            path.clone(),
            path.with_extension("db-wal"),
            path.with_extension("db-shm"),
        ] {
            if let Ok(meta) = std::fs::metadata(&file) {
                assert_eq!(
                    meta.permissions().mode() & 0o777,
                    0o600,
                    "{}",
                    file.display()
                );
            }
        }
    }
    let missing = path
        .parent()
        .unwrap()
        .join("no-such-dir")
        .join("journal.db");
    let e = Journal::open_sqlite(&missing)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "journal: open failed: {}: its directory {} does not exist",
            missing.display(),
            missing.parent().unwrap().display()
        )
    );
    let dir = path.parent().unwrap();
    let e = Journal::open_sqlite(dir).await.unwrap_err().to_string();
    assert!(e.ends_with("it is a directory, not a file"), "{e}");
    let not_a_db = dir.join("notes.txt");
    std::fs::write(&not_a_db, "x".repeat(4096)).unwrap();
    let e = Journal::open_sqlite(&not_a_db)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("it is not a SQLite database (error 26)"), "{e}");
}

/// A card's history across runs: each run's result with its provider, outcome, raw code and
/// masked numbers, when it arrived and whether it was applied; no clear number in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cards_history_spans_runs_and_holds_no_clear_number() {
    use account_updater_emulator::cardsync::CardSyncEmulator;
    let emulator = CardSyncEmulator::start().await.unwrap();
    let (_, key) = emulator.add_merchant();
    let client = CardSyncClient::builder(key)
        .base_url(emulator.base_url())
        .build_merchant()
        .unwrap();
    let path = temp_db("history");
    let journal = Journal::open_sqlite(&path).await.unwrap();
    let exp = Expiry::new(1, 2030).unwrap();
    let mut new_clear = None;
    // November: CardSync's sandbox card that reports the account closed; December: the one
    // that reports a new number (the customer's card, replaced).
    for (run, pan) in [
        ("2026-11", "4457000900000001"),
        ("2026-12", "4457010000000009"),
    ] {
        let card = CardToUpdate::pan("cust-1", CardNumber::parse(pan).unwrap(), exp);
        let report = journal
            .run(&client, &RunOptions::new(run), card_stream(vec![card]))
            .await
            .unwrap();
        assert_eq!(report.status.accepted, 1);
        let job = journal.accepted_jobs(run).await.unwrap()[0]
            .job
            .clone()
            .unwrap();
        let updates = client
            .fetch_results(&account_updater::ids::ResultsQuery::Job(job))
            .await
            .unwrap();
        if run == "2026-11" {
            let applied = journal
                .apply(run, &updates, |_| Box::pin(async { Ok::<(), String>(()) }))
                .await
                .unwrap();
            assert_eq!(applied.applied, 1);
        } else {
            new_clear = updates[0]
                .new_card
                .as_ref()
                .map(|c| account_updater::ExposeSecret::expose_secret(c).to_owned());
            journal.record_results(run, &updates).await.unwrap();
        }
    }
    let history = journal.history("cust-1").await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].run_id, "2026-11");
    assert_eq!(history[0].provider, Some(ProviderId::CardSync));
    assert_eq!(history[0].outcome, "closed");
    assert!(history[0].applied_at.is_some());
    assert!(history[0].received_at.is_some());
    assert_eq!(history[1].run_id, "2026-12");
    assert_eq!(history[1].outcome, "new_account_number");
    assert!(history[1].applied_at.is_none());
    let new = history[1].new_card_masked.as_deref().unwrap();
    assert!(new.starts_with("445701******"), "{new}");
    assert!(journal.history("someone-else").await.unwrap().is_empty());
    drop(journal);
    // Neither the cards submitted nor the new number is anywhere in the journal's files.
    let mut bytes = Vec::new();
    for file in [
        path.clone(),
        path.with_extension("db-wal"),
        path.with_extension("db-shm"),
    ] {
        bytes.extend(std::fs::read(&file).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&bytes);
    for pan in ["4457000900000001", "4457010000000009"] {
        assert!(!text.contains(pan), "{pan} stored in clear");
    }
    let new_clear = new_clear.expect("the December result carries the new number");
    assert!(!text.contains(&new_clear), "the new number stored in clear");
}
