//! One program, any backend: the four providers as `Arc<dyn Provider>`, driven through the
//! unified trait only.
//!
//! ```sh
//! cargo run --example quickstart
//! RUST_LOG=account_updater=debug cargo run --example quickstart   # watch every request
//! ```
//!
//! Each provider runs on its embedded emulator unless its credential variables are set (the same
//! ones as its own example: `PAYCONEX_*`, `CARDSYNC_*`, `ACCOUNTVAULT_*`, `ACQUIRED_*`), in which
//! case it runs against the real sandbox. The flow code below only calls the `Provider` trait and
//! the unified webhook entry point; what differs per provider is set-up (which cards, which
//! stored account) and, on emulators, telling the emulator to run its schedule now.
//!
//! Flows a provider lacks are skipped by reading `capabilities()`. The program prints one table
//! of unified `CardUpdate`s and a flows × providers summary, and exits non-zero if any flow
//! fails.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use account_updater::webhook::{self, Deduplicator};
use account_updater::{CardNumber, CardUpdate, Expiry, ExpiryFormat, ProviderId};
use account_updater::{
    ids::{Flow, JobKind, JobRef},
    provider::{
        AccountUpdateRequest, BoxFuture, Cadence, CardToUpdate, HolderData, NewCardData, Provider,
        SubmissionReceipt, SubscribeRequest, WebhookRegistration,
    },
};
use account_updater_emulator::WebhookSink;
use common::OrExit;

/// Emulator control: make the provider produce its results now (PayConex runs schedules on
/// its own calendar). A no-op against real sandboxes.
type Trigger = Box<dyn Fn(Vec<JobRef>) -> BoxFuture<'static, ()> + Send + Sync>;

/// Everything the generic flow code needs about one backend.
struct Backend {
    provider: Arc<dyn Provider>,
    mode: &'static str,
    subscribe: Vec<CardToUpdate>,
    batch: Vec<CardToUpdate>,
    account_update: Option<AccountUpdateRequest>,
    sink: WebhookSink,
    /// Where the provider can reach the sink (`None` on a real sandbox without a public URL).
    webhook_url: Option<url::Url>,
    trigger: Option<Trigger>,
    /// Keeps emulators alive.
    _guard: Box<dyn std::any::Any + Send>,
}

fn card(id: &str, pan: &str, exp: &str) -> CardToUpdate {
    CardToUpdate::pan(
        id,
        CardNumber::parse(pan).or_exit("card number"),
        Expiry::parse(exp, ExpiryFormat::MmSlashYy).or_exit("expiry"),
    )
}

async fn payconex() -> Backend {
    let (client, emulator) = common::payconex::connect().await;
    let sink = WebhookSink::start().await.or_exit("webhook receiver");
    let webhook_url = match &emulator {
        Some(_) => Some(sink.url()),
        None => common::env_url("PAYCONEX_WEBHOOK_URL"),
    };
    let emulator = emulator.map(Arc::new);
    let trigger: Option<Trigger> = emulator.clone().map(|emu| {
        Box::new(move |jobs: Vec<JobRef>| {
            let emu = emu.clone();
            Box::pin(async move {
                for job in jobs {
                    emu.run_schedule(&job.id).await;
                }
            }) as BoxFuture<'static, ()>
        }) as Trigger
    });
    Backend {
        provider: Arc::new(client),
        mode: if emulator.is_some() {
            "emulator"
        } else {
            "sandbox"
        },
        subscribe: vec![
            card("sub-mc-1001", "5194560012341234", "12/50"),
            card("sub-visa-1002", "4457000300000007", "01/50"),
            card("sub-visa-1003", "4457000900000001", "08/50"),
            CardToUpdate::token("sub-token-2001", ProviderId::PayConex, "100001234561"),
        ],
        batch: Vec::new(),
        account_update: None,
        sink,
        webhook_url,
        trigger,
        _guard: Box::new(emulator),
    }
}

async fn cardsync() -> Backend {
    let (partner, emulator) = common::cardsync::connect().await;
    let (merchant, _) = common::cardsync::merchant(&partner).await;
    let sink = WebhookSink::start().await.or_exit("webhook receiver");
    let webhook_url = match &emulator {
        Some(_) => Some(sink.url()),
        None => common::env_url("CARDSYNC_WEBHOOK_URL"),
    };
    let se = common::cardsync::se_number();
    Backend {
        provider: Arc::new(merchant),
        mode: if emulator.is_some() {
            "emulator"
        } else {
            "sandbox"
        },
        subscribe: common::CARDSYNC_AMEX_CARDS
            .iter()
            .enumerate()
            .map(|(i, (pan, exp))| {
                card(&format!("amex-{}", i + 1), pan, exp).with_amex_se_number(se.clone())
            })
            .collect(),
        batch: common::CARDSYNC_TEST_CARDS
            .iter()
            .take(8)
            .enumerate()
            .map(|(i, (pan, exp))| card(&format!("batch-{}", i + 1), pan, exp))
            .collect(),
        account_update: None,
        sink,
        webhook_url,
        trigger: None,
        _guard: Box::new(emulator),
    }
}

async fn accountvault() -> Backend {
    use account_updater::providers::accountvault::DuplicateCheck;
    use account_updater::providers::accountvault::wire::{
        Address, Card, CreateAccount, Name, Owner,
    };
    let (builder, emulator) = common::accountvault::connect().await;
    let client = builder.build().or_exit("AccountVault client");
    // Set-up: a stored account to update (native call; the flow below is unified).
    let account = match common::env("ACCOUNTVAULT_ACCOUNT_ID") {
        Some(id) => id,
        None => {
            let reference = format!("qs{}", chrono::Utc::now().format("%H%M%S%3f"));
            let owner = Owner::new(Name::person("Ada", "Lovelace")).with_address(
                Address::default()
                    .line1("1 Main Street")
                    .city("Springfield")
                    .state("IL")
                    .zipcode("62701")
                    .country("840"),
            );
            let body = CreateAccount::new(reference, owner).card(Card::plain(
                CardNumber::parse("4000056655665556").or_exit("card"),
                Expiry::new(12, 2026).ok(),
            ));
            client
                .create_account(&body, DuplicateCheck::Off)
                .await
                .or_exit("create a stored account")
                .account_id
                .unwrap_or_else(|| {
                    common::fail("create a stored account", "created, but its id is unknown")
                })
        }
    };
    let sink = WebhookSink::start().await.or_exit("webhook receiver");
    Backend {
        provider: Arc::new(client),
        mode: if emulator.is_some() {
            "emulator"
        } else {
            "sandbox"
        },
        subscribe: Vec::new(),
        batch: Vec::new(),
        account_update: Some(AccountUpdateRequest::new(account).card(NewCardData::new(
            Some(CardNumber::parse("4457010000000009").or_exit("card")),
            Expiry::new(1, 2030).ok(),
        ))),
        sink,
        webhook_url: None,
        trigger: None,
        _guard: Box::new(emulator),
    }
}

async fn acquired() -> Backend {
    let (client, token, emulator) =
        common::acquired::connect("4457000300000007", Expiry::new(1, 2030).or_exit("expiry")).await;
    let sink = WebhookSink::start().await.or_exit("webhook receiver");
    if let Some(emu) = &emulator {
        emu.set_webhook_url(&sink.url());
    }
    let mut holder = HolderData::default();
    holder.first_name = Some("Eve".into());
    holder.last_name = Some("Johnson".into());
    holder.email = Some("eve@example.com".into());
    Backend {
        provider: Arc::new(client),
        mode: if emulator.is_some() {
            "emulator"
        } else {
            "sandbox"
        },
        subscribe: Vec::new(),
        batch: vec![CardToUpdate::token(
            "acq-token",
            ProviderId::Acquired,
            token.clone(),
        )],
        account_update: Some(AccountUpdateRequest::new(token).holder(holder)),
        sink,
        // Acquired's webhooks are configured by its support, not through the API.
        webhook_url: None,
        trigger: None,
        _guard: Box::new(emulator),
    }
}

/// What happened to one flow of one provider.
#[derive(Clone)]
enum Status {
    Ok(String),
    Skipped(&'static str),
    Failed(String),
}

/// The generic part: only the `Provider` trait and `webhook::receive`.
async fn run(
    backend: &Backend,
    updates: &mut Vec<CardUpdate>,
    summary: &mut BTreeMap<(ProviderId, Flow), Status>,
) {
    let p = backend.provider.as_ref();
    let caps = p.capabilities();
    let id = p.id();
    let mut record = |flow: Flow, s: Status| {
        summary.insert((id, flow), s);
    };
    for flow in Flow::ALL {
        if !caps.supports(flow) {
            record(flow, Status::Skipped("not offered"));
        }
    }

    if caps.supports(Flow::RegisterWebhook) {
        match &backend.webhook_url {
            Some(url) => match p
                .register_webhook(WebhookRegistration::new(url.clone()))
                .await
            {
                Ok(r) => record(
                    Flow::RegisterWebhook,
                    Status::Ok(format!("{} event(s)", r.events.len())),
                ),
                Err(e) => record(Flow::RegisterWebhook, Status::Failed(e.to_string())),
            },
            None => record(Flow::RegisterWebhook, Status::Skipped("needs a public URL")),
        }
    }

    // A receipt counts as ok only when every card was placed.
    let mut receipts = Vec::new();
    let mut placed = |result: account_updater::Result<SubmissionReceipt>| match result {
        Ok(r) if r.is_complete() => {
            let what = format!(
                "{} card(s) in {} job(s)",
                r.accepted_cards(),
                r.accepted().len()
            );
            receipts.push(r);
            Status::Ok(what)
        }
        Ok(r) => Status::Failed(format!(
            "{} card(s) failed: {}",
            r.failed_cards(),
            r.failed()[0].error()
        )),
        Err(e) => Status::Failed(e.to_string()),
    };
    if caps.supports(Flow::Subscribe) && !backend.subscribe.is_empty() {
        let request = SubscribeRequest::new(backend.subscribe.clone()).cadence(Cadence::Weekly);
        let status = placed(p.subscribe(request).await);
        record(Flow::Subscribe, status);
    }
    if caps.supports(Flow::Submit) && !backend.batch.is_empty() {
        let status = placed(p.submit(backend.batch.clone()).await);
        record(Flow::Submit, status);
    }
    if caps.supports(Flow::UpdateAccount) {
        if let Some(req) = &backend.account_update {
            match p.update_account(req.clone()).await {
                Ok(r) => record(
                    Flow::UpdateAccount,
                    Status::Ok(format!(
                        "{} -> {}{}",
                        r.account_id,
                        r.raw_code,
                        r.warning.map(|w| format!(" ({w})")).unwrap_or_default()
                    )),
                ),
                Err(e) => record(Flow::UpdateAccount, Status::Failed(e.to_string())),
            }
        }
    }
    if caps.supports(Flow::JobStatus) {
        if let Some(job) = receipts
            .iter()
            .flat_map(|r| r.accepted())
            .map(|j| j.job().clone())
            .find(|j| {
                j.kind != JobKind::Inquiry
                    && (j.kind == JobKind::Batch || id != ProviderId::CardSync)
            })
        {
            match p.job_status(&job).await {
                Ok(s) => record(
                    Flow::JobStatus,
                    Status::Ok(format!("{} {:?}", job.id, s.state)),
                ),
                Err(e) => record(Flow::JobStatus, Status::Failed(e.to_string())),
            }
        }
    }
    if let Some(trigger) = &backend.trigger {
        trigger(
            receipts
                .iter()
                .flat_map(|r| r.accepted())
                .map(|j| j.job().clone())
                .collect(),
        )
        .await;
    }

    // Webhooks: verify and parse through the unified entry point, drop redeliveries, fetch
    // what unsigned hints point to.
    if caps.supports(Flow::ParseWebhook) {
        let dedup = Deduplicator::default();
        let (mut parsed, mut fetched) = (0, 0);
        let mut failure = None;
        let wait = if backend.mode == "emulator" {
            Duration::from_millis(800)
        } else {
            Duration::from_millis(50)
        };
        while let Some(delivered) = backend.sink.next(wait).await {
            match webhook::receive(p, &delivered.headers, &delivered.body) {
                Ok(event) if dedup.first_seen(&event) => {
                    parsed += 1;
                    let mut got = event.updates.clone();
                    if let (Some(q), true) =
                        (event.results_query(), caps.supports(Flow::FetchResults))
                    {
                        match p.fetch_results(q).await {
                            Ok(r) => got.extend(r),
                            Err(e) => failure = Some(e.to_string()),
                        }
                    }
                    fetched += got.len();
                    for r in &receipts {
                        r.join_card_ids(&mut got);
                    }
                    updates.extend(got);
                }
                Ok(_) => {}
                Err(e) => failure = Some(e.to_string()),
            }
        }
        record(
            Flow::ParseWebhook,
            match failure {
                Some(f) => Status::Failed(f),
                None => Status::Ok(format!("{parsed} webhook(s)")),
            },
        );
        if caps.supports(Flow::FetchResults) {
            record(
                Flow::FetchResults,
                Status::Ok(format!("{fetched} result(s)")),
            );
        }
    }
    for flow in [Flow::AddCards, Flow::RemoveCards, Flow::Cancel] {
        summary
            .entry((id, flow))
            .or_insert(Status::Skipped("not exercised here"));
    }
    summary
        .entry((id, Flow::JobStatus))
        .or_insert(Status::Skipped("no job"));
    summary
        .entry((id, Flow::FetchResults))
        .or_insert(Status::Skipped("no webhook"));
}

#[tokio::main]
async fn main() {
    common::init_tracing();
    println!("account-updater quickstart: four providers behind one trait\n");
    let backends = vec![
        payconex().await,
        cardsync().await,
        accountvault().await,
        acquired().await,
    ];
    for b in &backends {
        let flows: Vec<&str> = b
            .provider
            .capabilities()
            .flows()
            .map(Flow::as_str)
            .collect();
        println!(
            "{:<13} {:<9} supports: {}",
            b.provider.id().to_string(),
            b.mode,
            flows.join(", ")
        );
    }
    let mut updates = Vec::new();
    let mut summary = BTreeMap::new();
    for b in &backends {
        run(b, &mut updates, &mut summary).await;
    }

    println!("\nUnified card updates");
    println!(
        "{:<13} {:<20} {:<20} {:<20} {:<26} {:<8}",
        "provider", "card id", "card (masked)", "outcome", "raw code", "new exp"
    );
    updates.sort_by(|a, b| (a.provider, &a.card_id).cmp(&(b.provider, &b.card_id)));
    for u in &updates {
        println!(
            "{:<13} {:<20} {:<20} {:<20} {:<26} {:<8}",
            u.provider.to_string(),
            common::shown_id(u),
            common::shown_card(u),
            u.outcome.to_string(),
            u.raw_code,
            u.new_expiry
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }

    println!("\nFlows x providers");
    let shown = [
        Flow::RegisterWebhook,
        Flow::Subscribe,
        Flow::Submit,
        Flow::JobStatus,
        Flow::UpdateAccount,
        Flow::ParseWebhook,
        Flow::FetchResults,
    ];
    let mut failed = false;
    for flow in shown {
        print!("{:<17}", flow.as_str());
        for p in ProviderId::ALL {
            let cell = match summary.get(&(p, flow)) {
                Some(Status::Ok(_)) => "ok".to_owned(),
                Some(Status::Skipped(why)) => format!("skipped: {why}"),
                Some(Status::Failed(_)) => {
                    failed = true;
                    "FAILED".to_owned()
                }
                None => "-".to_owned(),
            };
            print!(" | {:<13} {:<26}", p.to_string(), cell);
        }
        println!();
    }
    for ((p, flow), s) in &summary {
        match s {
            Status::Failed(why) => println!("FAILED {p} {flow}: {why}"),
            Status::Ok(what) if shown.contains(flow) => println!("  {p:<13} {flow:<16} {what}"),
            _ => {}
        }
    }
    let per_provider: BTreeMap<ProviderId, usize> =
        updates.iter().fold(BTreeMap::new(), |mut m, u| {
            *m.entry(u.provider).or_default() += 1;
            m
        });
    println!("\n{} update(s): {per_provider:?}", updates.len());
    if failed {
        std::process::exit(1);
    }
}
