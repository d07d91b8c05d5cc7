//! CardSync Universal Account Updater v2: register webhooks, enroll a merchant, check its
//! status, submit the sandbox test cards (Visa / Mastercard / Discover as a batch, Amex as
//! subscriptions under an SE number), wait for the batch, and print the results as unified
//! `CardUpdate`s (card numbers masked).
//!
//! ```sh
//! cargo run --example cardsync                     # on the embedded emulator
//! CARDSYNC_API_KEY=<partner key> cargo run --example cardsync   # on https://sandbox.cardsync.io
//! ```
//! Optional: `CARDSYNC_BASE_URL`, `CARDSYNC_MERCHANT_API_KEY` (skip enrollment),
//! `CARDSYNC_SE_NUMBER` (default 1234567890), `CARDSYNC_WAIT_SECS` (default 30: the real sandbox
//! can take an hour), `CARDSYNC_WEBHOOK_URL`. Exits non-zero on any failed step.

mod common;

use std::time::{Duration, Instant};

use account_updater::webhook::{self, Deduplicator};
use account_updater::{CardNumber, Expiry, ExpiryFormat, WebhookKind};
use account_updater::{
    ids::{JobKind, ResultsQuery},
    provider::{CardToUpdate, JobState, Provider},
};
use account_updater_emulator::WebhookSink;
use common::{CARDSYNC_AMEX_CARDS, CARDSYNC_TEST_CARDS, OrExit, print_updates, step};

#[tokio::main]
async fn main() {
    common::init_tracing();
    let (partner, emulator) = common::cardsync::connect().await;
    println!(
        "CardSync at {} ({})",
        partner.base_url(),
        if emulator.is_some() {
            "embedded emulator"
        } else {
            "real sandbox"
        }
    );
    let wait = Duration::from_secs(
        common::env("CARDSYNC_WAIT_SECS")
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let mut n = 0;

    step(&mut n, "set up webhooks for triggers 20-23");
    let sink = WebhookSink::start()
        .await
        .or_exit("start a local webhook receiver");
    let hook_url = match (&emulator, common::env_url("CARDSYNC_WEBHOOK_URL")) {
        (_, Some(url)) => Some(url),
        (Some(_), None) => Some(sink.url()),
        (None, None) => None,
    };
    match &hook_url {
        Some(url) => {
            let hooks = account_updater::providers::cardsync::wire::Webhooks::new(
                account_updater::providers::cardsync::wire::Trigger::ALL
                    .iter()
                    .map(|t| {
                        account_updater::providers::cardsync::wire::WebhookTarget::new(
                            *t,
                            url.to_string(),
                        )
                    })
                    .collect(),
            );
            partner.set_webhooks(&hooks).await.or_exit("set webhooks");
            println!("    all four triggers -> {url}");
        }
        None => {
            println!("    skipped: set CARDSYNC_WEBHOOK_URL to a public URL to receive webhooks")
        }
    }

    step(
        &mut n,
        "enroll a merchant (or use CARDSYNC_MERCHANT_API_KEY)",
    );
    let (merchant, merchant_id) = common::cardsync::merchant(&partner).await;
    match &merchant_id {
        Some(id) => {
            println!("    merchant {id} enrolled; its API key is kept secret");
            step(&mut n, "enrollment status");
            let status = partner.merchant_status(id).await.or_exit("merchant status");
            println!(
                "    status: {}",
                status.status.as_deref().unwrap_or("(not reported)")
            );
        }
        None => println!("    using the merchant key from CARDSYNC_MERCHANT_API_KEY"),
    }

    step(
        &mut n,
        "submit the sandbox test cards (batch + Amex subscriptions)",
    );
    let se = common::cardsync::se_number();
    let mut cards: Vec<CardToUpdate> = CARDSYNC_TEST_CARDS
        .iter()
        .enumerate()
        .map(|(i, (pan, exp))| {
            CardToUpdate::pan(
                format!("card-{:02}", i + 1),
                CardNumber::parse(pan).or_exit("card number"),
                Expiry::parse(exp, ExpiryFormat::MmSlashYy).or_exit("expiry"),
            )
        })
        .collect();
    cards.extend(
        CARDSYNC_AMEX_CARDS
            .iter()
            .enumerate()
            .map(|(i, (pan, exp))| {
                CardToUpdate::pan(
                    format!("amex-{:02}", i + 1),
                    CardNumber::parse(pan).or_exit("card number"),
                    Expiry::parse(exp, ExpiryFormat::MmSlashYy).or_exit("expiry"),
                )
                .with_amex_se_number(se.clone())
            }),
    );
    let receipt = merchant.submit(cards).await.or_exit("submit");
    if let Some(failed) = receipt.failed().first() {
        common::fail("submit", failed.error());
    }
    for job in receipt.accepted() {
        println!(
            "    {:?} {} holds {} card(s)",
            job.job().kind,
            job.job().id,
            job.cards().len()
        );
    }
    let batch = receipt
        .accepted()
        .iter()
        .find(|j| j.job().kind == JobKind::Batch)
        .map(|j| j.job().clone())
        .unwrap_or_else(|| common::fail("submit", "no batch accepted"));

    step(
        &mut n,
        &format!(
            "wait for the batch to complete (at most {}s)",
            wait.as_secs()
        ),
    );
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let status = merchant.job_status(&batch).await.or_exit("batch status");
        if status.state == JobState::Completed {
            println!("    completed: {:?}", status.counts);
            break;
        }
        if started.elapsed() >= wait {
            println!(
                "    still {:?} after {}s; the real sandbox can take up to an hour.",
                status.state,
                wait.as_secs()
            );
            println!(
                "    fetch later with: merchant.batch_results(\"{}\", None)",
                batch.id
            );
            return;
        }
        tokio::time::sleep(delay.min(wait.saturating_sub(started.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }

    step(&mut n, "results of the batch");
    let results = merchant
        .fetch_results(&ResultsQuery::Job(batch.clone()))
        .await
        .or_exit("batch results");
    print_updates(&results);

    if hook_url.is_some() && emulator.is_some() {
        step(
            &mut n,
            "webhooks received (parsed, deduplicated, results fetched)",
        );
        let dedup = Deduplicator::default();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut amex_done = false;
        while Instant::now() < deadline && !amex_done {
            let Some(delivered) = sink.next(Duration::from_secs(2)).await else {
                break;
            };
            let event = webhook::receive(&merchant, &delivered.headers, &delivered.body)
                .or_exit("parse webhook");
            if !dedup.first_seen(&event) {
                continue;
            }
            println!(
                "    {:?} {} ({:?})",
                event.kind, event.id, event.authenticity
            );
            if event.kind == WebhookKind::UpdatesAvailable {
                let amex = merchant
                    .fetch_results_for(&event)
                    .await
                    .or_exit("Amex results");
                print_updates(&amex);
                amex_done = true;
            }
        }
        if !amex_done {
            common::fail("webhooks", "no Amex update received");
        }
    }
    println!("\nCardSync example finished: every step succeeded.");
}
