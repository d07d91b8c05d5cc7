//! The suppression settings a command line and a rules file give, as the journal's policy.

use std::path::Path;
use std::time::Duration;

use account_updater_journal::{Suppression, SuppressionPolicy};

use crate::Failure;
use crate::args::SuppressionArgs;
use crate::connect::Connected;
use crate::route::{RuleSuppression, Settings, read_rules};

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
