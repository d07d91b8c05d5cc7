//! One run across providers: each card routed by rule to the provider that can update it.
//!
//! ```sh
//! cargo run --example routed            # on the CardSync, Acquired and PayConex emulators
//! RUST_LOG=account_updater=debug cargo run --example routed   # every request, redacted
//! ```
//!
//! Each provider switches to its real sandbox with its own variables, as in its own example:
//! `CARDSYNC_API_KEY` (and `CARDSYNC_MERCHANT_API_KEY`), `ACQUIRED_COMPANY_ID`,
//! `ACQUIRED_COMPANY_PASS`, `ACQUIRED_COMPANY_HASHCODE` and `ACQUIRED_TOKEN`,
//! `PAYCONEX_ACCOUNT_ID`, `PAYCONEX_API_KEY_ID`, `PAYCONEX_API_SECRET` (and `PAYCONEX_TOKEN`,
//! a transaction id of that account).
//!
//! The rules: Acquired tokens to Acquired's `ACCOUNT_UPDATER`, PayConex tokens and Amex cards
//! without an SE number to PayConex subscriptions, Amex cards with one and every other card
//! number to CardSync (batches and Amex subscriptions). A JCB card matches the card rule,
//! CardSync refuses it as input, it falls through, and no later rule takes it: it is rejected
//! with CardSync's reason, and nothing is sent for it.

mod common;

use std::collections::BTreeMap;

use account_updater::ids::ResultsQuery;
use account_updater::provider::{BoxFuture, CardToUpdate, Provider};
use account_updater::routing::{Condition, Router, Rule};
use account_updater::submission::{Chunk, ChunkObserver, ChunkOutcome, StreamOptions, card_stream};
use account_updater::{CardNumber, Error, Expiry, Flow, ProviderId};
use common::OrExit;

/// Prints each chunk's outcome and each rejected card, and counts them.
#[derive(Default)]
struct Printer {
    accepted: BTreeMap<ProviderId, usize>,
    rejected: Vec<String>,
    failed: usize,
}

impl ChunkObserver for Printer {
    fn done<'a>(
        &'a mut self,
        chunk: Chunk,
        outcome: &'a ChunkOutcome,
    ) -> BoxFuture<'a, account_updater::Result<()>> {
        match outcome {
            ChunkOutcome::Accepted { job, .. } => {
                println!(
                    "  chunk {:>14}: {} card(s) accepted by {} as {:?} {}",
                    chunk.seq(),
                    chunk.len(),
                    job.provider,
                    job.kind,
                    job.id
                );
                *self.accepted.entry(job.provider).or_default() += chunk.len();
            }
            other => {
                println!("  chunk {}: {}", chunk.seq(), other.as_str());
                self.failed += chunk.len();
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, account_updater::Result<()>> {
        println!("  card {position} ({}) rejected: {error}", card.id);
        self.rejected.push(card.id);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::main]
async fn main() {
    common::init_tracing();
    let expiry = Expiry::new(12, 2030).or_exit("expiry");
    let (partner, cardsync_emulator) = common::cardsync::connect().await;
    let (cardsync, _) = common::cardsync::merchant(&partner).await;
    let (acquired, acquired_token, acquired_emulator) =
        common::acquired::connect("4457000300000007", expiry).await;
    let (payconex, payconex_emulator) = common::payconex::connect().await;
    let payconex_token = common::env("PAYCONEX_TOKEN").unwrap_or_else(|| "100001234561".into());
    for (name, emulated) in [
        ("CardSync", cardsync_emulator.is_some()),
        ("Acquired", acquired_emulator.is_some()),
        ("PayConex", payconex_emulator.is_some()),
    ] {
        println!(
            "{name}: {}",
            if emulated {
                "embedded emulator"
            } else {
                "real sandbox"
            }
        );
    }

    let router = Router::builder()
        .provider(cardsync)
        .provider(acquired)
        .provider(payconex)
        .rule(
            Rule::new("acquired-tokens", ProviderId::Acquired, Flow::Submit).when(Condition::Token),
        )
        .rule(
            Rule::new("payconex-tokens", ProviderId::PayConex, Flow::Subscribe)
                .when(Condition::Token),
        )
        .rule(
            Rule::new("amex-with-se", ProviderId::CardSync, Flow::Submit)
                .when(Condition::AmexSeNumber(true)),
        )
        .rule(
            Rule::new("amex-without-se", ProviderId::PayConex, Flow::Subscribe)
                .when(Condition::AmexSeNumber(false)),
        )
        .rule(
            Rule::new("cards", ProviderId::CardSync, Flow::Submit)
                .when(Condition::CardNumber)
                .fall_through(),
        )
        .build()
        .or_exit("routing rules");
    println!("rules:");
    for rule in router.rules() {
        println!("  {rule}");
    }

    let (amex, amex_expiry) = common::CARDSYNC_AMEX_CARDS[0];
    let card = |s: &str| CardNumber::parse(s).or_exit("card number");
    let cards = vec![
        CardToUpdate::pan("visa-1", card("4457010000000009"), expiry),
        CardToUpdate::pan("mc-1", card("5112010000000003"), expiry),
        CardToUpdate::pan(
            "amex-se-1",
            card(amex),
            Expiry::parse(amex_expiry, account_updater::ExpiryFormat::MmSlashYy).or_exit("expiry"),
        )
        .with_amex_se_number(common::cardsync::se_number()),
        CardToUpdate::pan("amex-1", card("378282246310005"), expiry),
        CardToUpdate::token("acq-1", ProviderId::Acquired, acquired_token),
        CardToUpdate::token("pcx-1", ProviderId::PayConex, payconex_token),
        CardToUpdate::pan("jcb-1", card("3530111333300000"), expiry),
    ];
    println!("submitting {} cards:", cards.len());
    let mut printer = Printer::default();
    let receipt = router
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut printer)
        .await
        .or_exit("routed submission");
    println!(
        "{} cards read: {} accepted, {} rejected",
        receipt.cards_read(),
        receipt.accepted_cards(),
        receipt.rejected()
    );
    for (provider, cards) in &printer.accepted {
        println!("  {provider}: {cards} card(s)");
    }

    // The CardSync batch's results, fetched through the router from the provider that holds
    // the job (emulated batches complete at once; a real one takes hours).
    let submitted = router
        .submit(vec![CardToUpdate::pan(
            "visa-2",
            card("4457000300000007"),
            expiry,
        )])
        .await
        .or_exit("CardSync batch");
    let batch = submitted.accepted()[0].job().clone();
    if cardsync_emulator.is_some() {
        let updates = router
            .fetch_results(&ResultsQuery::Job(batch))
            .await
            .or_exit("CardSync results");
        common::print_updates(&updates);
    } else {
        println!(
            "CardSync batch {} accepted; its results come within hours",
            batch.id
        );
    }

    let expected = [
        ProviderId::CardSync,
        ProviderId::Acquired,
        ProviderId::PayConex,
    ];
    if printer.failed > 0
        || printer.rejected != ["jcb-1"]
        || expected.iter().any(|p| !printer.accepted.contains_key(p))
    {
        common::fail(
            "routed run",
            "not every provider accepted its cards, or the JCB card was not the one rejected",
        );
    }
    println!("done: every card went to the one provider that can update it");
}
