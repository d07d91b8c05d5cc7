//! `history`: a card's results across runs and providers.

use clap::Args;

use crate::args::{Format, JournalArgs};
use crate::submit::{open_journal, print_json};
use crate::{Exit, Failure};

/// `history`'s arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct HistoryArgs {
    /// The caller's card id (the input's `id` column).
    #[arg(long)]
    pub(crate) id: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) journal: JournalArgs,
}

/// `history`.
pub async fn history(args: HistoryArgs) -> Result<Exit, Failure> {
    let journal = open_journal(&args.journal).await?;
    let entries = journal.history(&args.id).await?;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    if args.format == Format::Json {
        let results: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "run_id": e.run_id,
                    "provider": e.provider_name,
                    "outcome": e.outcome,
                    "raw_code": e.raw_code,
                    "old_card_masked": e.old_card_masked,
                    "new_card_masked": e.new_card_masked,
                    "old_expiry": e.old_expiry,
                    "new_expiry": e.new_expiry,
                    "brand_changed": e.brand_changed,
                    "received_at": time(e.received_at),
                    "applied_at": time(e.applied_at),
                })
            })
            .collect();
        print_json(&serde_json::json!({ "card_id": args.id, "results": results }))?;
        return Ok(Exit::Done);
    }
    if entries.is_empty() {
        crate::say!("no results for card {:?}", args.id);
    }
    for e in &entries {
        crate::say!(
            "{}\t{}\t{}\t{}\t{} -> {}\t{} -> {}{}\treceived {}\t{}",
            e.run_id,
            e.provider_name,
            e.outcome,
            e.raw_code,
            e.old_card_masked.as_deref().unwrap_or("-"),
            e.new_card_masked.as_deref().unwrap_or("-"),
            e.old_expiry.as_deref().unwrap_or("-"),
            e.new_expiry.as_deref().unwrap_or("-"),
            if e.brand_changed {
                "\tbrand changed"
            } else {
                ""
            },
            time(e.received_at).unwrap_or_default(),
            match time(e.applied_at) {
                Some(t) => format!("applied {t}"),
                None => "not applied".to_owned(),
            }
        );
    }
    Ok(Exit::Done)
}
