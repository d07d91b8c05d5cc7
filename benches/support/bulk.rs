//! Shared by `benches/bulk_submit.rs` and `examples/cardsync_bulk.rs`: a trivially cheap
//! loopback CardSync endpoint, one card generator, and the hand-written baselines (plain
//! reqwest + serde_json in Rust, `requests` in Python) that do the same work as the crate.
//!
//! The server only reads each body and answers the documented success envelope, so the time
//! measured is the client's: building cards, validating, serialising, sending.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use account_updater::provider::CardToUpdate;
use account_updater::{CardNumber, Expiry};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

/// Cards per request (CardSync's documented maximum) and requests in flight, for both sides.
pub const CHUNK: usize = 10_000;
pub const IN_FLIGHT: usize = 4;
pub const KEY: &str = "bench-merchant-key";

/// What the cheap server saw.
#[derive(Default)]
pub struct Seen {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
}

/// Starts the cheap server on 127.0.0.1; returns its base URL.
pub async fn cheap_server() -> (url::Url, Arc<Seen>) {
    use axum::body::Bytes;
    use axum::routing::post;
    let seen = Arc::new(Seen::default());
    let counter = seen.clone();
    let answer = move |body: Bytes| {
        let counter = counter.clone();
        async move {
            let n = counter.requests.fetch_add(1, Ordering::Relaxed);
            counter
                .bytes
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            (
                [("content-type", "application/json")],
                format!(r#"{{"status":"success","data":{{"batch_id":"b{n}"}}}}"#),
            )
        }
    };
    let app = axum::Router::new()
        .route("/v2/batch", post(answer.clone()))
        .route("/v2/subscribe", post(answer))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}").parse().unwrap(), seen)
}

/// The card numbers every generated card carries, as strings already in memory (a caller's
/// records hold them so): a Visa, a Mastercard and a Discover number, and an Amex one.
/// Generating a fresh number with its check digit per card would cost more than the work
/// measured and hide the crate's own per-card cost in the ratio (issue 25); a fixed set keeps
/// the generator out of the comparison while the crate still parses and checks every card.
pub const PANS: [&str; 3] = ["4111111111111111", "5555555555554444", "6011111111111117"];
/// The Amex number (1 card in 20), under one of two SE numbers.
pub const AMEX_PAN: &str = "378282246310005";
/// Every card's expiry, as the wire carries it (`MM/YY`) and as the crate is given it.
pub const EXP: &str = "12/30";
const EXP_MONTH: u32 = 12;
const EXP_YEAR: u32 = 2030;

/// One generated card, as a caller's own records hold it: plain strings. Only the id is
/// made per card (`format!`, on both sides alike).
pub struct RawCard {
    pub id: String,
    pub pan: &'static str,
    pub se: Option<&'static str>,
}

/// Card `i`: 1 in 20 is Amex under one of two SE numbers; the rest Visa / Mastercard /
/// Discover in turn.
pub fn raw_card(i: usize) -> RawCard {
    let (pan, se) = if i % 20 == 0 {
        let se = if i % 40 == 0 {
            "1111111111"
        } else {
            "2222222222"
        };
        (AMEX_PAN, Some(se))
    } else {
        (PANS[i % 3], None)
    };
    RawCard {
        id: format!("c{i}"),
        pan,
        se,
    }
}

/// The crate's card for a raw one. The card number is parsed and checked here (Luhn, brand,
/// length): the crate's own work, inside the measured time.
pub fn crate_card(raw: RawCard) -> CardToUpdate {
    let exp = Expiry::new(EXP_MONTH, EXP_YEAR).unwrap();
    let pan = CardNumber::parse(raw.pan).unwrap();
    let card = CardToUpdate::pan(raw.id, pan, exp);
    match raw.se {
        Some(se) => card.with_amex_se_number(se),
        None => card,
    }
}

/// The generator alone: builds `n` raw cards and drops them. Both sides pay exactly this
/// inside their measured time; it is printed beside the ratios.
pub fn generate_only(n: usize) -> usize {
    (0..n)
        .map(raw_card)
        .map(|c| std::hint::black_box(c).id.len())
        .sum()
}

#[derive(Serialize)]
struct WireCard<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    se_number: Option<&'a str>,
    id: &'a str,
    card: &'a str,
    exp: &'a str,
}

#[derive(Serialize)]
struct WireBody<'a> {
    cards: Vec<WireCard<'a>>,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
}

async fn post(client: &reqwest::Client, url: &str, cards: Vec<RawCard>) -> usize {
    let body = WireBody {
        cards: cards
            .iter()
            .map(|c| WireCard {
                se_number: c.se,
                id: &c.id,
                card: c.pan,
                exp: EXP,
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&body).unwrap();
    let answer: Answer = client
        .post(url)
        .header("authorization", KEY)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer.status, "success");
    cards.len()
}

/// Groups cards lazily: a batch of 10,000 in input order, Amex per SE number.
struct Chunker<I> {
    cards: I,
    batch: Vec<RawCard>,
    amex: Vec<(&'static str, Vec<RawCard>)>,
}

impl<I: Iterator<Item = RawCard>> Iterator for Chunker<I> {
    /// (is a subscribe request, cards)
    type Item = (bool, Vec<RawCard>);

    fn next(&mut self) -> Option<Self::Item> {
        for card in self.cards.by_ref() {
            match card.se {
                None => {
                    self.batch.push(card);
                    if self.batch.len() == CHUNK {
                        return Some((false, std::mem::take(&mut self.batch)));
                    }
                }
                Some(se) => {
                    let i = match self.amex.iter().position(|(s, _)| *s == se) {
                        Some(i) => i,
                        None => {
                            self.amex.push((se, Vec::new()));
                            self.amex.len() - 1
                        }
                    };
                    self.amex[i].1.push(card);
                    if self.amex[i].1.len() == CHUNK {
                        return Some((true, std::mem::take(&mut self.amex[i].1)));
                    }
                }
            }
        }
        if !self.batch.is_empty() {
            return Some((false, std::mem::take(&mut self.batch)));
        }
        self.amex.pop().map(|(_, cards)| (true, cards))
    }
}

/// The leanest honest client a developer would write by hand with reqwest and serde_json:
/// each chunk's cards built as the chunk starts from the strings in memory (the same
/// generator), borrowed into the wire structs, batches of 10,000 in input order, Amex per SE
/// number, 4 requests in flight. No validation, no duplicate check. Returns the number of cards
/// sent.
pub async fn hand_written(client: &reqwest::Client, base: &url::Url, n: usize) -> usize {
    let batch_url = format!("{base}v2/batch");
    let subscribe_url = format!("{base}v2/subscribe");
    let chunks = Chunker {
        cards: (0..n).map(raw_card),
        batch: Vec::with_capacity(CHUNK),
        amex: Vec::new(),
    };
    let mut results = futures::stream::iter(chunks)
        .map(|(subscribe, cards)| {
            let url = if subscribe {
                &subscribe_url
            } else {
                &batch_url
            };
            post(client, url, cards)
        })
        .buffer_unordered(IN_FLIGHT);
    let mut sent = 0;
    while let Some(n) = results.next().await {
        sent += n;
    }
    sent
}
