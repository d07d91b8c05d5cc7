//! Bulk submission at scale, the crate against hand-written clients: N cards go to a trivially
//! cheap loopback CardSync endpoint (it reads each body and answers the documented success
//! envelope), so what is timed is the client's work. Each row is the median of five fresh
//! processes, the rows interleaved (`BULK_ROUNDS=N` for another count). Every side takes its cards from strings
//! already in memory (fixed card numbers and expiry, an id formatted per card); the crate
//! parses and checks each card, which is part of its cost. For each size it prints the time,
//! the ratio to the leanest honest hand-written reqwest + serde_json client doing the same
//! wire work, and the peak memory above what the process held before the run; with `python3`
//! and `requests` installed, also a hand-written Python client.
//!
//! ```sh
//! cargo run --release --example cardsync_bulk            # 100,000 and 1,000,000 cards
//! cargo run --release --example cardsync_bulk -- 250000  # other sizes
//! ```
//! The journal row runs the same streamed submission through a SQLite journal in a temp dir
//! (intent and outcome of every chunk, every caller id), as a durable monthly run would. The
//! routed rows run it through a `Router` whose one rule sends every card to CardSync.
//!
//! A debug build (plain `cargo run --example cardsync_bulk`) runs 10,000 and 100,000 cards:
//! its figures say nothing about speed. Peak memory is read from `/proc/self/status` (Linux;
//! elsewhere "n/a"), reset before each run.

mod common;

#[path = "../benches/support/bulk.rs"]
mod bulk;

use std::future::Future;
use std::time::{Duration, Instant};

use account_updater::SecretString;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::submission::{DuplicateIds, StreamOptions, card_stream};
use account_updater_journal::{Journal, RunOptions};
use common::OrExit;

fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Runs `work`, returning its time and the peak RSS above the RSS before it (MiB).
async fn measured<F: Future<Output = u64>>(n: usize, work: F) -> (Duration, Option<f64>) {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let sent = work.await;
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:");
    assert_eq!(sent, n as u64, "every card accepted");
    let above = before
        .zip(peak)
        .map(|(b, p)| p.saturating_sub(b) as f64 / 1024.0);
    (elapsed, above)
}

fn python_client(base: &url::Url, n: usize) -> Option<Duration> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/support/bulk_requests.py"
    );
    let out = std::process::Command::new("python3")
        .args([script, base.as_str(), &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut fields = text.split_whitespace();
    let sent: usize = fields.next()?.parse().ok()?;
    let secs: f64 = fields.next()?.parse().ok()?;
    (sent == n).then(|| Duration::from_secs_f64(secs))
}

/// The clients compared, by the name a child process is started with.
const CLIENTS: [(&str, &str); 8] = [
    ("hand", "hand-written reqwest + serde_json"),
    ("refuse", "crate, streamed (duplicate ids refused)"),
    ("unique", "crate, streamed (ids unique by caller)"),
    ("routed", "crate, routed to CardSync (dup. ids refused)"),
    ("routed-unique", "crate, routed to CardSync (ids unique)"),
    ("journal", "crate, SQLite journal (duplicate ids refused)"),
    (
        "journal-unique",
        "crate, SQLite journal (ids unique by caller)",
    ),
    ("vec", "crate, Vec API (input held, per-card receipt)"),
];

/// One measurement in this process (a fresh process per measurement, so that memory freed by
/// an earlier run and kept by the allocator cannot hide a later run's peak). Prints
/// `millis peak_mib`.
async fn one(client_name: &str, n: usize) {
    let (base, _seen) = bulk::cheap_server().await;
    let client = CardSyncClient::builder(SecretString::from(bulk::KEY))
        .base_url(base.clone())
        .build_merchant()
        .or_exit("client");
    let plain = reqwest::Client::new();
    let streamed = |mode| {
        let client = client.clone();
        async move {
            let cards = (0..n).map(bulk::raw_card).map(bulk::crate_card);
            let options = StreamOptions::default().duplicate_ids(mode);
            let receipt = client
                .submit_stream(card_stream(cards), options, &mut ())
                .await;
            receipt.accepted_cards()
        }
    };
    let (time, mem) = match client_name {
        "hand" => {
            measured(n, async {
                bulk::hand_written(&plain, &base, n).await as u64
            })
            .await
        }
        "refuse" => measured(n, streamed(DuplicateIds::Refuse)).await,
        "unique" => measured(n, streamed(DuplicateIds::CallerGuarantees)).await,
        "routed" | "routed-unique" => {
            use account_updater::Provider;
            use account_updater::routing::{Condition, Router, Rule};
            use account_updater::{Flow, ProviderId};
            let router = Router::builder()
                .provider(client.clone())
                .rule(
                    Rule::new("cards", ProviderId::CardSync, Flow::Submit)
                        .when(Condition::CardNumber),
                )
                .build()
                .or_exit("router");
            let mode = if client_name == "routed" {
                DuplicateIds::Refuse
            } else {
                DuplicateIds::CallerGuarantees
            };
            measured(n, async {
                let cards = (0..n).map(bulk::raw_card).map(bulk::crate_card);
                let options = StreamOptions::default().duplicate_ids(mode);
                router
                    .submit_stream(card_stream(cards), options, &mut ())
                    .await
                    .or_exit("routed run")
                    .accepted_cards()
            })
            .await
        }
        "journal" | "journal-unique" => {
            let mode = if client_name == "journal" {
                DuplicateIds::Refuse
            } else {
                DuplicateIds::CallerGuarantees
            };
            let dir = std::env::temp_dir().join(format!("au-bulk-journal-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).or_exit("temp dir");
            let journal = Journal::open_sqlite(dir.join("journal.db"))
                .await
                .or_exit("journal");
            let measured = measured(n, async {
                let cards = (0..n).map(bulk::raw_card).map(bulk::crate_card);
                let report = journal
                    .run(
                        &client,
                        &RunOptions::new("bench")
                            .stream(StreamOptions::default().duplicate_ids(mode)),
                        card_stream(cards),
                    )
                    .await
                    .or_exit("journaled run");
                report.status.accepted
            })
            .await;
            let _ = std::fs::remove_dir_all(&dir);
            measured
        }
        _ => {
            measured(n, async {
                let cards = (0..n).map(bulk::raw_card).map(bulk::crate_card).collect();
                let receipt = client.submit_cards(cards).await.or_exit("submit");
                receipt.accepted_cards() as u64
            })
            .await
        }
    };
    println!("{} {}", time.as_secs_f64() * 1e3, mem.unwrap_or(f64::NAN));
}

fn child(client_name: &str, n: usize) -> Option<(Duration, f64)> {
    let exe = std::env::current_exe().ok()?;
    // The child's logs (RUST_LOG) reach the terminal; its stdout is the measurement only.
    let out = std::process::Command::new(exe)
        .args(["--one", client_name, &n.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut fields = text.split_whitespace();
    let millis: f64 = fields.next()?.parse().ok()?;
    let mem: f64 = fields.next()?.parse().ok()?;
    Some((Duration::from_secs_f64(millis / 1e3), mem))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    common::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, client_name, n] = args.as_slice() {
        if flag == "--one" {
            one(client_name, n.parse().or_exit("size")).await;
            return;
        }
    }
    let sizes: Vec<usize> = match args.first().and_then(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None if cfg!(debug_assertions) => vec![10_000, 100_000],
        None => vec![100_000, 1_000_000],
    };
    let (base, _seen) = bulk::cheap_server().await;
    let python = python_client(&base, 20).is_some();
    if !python {
        println!("(python3 with `requests` not found: the Python row is skipped)");
    }
    if cfg!(debug_assertions) {
        println!("(debug build: run with --release for meaningful figures)");
    }
    // The machine moves (±30 % between runs here): every row is measured `rounds` times,
    // the rows interleaved (one of each, in a rotated order, then again), and the median of
    // each row's times and peaks is printed, its ratio the median over the hand-written
    // client's median of the same rounds.
    let rounds: usize = std::env::var("BULK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 1 } else { 5 });
    println!(
        "each row is a fresh process, median of {rounds} interleaved rounds (BULK_ROUNDS); peak is the peak RSS above the RSS before the run"
    );
    println!(
        "{:>9}  {:<46} {:>9} {:>7} {:>11}",
        "cards", "client", "time", "ratio", "peak above"
    );
    for n in sizes {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); CLIENTS.len() + 1];
        let mut peaks: Vec<Vec<f64>> = vec![Vec::new(); CLIENTS.len()];
        for round in 0..rounds {
            for k in 0..CLIENTS.len() {
                let row = (k + round) % CLIENTS.len();
                let (name, label) = CLIENTS[row];
                let Some((time, mem)) = child(name, n) else {
                    eprintln!("{label}: the measurement failed");
                    std::process::exit(1);
                };
                times[row].push(time.as_secs_f64());
                peaks[row].push(mem);
            }
            if python {
                if let Some(time) = python_client(&base, n) {
                    times[CLIENTS.len()].push(time.as_secs_f64());
                }
            }
        }
        let hand = median(&mut times[0]);
        for (row, (_, label)) in CLIENTS.iter().enumerate() {
            let time = median(&mut times[row]);
            println!(
                "{n:>9}  {label:<46} {:>7.0}ms {:>6.2}x {:>7.1} MiB",
                time * 1e3,
                time / hand,
                median(&mut peaks[row])
            );
        }
        if !times[CLIENTS.len()].is_empty() {
            let time = median(&mut times[CLIENTS.len()]);
            println!(
                "{n:>9}  {:<46} {:>7.0}ms {:>6.2}x {:>11}",
                "hand-written Python requests (4 threads)",
                time * 1e3,
                time / hand,
                "n/a"
            );
        }
    }
}

/// The median of `values` (NaN when empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
