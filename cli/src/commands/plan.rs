//! `plan`: what a run of the input would do and cost, with nothing sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use account_updater::submission::{DuplicateIds, StreamOptions, card_stream};
use account_updater_journal::{Plan, PlanOptions};
use clap::Args;

use crate::args::{Format, JournalArgs, SuppressionArgs};
use crate::connect::{self};
use crate::input::{CsvCards, SharedRejects};
use crate::submit::{open_journal, print_json};
use crate::suppression::{settings_of, suppression};
use crate::{Exit, Failure};

/// `plan`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct PlanArgs {
    /// The CSV of cards (as `run` reads it).
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// The provider (as for `run`).
    #[arg(long, value_parser = connect::parse_provider, required_unless_present = "route", conflicts_with = "route")]
    pub(crate) provider: Option<account_updater::ProviderId>,
    /// The rules file (as for `run --route`); its `[price.NAME]` tables price the plan.
    #[arg(long, value_name = "FILE")]
    pub(crate) route: Option<PathBuf>,
    /// Prices for a single-provider plan: a TOML file of `[price.NAME]` tables (`per_hit`,
    /// `per_card`, `hit_rate`, `currency`).
    #[arg(long, value_name = "FILE", conflicts_with = "route")]
    pub(crate) prices: Option<PathBuf>,
    /// Plan against the embedded emulator's client (as `run --emulator`).
    #[arg(long)]
    pub(crate) emulator: bool,
    /// Accept ids without checking them for duplicates (as the run will).
    #[arg(long)]
    pub(crate) ids_unique: bool,
    #[command(flatten)]
    pub(crate) suppression: SuppressionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
}

/// `plan`.
pub async fn plan(args: PlanArgs) -> Result<Exit, Failure> {
    let connected = match (&args.route, args.provider) {
        (Some(file), _) => crate::route::connect_routed(file, args.emulator).await?,
        (None, Some(provider)) => connect::connect(provider, args.emulator).await?,
        (None, None) => return Err(Failure::error("give --provider NAME or --route FILE")),
    };
    let settings = settings_of(args.route.as_deref().or(args.prices.as_deref()))?;
    let journal = open_journal(&args.journal).await?;
    let rejects = SharedRejects::counting();
    let cards = CsvCards::open(
        &args.input,
        connected.provider.id(),
        rejects.clone(),
        Box::new(|| {}),
    )?;
    let mut options = PlanOptions::new()
        .stream(StreamOptions::default().duplicate_ids(if args.ids_unique {
            DuplicateIds::CallerGuarantees
        } else {
            DuplicateIds::Refuse
        }))
        .suppression(suppression(
            &args.suppression,
            &connected,
            &settings.rule_suppression,
        ));
    options.prices = settings.prices;
    if let Some(router) = &connected.router {
        options = options.router(router);
    }
    let mut plan = journal
        .plan(connected.provider.as_ref(), &options, card_stream(cards))
        .await?;
    let (read_error, reader_reasons) = {
        let mut log = rejects.lock();
        (log.read_error.take(), std::mem::take(&mut log.reasons))
    };
    if let Some(e) = read_error {
        return Err(Failure::error(format!(
            "the input could not be read past {e}; fix it first"
        )));
    }
    // Rows the reader refused are rows read, and rejects of the run too (they belong to no
    // provider: they never became cards).
    for (reason, n) in &reader_reasons {
        plan.cards_read += n;
        *plan.rejected.entry(reason.clone()).or_default() += n;
    }
    if args.format == Format::Json {
        let mut json = plan_json(&plan);
        json["unreadable_by_reason"] = serde_json::json!(reader_reasons);
        print_json(&json)?;
    } else {
        print_plan(&plan, &args.input, &reader_reasons);
    }
    Ok(Exit::Done)
}

/// A plan as JSON (the README's "Machine-readable output" schema).
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let providers: Vec<serde_json::Value> = plan
        .providers
        .iter()
        .map(|p| {
            serde_json::json!({
                "provider": p.provider_name,
                "cards": p.cards,
                "requests": p.chunks,
                "hit_rate": p.hit_rate,
                "hit_rate_source": p.hit_rate_source,
                "history_cards": p.history.0,
                "history_hits": p.history.1,
                "expected_hits": p.expected_hits,
                "estimated_cost": p.estimated_cost,
                "currency": p.currency,
                "suppressed_by_reason": p.suppressed,
                "rejected_by_reason": p.rejected,
            })
        })
        .collect();
    serde_json::json!({
        "cards_read": plan.cards_read,
        "to_send": plan.to_send,
        "suppressed": plan.suppressed_total(),
        "rejected": plan.rejected_total(),
        "expected_hits": plan.expected_hits(),
        "estimated_cost": plan.estimated_cost(),
        "providers": providers,
        "suppressed_by_reason": plan.suppressed,
        "rejected_by_reason": plan.rejected,
        "unrouted_by_reason": plan.unrouted,
    })
}

pub fn print_plan(plan: &Plan, input: &Path, reader_rejected: &BTreeMap<String, u64>) {
    crate::say!(
        "plan for {}: {} cards read; {} would be sent, {} suppressed, {} rejected; nothing was sent",
        input.display(),
        plan.cards_read,
        plan.to_send,
        plan.suppressed_total(),
        plan.rejected_total()
    );
    for p in &plan.providers {
        let hits = match (p.expected_hits, p.hit_rate) {
            (Some(h), Some(r)) => format!(
                "{h:.1} expected hits ({:.2}% from {})",
                r * 100.0,
                p.hit_rate_source
            ),
            _ => "no hit rate (no history, none in the price table)".to_owned(),
        };
        let cost = match (&p.estimated_cost, &p.currency) {
            (Some(c), Some(cur)) => format!(", about {c:.2} {cur}"),
            _ => String::new(),
        };
        crate::say!(
            "  {}: {} cards in {} requests; {hits}{cost}",
            p.provider_name,
            p.cards,
            p.chunks
        );
        for (reason, n) in &p.suppressed {
            crate::say!("    suppressed ({reason}): {n}");
        }
        for (reason, n) in &p.rejected {
            crate::say!("    rejected ({reason}): {n}");
        }
    }
    for (reason, n) in &plan.unrouted {
        crate::say!("  no rule takes ({reason}): {n}");
    }
    for (reason, n) in reader_rejected {
        crate::say!("  rows refused while reading ({reason}): {n}");
    }
}
