//! Results that arrive outside any run (`Journal::record_incoming`, what `serve` stores
//! with), on SQLite and PostgreSQL: each finds the run that sent its card, by the job, by the
//! provider's card reference, or by the caller's id the provider echoed; a redelivery goes
//! where the first delivery went; a result for a card no run sent is handed back, not stored.

use crate::common::postgres;

use std::time::Duration;

use account_updater::ids::{JobKind, JobRef, ResultsQuery};
use account_updater::provider::{CardToUpdate, Provider};
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::submission::card_stream;
use account_updater::{CardNumber, CardUpdate, Expiry, ProviderId, webhook};
use account_updater_emulator::WebhookSink;
use account_updater_emulator::acquired::AcquiredEmulator;
use account_updater_emulator::cardsync::CardSyncEmulator;
use account_updater_journal::{Journal, RunOptions, Suppression};

async fn sqlite(name: &str) -> Journal {
    let dir = std::env::temp_dir().join(format!("au-incoming-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Journal::open_sqlite(dir.join("journal.db")).await.unwrap()
}

/// The next Acquired webhook's results, as the collector reads them.
async fn next_results(sink: &WebhookSink, client: &AcquiredClient) -> Vec<CardUpdate> {
    let d = sink.next(Duration::from_secs(10)).await.unwrap();
    webhook::receive(client, &d.headers, &d.body)
        .unwrap()
        .updates
}

async fn attributes_incoming_results(journal: &Journal) {
    let acquired = AcquiredEmulator::start().await.unwrap();
    let sink = WebhookSink::start().await.unwrap();
    acquired.set_webhook_url(&sink.url());
    let client = AcquiredClient::builder(acquired.credentials())
        .base_url(acquired.base_url())
        .build()
        .unwrap();
    let exp = Expiry::new(12, 2030).unwrap();
    let token = acquired.create_token(&CardNumber::parse("4457000900000001").unwrap(), exp);
    let card = || CardToUpdate::token("acq-1", ProviderId::Acquired, token.clone());
    // Every month's run inquires the same token (suppression off: last month said closed).
    let options = |run: &str| RunOptions::new(run).suppression(Suppression::off());

    journal
        .run(&client, &options("2026-11"), card_stream(vec![card()]))
        .await
        .unwrap();
    let november = next_results(&sink, &client).await;
    assert_eq!(november[0].card_id, None, "Acquired names the token only");
    let report = journal
        .record_incoming(november.clone(), None)
        .await
        .unwrap();
    assert_eq!((report.stored, report.repeated), (1, 0));
    assert_eq!(report.runs.keys().collect::<Vec<_>>(), ["2026-11"]);
    assert_eq!(
        report
            .new_by_outcome
            .get(&(ProviderId::Acquired, "closed".to_owned())),
        Some(&1)
    );
    let stored = journal.history("acq-1").await.unwrap();
    assert_eq!(stored.len(), 1, "joined to the caller's id");

    // December's run sends the token again; November's webhook is delivered again: it goes
    // where it went the first time, stored once.
    journal
        .run(&client, &options("2026-12"), card_stream(vec![card()]))
        .await
        .unwrap();
    let december = next_results(&sink, &client).await;
    let again = journal.record_incoming(november, None).await.unwrap();
    assert_eq!((again.stored, again.repeated), (0, 1));
    assert_eq!(again.runs.keys().collect::<Vec<_>>(), ["2026-11"]);
    assert!(again.new_by_outcome.is_empty());
    // December's own result goes to December (the newest run without a result for it).
    let report = journal.record_incoming(december, None).await.unwrap();
    assert_eq!(report.stored, 1);
    assert_eq!(report.runs.keys().collect::<Vec<_>>(), ["2026-12"]);
    assert_eq!(journal.status("2026-11").await.unwrap().results, 1);
    assert_eq!(journal.status("2026-12").await.unwrap().results, 1);

    // A result for a token no run sent: handed back, not stored.
    let mut stranger = CardUpdate::new(
        ProviderId::Acquired,
        account_updater::Outcome::NoChange,
        "no_change",
    );
    stranger.card_ref = Some("999999999".into());
    let report = journal.record_incoming(vec![stranger], None).await.unwrap();
    assert_eq!((report.stored, report.unmatched.len()), (0, 1));

    // CardSync echoes the caller's id: by the batch when the poll or webhook names it, by
    // the id (exactly: not another run's id differing in case) when nothing else does.
    let cardsync = CardSyncEmulator::start().await.unwrap();
    let (_, key) = cardsync.add_merchant();
    let cs = CardSyncClient::builder(key)
        .base_url(cardsync.base_url())
        .build_merchant()
        .unwrap();
    journal
        .run(
            &cs,
            &options("cs-run"),
            card_stream(vec![CardToUpdate::pan(
                "cs-1",
                CardNumber::parse("4457010000000009").unwrap(),
                exp,
            )]),
        )
        .await
        .unwrap();
    let job = journal.accepted_jobs("cs-run").await.unwrap()[0]
        .job
        .clone()
        .unwrap();
    let results = cs
        .fetch_results(&ResultsQuery::Job(job.clone()))
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    let by_id = journal
        .record_incoming(results.clone(), None)
        .await
        .unwrap();
    assert_eq!(by_id.stored, 1);
    assert_eq!(by_id.runs.keys().collect::<Vec<_>>(), ["cs-run"]);
    let by_job = journal
        .record_incoming(results.clone(), Some(&job))
        .await
        .unwrap();
    assert_eq!((by_job.stored, by_job.repeated), (0, 1));
    let mut other_case = results[0].clone();
    other_case.card_id = Some("CS-1".into());
    let report = journal
        .record_incoming(vec![other_case], None)
        .await
        .unwrap();
    assert_eq!(report.unmatched.len(), 1);
    // A job the journal never accepted names no run.
    let mut unknown_job = results[0].clone();
    unknown_job.card_id = None;
    let report = journal
        .record_incoming(
            vec![unknown_job],
            Some(&JobRef::new(ProviderId::CardSync, JobKind::Batch, "nope")),
        )
        .await
        .unwrap();
    assert_eq!(report.unmatched.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_attributes_incoming_results_to_their_runs() {
    attributes_incoming_results(&sqlite("attribute").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_attributes_incoming_results_to_their_runs() {
    let Some(pg) = postgres::PgCluster::start("postgres_incoming") else {
        return;
    };
    attributes_incoming_results(&Journal::connect_postgres(&pg.url).await.unwrap()).await;
}
