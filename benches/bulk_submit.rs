//! Bulk submission to CardSync against the embedded emulator (which only counts cards here, so
//! the time is the client's splitting, serialising and sending plus the emulator's parsing).
//!
//! `cargo bench --bench bulk_submit`. Peak memory is measured by
//! `cargo run --release --example cardsync_bulk -- 1000000`.

use account_updater::emulator::cardsync::{CardSyncEmulator, CardSyncEmulatorConfig, Completion};
use account_updater::provider::CardToUpdate;
use account_updater::providers::cardsync::wire::{
    CardInfo, DeliveryFrequency, Merchant, PrimaryContact, User,
};
use account_updater::providers::cardsync::{CardSyncClient, CardSyncPartner};
use account_updater::{CardNumber, Expiry, ExposeSecret, SecretString};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn luhn(body: &str) -> String {
    (0..=9)
        .map(|d| format!("{body}{d}"))
        .find(|c| account_updater::card::luhn_valid(c))
        .unwrap()
}

/// `n` distinct Visa / Mastercard / Discover cards plus 5% Amex under two SE numbers.
fn cards(n: usize) -> Vec<CardToUpdate> {
    let exp = Expiry::new(1, 2030).unwrap();
    (0..n)
        .map(|i| {
            if i % 20 == 0 {
                let pan = CardNumber::parse(&luhn(&format!("37{:012}", i))).unwrap();
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
                    CardNumber::parse(&luhn(&body)).unwrap(),
                    exp,
                )
            }
        })
        .collect()
}

fn merchant() -> Merchant {
    Merchant {
        legal_business_name: "Bench".into(),
        name: "Bench".into(),
        description: "bench".into(),
        website: "example.com".into(),
        phone: "5555555555".into(),
        phone_ext: None,
        receipt_email: "a@example.com".into(),
        timezone: "UTC".into(),
        fee_schedule_id: "x".into(),
        primary_contact: PrimaryContact {
            first_name: "A".into(),
            last_name: "B".into(),
            company: "C".into(),
            address_line_1: "1".into(),
            address_line_2: String::new(),
            city: "T".into(),
            state: "IL".into(),
            postal_code: "1".into(),
            country: "US".into(),
            phone: "5555555555".into(),
            email: "a@example.com".into(),
        },
        user: User {
            username: "bench".into(),
            email: "a@example.com".into(),
            status: "active".into(),
            role: "admin".into(),
            create_api_key: true,
        },
        card_info: CardInfo {
            type_of_biller: "both".into(),
            total_number_of_records: 1,
            number_of_visa: 1,
            number_of_mastercard: 0,
            number_of_discover: 0,
            number_of_amex: 0,
            amex_se_number: None,
            delivery_frequency: DeliveryFrequency::Daily,
            mcc: "5968".into(),
        },
    }
}

async fn setup() -> (CardSyncEmulator, CardSyncClient) {
    let emu = CardSyncEmulator::start_with(CardSyncEmulatorConfig {
        completion: Completion::Manual,
        keep_cards: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let partner = CardSyncPartner::builder(emu.partner_key())
        .base_url(emu.base_url())
        .build_partner()
        .unwrap();
    let created = partner.enroll_merchant(&merchant()).await.unwrap();
    let client = partner
        .merchant(SecretString::from(
            created.api_key.expose_secret().to_owned(),
        ))
        .unwrap();
    (emu, client)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_emu, client) = rt.block_on(setup());
    let mut group = c.benchmark_group("cardsync_submit");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.to_async(&rt).iter_batched(
                || cards(n),
                |input| async {
                    let receipt = client.submit_cards(input).await.unwrap();
                    assert!(receipt.is_complete());
                },
                criterion::BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
