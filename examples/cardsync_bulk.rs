//! Bulk submission at scale: submits N cards (default 100,000) to the CardSync emulator and
//! reports the time and the peak memory above the input itself.
//!
//! ```sh
//! cargo run --release --example cardsync_bulk -- 1000000
//! ```
//! The emulator runs in counting mode (it keeps no card data), so what grows beyond the input
//! is the client's in-flight request bodies and the emulator's parsing of them: bounded by
//! chunk size (10,000) × concurrency, not by N. Peak memory is read from `/proc/self/status`
//! (Linux); elsewhere it prints "n/a".

mod common;

use std::time::Instant;

use account_updater::emulator::cardsync::{CardSyncEmulator, CardSyncEmulatorConfig, Completion};
use account_updater::provider::CardToUpdate;
use account_updater::providers::cardsync::CardSyncPartner;
use account_updater::{CardNumber, Expiry, ExposeSecret, SecretString};
use common::OrExit;

fn luhn(body: &str) -> String {
    (0..=9)
        .map(|d| format!("{body}{d}"))
        .find(|c| account_updater::card::luhn_valid(c))
        .expect("a check digit fits")
}

fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn reset_peak() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    common::init_tracing();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let emu = CardSyncEmulator::start_with(CardSyncEmulatorConfig {
        completion: Completion::Manual,
        keep_cards: false,
        ..Default::default()
    })
    .await
    .or_exit("start the emulator");
    let partner = CardSyncPartner::builder(emu.partner_key())
        .base_url(emu.base_url())
        .build_partner()
        .or_exit("client");
    let created = partner
        .enroll_merchant(&common::cardsync::demo_merchant())
        .await
        .or_exit("enroll");
    let client = partner
        .merchant(SecretString::from(
            created.api_key.expose_secret().to_owned(),
        ))
        .or_exit("merchant client");

    let before_input = status_kib("VmRSS:");
    let exp = Expiry::new(1, 2030).or_exit("expiry");
    let cards: Vec<CardToUpdate> = (0..n)
        .map(|i| {
            if i % 20 == 0 {
                let pan = CardNumber::parse(&luhn(&format!("37{:012}", i % 1_000_000_000_000)))
                    .or_exit("card");
                CardToUpdate::pan(format!("c{i}"), pan, exp).with_amex_se_number(if i % 40 == 0 {
                    "1111111111"
                } else {
                    "2222222222"
                })
            } else {
                let prefix = ["4", "51", "6011"][i % 3];
                let body = format!("{prefix}{:0width$}", i, width = 15 - prefix.len());
                CardToUpdate::pan(
                    format!("c{i}"),
                    CardNumber::parse(&luhn(&body)).or_exit("card"),
                    exp,
                )
            }
        })
        .collect();
    let with_input = status_kib("VmRSS:");
    reset_peak();
    let started = Instant::now();
    let receipt = client.submit_cards(cards).await.or_exit("submit");
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:");

    assert_eq!(receipt.accepted_cards() + receipt.failed_cards(), n);
    let kib = |v: Option<u64>| {
        v.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!("cards submitted:        {n}");
    println!(
        "requests:               {} accepted, {} failed",
        receipt.accepted.len(),
        receipt.failed.len()
    );
    println!("emulator requests seen: {}", emu.requests());
    println!(
        "time:                   {:.2?} ({:.0} cards/s)",
        elapsed,
        n as f64 / elapsed.as_secs_f64()
    );
    println!("RSS before input:       {}", kib(before_input));
    println!("RSS with input:         {}", kib(with_input));
    println!("peak RSS during submit: {}", kib(peak));
    if let (Some(w), Some(p)) = (with_input, peak) {
        println!(
            "peak above input:       {:.1} MiB",
            p.saturating_sub(w) as f64 / 1024.0
        );
    }
    if !receipt.is_complete() {
        std::process::exit(1);
    }
}
