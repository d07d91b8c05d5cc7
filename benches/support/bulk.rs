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

/// One generated card, as a caller's own records hold it: plain strings.
pub struct RawCard {
    pub id: String,
    pub pan: String,
    pub month: u32,
    pub year: u32,
    pub se: Option<&'static str>,
}

fn with_check_digit(mut body: String) -> String {
    let digit = account_updater::card::luhn_check_digit(&body).expect("a body of digits");
    body.push(char::from(digit));
    body
}

/// Card `i`: 1 in 20 is Amex under one of two SE numbers; the rest Visa / Mastercard / Discover.
pub fn raw_card(i: usize) -> RawCard {
    let (pan, se) = if i % 20 == 0 {
        let se = if i % 40 == 0 {
            "1111111111"
        } else {
            "2222222222"
        };
        (
            with_check_digit(format!("37{:012}", i % 1_000_000_000_000)),
            Some(se),
        )
    } else {
        let prefix = ["4", "51", "6011"][i % 3];
        let body = format!("{prefix}{:0width$}", i, width = 15 - prefix.len());
        (with_check_digit(body), None)
    };
    RawCard {
        id: format!("c{i}"),
        pan,
        month: 1 + (i % 12) as u32,
        year: 2030,
        se,
    }
}

/// The crate's card for a raw one (the card number is validated here: Luhn, brand, length).
pub fn crate_card(raw: RawCard) -> CardToUpdate {
    let exp = Expiry::new(raw.month, raw.year).unwrap();
    let pan = CardNumber::try_from(raw.pan).unwrap();
    let card = CardToUpdate::pan(raw.id, pan, exp);
    match raw.se {
        Some(se) => card.with_amex_se_number(se),
        None => card,
    }
}

#[derive(Serialize)]
struct WireCard<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    se_number: Option<&'a str>,
    id: &'a str,
    card: &'a str,
    exp: String,
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
                card: &c.pan,
                exp: format!("{:02}/{:02}", c.month, c.year % 100),
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

/// What a developer would write by hand with reqwest and serde_json: the same generator,
/// batches of 10,000 in input order, Amex per SE number, 4 requests in flight, chunks built
/// as slots free up. No validation. Returns the number of cards sent.
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
