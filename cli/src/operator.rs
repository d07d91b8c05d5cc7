//! The operator's commands: `plan` (what a run would do and cost, nothing sent) and
//! `reconcile` (what was sent against what came back, and what is overdue).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use account_updater::ProviderId;
use account_updater::submission::{DuplicateIds, StreamOptions, card_stream};
use account_updater_journal::{
    Journal, Plan, PlanOptions, ReconcileOptions, Reconciliation, Suppression, SuppressionPolicy,
};

use crate::connect::{self, Connected};
use crate::input::{CsvCards, SharedRejects};
use crate::route::{RuleSuppression, Settings, read_rules};
use crate::run::{open_journal, print_json};
use crate::{Exit, Failure, Format, PlanArgs, ReconcileArgs, SuppressionArgs};

/// `--window cardsync=3d`.
pub fn parse_window(text: &str) -> Result<(ProviderId, Duration), String> {
    let (name, window) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not PROVIDER=DURATION (cardsync=3d)"))?;
    let provider = connect::parse_provider(name.trim())?;
    let window =
        humantime::parse_duration(window.trim()).map_err(|e| format!("{window:?}: {e}"))?;
    Ok((provider, window))
}

/// The suppression the command line and the rules file ask for: the command line's settings
/// for every card, a rule's own settings for its cards; `--no-suppress` turns all of it off.
pub fn suppression(
    args: &SuppressionArgs,
    connected: &Connected,
    rules: &[(String, RuleSuppression)],
) -> Suppression {
    if args.no_suppress {
        return Suppression::off();
    }
    let cycle = |c: Duration| (!c.is_zero()).then_some(c);
    let default = SuppressionPolicy::default()
        .contact_limit(args.contact_limit)
        .cycle(cycle(args.cycle));
    let mut suppression = Suppression::new(default.clone());
    if let Some(router) = &connected.router {
        for (name, rule) in rules {
            let mut policy = default.clone();
            if rule.enabled == Some(false) {
                policy = SuppressionPolicy::off();
            }
            if let Some(n) = rule.contact_limit {
                policy = policy.contact_limit(n);
            }
            if let Some(c) = rule.cycle {
                policy = policy.cycle(cycle(c));
            }
            suppression = suppression.rule(router, name, policy);
        }
    }
    suppression
}

/// The settings of the rules (or prices) file, if one was given.
pub fn settings_of(file: Option<&Path>) -> Result<Settings, Failure> {
    match file {
        Some(file) => Ok(read_rules(file)?.1),
        None => Ok(Settings::default()),
    }
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
fn plan_json(plan: &Plan) -> serde_json::Value {
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

fn print_plan(plan: &Plan, input: &Path, reader_rejected: &BTreeMap<String, u64>) {
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

/// `reconcile`.
pub async fn reconcile(args: ReconcileArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let settings = settings_of(args.route.as_deref())?;
    let report = reconcile_run(&journal, &args.run_id, &settings.windows, &args.window).await?;
    if args.format == Format::Json {
        print_json(&reconciliation_json(&report))?;
    } else {
        print_reconciliation(&report);
    }
    Ok(if report.is_overdue() {
        Exit::Overdue
    } else {
        Exit::Done
    })
}

/// Reconciles `run_id` with the file's windows, then the command line's (which win).
pub async fn reconcile_run(
    journal: &Journal,
    run_id: &str,
    file_windows: &[(ProviderId, Duration)],
    windows: &[(ProviderId, Duration)],
) -> Result<Reconciliation, Failure> {
    if !journal.runs().await?.iter().any(|r| r.run_id == run_id) {
        return Err(Failure::error(format!("the journal has no run {run_id:?}")));
    }
    let mut options = ReconcileOptions::new();
    for (provider, window) in file_windows.iter().chain(windows) {
        options = options.window(*provider, *window);
    }
    Ok(journal.reconcile(run_id, &options).await?)
}

/// A reconciliation as JSON (the README's "Machine-readable output" schema).
pub fn reconciliation_json(r: &Reconciliation) -> serde_json::Value {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    serde_json::json!({
        "run_id": r.run_id,
        "at": time(r.at),
        "submitted": r.submitted(),
        "results_in": r.results_in(),
        "waiting": r.waiting(),
        "overdue": r.overdue.len(),
        "jobs": r.jobs.iter().map(|j| serde_json::json!({
            "provider": j.provider_name,
            "job_id": j.job_id,
            "state": j.state,
            "accepted_at": time(j.accepted_at),
            "due_at": time(j.due_at),
            "submitted": j.submitted,
            "results_in": j.results_in,
            "complete_without_result": j.complete_without_result,
            "failed": j.failed,
            "waiting": j.waiting,
            "overdue": j.overdue,
        })).collect::<Vec<_>>(),
        "overdue_cards": r.overdue.iter().map(|c| serde_json::json!({
            "id": c.card_id,
            "provider": c.provider_name,
            "job_id": c.job_id,
            "due_at": c.due_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "orphans": r.orphans.iter().map(|o| serde_json::json!({
            "result_id": o.result_id,
            "provider": o.provider_name,
            "id": o.card_id,
            "card_ref": o.card_ref,
        })).collect::<Vec<_>>(),
        "repeated": r.repeated.iter().map(|d| serde_json::json!({
            "result_id": d.result_id,
            "id": d.card_id,
            "deliveries": d.deliveries,
        })).collect::<Vec<_>>(),
    })
}

fn print_reconciliation(r: &Reconciliation) {
    crate::say!(
        "run {}: {} cards sent, {} results in, {} waiting, {} overdue; {} orphan results, {} repeated deliveries",
        r.run_id,
        r.submitted(),
        r.results_in(),
        r.waiting(),
        r.overdue.len(),
        r.orphans.len(),
        r.repeated.len()
    );
    for j in &r.jobs {
        crate::say!(
            "  {} job {}{}: {} sent, {} in, {} complete without result, {} failed, {} waiting, {} overdue (due {})",
            j.provider_name,
            j.job_id.as_deref().unwrap_or("(unnamed)"),
            j.state
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default(),
            j.submitted,
            j.results_in,
            j.complete_without_result,
            j.failed,
            j.waiting,
            j.overdue,
            j.due_at.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
    }
    for c in &r.overdue {
        crate::say!(
            "  overdue: {} at {} (job {}), due {}",
            c.card_id,
            c.provider_name,
            c.job_id.as_deref().unwrap_or("(unnamed)"),
            c.due_at.to_rfc3339()
        );
    }
    for o in &r.orphans {
        crate::say!(
            "  orphan result {} from {} for {}",
            o.result_id,
            o.provider_name,
            o.card_id.as_deref().unwrap_or("(no id)")
        );
    }
    for d in &r.repeated {
        crate::say!(
            "  result {} for {} arrived {} times",
            d.result_id,
            d.card_id.as_deref().unwrap_or("(no id)"),
            d.deliveries
        );
    }
}
