//! PayConex (Bluefin) Account Updater v4, the whole lifecycle: register a webhook, subscribe card
//! numbers and tokens, read the subscription, add and remove a record, pause it with PATCH, run
//! the schedule and fetch results and updates, then delete everything.
//!
//! ```sh
//! cargo run --example payconex                       # on the embedded emulator
//! PAYCONEX_ACCOUNT_ID=… PAYCONEX_API_KEY_ID=… PAYCONEX_API_SECRET=… \
//!   cargo run --example payconex                     # on certification (PAYCONEX_BASE_URL,
//!                                                    # PAYCONEX_AUTH=hmac|basic to change)
//! RUST_LOG=account_updater=debug cargo run --example payconex   # watch every request
//! ```
//! Exits non-zero on any failed step.

mod common;

use std::time::Duration;

use account_updater::ProviderId;
use account_updater::providers::payconex::wire::SubscriptionPatch;
use account_updater::webhook;
use account_updater::{CardNumber, Expiry, ExpiryFormat};
use account_updater::{
    ids::ResultsQuery,
    provider::{CardToUpdate, Provider, RemoveCard, SubscribeRequest, WebhookRegistration},
};
use account_updater_emulator::WebhookSink;
use common::{OrExit, print_updates, step};

#[tokio::main]
async fn main() {
    common::init_tracing();
    let (client, emulator) = common::payconex::connect().await;
    println!(
        "PayConex account {} at {} ({})",
        client.account_id(),
        client.base_url(),
        if emulator.is_some() {
            "embedded emulator"
        } else {
            "real environment"
        }
    );
    let mut n = 0;

    step(&mut n, "register a webhook");
    let sink = WebhookSink::start()
        .await
        .or_exit("start a local webhook receiver");
    let hook_url = match (&emulator, common::env_url("PAYCONEX_WEBHOOK_URL")) {
        (_, Some(url)) => url,
        (Some(_), None) => sink.url(),
        (None, None) => {
            url::Url::parse("https://example.com/payconex/account-updater").expect("static URL")
        }
    };
    let hook = client
        .register_webhook(WebhookRegistration::new(hook_url.clone()))
        .await
        .or_exit("register webhook");
    println!("    webhook {} -> {hook_url}", hook.ids[0]);
    println!(
        "    registered webhooks: {}",
        client.list_webhooks().await.or_exit("list webhooks").len()
    );

    step(&mut n, "subscribe card numbers and tokens (weekly)");
    let card = |pan: &str, exp: &str| {
        (
            CardNumber::parse(pan).or_exit("card number"),
            Expiry::parse(exp, ExpiryFormat::MmSlashYy).or_exit("expiry"),
        )
    };
    let (c1, e1) = card("5194560012341234", "12/50");
    let (c2, e2) = card("4457000300000007", "01/50");
    let (c3, e3) = card("4457000900000001", "08/50");
    let cards = vec![
        CardToUpdate::pan("cust-1001", c1, e1),
        CardToUpdate::pan("cust-1002", c2, e2),
        CardToUpdate::pan("cust-1003", c3, e3),
        CardToUpdate::token("cust-2001", ProviderId::PayConex, "100001234561"),
        CardToUpdate::token("cust-2002", ProviderId::PayConex, "100001234567"),
    ];
    let receipt = client
        .subscribe(SubscribeRequest::new(cards).cadence(account_updater::provider::Cadence::Weekly))
        .await
        .or_exit("subscribe");
    if let Some(failed) = receipt.failed().first() {
        common::fail("subscribe", failed.error());
    }
    for job in receipt.accepted() {
        println!(
            "    subscription {} ({:?}) holds {} card(s)",
            job.job().id,
            job.state(),
            job.cards().len()
        );
        for c in job.cards() {
            println!(
                "      {} -> record {}",
                c.id(),
                c.provider_ref().unwrap_or("?")
            );
        }
    }
    let pan_job = receipt.accepted()[0].job().clone();

    step(&mut n, "read the subscription");
    let sub = client
        .get_subscription(&pan_job.id)
        .await
        .or_exit("get subscription");
    println!(
        "    {} every {:?} from {:?}, format {:?}, {} record(s)",
        sub.id,
        sub.period_id,
        sub.period_date.map(|d| d.0),
        sub.response_format,
        sub.records.len()
    );

    step(&mut n, "add a record, then remove it");
    let (c4, e4) = card("6011010000000003", "03/50");
    let added = client
        .add_cards(&pan_job, vec![CardToUpdate::pan("cust-1004", c4, e4)])
        .await
        .or_exit("add card");
    let placed = added
        .accepted()
        .first()
        .map(|j| j.cards()[0].clone())
        .unwrap_or_else(|| common::fail("add card", "not accepted"));
    println!(
        "    added {} as record {:?}",
        placed.id(),
        placed.provider_ref()
    );
    let removal = client
        .remove_cards(&pan_job, vec![RemoveCard::Placed(placed)])
        .await
        .or_exit("remove card");
    if let Some(f) = removal.failed().first() {
        common::fail("remove card", f.error());
    }
    let status = client.job_status(&pan_job).await.or_exit("job status");
    println!(
        "    subscription now holds {:?} record(s), state {:?}",
        status.counts.submitted, status.state
    );

    if let Some(emulator) = &emulator {
        step(
            &mut n,
            "run the schedules now (emulator) and receive the notifications",
        );
        for job in receipt.accepted() {
            let run = emulator
                .run_schedule(&job.job().id)
                .await
                .unwrap_or_else(|| common::fail("run schedule", "unknown schedule"));
            println!(
                "    {}: {} update(s) under {}",
                job.job().id,
                run.updates,
                run.update_id
            );
            let delivered = sink
                .next(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| common::fail("webhook", "no notification received"));
            let event = webhook::receive(&client, &delivered.headers, &delivered.body)
                .or_exit("parse notification");
            println!(
                "    notification {} ({:?}, {:?})",
                event.id, event.kind, event.authenticity
            );
            let mut updates = client
                .fetch_results_for(&event)
                .await
                .or_exit("fetch updates");
            receipt.join_card_ids(&mut updates);
            print_updates(&updates);
        }
    }

    step(&mut n, "fetch the latest results per schedule");
    for job in receipt.accepted() {
        let mut results = client
            .fetch_results(&ResultsQuery::Job(job.job().clone()))
            .await
            .or_exit("fetch results");
        receipt.join_card_ids(&mut results);
        println!("    {}: {} result(s)", job.job().id, results.len());
        print_updates(&results);
    }

    step(&mut n, "pause the subscription with PATCH");
    let paused = client
        .update_subscription(&pan_job.id, &SubscriptionPatch::default().enabled(false))
        .await
        .or_exit("disable subscription");
    println!("    enabled = {:?}", paused.enabled);

    step(&mut n, "delete everything");
    for job in receipt.accepted() {
        client
            .cancel(job.job())
            .await
            .or_exit("delete subscription");
        println!("    deleted subscription {}", job.job().id);
    }
    for id in &hook.ids {
        client.delete_webhook(id).await.or_exit("delete webhook");
        println!("    deleted webhook {id}");
    }
    println!("\nPayConex example finished: every step succeeded.");
}
