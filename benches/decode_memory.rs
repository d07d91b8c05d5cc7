//! Peak memory of fetching and decoding one large CardSync results body, above the baseline,
//! as a multiple of the body's size: through the native client (wire types) and through
//! `Arc<dyn Provider>` (unified `CardUpdate`s).
//!
//! `cargo bench --bench decode_memory [-- CARDS]` (default 10,000 cards). The server is a plain
//! thread writing a prebuilt response from one buffer, so it allocates nothing while measured;
//! a counting global allocator records the peak of live bytes during each call.
//!
//! Then the time of the same fetch, paired: the lean hand-written client (reqwest GET, then
//! `serde_json` into plain structs of `String`s) against the crate through `Arc<dyn Provider>`
//! one at a time (`fetch_results_iter`, every update looked at) and owned (`fetch_results`),
//! alternating in each round; the median of the rounds' ratios is printed.

#[path = "support/paired.rs"]
mod paired;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use account_updater::SecretString;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{
    ids::{JobKind, JobRef, ProviderId, ResultsQuery},
    provider::Provider,
};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A documented results body (`GET /v2/batch/results`) for `n` cards, ids as a billing platform
/// would use (UUID-like), every fourth card with a new number.
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

/// Serves `body` to every request, with no allocation per request once a connection is open.
fn serve(body: Vec<u8>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let response: std::sync::Arc<[u8]> = [head.as_bytes(), &body].concat().into();
    // A thread per connection (the crate's client and the hand-written one each keep theirs
    // open), each writing the one prebuilt response.
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let response = response.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    let mut seen = Vec::<u8>::new();
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    if seen.is_empty() || stream.write_all(&response).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn measure<F: std::future::Future>(rt: &tokio::runtime::Runtime, f: F) -> (usize, F::Output) {
    let baseline = LIVE.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let out = rt.block_on(f);
    (PEAK.load(Ordering::SeqCst) - baseline, out)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let body = results_body(n);
    let size = body.len();
    let addr = serve(body);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = CardSyncClient::builder(SecretString::from("api_bench_key"))
        .base_url(url::Url::parse(&format!("http://{addr}")).unwrap())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build_merchant()
        .unwrap();
    let dynamic: Arc<dyn Provider> = Arc::new(client.clone());
    let job = JobRef::new(ProviderId::CardSync, JobKind::Batch, "b1");
    let query = ResultsQuery::Job(job);
    // Warm the connection pool and the runtime so that neither is counted.
    let _ = rt.block_on(client.batch_results("b1", None)).unwrap();
    let (native_peak, native) = measure(&rt, client.batch_results("b1", None));
    let native = native.unwrap();
    assert_eq!(native.cards.len(), n);
    drop(native);
    let (compact_peak, compact) = measure(&rt, client.batch_results_compact("b1", None));
    let compact = compact.unwrap();
    assert_eq!(compact.len(), n);
    drop(compact);
    let (trait_peak, unified) = measure(&rt, dynamic.fetch_results(&query));
    let unified = unified.unwrap();
    assert_eq!(unified.len(), n);
    drop(unified);
    // One at a time: the peak while fetching and going through every update (each dropped
    // once seen, as a caller applying them does).
    let (iter_peak, seen) = measure(&rt, async {
        let updates = dynamic.fetch_results_iter(&query).await.unwrap();
        updates
            .map(|u| usize::from(u.card_id.is_some()))
            .sum::<usize>()
    });
    assert_eq!(seen, n);
    println!("results body: {n} cards, {size} bytes");
    println!(
        "native batch_results: peak {native_peak} bytes above baseline = {:.2} x body",
        native_peak as f64 / size as f64
    );
    println!(
        "native batch_results_compact: peak {compact_peak} bytes above baseline = {:.2} x body",
        compact_peak as f64 / size as f64
    );
    println!(
        "trait fetch_results:  peak {trait_peak} bytes above baseline = {:.2} x body",
        trait_peak as f64 / size as f64
    );
    println!(
        "trait fetch_results_iter (every update seen, one at a time): peak {iter_peak} bytes above baseline = {:.2} x body",
        iter_peak as f64 / size as f64
    );

    paired_times(&rt, addr, dynamic.as_ref(), &query, n);
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PlainEnvelope {
    status: String,
    message: Option<String>,
    data: Option<PlainResults>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PlainResults {
    batch_id: Option<String>,
    status: Option<String>,
    cards: Vec<PlainCard>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PlainCard {
    id: String,
    se_number: Option<String>,
    card: Option<String>,
    exp: Option<String>,
    status: String,
}

/// Paired rounds: each times ten fetches by the hand-written client and ten by the crate,
/// in alternating order.
fn paired_times(
    rt: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    provider: &dyn Provider,
    query: &ResultsQuery,
    n: usize,
) {
    let plain = reqwest::Client::new();
    let url = format!("http://{addr}/v2/batch/results?batch_id=b1");
    let hand = || {
        rt.block_on(async {
            let body = plain
                .get(&url)
                .header("Authorization", "api_bench_key")
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let e: PlainEnvelope = serde_json::from_slice(&body).unwrap();
            assert_eq!(e.data.unwrap().cards.len(), n);
        })
    };
    let one_at_a_time = || {
        rt.block_on(async {
            let updates = provider.fetch_results_iter(query).await.unwrap();
            let seen: usize = updates.map(|u| usize::from(u.card_id.is_some())).sum();
            assert_eq!(seen, n);
        })
    };
    let owned = || {
        rt.block_on(async {
            assert_eq!(provider.fetch_results(query).await.unwrap().len(), n);
        })
    };
    hand();
    for (name, crate_side) in [
        (
            "through Arc<dyn Provider>, one at a time (fetch_results_iter)",
            &one_at_a_time as &dyn Fn(),
        ),
        (
            "through Arc<dyn Provider>, owned (fetch_results)",
            &owned as &dyn Fn(),
        ),
    ] {
        let found = paired::ratios(
            21,
            || paired::seconds(10, &hand),
            || paired::seconds(10, crate_side),
        );
        println!("fetch and decode {n} cards, {name} / hand-written: {found}");
    }
}
