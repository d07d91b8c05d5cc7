//! Decoding a 10,000-card CardSync results body (`GET /v2/batch/results`): the crate's wire
//! types (`Envelope<Results>`, card numbers validated into `CardNumber`s), the crate's unified
//! mapping on top (`CardUpdate`s), and a hand-written baseline: `serde_json` into plain structs
//! of `String`s. Criterion measures each; the bench then prints the ratios of this run's means.
//!
//! `cargo bench --bench results_decode`.

use account_updater::providers::cardsync::wire::{Envelope, Results};
use account_updater::providers::cardsync::{CompactResults, card_update};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/paired.rs"]
mod paired;
use serde::Deserialize;

/// A documented results body for `n` cards, ids as a billing platform would use (UUID-like),
/// every fourth card with a new number.
fn results_body(n: usize) -> Vec<u8> {
    let mut cards = String::with_capacity(n * 120);
    for i in 0..n {
        if i > 0 {
            cards.push(',');
        }
        let (status, card) = match i % 4 {
            0 => ("updated_card", ",\"card\":\"4111111111111111\""),
            1 => ("updated_expiry", ""),
            2 => ("no_change", ""),
            _ => ("closed", ""),
        };
        cards.push_str(&format!(
            "{{\"id\":\"cust-{i:08}-4f1c-9a7e-000000000000\"{card},\"exp\":\"12/29\",\"status\":\"{status}\"}}"
        ));
    }
    format!(
        "{{\"status\":\"success\",\"message\":\"success\",\"data\":{{\"batch_id\":\"b1\",\"status\":\"completed\",\"cards\":[{cards}],\"stats\":{{\"number_submitted\":{n}}}}}}}"
    )
    .into_bytes()
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainEnvelope {
    status: String,
    message: Option<String>,
    data: Option<PlainResults>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainResults {
    batch_id: Option<String>,
    status: Option<String>,
    cards: Vec<PlainCard>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainCard {
    id: String,
    se_number: Option<String>,
    card: Option<String>,
    exp: Option<String>,
    status: String,
}

fn decode(c: &mut Criterion) {
    let body = results_body(10_000);
    let mut group = c.benchmark_group("results_decode_10000");
    group.sample_size(30);
    group.bench_function("hand_written", |b| {
        b.iter(|| {
            let e: PlainEnvelope = serde_json::from_slice(&body).unwrap();
            assert_eq!(e.data.unwrap().cards.len(), 10_000);
        })
    });
    group.bench_function("crate_native", |b| {
        b.iter(|| {
            let e: Envelope<Results> = serde_json::from_slice(&body).unwrap();
            assert_eq!(e.data.unwrap().cards.len(), 10_000);
        })
    });
    group.bench_function("crate_unified", |b| {
        b.iter(|| {
            let e: Envelope<Results> = serde_json::from_slice(&body).unwrap();
            let updates: Vec<_> = e
                .data
                .unwrap()
                .cards
                .into_iter()
                .map(|c| card_update(c, Some("evt")))
                .collect();
            assert_eq!(updates.len(), 10_000);
        })
    });
    // The compact decoding owns its body: the copy is inside the measured time.
    group.bench_function("crate_compact", |b| {
        b.iter(|| {
            let r = CompactResults::from_body(200, body.clone()).unwrap();
            assert_eq!(r.len(), 10_000);
        })
    });
    // What `Provider::fetch_results_iter` hands out: compact, then each CardUpdate built as
    // the caller asks for it and dropped once used (as a caller applying updates does).
    group.bench_function("crate_unified_iter", |b| {
        b.iter(|| {
            let r = CompactResults::from_body(200, body.clone()).unwrap();
            let mut seen = 0usize;
            for update in r.into_card_updates(Some("evt".to_owned())) {
                std::hint::black_box(&update);
                seen += 1;
            }
            assert_eq!(seen, 10_000);
        })
    });
    // What `Provider::fetch_results` does with the body: compact, then CardUpdates.
    group.bench_function("crate_unified_compact", |b| {
        b.iter(|| {
            let r = CompactResults::from_body(200, body.clone()).unwrap();
            let mut updates = Vec::with_capacity(r.len());
            updates.extend(r.card_updates(Some("evt")));
            assert_eq!(updates.len(), 10_000);
        })
    });
    group.finish();

    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mean = |name: &str| -> Option<f64> {
        let path = format!("{dir}/criterion/results_decode_10000/{name}/new/estimates.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        v["mean"]["point_estimate"].as_f64()
    };
    if let (Some(h), Some(c), Some(uc)) = (
        mean("hand_written"),
        mean("crate_compact"),
        mean("crate_unified_compact"),
    ) {
        println!(
            "compact decoding: {:.2} ms ({:.3} x), compact + unified CardUpdates (the trait's path) {:.2} ms ({:.3} x)",
            c / 1e6,
            c / h,
            uc / 1e6,
            uc / h
        );
    }
    if let (Some(h), Some(i)) = (mean("hand_written"), mean("crate_unified_iter")) {
        println!(
            "one at a time (Provider::fetch_results_iter's path: compact, each CardUpdate built as asked for): {:.2} ms ({:.3} x)",
            i / 1e6,
            i / h
        );
    }
    if let (Some(h), Some(n), Some(u)) = (
        mean("hand_written"),
        mean("crate_native"),
        mean("crate_unified"),
    ) {
        println!(
            "10,000-card results body ({} bytes), criterion means this run: hand-written {:.2} ms, crate native {:.2} ms ({:.3} x), crate unified {:.2} ms ({:.3} x)",
            body.len(),
            h / 1e6,
            n / 1e6,
            n / h,
            u / 1e6,
            u / h
        );
    }
}

/// The machine moves (±30 % between criterion's groups here): the crate's results paths
/// against the hand-written decoding again, paired. Each round times both, in alternating
/// order, over the same iterations; the median of the rounds' ratios is printed.
fn paired(_: &mut Criterion) {
    let body = results_body(10_000);
    let hand = || {
        let e: PlainEnvelope = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.data.unwrap().cards.len(), 10_000);
    };
    let one_at_a_time = || {
        let r = CompactResults::from_body(200, body.clone()).unwrap();
        let mut seen = 0usize;
        for update in r.into_card_updates(Some("evt".to_owned())) {
            std::hint::black_box(&update);
            seen += 1;
        }
        assert_eq!(seen, 10_000);
    };
    let all_owned = || {
        let r = CompactResults::from_body(200, body.clone()).unwrap();
        let mut updates = Vec::with_capacity(r.len());
        updates.extend(r.card_updates(Some("evt")));
        assert_eq!(updates.len(), 10_000);
    };
    for (name, crate_side) in [
        (
            "one at a time (fetch_results_iter)",
            &one_at_a_time as &dyn Fn(),
        ),
        ("owned Vec (fetch_results)", &all_owned as &dyn Fn()),
    ] {
        let found = paired::ratios(
            31,
            || paired::seconds(10, &hand),
            || paired::seconds(10, crate_side),
        );
        println!("paired, {name} / hand-written: {found}");
    }
}

criterion_group!(benches, decode, paired);
criterion_main!(benches);
