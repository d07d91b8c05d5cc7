//! Mounting the framework-agnostic webhook entry point in a real HTTP server (`axum`).
//!
//! `POST /webhooks/{provider}` hands the headers and the exact body bytes to
//! `account_updater::webhook::receive`, which verifies (Acquired's hash) or flags (unsigned
//! PayConex / CardSync hints) and parses the event. Redeliveries are dropped by event id with a
//! `Deduplicator`, and for unsigned hints the authoritative results are fetched with the
//! provider's own credentials. Answers: 200 once handled (also for a duplicate, so the provider
//! stops retrying), 401 for a webhook that fails verification, 400 for a malformed one, 404 for an
//! unknown provider.
//!
//! ```sh
//! cargo run --example webhook_receiver            # self-test: emulators deliver, then exit
//! cargo run --example webhook_receiver -- --serve # keep serving on 127.0.0.1:8787
//! ```

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use account_updater::provider::{CardToUpdate, Provider, WebhookRegistration};
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::CardSyncPartner;
use account_updater::webhook::{self, Authenticity, Deduplicator};
use account_updater::{CardNumber, ErrorKind, Expiry, ExposeSecret, ProviderId, SecretString};
use account_updater_emulator::acquired::AcquiredEmulator;
use account_updater_emulator::cardsync::CardSyncEmulator;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::OrExit;
use tokio::sync::mpsc;

/// What the receiver needs: a provider per path segment, the deduplicator, and where handled
/// events go (a queue to your own processing).
struct Receiver {
    providers: HashMap<String, Arc<dyn Provider>>,
    dedup: Deduplicator,
    handled: mpsc::UnboundedSender<String>,
}

async fn receive(
    State(rx): State<Arc<Receiver>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(provider) = rx.providers.get(&name).cloned() else {
        return StatusCode::NOT_FOUND;
    };
    let event = match webhook::receive(provider.as_ref(), &headers, &body) {
        Ok(event) => event,
        Err(e) if e.kind() == ErrorKind::Integrity => return StatusCode::UNAUTHORIZED,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    if !rx.dedup.first_seen(&event) {
        return StatusCode::OK;
    }
    // Answer fast (Acquired wants 200 within 10 s); do the work after.
    let handled = rx.handled.clone();
    tokio::spawn(async move {
        let mut updates = event.updates.clone();
        if event.authenticity == Authenticity::Unsigned {
            if let Some(query) = event.results_query() {
                match provider.fetch_results(query).await {
                    Ok(fetched) => updates.extend(fetched),
                    Err(e) => eprintln!("fetching results for {}: {e}", event.id),
                }
            }
        }
        let _ = handled.send(format!(
            "{} {:?} {} ({:?}): {} update(s) [{}]",
            event.provider,
            event.kind,
            event.id,
            event.authenticity,
            updates.len(),
            updates
                .iter()
                .map(|u| format!("{}={}", common::shown_id(u), u.outcome))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    });
    StatusCode::OK
}

#[tokio::main]
async fn main() {
    common::init_tracing();
    let serve = std::env::args().any(|a| a == "--serve");

    // Providers (on emulators here; real clients work the same way).
    let cardsync_emu = CardSyncEmulator::start().await.or_exit("CardSync emulator");
    let partner = CardSyncPartner::builder(cardsync_emu.partner_key())
        .base_url(cardsync_emu.base_url())
        .build_partner()
        .or_exit("client");
    let created = partner
        .enroll_merchant(&common::cardsync::demo_merchant())
        .await
        .or_exit("enroll");
    let cardsync = Arc::new(
        partner
            .merchant(SecretString::from(
                created.api_key.expose_secret().to_owned(),
            ))
            .or_exit("merchant"),
    );
    let acquired_emu = AcquiredEmulator::start().await.or_exit("Acquired emulator");
    let acquired = Arc::new(
        AcquiredClient::builder(acquired_emu.credentials())
            .base_url(acquired_emu.base_url())
            .build()
            .or_exit("client"),
    );

    let (tx, mut handled) = mpsc::unbounded_channel();
    let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
    providers.insert(ProviderId::CardSync.to_string(), cardsync.clone());
    providers.insert(ProviderId::Acquired.to_string(), acquired.clone());
    let state = Arc::new(Receiver {
        providers,
        dedup: Deduplicator::default(),
        handled: tx,
    });
    let app = Router::new()
        .route("/webhooks/{provider}", post(receive))
        .with_state(state);
    let addr = if serve {
        "127.0.0.1:8787"
    } else {
        "127.0.0.1:0"
    };
    let listener = tokio::net::TcpListener::bind(addr).await.or_exit("bind");
    let base = format!("http://{}", listener.local_addr().or_exit("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    println!("webhook receiver on {base}/webhooks/{{provider}}");

    // Self-test: have the emulators deliver to the receiver.
    let url = |p: &str| url::Url::parse(&format!("{base}/webhooks/{p}")).expect("valid URL");
    cardsync
        .register_webhook(WebhookRegistration::new(url("cardsync")))
        .await
        .or_exit("register");
    acquired_emu.set_webhook_url(&url("acquired"));
    let token = acquired_emu.create_token(
        &CardNumber::parse("4457010000000009").or_exit("card"),
        Expiry::new(1, 2030).or_exit("expiry"),
    );
    let batch = vec![
        CardToUpdate::pan(
            "v1",
            CardNumber::parse("4457010000000009").or_exit("card"),
            Expiry::new(1, 2050).or_exit("exp"),
        ),
        CardToUpdate::pan(
            "v2",
            CardNumber::parse("4457000900000001").or_exit("card"),
            Expiry::new(8, 2050).or_exit("exp"),
        ),
    ];
    cardsync.submit(batch).await.or_exit("submit");
    acquired
        .submit(vec![CardToUpdate::token("t1", ProviderId::Acquired, token)])
        .await
        .or_exit("inquiry");

    // A forged Acquired webhook is refused; a malformed one too.
    let http = reqwest::Client::new();
    let forged = serde_json::json!({"id": "x", "timestamp": "20240101000000", "company_id": "133", "event": "account_updater", "hash": "00"});
    let status = http
        .post(url("acquired"))
        .json(&forged)
        .send()
        .await
        .or_exit("post")
        .status();
    println!("forged Acquired webhook -> {status}");
    let status = http
        .post(url("cardsync"))
        .body("not json")
        .send()
        .await
        .or_exit("post")
        .status();
    println!("malformed CardSync webhook -> {status}");

    let mut count = 0;
    loop {
        let wait = if serve {
            Duration::from_secs(3600)
        } else {
            Duration::from_secs(3)
        };
        match tokio::time::timeout(wait, handled.recv()).await {
            Ok(Some(line)) => {
                count += 1;
                println!("handled: {line}");
            }
            _ if serve => continue,
            _ => break,
        }
    }
    if count < 2 {
        common::fail(
            "webhook receiver",
            format!(
                "handled {count} webhook(s), expected 2 (CardSync batch, Acquired account updater)"
            ),
        );
    }
    println!("webhook receiver example finished: {count} webhook(s) handled.");
}
