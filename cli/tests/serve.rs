//! `account-updater serve` as a real process against the three emulators that send webhooks:
//! every result stored once and applied once (updates file and apply command), a redelivered
//! webhook applied zero more times, a forged Acquired webhook refused and counted, the process
//! killed with SIGKILL in the middle of a delivery and restarted losing nothing and applying
//! nothing twice, `/metrics` scraped and parsed, SIGTERM exiting 0.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use account_updater::provider::{Provider, WebhookRegistration};
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::providers::payconex::PayConexClient;
use account_updater::{CardNumber, Expiry, ProviderId};
use account_updater_emulator::cardsync::Completion;
use account_updater_emulator::{Fault, WebhookSink};
use account_updater_journal::Journal;
use common::{Providers, bin, run, temp_dir};

/// A running `serve` and the address it listens on.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(providers: &Providers, config: &Path, journal: &Path, log: &Path) -> Self {
        let mut cmd = bin();
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--journal")
            .arg(journal)
            .args(["--log-format", "json"])
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            );
        providers.env(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next()
            .expect("serve prints where it listens")
            .unwrap();
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        // Keep reading so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        Serve { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn metrics(&self) -> HashMap<String, f64> {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        parse_metrics(&text)
    }
}

/// Prometheus text format: `name{labels} value` per sample, comments skipped.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("a sample line");
            (key.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn metric(m: &HashMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

/// Waits (at most a minute: a guard against hanging, not a performance bound) until `check`
/// holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Serve {
    /// Waits until the poller and the sinks have each made two whole passes after now: what
    /// they would do with the journal as it stands is done.
    async fn settle(&self) {
        let m = self.metrics().await;
        let (polls, applies) = (
            metric(&m, "account_updater_poll_passes_total"),
            metric(&m, "account_updater_apply_passes_total"),
        );
        until("two more poll and apply passes", || async {
            let m = self.metrics().await;
            metric(&m, "account_updater_poll_passes_total") >= polls + 2.0
                && metric(&m, "account_updater_apply_passes_total") >= applies + 2.0
        })
        .await;
    }
}

/// The result ids in the updates file (header skipped).
fn file_ids(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

/// The JSON lines the apply command received.
fn command_lines(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// PayConex tokens to its subscriptions, card numbers to CardSync batches.
const RULES: &str = r#"
[[rule]]
name = "payconex-tokens"
provider = "payconex"
flow = "subscribe"
token = true

[[rule]]
name = "cards"
provider = "cardsync"
card_number = true
"#;

fn config(dir: &Path, updates: &Path, applied: &Path) -> PathBuf {
    let path = dir.join("updater.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[rule]]
name = "acquired-tokens"
provider = "acquired"
token = true

{RULES}
[serve]
listen = "127.0.0.1:0"
updates = "{updates}"
apply_command = ["/bin/sh", "-c", "cat >> '{applied}'"]
apply_every = "100ms"

[serve.poll]
cardsync = "1h"
payconex = "200ms"
"#,
            updates = updates.display(),
            applied = applied.display(),
            RULES = RULES,
        ),
    )
    .unwrap();
    path
}

fn submit(
    providers: &Providers,
    config: &Path,
    journal: &Path,
    run_id: &str,
    input: &Path,
    rows: &[String],
) {
    let mut text = String::from("id,card_number,expiry,token,token_provider\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(input, text).unwrap();
    let mut cmd = bin();
    cmd.args(["run", "--run-id", run_id, "--route"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .arg("--journal")
        .arg(journal)
        .args(["--wait", "0s", "--no-progress"]);
    providers.env(&mut cmd);
    let out = run(&mut cmd);
    // Everything accepted, results not waited for.
    assert!([0, 6].contains(&out.code), "{}\n{}", out.stdout, out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stores_and_applies_every_providers_results_once_across_a_sigkill() {
    let providers = Providers::start(Completion::Manual).await;
    let dir = temp_dir("serve");
    let updates = dir.join("updates.csv");
    let applied = dir.join("applied.jsonl");
    let config = config(&dir, &updates, &applied);
    let journal_path = dir.join("journal.db");
    let log = dir.join("serve.log");

    let serve = Serve::start(&providers, &config, &journal_path, &log);
    let health = reqwest::get(serve.url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);

    // The providers deliver to the collector: CardSync and PayConex through their own
    // webhook registration; Acquired's webhooks come through this test, which passes each
    // on (twice: a redelivery) and forges one.
    let cardsync_client = CardSyncClient::builder(providers.cardsync_key.clone())
        .base_url(providers.cardsync.base_url())
        .build_merchant()
        .unwrap();
    cardsync_client
        .register_webhook(WebhookRegistration::new(
            serve.url("/webhooks/cardsync").parse().unwrap(),
        ))
        .await
        .unwrap();
    let payconex_client = PayConexClient::builder("120615523104", providers.payconex.credentials())
        .base_url(providers.payconex.base_url())
        .build()
        .unwrap();
    payconex_client
        .register_webhook(WebhookRegistration::new(
            serve.url("/webhooks/payconex").parse().unwrap(),
        ))
        .await
        .unwrap();
    let acquired_hooks = WebhookSink::start().await.unwrap();
    providers.acquired.set_webhook_url(&acquired_hooks.url());

    // Run "december": CardSync sandbox cards, PayConex tokens, Acquired tokens (whose results
    // are held back until the run is journaled, as an Acquired answer can take minutes).
    let exp = Expiry::new(12, 2030).unwrap();
    let mut tokens = Vec::new();
    for pan in ["4457010000000009", "4457000900000001"] {
        let token = providers
            .acquired
            .create_token(&CardNumber::parse(pan).unwrap(), exp);
        assert!(providers.acquired.hold_results(&token));
        tokens.push(token);
    }
    let december: Vec<String> = [
        "d-updated,4457010000000009,12/30,,".to_owned(),
        "d-expiry,4457000300000007,12/30,,".to_owned(),
        "d-closed,4457000900000001,12/30,,".to_owned(),
        "d-valid,4100200300011001,12/30,,".to_owned(),
        "d-pcx1,,,100000000011,payconex".to_owned(),
        "d-pcx2,,,100000000022,payconex".to_owned(),
        "d-pcx3,,,100000000036,payconex".to_owned(),
    ]
    .into_iter()
    .chain(
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| format!("d-acq{i},,,{t},acquired")),
    )
    .collect();
    let input = dir.join("december.csv");
    tokio::task::block_in_place(|| {
        submit(
            &providers,
            &config,
            &journal_path,
            "december",
            &input,
            &december,
        )
    });
    // Run "january": three more CardSync cards, in a batch of their own.
    let january = vec![
        "j-updated,5194560012341234,12/30,,".to_owned(),
        "j-expiry,5112010000000003,12/30,,".to_owned(),
        "j-nomatch,5112000200000002,12/30,,".to_owned(),
    ];
    let input_b = dir.join("january.csv");
    tokio::task::block_in_place(|| {
        submit(
            &providers,
            &config,
            &journal_path,
            "january",
            &input_b,
            &january,
        )
    });

    let journal = Journal::open_sqlite(&journal_path).await.unwrap();
    let job_of = |run: &'static str, provider: ProviderId| {
        let journal = journal.clone();
        async move {
            journal
                .accepted_jobs(run)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|j| j.job)
                .find(|j| j.provider == provider)
                .unwrap()
                .id
        }
    };
    let december_batch = job_of("december", ProviderId::CardSync).await;
    let january_batch = job_of("january", ProviderId::CardSync).await;
    let schedule = job_of("december", ProviderId::PayConex).await;
    // Both batches seen (and asked about once) by the poller before anything completes.
    until("both CardSync batches pending", || async {
        let m = serve.metrics().await;
        metric(&m, r#"account_updater_jobs_pending{provider="cardsync"}"#) == 2.0
            && metric(&m, r#"account_updater_polls_total{provider="cardsync"}"#) >= 2.0
            // Acquired's inquiries are pending too, though only a webhook answers them.
            && metric(&m, r#"account_updater_jobs_pending{provider="acquired"}"#) == 2.0
    })
    .await;

    // December's results: CardSync's batch completes (webhook), PayConex's schedule runs
    // (webhook), Acquired answers (webhooks through this test).
    providers
        .cardsync
        .complete_batch(&december_batch)
        .await
        .unwrap();
    let run = providers.payconex.run_schedule(&schedule).await.unwrap();
    assert_eq!(run.updates, 3);
    assert_eq!(providers.acquired.release_results().await, 2);
    let mut acquired_bodies = Vec::new();
    for _ in 0..2 {
        let hook = acquired_hooks
            .next(Duration::from_secs(30))
            .await
            .expect("an Acquired webhook");
        let body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
        let first =
            account_updater_emulator::deliver_webhook(&serve.url("/webhooks/acquired"), &body)
                .await;
        assert_eq!(first, Some(200));
        acquired_bodies.push(body);
    }
    let december_results = 4 + 3 + 2;
    until("december's results applied", || async {
        file_ids(&updates).len() == december_results
            && command_lines(&applied).len() == december_results
    })
    .await;

    // Acquired retries a webhook it thinks failed: each is delivered again, applied zero
    // more times.
    for body in &acquired_bodies {
        let again =
            account_updater_emulator::deliver_webhook(&serve.url("/webhooks/acquired"), body).await;
        assert_eq!(again, Some(200));
    }
    // A forged one (a signed field changed, the hash kept) is refused and counted.
    let mut forged = acquired_bodies[0].clone();
    forged["id"] = serde_json::json!("00000000-0000-0000-0000-000000000000");
    let refused =
        account_updater_emulator::deliver_webhook(&serve.url("/webhooks/acquired"), &forged).await;
    assert_eq!(refused, Some(400));
    // A result for a token no run of the journal sent (or whose run has not journaled it
    // yet): Acquired only announces by webhook, so it is answered 503 to be delivered again.
    let acquired_client = account_updater::providers::acquired::AcquiredClient::builder(
        providers.acquired.credentials(),
    )
    .base_url(providers.acquired.base_url())
    .build()
    .unwrap();
    let stranger = providers
        .acquired
        .create_token(&CardNumber::parse("4100200300011001").unwrap(), exp);
    acquired_client
        .submit(vec![account_updater::provider::CardToUpdate::token(
            "elsewhere",
            ProviderId::Acquired,
            stranger,
        )])
        .await
        .unwrap();
    let hook = acquired_hooks
        .next(Duration::from_secs(30))
        .await
        .expect("the stranger's webhook");
    let body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(
        account_updater_emulator::deliver_webhook(&serve.url("/webhooks/acquired"), &body).await,
        Some(503)
    );
    // A webhook on a path no provider has is refused and counted.
    let unknown =
        account_updater_emulator::deliver_webhook(&serve.url("/webhooks/stripe"), &forged).await;
    assert_eq!(unknown, Some(404));
    // The redeliveries are through the sinks, and the gauges are fresh.
    serve.settle().await;
    assert_eq!(file_ids(&updates).len(), december_results);
    assert_eq!(command_lines(&applied).len(), december_results);

    let m = serve.metrics().await;
    let expect = [
        (
            r#"account_updater_results_total{outcome="new_account_number",provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="new_expiry",provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="closed",provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="valid",provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="new_account_number",provider="payconex"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="new_expiry",provider="payconex"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="no_change",provider="payconex"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="new_account_number",provider="acquired"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="closed",provider="acquired"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_received_total{provider="acquired"}"#,
            5.0,
        ),
        (
            r#"account_updater_results_unmatched_total{provider="acquired"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_unanswered_total{provider="acquired"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_duplicate_total{provider="acquired"}"#,
            2.0,
        ),
        (
            r#"account_updater_webhooks_refused_total{provider="acquired",reason="bad_signature"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_refused_total{provider="unknown",reason="unknown_path"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_received_total{provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_received_total{provider="payconex"}"#,
            1.0,
        ),
        (
            r#"account_updater_applied_total{sink="file"}"#,
            december_results as f64,
        ),
        (
            r#"account_updater_applied_total{sink="command"}"#,
            december_results as f64,
        ),
        (r#"account_updater_jobs_pending{provider="cardsync"}"#, 1.0),
        (r#"account_updater_jobs_pending{provider="acquired"}"#, 0.0),
        (r#"account_updater_cards_overdue{provider="cardsync"}"#, 0.0),
    ];
    for (key, value) in expect {
        assert_eq!(metric(&m, key), value, "{key}");
    }
    let stored: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("account_updater_results_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(stored, december_results as f64);

    // January's batch completes while the collector's fetch of its results hangs: the
    // collector is killed (SIGKILL) in the middle of that delivery.
    let mut serve = serve;
    let before = providers.cardsync.requests();
    providers
        .cardsync
        .inject_fault(Fault::slow(Duration::from_secs(3600)));
    let completing = {
        let emulator_batch = january_batch.clone();
        let cardsync = &providers.cardsync;
        async move { cardsync.complete_batch(&emulator_batch).await }
    };
    let (_, ()) = tokio::join!(completing, async {
        until("the collector's fetch to be in flight", || async {
            providers.cardsync.requests() > before
        })
        .await;
        serve.child.kill().unwrap();
        serve.child.wait().unwrap();
    });
    assert_eq!(file_ids(&updates).len(), december_results);

    // Restarted: polling finds January's results; nothing is applied twice.
    let serve = Serve::start(&providers, &config, &journal_path, &log);
    let all = december_results + 3;
    until("january's results applied after the restart", || async {
        file_ids(&updates).len() == all && command_lines(&applied).len() == all
    })
    .await;
    serve.settle().await;
    let ids = file_ids(&updates);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (all, all), "{ids:?}");
    let lines = command_lines(&applied);
    let unique: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["result_id"].as_str().unwrap())
        .collect();
    assert_eq!((lines.len(), unique.len()), (all, all));
    // Every result joined back to the caller's id, in the run that sent its card.
    let mut by_card: Vec<(String, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["run_id"].as_str().unwrap().to_owned(),
                l["card_id"].as_str().unwrap_or("").to_owned(),
                l["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    by_card.sort();
    let expected: Vec<(String, String, String)> = [
        ("december", "d-acq0", "new_account_number"),
        ("december", "d-acq1", "closed"),
        ("december", "d-closed", "closed"),
        ("december", "d-expiry", "new_expiry"),
        ("december", "d-pcx1", "new_account_number"),
        ("december", "d-pcx2", "new_expiry"),
        ("december", "d-pcx3", "no_change"),
        ("december", "d-updated", "new_account_number"),
        ("december", "d-valid", "valid"),
        ("january", "j-expiry", "new_expiry"),
        ("january", "j-nomatch", "no_match"),
        ("january", "j-updated", "new_account_number"),
    ]
    .into_iter()
    .map(|(r, c, o)| (r.to_owned(), c.to_owned(), o.to_owned()))
    .collect();
    assert_eq!(by_card, expected);
    // The log is one JSON object a line (`--log-format json`).
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.lines().count() > 5);
    for line in log_text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
    // No card number in clear in the sinks or the log.
    for path in [&updates, &applied, &log] {
        let text = std::fs::read_to_string(path).unwrap();
        for pan in ["4457010000000009", "4457000900000001", "5194560012341234"] {
            assert!(
                !text.contains(pan),
                "{} holds a card number",
                path.display()
            );
        }
    }

    // SIGTERM drains and exits 0.
    let mut serve = serve;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::block_in_place(|| serve.child.wait().unwrap());
    assert_eq!(exit.code(), Some(0));
}

/// What the collector refuses (too large, too many, unreadable, unknown path), each answered
/// and counted; a webhook whose results cannot be stored within `answer_within` is answered
/// 503 (not acknowledged) and its redelivery stores them; configuration mistakes stop it
/// before it listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_and_counts_and_never_acknowledges_what_it_has_not_stored() {
    let providers = Providers::start(Completion::Manual).await;
    let dir = temp_dir("serve-refuses");
    let config = dir.join("updater.toml");
    std::fs::write(
        &config,
        RULES.to_owned()
            + r#"
[serve]
listen = "127.0.0.1:0"
max_body = 2048
answer_within = "300ms"

[serve.poll]
payconex = "100ms"

[serve.rate_limit]
payconex = "1/h"
"#,
    )
    .unwrap();
    let journal_path = dir.join("journal.db");
    let log = dir.join("serve.log");
    let input = dir.join("cards.csv");
    let rows = [
        "c-updated,4457010000000009,12/30,,".to_owned(),
        "c-closed,4457000900000001,12/30,,".to_owned(),
        "p-1,,,100000000011,payconex".to_owned(),
    ];
    tokio::task::block_in_place(|| submit(&providers, &config, &journal_path, "r", &input, &rows));
    let serve = Serve::start(&providers, &config, &journal_path, &log);
    until("the batch polled once", || async {
        let m = serve.metrics().await;
        metric(&m, r#"account_updater_polls_total{provider="cardsync"}"#) >= 1.0
    })
    .await;
    // PayConex answers a schedule poll 429 with Retry-After of an hour: that job is not
    // asked again while five more passes go by.
    until("the schedule polled once", || async {
        let m = serve.metrics().await;
        metric(&m, r#"account_updater_polls_total{provider="payconex"}"#) >= 1.0
    })
    .await;
    providers.payconex.inject_fault(
        Fault::json(429, serde_json::json!({"message": "Too Many Requests"}))
            .header("Retry-After", "3600"),
    );
    until("the 429", || async {
        let m = serve.metrics().await;
        metric(
            &m,
            r#"account_updater_poll_errors_total{provider="payconex"}"#,
        ) == 1.0
    })
    .await;
    let m = serve.metrics().await;
    let polls = metric(&m, r#"account_updater_polls_total{provider="payconex"}"#);
    let passes = metric(&m, "account_updater_poll_passes_total");
    until("five more passes", || async {
        metric(&serve.metrics().await, "account_updater_poll_passes_total") >= passes + 5.0
    })
    .await;
    let m = serve.metrics().await;
    assert_eq!(
        metric(&m, r#"account_updater_polls_total{provider="payconex"}"#),
        polls
    );
    assert_eq!(
        metric(
            &m,
            r#"account_updater_poll_errors_total{provider="payconex"}"#
        ),
        1.0
    );

    let journal = Journal::open_sqlite(&journal_path).await.unwrap();
    let batch = journal
        .accepted_jobs("r")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|j| j.job)
        .find(|j| j.provider == ProviderId::CardSync)
        .unwrap()
        .id;
    // No webhook is registered at the emulator: this test posts CardSync's notification.
    let event_id = providers.cardsync.complete_batch(&batch).await.unwrap();
    let notification = serde_json::json!({
        "batch_id": batch, "id": "60d7a065-1795-4e98-88af-a8b98db9ec0c", "trigger_id": 20,
        "trigger_date": "2026-12-07T10:00:00.000000Z", "event_id": event_id, "message": "",
    });
    let cardsync_path = serve.url("/webhooks/cardsync");

    // The results fetch hangs: answered 503 once answer_within has passed, nothing stored.
    providers
        .cardsync
        .inject_fault(Fault::slow(Duration::from_secs(3600)));
    let slow = account_updater_emulator::deliver_webhook(&cardsync_path, &notification).await;
    assert_eq!(slow, Some(503));
    assert_eq!(journal.status("r").await.unwrap().results, 0);
    // Delivered again: stored, acknowledged.
    let again = account_updater_emulator::deliver_webhook(&cardsync_path, &notification).await;
    assert_eq!(again, Some(200));
    assert_eq!(journal.status("r").await.unwrap().results, 2);

    // Too large: refused before it is read.
    let big = serde_json::json!({ "padding": "x".repeat(4096) });
    assert_eq!(
        account_updater_emulator::deliver_webhook(&cardsync_path, &big).await,
        Some(413)
    );
    // Unreadable.
    assert_eq!(
        account_updater_emulator::deliver_webhook(&cardsync_path, &serde_json::json!([1, 2])).await,
        Some(400)
    );
    // PayConex's path takes one webhook an hour here: the second is refused.
    let payconex_hint = serde_json::json!({
        "event": "ACCOUNT_UPDATER_BATCH_UPDATES", "updateId": "aupres_0123", "accountId": "120615523104",
    });
    let payconex_path = serve.url("/webhooks/payconex");
    let first = account_updater_emulator::deliver_webhook(&payconex_path, &payconex_hint).await;
    assert_ne!(first, Some(429));
    let second = account_updater_emulator::deliver_webhook(&payconex_path, &payconex_hint).await;
    assert_eq!(second, Some(429));
    // A provider the file does not configure has no path.
    assert_eq!(
        account_updater_emulator::deliver_webhook(&serve.url("/webhooks/acquired"), &big).await,
        Some(404)
    );

    let m = serve.metrics().await;
    for (key, value) in [
        (
            r#"account_updater_webhooks_unanswered_total{provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_received_total{provider="cardsync"}"#,
            2.0,
        ),
        (
            r#"account_updater_webhooks_refused_total{provider="cardsync",reason="too_large"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_refused_total{provider="cardsync",reason="unreadable"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_refused_total{provider="payconex",reason="rate_limited"}"#,
            1.0,
        ),
        (
            r#"account_updater_webhooks_refused_total{provider="unknown",reason="unknown_path"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="new_account_number",provider="cardsync"}"#,
            1.0,
        ),
        (
            r#"account_updater_results_total{outcome="closed",provider="cardsync"}"#,
            1.0,
        ),
    ] {
        assert_eq!(metric(&m, key), value, "{key}");
    }
    drop(serve);

    // A provider's variables missing: named, and nothing listens.
    let mut cmd = bin();
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--journal")
        .arg(&journal_path);
    let out = tokio::task::block_in_place(|| run(&mut cmd));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("PAYCONEX_ACCOUNT_ID"), "{}", out.stderr);
    assert!(!out.stdout.contains("listening"), "{}", out.stdout);
    // A mistake in [serve]: named with the file, and nothing listens.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"cards\"\nprovider = \"cardsync\"\n\n[serve]\nlisten = \"everywhere\"\n",
    )
    .unwrap();
    let mut cmd = bin();
    cmd.arg("serve")
        .arg("--config")
        .arg(&bad)
        .arg("--journal")
        .arg(&journal_path);
    providers.env(&mut cmd);
    let out = tokio::task::block_in_place(|| run(&mut cmd));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("bad.toml: [serve] listen \"everywhere\""),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("listening"), "{}", out.stdout);
}
