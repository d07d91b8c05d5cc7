//! # account-updater-emulator
//!
//! Embedded, stateful emulators of each provider `account-updater` speaks to: PayConex,
//! CardSync, AccountVault (TabaPay) and Acquired.com.
//!
//! No vendor ships an offline sandbox, so the project carries its own: each provider's emulator
//! is an in-process HTTP server on `127.0.0.1:0` that checks what the real service checks
//! (credentials, signatures, field rules) and answers with the documented bodies. The
//! library's examples run on them when no credentials are set, and a billing platform can use
//! them in its own integration tests (as a dev-dependency).
//!
//! A crate of its own, built only on `account-updater`'s public API: its signatures, hashes and
//! encryption checks are its own reading of the vendor documents (module `signing`), never the
//! clients' code, so a signing bug in a client fails against its emulator instead of passing
//! because both sides ran the same function.
//!
//! This crate root holds the shared harness: [`EmulatorServer`] runs an `axum` router on a
//! loopback port and stops it when dropped. One feature per vendor (all on by default).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Emulator handlers answer errors as ready-made HTTP responses (`Result<_, Response>`), the
// usual axum shape; their size does not matter on this test-only path.
#![allow(clippy::result_large_err)]
// The shared helpers below serve the provider emulators; with some provider features off, some
// go unused.
#![cfg_attr(
    not(all(
        feature = "payconex",
        feature = "cardsync",
        feature = "accountvault",
        feature = "acquired"
    )),
    allow(dead_code)
)]

use std::net::SocketAddr;

use tokio::sync::oneshot;
use url::Url;

/// An in-process HTTP server on a loopback port. Stops when dropped.
#[derive(Debug)]
pub struct EmulatorServer {
    base_url: Url,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl EmulatorServer {
    /// Binds `127.0.0.1:0` and serves `router` on it in a background task of the current Tokio
    /// runtime.
    pub async fn start(router: axum::Router) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        let base_url = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        Ok(EmulatorServer {
            base_url,
            addr,
            shutdown: Some(tx),
        })
    }

    /// The server's base URL, `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EmulatorServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

mod signing;

#[cfg(feature = "accountvault")]
#[cfg_attr(docsrs, doc(cfg(feature = "accountvault")))]
pub mod accountvault;
#[cfg(feature = "acquired")]
#[cfg_attr(docsrs, doc(cfg(feature = "acquired")))]
pub mod acquired;
#[cfg(feature = "cardsync")]
#[cfg_attr(docsrs, doc(cfg(feature = "cardsync")))]
pub mod cardsync;
#[cfg(feature = "payconex")]
#[cfg_attr(docsrs, doc(cfg(feature = "payconex")))]
pub mod payconex;

/// Builder-style setters for an emulator's `#[non_exhaustive]` configuration:
/// `Config::default().field(value)`.
macro_rules! setters {
    ($ty:ident {
        $(string $s:ident,)*
        $(value $v:ident: $vt:ty,)*
    }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($s), "`.")]
                pub fn $s(mut self, value: impl Into<String>) -> Self {
                    self.$s = value.into();
                    self
                }
            )*
            $(
                #[doc = concat!("Sets `", stringify!($v), "`.")]
                pub fn $v(mut self, value: $vt) -> Self {
                    self.$v = value;
                    self
                }
            )*
        }
    };
}
#[cfg(any(
    feature = "payconex",
    feature = "cardsync",
    feature = "accountvault",
    feature = "acquired"
))]
pub(crate) use setters;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A canned answer an emulator gives to the next request instead of handling it: lets tests
/// (the crate's and yours) see how the client copes with a 429, a 503, an HTML error page or a
/// truncated body from a provider that otherwise behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (e.g. `Retry-After`).
    pub headers: Vec<(String, String)>,
    /// The body, verbatim.
    pub body: String,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// Whether this fault answers in place of the emulator, or lets the request through.
    pass: Passage,
}

/// How a queued [`Fault`] treats its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Passage {
    /// The fault's canned answer replaces the emulator's.
    Answer,
    /// The request is held this long, then handled as usual (zero: at once).
    Through(std::time::Duration),
}

impl Fault {
    /// A JSON body with the given status.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Fault {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            content_type: "application/json".into(),
            pass: Passage::Answer,
        }
    }

    /// An HTML error page, as a load balancer in front of a provider would send.
    pub fn html(status: u16) -> Self {
        Fault {
            status,
            headers: Vec::new(),
            body: format!(
                "<html><head><title>{status}</title></head><body><h1>{status} Error</h1></body></html>"
            ),
            content_type: "text/html".into(),
            pass: Passage::Answer,
        }
    }

    /// A JSON body cut off halfway.
    pub fn truncated(status: u16) -> Self {
        Fault {
            status,
            headers: Vec::new(),
            body: r#"{"status":"success","data":{"id":"#.into(),
            content_type: "application/json".into(),
            pass: Passage::Answer,
        }
    }

    /// No fault: the request is handled as usual. Queue these ahead of a fault to let that
    /// many requests through first.
    pub fn pass() -> Self {
        Fault::slow(std::time::Duration::ZERO)
    }

    /// A slow provider: the request is held for `delay`, then handled as usual. A long delay
    /// keeps a request in flight while a test kills or cancels the client.
    pub fn slow(delay: std::time::Duration) -> Self {
        Fault {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
            content_type: String::new(),
            pass: Passage::Through(delay),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The canned answer as an HTTP response (for an emulator of your own built on this
    /// harness).
    pub fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.content_type) {
            headers.insert(axum::http::header::CONTENT_TYPE, v);
        }
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                headers.insert(k, v);
            }
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, headers, self.body).into_response()
    }
}

/// Faults queued for the next requests of one emulator.
#[derive(Debug, Clone, Default)]
pub struct FaultQueue(Arc<Mutex<VecDeque<Fault>>>);

impl FaultQueue {
    /// Queues a fault for the next request.
    pub fn push(&self, fault: Fault) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(fault);
    }

    /// Takes the next queued fault.
    pub fn take(&self) -> Option<Fault> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    /// What the emulator does with its next request: the queued fault's answer, or `None` to
    /// handle it (no fault queued, or one that lets it through, after its delay). An emulator
    /// of your own calls this first in its handler.
    pub async fn answer(&self) -> Option<Response> {
        let fault = self.take()?;
        match fault.pass {
            Passage::Answer => Some(fault.into_response()),
            Passage::Through(delay) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                None
            }
        }
    }
}

/// What every provider emulator shares with its request handler: its settings, its mutable
/// state behind one lock, and the faults queued for its next requests.
pub(crate) struct Shared<C, S> {
    pub(crate) config: C,
    store: Mutex<S>,
    pub(crate) faults: FaultQueue,
}

impl<C, S> Shared<C, S> {
    pub(crate) fn new(config: C, store: S) -> Arc<Self> {
        Arc::new(Shared {
            config,
            store: Mutex::new(store),
            faults: FaultQueue::default(),
        })
    }

    /// The state. A handler that panicked does not leave it unusable for the next request.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, S> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves `handler` (for every path and method) with `shared` as its state on a new loopback
/// server.
pub(crate) async fn serve<C, S, H, T>(
    shared: &Arc<Shared<C, S>>,
    handler: H,
) -> std::io::Result<EmulatorServer>
where
    C: Send + Sync + 'static,
    S: Send + 'static,
    H: axum::handler::Handler<T, Arc<Shared<C, S>>>,
    T: 'static,
{
    EmulatorServer::start(
        axum::Router::new()
            .fallback(handler)
            .with_state(shared.clone()),
    )
    .await
}

/// Sends a JSON webhook from an emulator to a receiver; returns the receiver's status, or `None`
/// when it could not be reached.
pub async fn deliver_webhook(url: &str, body: &serde_json::Value) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .ok()?;
    let response = client.post(url).json(body).send().await.ok()?;
    Some(response.status().as_u16())
}

/// A random lower-case hex string of `len` characters, for emulator ids.
pub(crate) fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("digit < 16"))
        .collect()
}

/// Now, as RFC 3339 with microseconds and `Z` (the providers' timestamp style).
pub(crate) fn now_micros() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A random version-4 UUID in its usual text form.
pub(crate) fn random_uuid() -> String {
    let h = random_hex(32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..]
    )
}

/// The Luhn check digit completing `body`.
pub(crate) fn luhn_complete(body: &str) -> String {
    account_updater::card::with_check_digit(body).expect("a body of digits")
}

/// The sandbox test cards of CardSync (its API documentation's sandbox test-card tables,
/// https://api.cardsync.io/v1/index.html, current and previous sets), whose
/// updater PayConex resells: card number → forced status.
pub(crate) fn sandbox_card_status(pan: &str) -> Option<&'static str> {
    Some(match pan {
        "4457010000000009" | "5194560012341234" | "6011010000000003" | "4012000000000016"
        | "5442980000000016" | "6011000000000012" | "342132335566772" => "updated_card",
        "4457000300000007" | "5112010000000003" | "6011010140000004" | "4012000000000024"
        | "5442980000000024" | "6011000000000020" | "376655111122997" => "updated_expiry",
        "4457010200000247" | "5112000200000002" | "4012000000000032" | "5442980000000032"
        | "6011000000000038" => "no_match",
        "4100200300011001" | "5112002200000008" | "6500102012345662" | "4012000000000040"
        | "5442980000000040" | "6011000000000046" => "valid",
        "4457010140000141" | "6011102087026223" | "4012000000000057" | "5442980000000057"
        | "6011000000000053" => "contact",
        "4457000900000001" | "5435101234510196" | "6011010100000002" | "4012000000000065"
        | "5442980000000065" | "6011000000000061" | "349900006577234" => "closed",
        _ => return None,
    })
}

/// The card number an `updated_card` test card is replaced with. Worldpay's published sample
/// maps Mastercard `5194560012341234` to a Visa (the brand may change); other cards keep their
/// BIN and get new middle digits and a new check digit.
pub(crate) fn replacement_pan(pan: &str) -> String {
    if pan == "5194560012341234" {
        return "4457010000000009".into();
    }
    let body = &pan[..pan.len() - 1];
    let mut digits: Vec<u8> = body.bytes().collect();
    let i = digits.len() - 3;
    digits[i] = b'0' + (digits[i] - b'0' + 1) % 10;
    luhn_complete(std::str::from_utf8(&digits).expect("ascii digits"))
}

/// The same number with a wrong check digit: what an emulator set to `invalid_replacements`
/// returns as a card's new number.
pub(crate) fn spoil_check_digit(pan: &str) -> String {
    let (body, last) = pan.split_at(pan.len() - 1);
    let digit = last.as_bytes()[0] - b'0';
    format!("{body}{}", (digit + 1) % 10)
}

/// A webhook as a [`WebhookSink`] received it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceivedWebhook {
    /// Request headers.
    pub headers: HeaderMap,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

/// A local webhook receiver on `127.0.0.1:0`: answers 200 to every POST and keeps what it got.
/// Examples and tests register its [`WebhookSink::url`] with a provider (or an emulator) and
/// then wait for deliveries.
#[derive(Debug)]
pub struct WebhookSink {
    server: EmulatorServer,
    rx: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<ReceivedWebhook>>,
}

impl WebhookSink {
    /// Starts a receiver.
    pub async fn start() -> std::io::Result<Self> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let router =
            axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(ReceivedWebhook {
                        headers,
                        body: body.to_vec(),
                    });
                    StatusCode::OK
                }
            });
        Ok(WebhookSink {
            server: EmulatorServer::start(router).await?,
            rx: tokio::sync::Mutex::new(rx),
        })
    }

    /// The URL to register (`http://127.0.0.1:PORT/webhook`).
    pub fn url(&self) -> Url {
        self.server.base_url().join("webhook").expect("static path")
    }

    /// Waits up to `timeout` for the next delivery.
    pub async fn next(&self, timeout: std::time::Duration) -> Option<ReceivedWebhook> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }
}
