//! A fifth updater written outside the library: `cargo run --example custom_provider`.
//!
//! `acme/` implements a fictional vendor ("Acme") against the crate's public provider kit
//! only (an open provider id, endpoints as constants with checked path segments, the shared
//! transport with retries and redaction, the unified errors, the code table and the new-number
//! check) and an emulator of it on the `account-updater-emulator` harness. This program drives
//! it through `Arc<dyn Provider>` exactly as the built-in providers are driven; the
//! repository's conformance suite runs the same provider through every cross-provider check.
//! `RUST_LOG=debug` shows every request (redacted).

mod acme;

use std::sync::Arc;

use account_updater::transport::TransportConfig;
use account_updater::{CardNumber, Expiry, SecretString};
use account_updater::{
    ids::ResultsQuery,
    provider::{CardToUpdate, Provider},
};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run().await {
        eprintln!("custom_provider example failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = acme::AcmeEmulator::start().await?;
    let provider: Arc<dyn Provider> = Arc::new(acme::AcmeClient::new(
        emulator.base_url(),
        SecretString::from(acme::EMULATOR_KEY.to_owned()),
        TransportConfig::default(),
    )?);
    println!(
        "{} on its emulator at {}",
        provider.id(),
        emulator.base_url()
    );
    let cards = [
        ("new-number", "4457010000000009"),
        ("new-expiry", "4457000300000007"),
        ("closed", "4100200300011001"),
        ("valid", "4242424242424242"),
    ]
    .into_iter()
    .map(|(id, pan)| {
        Ok(CardToUpdate::pan(
            id,
            CardNumber::parse(pan)?,
            Expiry::new(1, 2030)?,
        ))
    })
    .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
    let receipt = provider.submit(cards).await?;
    if !receipt.is_complete() {
        return Err(format!("{} card(s) failed", receipt.failed_cards()).into());
    }
    let job = receipt.accepted()[0].job().clone();
    let status = provider.job_status(&job).await?;
    println!("inquiry {} is {:?}", job.id, status.state);
    let mut updates = provider.fetch_results(&ResultsQuery::Job(job)).await?;
    updates.sort_by(|a, b| a.card_id.cmp(&b.card_id));
    for u in &updates {
        println!(
            "  {:<12} {:<20} {:<15} {}",
            u.card_id.as_deref().unwrap_or("-"),
            u.outcome.to_string(),
            u.action().to_string(),
            u.masked_card().unwrap_or_else(|| "-".into()),
        );
    }
    if updates.len() != 4 {
        return Err(format!("expected 4 results, got {}", updates.len()).into());
    }
    println!("Custom provider example finished: every step succeeded.");
    Ok(())
}
