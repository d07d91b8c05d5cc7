//! Peak memory of fetching and decoding one large CardSync results body, above the baseline,
//! as a multiple of the body's size: through the native client (wire types) and through
//! `Arc<dyn Provider>` (unified `CardUpdate`s).
//!
//! `cargo bench --bench decode_memory [-- CARDS]` (default 10,000 cards). The server is a plain
//! thread writing a prebuilt response from one buffer, so it allocates nothing while measured;
//! a counting global allocator records the peak of live bytes during each call.

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

/// Serves `body` to every request from one thread, with no allocation per request.
fn serve(body: Vec<u8>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let response = [head.as_bytes(), &body].concat();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
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
}
