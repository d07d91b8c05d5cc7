//! Per-call overhead: 2,000-call runs of an HMAC-signed PayConex `GET …/updates/{updateId}`
//! (10 updates in the answer) against one loopback server, by
//!
//! - the crate's native client (`PayConexClient::updates`),
//! - the crate through `Arc<dyn Provider>` (`fetch_results` of the update event, mapped to
//!   unified `CardUpdate`s),
//! - a hand-written client: plain `reqwest` + `hmac` + `sha2` + `serde_json` into plain
//!   structs, computing the same signature (fresh nonce, timestamp, body hash) per request.
//!
//! Criterion measures each (per call, averaged over 2,000-call runs), then the bench prints the
//! ratios crate / hand-written of this run's means. `cargo bench --bench per_call`.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use account_updater::SecretString;
use account_updater::providers::payconex::{Credentials, PayConexClient};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{
    ids::{JobKind, ProviderId, ResultsQuery},
    provider::Provider,
};
#[path = "support/paired.rs"]
mod paired;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const ACCOUNT: &str = "120615523104";
const KEY_ID: &str = "api_0c169931aa624727a6d7202ab1e9d320";
const SECRET: &str = "6bf6b48e1794489598bbef89aab69948";
const UPDATE_ID: &str = "aupres_7d7366c9b6564b9abff22829c3b9ce66";

/// Ten documented updates (the seed's shape).
fn body() -> Vec<u8> {
    let one = |i: usize| {
        format!(
            r#"{{"id":"auru_{i:032}","oldExpiry":"1230","newExpiry":"1235","oldToken":"1234567891{i:02}","newToken":"1234567892{i:02}","updateId":"{UPDATE_ID}","updatedAt":"2022-10-11T03:06:47.488Z","status":"updated_card","recurringSchedules":[0],"accountUpdaterScheduleRecordId":"cssr_{i:032}","accountUpdaterScheduleId":"css_085a06dc9bbb408fa16c2e9d433abf1e","format":"payconex"}}"#
        )
    };
    format!("[{}]", (0..10).map(one).collect::<Vec<_>>().join(",")).into_bytes()
}

/// Serves `body` to every request (keep-alive) from plain threads.
fn serve(body: Vec<u8>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let response = Arc::new([head.as_bytes(), &body].concat());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let response = response.clone();
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut buf = [0u8; 16 * 1024];
                let mut seen = Vec::new();
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream.write_all(&response).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// The hand-written baseline: what a developer writes with reqwest and the RustCrypto crates.
struct HandWritten {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct PlainUpdate {
    id: Option<String>,
    old_expiry: Option<String>,
    new_expiry: Option<String>,
    old_token: Option<String>,
    new_token: Option<String>,
    update_id: Option<String>,
    updated_at: Option<String>,
    status: Option<String>,
    recurring_schedules: Option<Vec<i64>>,
    account_updater_schedule_record_id: Option<String>,
    account_updater_schedule_id: Option<String>,
    format: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

impl HandWritten {
    async fn updates(&self) -> Vec<PlainUpdate> {
        let path = format!("/api/v4/accounts/{ACCOUNT}/account-updater/updates/{UPDATE_ID}");
        let mut nonce = [0u8; 32];
        rand::rng().fill_bytes(&mut nonce);
        let nonce = hex(&nonce);
        let ts = chrono::Utc::now().timestamp();
        let canonical = format!("GET {path}\n{nonce}\n{ts}\n\n{}", hex(&Sha256::digest(b"")));
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(canonical.as_bytes());
        let signature = hex(&mac.finalize().into_bytes());
        let auth = format!(
            r#"Hmac id="{KEY_ID}", nonce="{nonce}", timestamp="{ts}", response="{signature}""#
        );
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", auth)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let bytes = response.bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

struct Subjects {
    runtime: tokio::runtime::Runtime,
    native: PayConexClient,
    dynamic: Arc<dyn Provider>,
    hand: HandWritten,
    event: ResultsQuery,
}

fn subjects() -> Subjects {
    let addr = serve(body());
    let base = format!("http://{addr}");
    let native = PayConexClient::builder(
        ACCOUNT,
        Credentials::new(KEY_ID, SecretString::from(SECRET)),
    )
    .base_url(url::Url::parse(&base).unwrap())
    .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
    .build()
    .unwrap();
    Subjects {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        dynamic: Arc::new(native.clone()),
        native,
        hand: HandWritten {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base,
        },
        event: ResultsQuery::Event {
            provider: ProviderId::PayConex,
            kind: JobKind::Subscription,
            event_id: UPDATE_ID.into(),
            job_id: None,
        },
    }
}

const CALLS: usize = 2_000;

fn run(s: &Subjects, which: usize) -> Duration {
    s.runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..CALLS {
            match which {
                0 => assert_eq!(s.hand.updates().await.len(), 10),
                1 => assert_eq!(s.native.updates(UPDATE_ID).await.unwrap().len(), 10),
                _ => assert_eq!(s.dynamic.fetch_results(&s.event).await.unwrap().len(), 10),
            }
        }
        started.elapsed()
    })
}

fn per_call(c: &mut Criterion) {
    let s = subjects();
    let mut group = c.benchmark_group("signed_get_10_updates");
    group.sample_size(20);
    for (which, name) in [(0, "hand_written"), (1, "crate_native"), (2, "crate_trait")] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&s, which) / CALLS as u32)
                    .sum::<Duration>()
            })
        });
    }
    group.finish();

    // The ratios of criterion's mean estimates from this same run.
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mean = |name: &str| -> Option<f64> {
        let path = format!("{dir}/criterion/signed_get_10_updates/{name}/new/estimates.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        v["mean"]["point_estimate"].as_f64()
    };
    if let (Some(h), Some(n), Some(d)) = (
        mean("hand_written"),
        mean("crate_native"),
        mean("crate_trait"),
    ) {
        println!(
            "per call (criterion means, this run): hand-written {:.1} µs, crate native {:.1} µs ({:.3} x), crate through Arc<dyn Provider> {:.1} µs ({:.3} x)",
            h / 1e3,
            n / 1e3,
            n / h,
            d / 1e3,
            d / h
        );
    }
}

/// The same calls again, paired call by call: each round makes 400 pairs of calls, one by the
/// hand-written client and one by the crate (native, then through the trait), the hand-written
/// one first in every other pair, and sums each side's time; the median of 41 rounds' ratios
/// is printed. Criterion times all of one side before the other, and even rounds of 200 calls
/// a side carry a small machine's drift (their quartiles spanned 0.95-1.15 x); two calls in a
/// row share their moment. All calls of a round run in one `block_on`, so no runtime entry is
/// timed on either side.
fn paired(_: &mut Criterion) {
    let s = subjects();
    let call_pairs = |which: usize| {
        s.runtime.block_on(async {
            let (mut hand, mut crate_side) = (0.0f64, 0.0f64);
            for pair in 0..400 {
                for hand_turn in [pair % 2 == 0, pair % 2 == 1] {
                    let started = Instant::now();
                    if hand_turn {
                        assert_eq!(s.hand.updates().await.len(), 10);
                        hand += started.elapsed().as_secs_f64();
                    } else {
                        match which {
                            1 => assert_eq!(s.native.updates(UPDATE_ID).await.unwrap().len(), 10),
                            _ => assert_eq!(
                                s.dynamic.fetch_results(&s.event).await.unwrap().len(),
                                10
                            ),
                        }
                        crate_side += started.elapsed().as_secs_f64();
                    }
                }
            }
            crate_side / hand
        })
    };
    call_pairs(1);
    for (which, name) in [(1, "native"), (2, "through Arc<dyn Provider>")] {
        let found = paired::quartiles((0..41).map(|_| call_pairs(which)).collect());
        println!("per call, paired call by call, crate {name} / hand-written: {found}");
    }
}

criterion_group!(benches, per_call, paired);
criterion_main!(benches);
