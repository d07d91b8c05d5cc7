//! Streamed bulk submission through `Arc<dyn Provider>` against the emulators: cards pulled
//! lazily from an iterator, the intent event before each request, per-chunk outcomes, rejected
//! cards reported and never sent, every card accounted for exactly once, and a stopped
//! submission that sends nothing more.

use crate::common;
use crate::common::luhn;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use account_updater::ProviderId;
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::{CardSyncClient, CardSyncPartner};
use account_updater::providers::payconex::PayConexClient;
use account_updater::submission::{
    Chunk, ChunkObserver, ChunkOutcome, DuplicateIds, Proceed, StreamOptions, card_stream,
};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{CardNumber, Error, ErrorKind, Expiry, ExposeSecret, SecretString};
use account_updater::{
    ids::JobKind,
    provider::{BoxFuture, CardToUpdate, JobState, Provider},
};
use account_updater_emulator::Fault;
use account_updater_emulator::acquired::AcquiredEmulator;
use account_updater_emulator::cardsync::{CardSyncEmulator, CardSyncEmulatorConfig, Completion};
use account_updater_emulator::payconex::PayConexEmulator;
use serde_json::json;

/// Card `i` of a generated run: 1 in 20 is Amex under one of two SE numbers.
fn card(i: usize) -> CardToUpdate {
    let exp = Expiry::new(1, 2030).unwrap();
    if i % 20 == 0 {
        let pan = CardNumber::parse(&luhn(&format!("37{i:012}"))).unwrap();
        let se = if i % 40 == 0 {
            "1111111111"
        } else {
            "2222222222"
        };
        CardToUpdate::pan(format!("c{i}"), pan, exp).with_amex_se_number(se)
    } else {
        let prefix = ["4", "51", "6011"][i % 3];
        let body = format!("{prefix}{i:0width$}", width = 15 - prefix.len());
        CardToUpdate::pan(
            format!("c{i}"),
            CardNumber::parse(&luhn(&body)).unwrap(),
            exp,
        )
    }
}

async fn cardsync(config: CardSyncEmulatorConfig) -> (CardSyncEmulator, CardSyncClient) {
    let emu = CardSyncEmulator::start_with(config).await.unwrap();
    let partner = CardSyncPartner::builder(emu.partner_key())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build_partner()
        .unwrap();
    let created = partner
        .enroll_merchant(&common::cardsync_merchant("stream"))
        .await
        .unwrap();
    let client = partner
        .merchant(SecretString::from(
            created.api_key.expose_secret().to_owned(),
        ))
        .unwrap();
    (emu, client)
}

/// A finished chunk as the observer saw it: seq, positions, ids, outcome, error kind.
type Done = (u64, Vec<u64>, Vec<String>, &'static str, Option<ErrorKind>);

/// Records every event, and checks at each intent that the emulator has not yet seen the
/// chunk's request.
struct Recorder {
    emu_requests: Box<dyn Fn() -> usize + Send>,
    requests_before: usize,
    announced: usize,
    sending: Vec<(u64, JobKind, Option<String>, Vec<String>)>,
    done: Vec<Done>,
    rejected: Vec<(u64, String, String)>,
    intent_violations: usize,
    fail_sending_at: Option<u64>,
    /// Refuse to record a rejected card (a journal that cannot write), stopping the run.
    fail_rejected: bool,
}

impl Recorder {
    fn new(emu_requests: Box<dyn Fn() -> usize + Send>) -> Self {
        let requests_before = emu_requests();
        Recorder {
            emu_requests,
            requests_before,
            announced: 0,
            sending: Vec::new(),
            done: Vec::new(),
            rejected: Vec::new(),
            intent_violations: 0,
            fail_sending_at: None,
            fail_rejected: false,
        }
    }
}

impl ChunkObserver for Recorder {
    fn sending<'a>(
        &'a mut self,
        chunk: &'a Chunk,
    ) -> BoxFuture<'a, account_updater::Result<Proceed>> {
        Box::pin(async move {
            if self.fail_sending_at == Some(chunk.seq()) {
                return Err(Error::invalid(
                    "journal",
                    account_updater::error::InputProblem::Missing,
                ));
            }
            // If the request were already on its way, the emulator would see it within this
            // pause: it must not, the request waits for this event.
            tokio::time::sleep(Duration::from_millis(30)).await;
            if (self.emu_requests)() > self.requests_before + self.announced {
                self.intent_violations += 1;
            }
            self.announced += 1;
            self.sending.push((
                chunk.seq(),
                chunk.kind(),
                chunk.group().map(str::to_owned),
                chunk.ids().map(str::to_owned).collect(),
            ));
            Ok(Proceed::Send)
        })
    }

    fn done<'a>(
        &'a mut self,
        chunk: Chunk,
        outcome: &'a ChunkOutcome,
    ) -> BoxFuture<'a, account_updater::Result<()>> {
        let positions = chunk.positions().to_vec();
        let seq = chunk.seq();
        self.done.push((
            seq,
            positions,
            chunk.into_ids(),
            outcome.as_str(),
            outcome.error().map(Error::kind),
        ));
        Box::pin(async { Ok(()) })
    }

    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, account_updater::Result<()>> {
        self.rejected.push((position, card.id, error.to_string()));
        let fail = self.fail_rejected;
        Box::pin(async move {
            if fail {
                return Err(Error::invalid(
                    "journal",
                    account_updater::error::InputProblem::Missing,
                ));
            }
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_run_sends_each_chunk_after_its_intent_and_accounts_for_every_card() {
    let (emu, client) =
        cardsync(CardSyncEmulatorConfig::default().completion(Completion::Manual)).await;
    let emu = Arc::new(emu);
    let provider: Arc<dyn Provider> = Arc::new(client);
    let n = 45_003usize;
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    // Cards are built lazily; five of them break a rule.
    let cards = (0..n).map(move |i| {
        counter.fetch_add(1, Ordering::Relaxed);
        match i {
            101 => CardToUpdate::token("c101", ProviderId::Acquired, "123"),
            202 => CardToUpdate::pan(
                "c202",
                CardNumber::parse("340000000000009").unwrap(),
                Expiry::new(1, 2030).unwrap(),
            ),
            303 => card(303).with_amex_se_number("1111111111"),
            404 => card(5),
            505 => {
                let mut c = card(505);
                c.id = "bad\nid".into();
                c
            }
            _ => card(i),
        }
    });
    let watcher = emu.clone();
    let mut recorder = Recorder::new(Box::new(move || watcher.requests()));
    let receipt = provider
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut recorder)
        .await
        .unwrap();
    assert_eq!(built.load(Ordering::Relaxed), n);
    assert_eq!(recorder.intent_violations, 0);
    assert!(receipt.stopped().is_none());
    assert_eq!(receipt.cards_read(), n as u64);

    // The five bad cards are rejected with a reason, by position, and never sent (duplicates
    // are found as their chunk closes, so they may be reported after later positions).
    recorder.rejected.sort_by_key(|r| r.0);
    let rejected: Vec<(u64, &str)> = recorder
        .rejected
        .iter()
        .map(|(p, id, _)| (*p, id.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (101, "c101"),
            (202, "c202"),
            (303, "c303"),
            (404, "c5"),
            (505, "bad\nid")
        ]
    );
    assert!(recorder.rejected[0].2.contains("not tokens"));
    assert!(recorder.rejected[1].2.contains("se_number"));
    assert!(
        recorder.rejected[2]
            .2
            .contains("SE number is for American Express")
    );
    assert!(
        recorder.rejected[3]
            .2
            .contains("cards[id=c5].id is used more than once")
    );
    assert_eq!(receipt.rejected(), 5);

    // Every other card is in exactly one accepted chunk, at its position.
    let mut positions = BTreeSet::new();
    for (_, chunk_positions, ids, outcome, _) in &recorder.done {
        assert_eq!(*outcome, "accepted");
        for (p, id) in chunk_positions.iter().zip(ids) {
            assert!(positions.insert(*p), "position {p} twice");
            assert_eq!(id, &format!("c{p}"));
        }
    }
    let expected: BTreeSet<u64> = (0..n as u64)
        .filter(|p| ![101, 202, 303, 404, 505].contains(p))
        .collect();
    assert_eq!(positions, expected);
    assert_eq!(receipt.accepted_cards(), expected.len() as u64);
    assert!(!receipt.is_complete() && receipt.unknown_cards() == 0);

    // Chunks: batches of at most 10,000 non-Amex cards, Amex grouped per SE number; each
    // announced once, each batch received once by the emulator.
    let mut batch_cards = 0;
    let mut amex_by_se: BTreeMap<String, usize> = BTreeMap::new();
    for (seq, kind, group, ids) in &recorder.sending {
        assert!(
            ids.len() <= 10_000 && !ids.is_empty(),
            "chunk {seq}: {}",
            ids.len()
        );
        match (kind, group) {
            (JobKind::Batch, None) => batch_cards += ids.len(),
            (JobKind::Subscription, Some(se)) => {
                *amex_by_se.entry(se.clone()).or_default() += ids.len()
            }
            other => panic!("unexpected chunk {other:?}"),
        }
    }
    let seqs: BTreeSet<u64> = recorder.sending.iter().map(|s| s.0).collect();
    assert_eq!(seqs.len(), recorder.sending.len());
    assert_eq!(recorder.done.len(), recorder.sending.len());
    assert_eq!(emu.batch_cards_received(), batch_cards);
    assert_eq!(
        emu.batch_count(),
        recorder
            .sending
            .iter()
            .filter(|s| s.1 == JobKind::Batch)
            .count()
    );
    assert_eq!(amex_by_se.values().sum::<usize>(), emu.subscription_count());
    assert_eq!(amex_by_se.len(), 2);

    // The compact receipt holds each chunk's positions exactly.
    for (seq, chunk_positions, ..) in &recorder.done {
        let record = receipt.chunks().iter().find(|c| c.seq() == *seq).unwrap();
        assert_eq!(
            record.positions().iter().collect::<Vec<_>>(),
            *chunk_positions
        );
        assert_eq!(record.cards(), chunk_positions.len());
    }
    // Any position can be looked up in the compact receipt.
    let record = receipt.chunk_of(40).unwrap();
    assert_eq!(record.kind(), JobKind::Subscription);
    assert!(matches!(
        &record.outcome(),
        ChunkOutcome::Accepted { job, state: JobState::Active, .. } if job.id == "1111111111"
    ));
    let record = receipt.chunk_of(41).unwrap();
    assert!(matches!(
        &record.outcome(),
        ChunkOutcome::Accepted { job, state: JobState::Pending, .. } if emu.batch_ids().contains(&job.id)
    ));
    assert!(receipt.chunk_of(101).is_none());
    assert!(receipt.chunk_of(n as u64).is_none());
}

#[tokio::test]
async fn a_refused_chunk_is_failed_an_unanswered_one_unknown_and_neither_is_resent() {
    let (emu, client) =
        cardsync(CardSyncEmulatorConfig::default().completion(Completion::Manual)).await;
    let client = client.clone();
    let before = emu.requests();
    // The first batch request is refused in a 200 body, the second answered 503.
    emu.inject_fault(Fault::json(
        200,
        json!({"status": "failure", "msg": "batch refused"}),
    ));
    emu.inject_fault(Fault::html(503));
    let cards = (1..=30_000).filter(|i| i % 20 != 0).map(card);
    let mut recorder = Recorder::new(Box::new(|| 0));
    // One request at a time, so the faults meet the first two chunks.
    let provider: Arc<dyn Provider> = Arc::new(client);
    let receipt = provider
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut recorder)
        .await
        .unwrap();
    let outcomes: Vec<(&str, Option<ErrorKind>, usize)> = recorder
        .done
        .iter()
        .map(|d| (d.3, d.4, d.2.len()))
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    let by_kind = |name: &str| outcomes.iter().filter(|o| o.0 == name).count();
    assert_eq!(by_kind("failed"), 1, "{outcomes:?}");
    assert_eq!(by_kind("unknown"), 1, "{outcomes:?}");
    assert_eq!(by_kind("accepted"), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| o.0 == "failed" && o.1 == Some(ErrorKind::Provider))
    );
    // Exactly three requests: nothing resent.
    assert_eq!(emu.requests() - before, 3);
    assert_eq!(
        receipt.accepted_cards() + receipt.failed_cards() + receipt.unknown_cards(),
        28_500
    );
    assert!(receipt.unknown_cards() > 0 && receipt.failed_cards() > 0);
}

/// Cards in the chunks a stopped run never sent.
fn not_sent_cards(receipt: &account_updater::submission::StreamReceipt) -> u64 {
    receipt
        .chunks()
        .iter()
        .filter(|c| matches!(c.outcome(), ChunkOutcome::NotSent))
        .map(|c| c.cards() as u64)
        .sum()
}

#[tokio::test]
async fn an_observer_error_stops_the_run_and_nothing_more_is_sent() {
    let (emu, client) =
        cardsync(CardSyncEmulatorConfig::default().completion(Completion::Manual)).await;
    let before = emu.requests();
    let provider: Arc<dyn Provider> = Arc::new(client);
    let mut recorder = Recorder::new(Box::new(|| 0));
    recorder.fail_sending_at = Some(1);
    let cards = (1..=35_000).filter(|i| i % 20 != 0).map(card);
    let receipt = provider
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut recorder)
        .await
        .unwrap();
    assert!(matches!(receipt.stopped(), Some(Error::InvalidInput(_))));
    // Chunk 0 went out; chunk 1 was refused by the observer and never sent.
    assert_eq!(emu.requests() - before, 1);
    assert_eq!(receipt.accepted_cards(), 10_000);
    let not_sent = not_sent_cards(&receipt);
    // Every card read is accepted or not sent; none were read past the stop but the ones in
    // open chunks.
    assert_eq!(receipt.accepted_cards() + not_sent, receipt.cards_read());
    assert!(receipt.cards_read() < 33_250);
    assert!(!receipt.is_complete());
}

#[tokio::test]
async fn duplicates_are_refused_by_hash_unless_the_caller_guarantees_them() {
    let (_emu, client) =
        cardsync(CardSyncEmulatorConfig::default().completion(Completion::Manual)).await;
    let cards = || [card(1), card(2), card(1), card(3)];
    let mut recorder = Recorder::new(Box::new(|| 0));
    let receipt = client
        .submit_stream(
            card_stream(cards()),
            StreamOptions::default(),
            &mut recorder,
        )
        .await;
    assert_eq!(receipt.rejected(), 1);
    assert_eq!(recorder.rejected[0].0, 2);
    assert_eq!(receipt.accepted_cards(), 3);

    let mut recorder = Recorder::new(Box::new(|| 0));
    let receipt = client
        .submit_stream(
            card_stream(cards()),
            StreamOptions::default().duplicate_ids(DuplicateIds::CallerGuarantees),
            &mut recorder,
        )
        .await;
    // Nothing refused by the crate: the provider sees the duplicate and refuses the batch.
    assert_eq!(receipt.rejected(), 0);
    assert_eq!(receipt.failed_cards(), 4, "{receipt:?}");
}

/// Cards `0..n` but no Amex (one batch chunk per 10,000 cards), with the ids at the given
/// positions replaced.
fn batch_cards_with_ids(n: usize, ids: &[(usize, &str)]) -> Vec<CardToUpdate> {
    (0..n * 20 / 19 + 20)
        .filter(|i| i % 20 != 0)
        .take(n)
        .enumerate()
        .map(|(position, i)| {
            let mut c = card(i);
            if let Some((_, id)) = ids.iter().find(|(p, _)| *p == position) {
                c.id = (*id).to_owned();
            }
            c
        })
        .collect()
}

/// Large chunks have their ids checked on another thread while the next chunk is built: on
/// either runtime, a repeated id is refused wherever it falls (same chunk, an earlier one,
/// repeated twice), reported at its position, and every other card is sent exactly once.
/// With `n` of 131,072 and more, the set's table is built ahead on a blocking thread while
/// the first chunk is produced, and the first check waits for it.
async fn duplicates_in_large_chunks_are_refused_wherever_they_fall(n: usize) {
    let (_emu, client) =
        cardsync(CardSyncEmulatorConfig::default().completion(Completion::Manual)).await;
    let cards = batch_cards_with_ids(n, &[]);
    let id = |p: usize| cards[p].id.clone();
    let repeats = [
        (5_000, id(4_999)),   // within chunk 0
        (15_000, id(3)),      // chunk 1 repeats chunk 0
        (20_000, id(3)),      // chunk 2, a third time
        (20_001, id(15_001)), // chunk 2 repeats chunk 1
        (n - 1, id(n - 2)),   // the last card, within the last chunk
    ];
    let replaced: Vec<(usize, &str)> = repeats.iter().map(|(p, id)| (*p, id.as_str())).collect();
    let cards = batch_cards_with_ids(n, &replaced);
    let mut recorder = Recorder::new(Box::new(|| 0));
    let receipt = client
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut recorder)
        .await;
    assert!(receipt.stopped().is_none());
    recorder.rejected.sort_by_key(|r| r.0);
    let rejected: Vec<(u64, String)> = recorder
        .rejected
        .iter()
        .map(|(p, id, _)| (*p, id.clone()))
        .collect();
    let expected: Vec<(u64, String)> = repeats
        .iter()
        .map(|(p, id)| (*p as u64, id.clone()))
        .collect();
    assert_eq!(rejected, expected);
    assert!(
        recorder
            .rejected
            .iter()
            .all(|r| r.2.contains("is used more than once"))
    );
    // Every other position in exactly one accepted chunk, no id sent twice.
    let mut positions = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (_, chunk_positions, chunk_ids, outcome, _) in &recorder.done {
        assert_eq!(*outcome, "accepted");
        for (p, id) in chunk_positions.iter().zip(chunk_ids) {
            assert!(positions.insert(*p), "position {p} twice");
            assert!(ids.insert(id.clone()), "{id} sent twice");
        }
    }
    let kept: BTreeSet<u64> = (0..n as u64)
        .filter(|p| !repeats.iter().any(|(r, _)| *r as u64 == *p))
        .collect();
    assert_eq!(positions, kept);
    assert_eq!(receipt.accepted_cards(), n as u64 - 5);
    assert_eq!(receipt.rejected(), 5);
}

#[tokio::test]
async fn duplicates_in_large_chunks_are_refused_wherever_they_fall_on_one_thread() {
    duplicates_in_large_chunks_are_refused_wherever_they_fall(30_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_in_large_chunks_are_refused_wherever_they_fall_on_two_threads() {
    duplicates_in_large_chunks_are_refused_wherever_they_fall(30_000).await;
}

#[tokio::test]
async fn duplicates_are_refused_alike_when_the_id_set_is_built_ahead() {
    duplicates_in_large_chunks_are_refused_wherever_they_fall(140_000).await;
}

/// An observer that cannot record a duplicate stops the run: the chunk the duplicate was
/// found in is not sent, and every card read is accounted for.
#[tokio::test]
async fn an_observer_refusing_a_duplicate_stops_the_run_before_its_chunk_is_sent() {
    let (emu, client) =
        cardsync(CardSyncEmulatorConfig::default().completion(Completion::Manual)).await;
    let before = emu.requests();
    let first = batch_cards_with_ids(1, &[])[0].id.clone();
    let cards = batch_cards_with_ids(25_000, &[(12_000, first.as_str())]);
    let mut recorder = Recorder::new(Box::new(|| 0));
    recorder.fail_rejected = true;
    let receipt = client
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut recorder)
        .await;
    assert!(matches!(receipt.stopped(), Some(Error::InvalidInput(_))));
    // Chunk 0 went out; chunk 1, which held the duplicate, did not.
    assert_eq!(emu.requests() - before, 1);
    assert_eq!(receipt.accepted_cards(), 10_000);
    assert_eq!(receipt.rejected(), 1);
    assert_eq!(recorder.rejected[0].0, 12_000);
    let not_sent = not_sent_cards(&receipt);
    assert!(not_sent >= 9_999, "{not_sent}");
    assert_eq!(
        receipt.accepted_cards() + not_sent + receipt.rejected(),
        receipt.cards_read()
    );
}

#[tokio::test]
async fn acquired_streams_one_inquiry_per_token_with_the_token_as_reference() {
    let emu = AcquiredEmulator::start().await.unwrap();
    let client = AcquiredClient::builder(emu.credentials())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let exp = Expiry::new(1, 2030).unwrap();
    let tokens: Vec<String> = ["4000011180138710", "5555555555554444", "4111111111111111"]
        .iter()
        .map(|pan| emu.create_token(&CardNumber::parse(pan).unwrap(), exp))
        .collect();
    let provider: Arc<dyn Provider> = Arc::new(client);
    let cards: Vec<CardToUpdate> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| CardToUpdate::token(format!("sub-{i}"), ProviderId::Acquired, t.clone()))
        .chain([CardToUpdate::token(
            "not-a-token",
            ProviderId::Acquired,
            "abc",
        )])
        .collect();
    let mut recorder = Recorder::new(Box::new(|| 0));
    let receipt = provider
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut recorder)
        .await
        .unwrap();
    assert_eq!(receipt.rejected(), 1);
    assert_eq!(receipt.accepted_cards(), tokens.len() as u64);
    for (i, token) in tokens.iter().enumerate() {
        let record = receipt.chunk_of(i as u64).unwrap();
        assert!(
            matches!(&record.outcome(), ChunkOutcome::Accepted { job, .. } if job.kind == JobKind::Inquiry && &job.id == token)
        );
    }
}

#[tokio::test]
async fn a_provider_without_bulk_submission_refuses_the_stream_before_reading_it() {
    let emu = PayConexEmulator::start().await.unwrap();
    let client = PayConexClient::builder(emu.account_id(), emu.credentials())
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let provider: Arc<dyn Provider> = Arc::new(client);
    let read = Arc::new(AtomicUsize::new(0));
    let counter = read.clone();
    let cards = (0..10).map(move |i| {
        counter.fetch_add(1, Ordering::Relaxed);
        card(i)
    });
    let err = provider
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut ())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(read.load(Ordering::Relaxed), 0);
}
