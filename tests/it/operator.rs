//! The operator's tools on the journal, on SQLite and PostgreSQL: suppression across runs
//! (counted at the emulator, where a resubmission would cost a fee), a plan whose totals are
//! the following run's, a card's history across both, and reconciliation of what was sent
//! with what came back (an emulator holding results back makes exactly those cards overdue).

use crate::common::postgres;

use std::collections::BTreeMap;
use std::time::Duration;

use account_updater::ids::ResultsQuery;
use account_updater::provider::{CardToUpdate, JobState, Provider};
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::routing::{Condition, Router, Rule};
use account_updater::submission::card_stream;
use account_updater::{CardNumber, Expiry, Flow, ProviderId, webhook};
use account_updater_emulator::WebhookSink;
use account_updater_emulator::acquired::AcquiredEmulator;
use account_updater_emulator::cardsync::CardSyncEmulator;
use account_updater_journal::{
    Journal, PlanOptions, Price, ReconcileOptions, RunOptions, Suppression, SuppressionPolicy,
};

const CLOSED: &str = "4457000900000001";
const NEW_NUMBER: &str = "4457010000000009";
const CONTACT: &str = "4457010140000141";
const VALID: &str = "4100200300011001";

fn pan(id: &str, number: &str, expiry: Expiry) -> CardToUpdate {
    CardToUpdate::pan(id, CardNumber::parse(number).unwrap(), expiry)
}

/// A valid card the sandbox tables do not hold (no result line at CardSync).
fn plain(i: u32) -> String {
    account_updater::card::with_check_digit(&format!("49{i:013}")).unwrap()
}

async fn sqlite(name: &str) -> Journal {
    let dir = std::env::temp_dir().join(format!("au-operator-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Journal::open_sqlite(dir.join("journal.db")).await.unwrap()
}

/// Runs `cards` as `run`, fetches every accepted job's results and stores them, recording
/// each job's completion as the command line does.
async fn run_and_collect(
    journal: &Journal,
    client: &CardSyncClient,
    run: &str,
    cards: Vec<CardToUpdate>,
) -> account_updater_journal::RunStatus {
    let report = journal
        .run(client, &RunOptions::new(run), card_stream(cards))
        .await
        .unwrap();
    assert!(report.receipt.stopped().is_none());
    for jobs in journal.accepted_jobs(run).await.unwrap() {
        let job = jobs.job.unwrap();
        let status = client.job_status(&job).await.unwrap();
        journal
            .record_job_state(run, &job, &status.state)
            .await
            .unwrap();
        let updates = client
            .fetch_results(&ResultsQuery::Job(job.clone()))
            .await
            .unwrap();
        journal.record_results(run, &updates).await.unwrap();
    }
    journal.status(run).await.unwrap()
}

async fn suppression_plan_and_history(journal: &Journal) {
    let emulator = CardSyncEmulator::start().await.unwrap();
    let (_, key) = emulator.add_merchant();
    let client = CardSyncClient::builder(key)
        .base_url(emulator.base_url())
        .build_merchant()
        .unwrap();
    let exp = Expiry::new(1, 2030).unwrap();
    let plains: Vec<String> = (0..5).map(plain).collect();

    // September: everything goes; CardSync reports closed-1 closed, renew-1 a new number,
    // contact-1 "contact the cardholder", and nothing for the plain cards.
    let mut september = vec![
        pan("closed-1", CLOSED, exp),
        pan("renew-1", NEW_NUMBER, exp),
        pan("contact-1", CONTACT, exp),
    ];
    september.extend(
        plains
            .iter()
            .enumerate()
            .map(|(i, p)| pan(&format!("plain-{i}"), p, exp)),
    );
    let status = run_and_collect(journal, &client, "2026-09", september).await;
    assert_eq!((status.accepted, status.suppressed), (8, 0));
    assert_eq!(status.results, 3);

    // The job is complete: the plain cards' silence is "no change", not lateness.
    let done = journal
        .reconcile(
            "2026-09",
            &ReconcileOptions::new().window(ProviderId::CardSync, Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(done.jobs.len(), 1);
    assert_eq!(done.jobs[0].state.as_deref(), Some("complete"));
    assert_eq!(
        (
            done.submitted(),
            done.results_in(),
            done.jobs[0].complete_without_result,
            done.overdue.len()
        ),
        (8, 3, 5, 0)
    );
    assert!(done.orphans.is_empty() && done.repeated.is_empty());

    // October's input: the closed card with the same number, the renewed card, a card
    // expired in 2020, the contact card, the plain cards, a bad number and a duplicate id.
    let october = || {
        let mut cards = vec![
            pan("closed-1", CLOSED, exp),
            pan("renew-1", NEW_NUMBER, exp),
            pan("old-1", VALID, Expiry::new(1, 2020).unwrap()),
            pan("contact-1", CONTACT, exp),
        ];
        cards.extend(
            plains
                .iter()
                .enumerate()
                .map(|(i, p)| pan(&format!("plain-{i}"), p, exp)),
        );
        cards.push(pan("plain-0", &plains[1], exp));
        cards
    };
    let received_before = emulator.batch_cards_received();
    let plan = journal
        .plan(
            &client,
            &PlanOptions::new().price(
                ProviderId::CardSync,
                Price::per_hit(0.25, "USD").per_card(0.01),
            ),
            card_stream(october()),
        )
        .await
        .unwrap();
    assert_eq!(
        emulator.batch_cards_received(),
        received_before,
        "a plan sends nothing"
    );
    assert_eq!(plan.cards_read, 10);
    assert_eq!(plan.to_send, 6);
    assert_eq!(
        plan.suppressed,
        BTreeMap::from([
            ("long_expired".to_owned(), 1),
            ("stopped".to_owned(), 1),
            ("updated_this_cycle".to_owned(), 1)
        ])
    );
    assert_eq!(plan.rejected_total(), 1, "{:?}", plan.rejected);
    assert!(
        plan.rejected
            .keys()
            .next()
            .unwrap()
            .contains("more than once")
    );
    let p = &plan.providers[0];
    assert_eq!(
        (p.provider, p.cards, p.chunks),
        (Some(ProviderId::CardSync), 6, 1)
    );
    // Every card here belongs to CardSync: its suppressed and rejected cards are counted there.
    assert_eq!(p.suppressed, plan.suppressed);
    assert_eq!(p.rejected, plan.rejected);
    assert!(plan.unrouted.is_empty());
    // September's own hit rate: 3 billable results (closed, new number, contact) of 8 cards.
    assert_eq!((p.hit_rate_source, p.history), ("history", (8, 3)));
    assert_eq!(p.expected_hits, Some(6.0 * 3.0 / 8.0));
    assert_eq!(p.estimated_cost, Some(6.0 * 0.01 + 2.25 * 0.25));

    let status = run_and_collect(journal, &client, "2026-10", october()).await;
    assert_eq!(
        (status.accepted, status.suppressed, status.rejected),
        (plan.to_send, plan.suppressed_total(), plan.rejected_total()),
        "the run does what its plan said"
    );
    let received = emulator.cards_received();
    assert_eq!(
        received["closed-1"], 1,
        "the closed card was not sent again"
    );
    assert_eq!(received["renew-1"], 1, "updated this cycle: not sent again");
    assert!(!received.contains_key("old-1"));
    assert_eq!(received["contact-1"], 2);
    let suppressed = journal.suppressed("2026-10").await.unwrap();
    let reasons: Vec<(u64, &str, &str)> = suppressed
        .iter()
        .map(|s| (s.input_index, s.card_id.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, "closed-1", "stopped"),
            (1, "renew-1", "updated_this_cycle"),
            (2, "old-1", "long_expired")
        ]
    );
    assert!(suppressed[0].detail.contains("closed, run 2026-09"));
    // The rejected duplicate's position counts the cards handed to the submission.
    assert_eq!(journal.rejected("2026-10").await.unwrap()[0].position, 6);

    // A resume decides from the journal as it stood when the run began: the same cards
    // suppressed, the same chunks, nothing sent again.
    let again = journal
        .run(&client, &RunOptions::new("2026-10"), card_stream(october()))
        .await
        .unwrap();
    assert!(
        again.receipt.stopped().is_none(),
        "{:?}",
        again.receipt.stopped()
    );
    assert_eq!((again.status.suppressed, again.status.accepted), (3, 6));
    assert_eq!(emulator.cards_received(), received);

    // November: the customer gave a new number for closed-1: it goes. contact-1 comes back
    // "contact the cardholder" a third time.
    let status = run_and_collect(
        journal,
        &client,
        "2026-11",
        vec![pan("closed-1", VALID, exp), pan("contact-1", CONTACT, exp)],
    )
    .await;
    assert_eq!((status.accepted, status.suppressed), (2, 0));
    // December: three "contact the cardholder" in a row suppress it; with the policy off
    // for a run it is sent.
    let status = run_and_collect(
        journal,
        &client,
        "2026-12",
        vec![pan("contact-1", CONTACT, exp)],
    )
    .await;
    assert_eq!((status.accepted, status.suppressed), (0, 1));
    assert_eq!(
        journal.suppressed("2026-12").await.unwrap()[0].reason,
        "contact_cardholder"
    );
    let report = journal
        .run(
            &client,
            &RunOptions::new("2026-12b").suppression(Suppression::new(
                SuppressionPolicy::default().contact_limit(4),
            )),
            card_stream(vec![pan("contact-1", CONTACT, exp)]),
        )
        .await
        .unwrap();
    assert_eq!((report.status.accepted, report.status.suppressed), (1, 0));
    let report = journal
        .run(
            &client,
            &RunOptions::new("2026-12c").suppression(Suppression::off()),
            card_stream(vec![
                pan("closed-1", VALID, exp),
                pan("renew-1", NEW_NUMBER, exp),
            ]),
        )
        .await
        .unwrap();
    assert_eq!((report.status.accepted, report.status.suppressed), (2, 0));

    // A routed run takes a policy per rule: contact-1's three "contact the cardholder" in a
    // row suppress it under the default policy, not under a rule whose policy is off.
    let router = std::sync::Arc::new(
        Router::builder()
            .provider(client.clone())
            .rule(
                Rule::new("cards", ProviderId::CardSync, Flow::Submit).when(Condition::CardNumber),
            )
            .build()
            .unwrap(),
    );
    for (run, policy, expected) in [
        ("routed-off", SuppressionPolicy::off(), (1, 0)),
        ("routed-default", SuppressionPolicy::default(), (0, 1)),
    ] {
        let options =
            RunOptions::new(run).suppression(Suppression::off().rule(&router, "cards", policy));
        let report = journal
            .run(
                router.as_ref(),
                &options,
                card_stream(vec![pan("contact-1", CONTACT, exp)]),
            )
            .await
            .unwrap();
        assert_eq!(
            (report.status.accepted, report.status.suppressed),
            expected,
            "{run}"
        );
    }

    // Both of closed-1's results are in its history: closed in September, then the new
    // number's answer in November.
    let history = journal.history("closed-1").await.unwrap();
    let seen: Vec<(&str, &str)> = history
        .iter()
        .map(|h| (h.run_id.as_str(), h.outcome.as_str()))
        .collect();
    assert_eq!(seen, [("2026-09", "closed"), ("2026-11", "valid")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_suppresses_plans_and_keeps_history() {
    suppression_plan_and_history(&sqlite("suppress").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_suppresses_plans_and_keeps_history() {
    let Some(pg) = postgres::PgCluster::start("postgres_suppresses") else {
        return;
    };
    suppression_plan_and_history(&Journal::connect_postgres(&pg.url).await.unwrap()).await;
}

async fn held_results_are_overdue(journal: &Journal) {
    let emulator = AcquiredEmulator::start().await.unwrap();
    let sink = WebhookSink::start().await.unwrap();
    emulator.set_webhook_url(&sink.url());
    let client = AcquiredClient::builder(emulator.credentials())
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    let exp = Expiry::new(12, 2030).unwrap();
    let tokens: Vec<String> = (0..4)
        .map(|i| emulator.create_token(&CardNumber::parse(&plain(i)).unwrap(), exp))
        .collect();
    // Acquired holds back the results of c1 and c3.
    assert!(emulator.hold_results(&tokens[1]));
    assert!(emulator.hold_results(&tokens[3]));
    let cards: Vec<CardToUpdate> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| CardToUpdate::token(format!("c{i}"), ProviderId::Acquired, t.clone()))
        .collect();
    let report = journal
        .run(&client, &RunOptions::new("acq"), card_stream(cards))
        .await
        .unwrap();
    assert_eq!(report.status.accepted, 4);
    let mut delivered = Vec::new();
    for _ in 0..2 {
        let d = sink.next(Duration::from_secs(10)).await.unwrap();
        let event = webhook::receive(&client, &d.headers, &d.body).unwrap();
        journal.record_results("acq", &event.updates).await.unwrap();
        delivered.push(event.updates);
    }
    // Acquired retries a webhook it thinks failed: the same result arrives again.
    journal.record_results("acq", &delivered[0]).await.unwrap();
    // A result for a token this run never sent (another system's inquiry).
    let stranger = emulator.create_token(&CardNumber::parse(&plain(9)).unwrap(), exp);
    client
        .submit(vec![CardToUpdate::token(
            "x",
            ProviderId::Acquired,
            stranger,
        )])
        .await
        .unwrap();
    let d = sink.next(Duration::from_secs(10)).await.unwrap();
    let event = webhook::receive(&client, &d.headers, &d.body).unwrap();
    journal.record_results("acq", &event.updates).await.unwrap();

    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    let late = journal
        .reconcile(
            "acq",
            &ReconcileOptions::new()
                .window(ProviderId::Acquired, Duration::ZERO)
                .at(later),
        )
        .await
        .unwrap();
    let overdue: Vec<&str> = late.overdue.iter().map(|c| c.card_id.as_str()).collect();
    assert_eq!(overdue, ["c1", "c3"], "exactly the held cards are overdue");
    assert_eq!((late.submitted(), late.results_in()), (4, 2));
    assert_eq!(late.jobs.len(), 4, "one job per Acquired inquiry");
    assert!(late.jobs.iter().all(|j| j.state.is_none()));
    assert_eq!(late.orphans.len(), 1);
    assert_eq!(late.orphans[0].card_id, None);
    assert_eq!(late.repeated.len(), 1);
    assert_eq!(late.repeated[0].deliveries, 2);
    // Within Acquired's documented window they are waiting, not late.
    let on_time = journal
        .reconcile("acq", &ReconcileOptions::new().at(later))
        .await
        .unwrap();
    assert_eq!((on_time.overdue.len(), on_time.waiting()), (0, 2));

    // Acquired delivers them after all: nothing is overdue any more.
    assert_eq!(emulator.release_results().await, 2);
    for _ in 0..2 {
        let d = sink.next(Duration::from_secs(10)).await.unwrap();
        let event = webhook::receive(&client, &d.headers, &d.body).unwrap();
        journal.record_results("acq", &event.updates).await.unwrap();
    }
    let settled = journal
        .reconcile(
            "acq",
            &ReconcileOptions::new()
                .window(ProviderId::Acquired, Duration::ZERO)
                .at(later),
        )
        .await
        .unwrap();
    assert_eq!((settled.overdue.len(), settled.results_in()), (0, 4));
    // A job state other than complete or failed is not recorded.
    let job = journal.accepted_jobs("acq").await.unwrap()[0]
        .job
        .clone()
        .unwrap();
    journal
        .record_job_state("acq", &job, &JobState::Pending)
        .await
        .unwrap();
    let again = journal
        .reconcile("acq", &ReconcileOptions::new().at(later))
        .await
        .unwrap();
    assert!(again.jobs.iter().all(|j| j.state.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reports_exactly_the_held_results_overdue() {
    held_results_are_overdue(&sqlite("overdue").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reports_exactly_the_held_results_overdue() {
    let Some(pg) = postgres::PgCluster::start("postgres_overdue") else {
        return;
    };
    held_results_are_overdue(&Journal::connect_postgres(&pg.url).await.unwrap()).await;
}
