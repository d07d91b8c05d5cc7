//! Bulk submission, the crate against the leanest honest hand-written reqwest + serde_json
//! client doing the same wire work (batches of 10,000, Amex per SE number, 4 requests in
//! flight) against the same trivially cheap loopback server, in one run. Both sides take their
//! cards from strings already in memory (fixed card numbers and expiry; only the id is
//! formatted per card): the hand-written client borrows them into its wire structs, the crate
//! parses and checks each (Luhn, brand, expiry, SE rules, duplicate ids), which is the crate's
//! cost being measured. The generator alone is timed too and printed beside the ratios.
//!
//! `cargo bench --bench bulk_submit`; the ratio is printed at the end. Peak memory at two sizes
//! and the Python comparison: `cargo run --release --example cardsync_bulk`.
//!
//! The routed rows compare a run through a [`Router`] whose one rule sends every card to
//! CardSync with the direct streamed run on the same cards, both built before the timer starts
//! (so that the generator does not dilute the router's overhead): their ratio is printed too,
//! and so is the `Vec` API's against the streamed run on the same cards built before the
//! timer (what the `Vec` path adds to the driver, apart from holding the input).

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/paired.rs"]
mod paired;

use std::sync::Arc;
use std::time::{Duration, Instant};

use account_updater::Provider;
use account_updater::SecretString;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::routing::{Condition, Router, Rule};
use account_updater::submission::{StreamOptions, card_stream};
use account_updater::{Flow, ProviderId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (base, _seen) = rt.block_on(bulk::cheap_server());
    let client = CardSyncClient::builder(SecretString::from(bulk::KEY))
        .base_url(base.clone())
        .build_merchant()
        .unwrap();
    let provider: Arc<dyn Provider> = Arc::new(client.clone());
    let router = Router::builder()
        .provider(client.clone())
        .rule(Rule::new("cards", ProviderId::CardSync, Flow::Submit).when(Condition::CardNumber))
        .build()
        .unwrap();
    let plain = reqwest::Client::new();
    let mut group = c.benchmark_group("bulk_submit");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    let mut means: Vec<(usize, &str, f64)> = Vec::new();
    for n in [100_000usize, 1_000_000] {
        group.throughput(Throughput::Elements(n as u64));
        let mut time = |name: &'static str, run: &mut dyn FnMut() -> Duration| {
            // Criterion reports; we also keep our own mean for the printed ratio.
            let mut total = Duration::ZERO;
            let mut count = 0u32;
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| {
                    let mut sum = Duration::ZERO;
                    for _ in 0..iters {
                        sum += run();
                    }
                    total += sum;
                    count += iters as u32;
                    sum
                })
            });
            means.push((n, name, total.as_secs_f64() / f64::from(count.max(1))));
        };
        time("generator_alone", &mut || {
            let start = Instant::now();
            std::hint::black_box(bulk::generate_only(n));
            start.elapsed()
        });
        time("hand_written", &mut || {
            let start = Instant::now();
            let sent = rt.block_on(bulk::hand_written(&plain, &base, n));
            assert_eq!(sent, n);
            start.elapsed()
        });
        time("crate_stream_native", &mut || {
            let start = Instant::now();
            let receipt = rt.block_on(client.submit_stream(
                card_stream((0..n).map(bulk::raw_card).map(bulk::crate_card)),
                StreamOptions::default(),
                &mut (),
            ));
            assert_eq!(receipt.accepted_cards(), n as u64);
            start.elapsed()
        });
        time("crate_stream_trait", &mut || {
            let start = Instant::now();
            let receipt = rt
                .block_on(provider.submit_stream(
                    card_stream((0..n).map(bulk::raw_card).map(bulk::crate_card)),
                    StreamOptions::default(),
                    &mut (),
                ))
                .unwrap();
            assert_eq!(receipt.accepted_cards(), n as u64);
            start.elapsed()
        });
        time("prebuilt_direct", &mut || {
            let cards: Vec<_> = (0..n).map(bulk::raw_card).map(bulk::crate_card).collect();
            let start = Instant::now();
            let receipt = rt
                .block_on(provider.submit_stream(
                    card_stream(cards),
                    StreamOptions::default(),
                    &mut (),
                ))
                .unwrap();
            assert_eq!(receipt.accepted_cards(), n as u64);
            start.elapsed()
        });
        time("prebuilt_routed", &mut || {
            let cards: Vec<_> = (0..n).map(bulk::raw_card).map(bulk::crate_card).collect();
            let start = Instant::now();
            let receipt = rt
                .block_on(router.submit_stream(
                    card_stream(cards),
                    StreamOptions::default(),
                    &mut (),
                ))
                .unwrap();
            assert_eq!(receipt.accepted_cards(), n as u64);
            start.elapsed()
        });
        time("crate_vec_trait", &mut || {
            let start = Instant::now();
            let cards = (0..n).map(bulk::raw_card).map(bulk::crate_card).collect();
            let receipt = rt.block_on(provider.submit(cards)).unwrap();
            assert_eq!(receipt.accepted_cards(), n);
            start.elapsed()
        });
    }
    group.finish();
    println!(
        "\nbulk_submit on {} cores: mean time, and ratio to the lean hand-written reqwest + serde_json client (generator_alone: the id generator both sides run inside their time)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for &(n, name, mean) in &means {
        let base = means
            .iter()
            .find(|m| m.0 == n && m.1 == "hand_written")
            .map_or(f64::NAN, |m| m.2);
        println!(
            "  {n:>9} cards  {name:<20} {:>8.1} ms   {:.2}x",
            mean * 1e3,
            mean / base
        );
    }
    for n in [100_000usize, 1_000_000] {
        let mean = |name: &str| {
            means
                .iter()
                .find(|m| m.0 == n && m.1 == name)
                .map_or(f64::NAN, |m| m.2)
        };
        if mean("prebuilt_routed").is_nan() {
            continue;
        }
        println!(
            "  {n:>9} cards  routed / direct (cards built before the timer): {:.3}x",
            mean("prebuilt_routed") / mean("prebuilt_direct")
        );
    }
    // The same two runs again, paired: each round times both, in alternating order, and the
    // median of the rounds' ratios is printed. Criterion times all of one before the other,
    // so on a small machine a drift in between lands in the ratio; a pair shares its moment.
    // The `Vec` API is paired with the streamed run the same way, on the same cards built
    // before the timer: what the `Vec` path adds to the same driver (its up-front check of
    // every card and the per-card receipt), apart from the caller holding every card, which
    // the fresh-process table's `Vec` row includes.
    if std::env::args().any(|a| a.contains("prebuilt")) || std::env::args().len() <= 2 {
        #[derive(Clone, Copy)]
        enum Way {
            Direct,
            Routed,
            Vec,
        }
        for n in [100_000usize, 1_000_000] {
            // A 100,000-card run takes ~15 ms, within the machine's jitter: each round there
            // sums five interleaved runs a side.
            let pairs = if n > 100_000 { 1 } else { 5 };
            let rounds = 31;
            let once = |way: Way| {
                let cards: Vec<_> = (0..n).map(bulk::raw_card).map(bulk::crate_card).collect();
                let start = Instant::now();
                let accepted = match way {
                    Way::Direct => rt
                        .block_on(provider.submit_stream(
                            card_stream(cards),
                            StreamOptions::default(),
                            &mut (),
                        ))
                        .unwrap()
                        .accepted_cards(),
                    Way::Routed => rt
                        .block_on(router.submit_stream(
                            card_stream(cards),
                            StreamOptions::default(),
                            &mut (),
                        ))
                        .unwrap()
                        .accepted_cards(),
                    Way::Vec => rt
                        .block_on(provider.submit(cards))
                        .unwrap()
                        .accepted_cards() as u64,
                };
                assert_eq!(accepted, n as u64);
                start.elapsed().as_secs_f64()
            };
            let routed =
                paired::summed_ratios(rounds, pairs, || once(Way::Direct), || once(Way::Routed));
            println!("  {n:>9} cards  routed / direct, {routed}");
            let vec = paired::summed_ratios(rounds, pairs, || once(Way::Direct), || once(Way::Vec));
            println!("  {n:>9} cards  Vec API / streamed (cards built before the timer), {vec}");
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
