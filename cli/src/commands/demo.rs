//! `demo`: the whole flow on the embedded emulators with generated cards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use account_updater_journal::SuppressionPolicy;
use clap::Args;

use crate::args::{JournalArgs, ResultsOutput, SubmitArgs};
use crate::connect::cardsync_emulator;
use crate::submit::{exit_for_demo, submit_and_collect};
use crate::{Exit, Failure};

/// `demo`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// How many cards to generate (a few of them deliberately bad).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) cards: u64,
    /// Where to write the CSV, journal, rejects and updates (default: a new temp directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// A mixed card base routed across the CardSync, Acquired and PayConex emulators at once
    /// (the rules file is written beside the cards).
    #[arg(long)]
    pub(crate) route: bool,
}

/// CardSync sandbox cards whose outcome the emulator forces (new number, new expiry, no
/// match, valid, contact, closed), as CardSync's sandbox documentation lists them.
const SANDBOX_CARDS: [&str; 8] = [
    "4457010000000009",
    "4457000300000007",
    "4457010200000247",
    "4100200300011001",
    "4457010140000141",
    "4457000900000001",
    "5112010000000003",
    "6011010000000003",
];

/// The check digit completing `body`.
pub fn with_check_digit(body: &str) -> String {
    account_updater::card::with_check_digit(body).unwrap_or_else(|| format!("{body}0"))
}

/// Writes `n` cards: mostly generated Visa / Mastercard / Discover numbers (valid, no result
/// line), a sandbox card every 500 rows (they produce updates), and six deliberately bad
/// rows. Returns how many bad rows it wrote.
pub fn write_cards(path: &Path, n: u64) -> Result<u64, Failure> {
    let file = std::fs::File::create(path)
        .map_err(|e| Failure::error(format!("could not create {}: {e}", path.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let mut bad = 0;
    let mut lines = String::from("id,card_number,expiry,token,amex_se_number\n");
    for i in 0..n {
        let id = format!("cust-{i:07}");
        let row = match i {
            // Caught while reading: a failed check digit, a month 13, neither number nor token.
            17 => format!("{id},4111111111111112,12/30,,"),
            42 => format!("{id},4111111111111111,13/30,,"),
            99 => format!("{id},,,,"),
            // Caught by CardSync's rules in the library: a repeated id, a token (CardSync
            // batches take card numbers), an Amex card without its SE number.
            123 => "cust-0000122,4111111111111111,12/30,,".to_owned(),
            256 => format!("{id},,,tok_demo_256,"),
            512 => format!("{id},378282246310005,12/30,,"),
            _ if i % 500 == 250 => {
                let card = SANDBOX_CARDS[(i / 500) as usize % SANDBOX_CARDS.len()];
                format!("{id},{card},12/30,,")
            }
            _ => {
                let prefix = ["4", "51", "6011"][(i % 3) as usize];
                // A 9 after the prefix keeps clear of the sandbox's test cards.
                let body = format!("{prefix}9{i:0width$}", width = 14 - prefix.len());
                format!(
                    "{id},{},{:02}/{},,",
                    with_check_digit(&body),
                    i % 12 + 1,
                    30 + i % 5
                )
            }
        };
        if matches!(i, 17 | 42 | 99 | 123 | 256 | 512) {
            bad += 1;
        }
        lines.push_str(&row);
        lines.push('\n');
        if lines.len() > 1 << 16 {
            out.write_all(lines.as_bytes())
                .map_err(|e| Failure::error(format!("could not write {}: {e}", path.display())))?;
            lines.clear();
        }
    }
    out.write_all(lines.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::error(format!("could not write {}: {e}", path.display())))?;
    Ok(bad)
}

/// The routed demo's rules: each kind of card to the one provider that can update it.
pub const DEMO_ROUTES: &str = r#"# account-updater demo --route: each card to the provider that can update it.
[[rule]]
name = "acquired-tokens"
provider = "acquired"
token = true

[[rule]]
name = "payconex-tokens"
provider = "payconex"
flow = "subscribe"
token = true

[[rule]]
name = "amex-with-se"
provider = "cardsync"
amex_se_number = true

[[rule]]
name = "amex-without-se"
provider = "payconex"
flow = "subscribe"
amex_se_number = false

[[rule]]
name = "visa"
provider = "cardsync"
brand = "visa"

[[rule]]
name = "mastercard"
provider = "cardsync"
brand = "mastercard"

[[rule]]
name = "discover"
provider = "cardsync"
brand = "discover"
"#;

/// Writes the routed demo's cards: CardSync numbers (a sandbox card every 500 rows), Amex with
/// and without an SE number, PayConex tokens, Acquired tokens made at `acquired`, and JCB
/// cards no rule takes. Returns the rows no rule takes.
pub fn write_routed_cards(
    path: &Path,
    n: u64,
    acquired: &account_updater_emulator::acquired::AcquiredEmulator,
) -> Result<u64, Failure> {
    let expiry = account_updater::Expiry::new(12, 2030)
        .map_err(|e| Failure::error(format!("demo expiry: {e}")))?;
    let mut lines = String::from("id,card_number,expiry,token,token_provider,amex_se_number\n");
    let mut unrouted = 0;
    for i in 0..n {
        let id = format!("cust-{i:07}");
        let row = match i % 100 {
            _ if i % 500 == 250 => {
                let card = SANDBOX_CARDS[(i / 500) as usize % SANDBOX_CARDS.len()];
                format!("{id},{card},12/30,,,")
            }
            0..=69 => {
                let prefix = ["4", "51", "6011"][(i % 3) as usize];
                let body = format!("{prefix}9{i:0width$}", width = 14 - prefix.len());
                format!("{id},{},12/30,,,", with_check_digit(&body))
            }
            70..=79 => format!(
                "{id},{},12/30,,,{}",
                with_check_digit(&format!("379{i:011}")),
                ["1111111111", "2222222222"][(i % 2) as usize]
            ),
            80..=84 => format!("{id},{},12/30,,,", with_check_digit(&format!("349{i:011}"))),
            85..=94 => format!("{id},,,{:012},payconex,", 100_000_000_000 + i),
            95..=97 => {
                let number =
                    account_updater::CardNumber::parse(&with_check_digit(&format!("49{i:013}")))
                        .map_err(|e| Failure::error(format!("demo card: {e}")))?;
                format!(
                    "{id},,,{},acquired,",
                    acquired.create_token(&number, expiry)
                )
            }
            _ => {
                unrouted += 1;
                format!(
                    "{id},{},12/30,,,",
                    with_check_digit(&format!("3530{i:011}"))
                )
            }
        };
        lines.push_str(&row);
        lines.push('\n');
    }
    std::fs::write(path, lines)
        .map_err(|e| Failure::error(format!("could not write {}: {e}", path.display())))?;
    Ok(unrouted)
}

/// `demo --route`: one run across the CardSync, Acquired and PayConex emulators. AccountVault
/// updates one stored account at a time, so no rule sends cards to it.
pub async fn demo_routed(args: &DemoArgs, dir: &Path) -> Result<Exit, Failure> {
    use account_updater::ProviderId;
    let cardsync = cardsync_emulator().await?;
    let acquired = crate::connect::emulated(ProviderId::Acquired).await?;
    let payconex = crate::connect::emulated(ProviderId::PayConex).await?;
    let acquired_emulator = acquired
        .keep_alive
        .first()
        .and_then(|e| e.downcast_ref::<account_updater_emulator::acquired::AcquiredEmulator>())
        .ok_or_else(|| Failure::error("no Acquired emulator"))?;
    let input = dir.join("cards.csv");
    let unrouted = write_routed_cards(&input, args.cards, acquired_emulator)?;
    let routes = dir.join("routes.toml");
    std::fs::write(&routes, DEMO_ROUTES)
        .map_err(|e| Failure::error(format!("could not write {}: {e}", routes.display())))?;
    crate::say!(
        "demo: {} generated cards ({unrouted} that no rule takes) in {}, rules in {}",
        args.cards,
        input.display(),
        routes.display()
    );
    let (rules, settings) = crate::route::read_rules(&routes)?;
    let connected = crate::route::build(
        &routes,
        rules,
        settings.subscription_chunk,
        vec![cardsync, acquired, payconex],
    )?;
    crate::say!("demo: CardSync, Acquired and PayConex emulators on loopback");
    let journal_path = dir.join("journal.db");
    let submit = demo_submit(
        &input,
        &journal_path,
        args.no_progress,
        Duration::from_secs(5),
    );
    let journal = crate::submit::open_journal(&submit.journal).await?;
    let exit = submit_and_collect(&journal, &connected, "demo", &submit, &[]).await?;
    crate::say!(
        "demo: Acquired answers by webhook and PayConex when its schedule runs, so their results come later (`account-updater results --run demo --route {}`)",
        routes.display()
    );
    crate::say!(
        "demo: look again with `account-updater status --journal {} --run demo`",
        journal_path.display()
    );
    Ok(match exit_for_demo(exit) {
        Exit::ResultsPending => Exit::Done,
        other => other,
    })
}

/// The demo's submission settings: its own journal, results polled quickly.
pub fn demo_submit(input: &Path, journal: &Path, no_progress: bool, wait: Duration) -> SubmitArgs {
    SubmitArgs {
        input: input.to_path_buf(),
        rejects: None,
        worker: "demo".into(),
        ids_unique: false,
        no_progress,
        suppression: crate::args::SuppressionArgs {
            no_suppress: false,
            contact_limit: SuppressionPolicy::default().contact_limit,
            cycle: SuppressionPolicy::default().cycle.unwrap_or_default(),
            suppressed: None,
        },
        journal: JournalArgs {
            journal: Some(journal.to_path_buf()),
            postgres: None,
        },
        results: ResultsOutput {
            out: None,
            reveal_new_numbers: None,
            wait,
            poll_interval: Duration::from_millis(200),
            listen: None,
        },
    }
}

/// `demo`.
pub async fn demo(args: DemoArgs) -> Result<Exit, Failure> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "account-updater-demo-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        ))
    });
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::error(format!("could not create {}: {e}", dir.display())))?;
    if args.route {
        return demo_routed(&args, &dir).await;
    }
    let input = dir.join("cards.csv");
    let bad = write_cards(&input, args.cards)?;
    crate::say!(
        "demo: {} generated cards ({bad} deliberately bad) in {}",
        args.cards,
        input.display()
    );
    let connected = cardsync_emulator().await?;
    crate::say!(
        "demo: CardSync emulator on {} (loopback)",
        connected
            .emulator
            .as_ref()
            .map(|e| e.base_url().to_string())
            .unwrap_or_default()
    );
    let journal_path = dir.join("journal.db");
    let submit = demo_submit(
        &input,
        &journal_path,
        args.no_progress,
        Duration::from_secs(60),
    );
    let journal = crate::submit::open_journal(&submit.journal).await?;
    let exit = submit_and_collect(&journal, &connected, "demo", &submit, &[]).await?;
    let updates = crate::submit::beside(&input, ".updates.csv");
    print_head(&updates, 8);
    crate::say!(
        "demo: look again with `account-updater status --journal {} --run demo`",
        journal_path.display()
    );
    Ok(exit_for_demo(exit))
}

/// The first `n` lines of a file, indented.
pub fn print_head(path: &PathBuf, n: usize) {
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines().take(n) {
            crate::say!("  {line}");
        }
    }
}
