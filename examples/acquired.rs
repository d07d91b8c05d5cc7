//! Acquired.com token management and account updater: update billing data on a token, disable
//! it, show that an account-updater request on the disabled token is refused, enable it, request
//! an account update, receive and verify the `account_updater` webhook, then change the card with
//! UPDATE_BILLING. Every response's `response_hash` is verified before use.
//!
//! ```sh
//! cargo run --example acquired                     # on the embedded emulator
//! ACQUIRED_COMPANY_ID=… ACQUIRED_COMPANY_PASS=… ACQUIRED_COMPANY_HASHCODE=… ACQUIRED_TOKEN=<INIT id> \
//!   cargo run --example acquired                   # on QA (ACQUIRED_BASE_URL, ACQUIRED_MID_ID)
//! ```
//! Exits non-zero on any failed step.

mod common;

use std::time::Duration;

use account_updater::providers::acquired::wire::{BillingAddress, Customer};
use account_updater::providers::acquired::{Answer, ManageBilling, NewCard};
use account_updater::webhook::{self, Deduplicator};
use account_updater::{CardNumber, Expiry, SecretString};
use account_updater_emulator::WebhookSink;
use common::{OrExit, print_updates, step};

#[tokio::main]
async fn main() {
    common::init_tracing();
    let (client, token, emulator) =
        common::acquired::connect("4457010000000009", Expiry::new(1, 2030).or_exit("expiry")).await;
    println!(
        "Acquired company {} at {} ({}), token {token}",
        client.company_id(),
        client.base_url(),
        if emulator.is_some() {
            "embedded emulator"
        } else {
            "real environment"
        }
    );
    let sink = WebhookSink::start()
        .await
        .or_exit("start a local webhook receiver");
    if let Some(emu) = &emulator {
        emu.set_webhook_url(&sink.url());
    }
    let mut n = 0;

    step(
        &mut n,
        "update billing and customer data (SUBSCRIPTION_MANAGE)",
    );
    let mut change = ManageBilling::new(token.clone());
    change.customer = Some(
        Customer::default()
            .customer_fname("Eve")
            .customer_lname("Johnson"),
    );
    change.billing = Some(
        BillingAddress::default()
            .billing_street("44 Baker Street")
            .billing_city("London")
            .billing_zipcode("W1U7AL")
            .billing_country_code_iso2("GB")
            .billing_email("eve@example.com"),
    );
    let answer = client
        .manage_billing(&change)
        .await
        .or_exit("manage billing");
    println!(
        "    response {:?} (hash verified), transaction {:?}",
        answer.response().response_code,
        answer.response().transaction_id
    );

    step(&mut n, "disable the token");
    client.disable_token(&token, None).await.or_exit("disable");
    println!("    disabled");

    step(
        &mut n,
        "an account-updater request on the disabled token is refused",
    );
    match client.request_account_update(&token, None).await {
        Err(e) => println!("    refused as expected: {e}"),
        Ok(_) => common::fail(
            "disabled token",
            "the account updater accepted a disabled token",
        ),
    }

    step(&mut n, "enable it again");
    client.enable_token(&token, None).await.or_exit("enable");
    println!("    enabled");

    step(&mut n, "request an account update (ACCOUNT_UPDATER)");
    let answer = client
        .request_account_update(&token, None)
        .await
        .or_exit("account updater");
    match &answer {
        Answer::Pending(r) => println!(
            "    pending ({:?}): the outcome comes by webhook",
            r.response_code
        ),
        Answer::Success(r) => println!("    answered {:?}", r.response_code),
        other => println!("    answered {other:?}"),
    }

    step(&mut n, "receive and verify the account_updater webhook");
    if emulator.is_some() {
        let delivered = sink
            .next(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| common::fail("webhook", "none received"));
        let event = webhook::receive(&client, &delivered.headers, &delivered.body)
            .or_exit("verify webhook");
        let dedup = Deduplicator::default();
        println!(
            "    {:?} {} ({:?}, first delivery: {})",
            event.kind,
            event.id,
            event.authenticity,
            dedup.first_seen(&event)
        );
        print_updates(&event.updates);
    } else {
        println!(
            "    Acquired posts it to the URL its support configured for your account; verify it with"
        );
        println!("    account_updater::webhook::receive(&client, &headers, &body)");
    }

    step(
        &mut n,
        "change the card (UPDATE_BILLING, zero-amount AUTH_ONLY)",
    );
    let mut card = NewCard::new(
        CardNumber::parse("4024007164218280").or_exit("card"),
        Expiry::new(3, 2031).or_exit("expiry"),
    );
    card.cvv = Some(SecretString::from("456".to_owned()));
    card.holder_name = Some("MRS E JOHNSON".into());
    let answer = client
        .update_card(&token, &card, None, None)
        .await
        .or_exit("update card");
    println!(
        "    {} now on file: response {:?}, transaction {:?}",
        card.number,
        answer.response().response_code,
        answer.response().transaction_id
    );
    if let Some(emu) = &emulator {
        let state = emu
            .token_state(&token)
            .unwrap_or_else(|| common::fail("token", "missing"));
        println!(
            "    emulator holds {} exp {} enabled {}",
            state.masked_card, state.expiry, state.enabled
        );
    }
    println!("\nAcquired example finished: every step succeeded.");
}
