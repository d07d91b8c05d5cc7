//! The `[serve]` table of the configuration file (the same file as `run --route`), resolved
//! into settings before anything listens: every mistake is reported with the file's name.
//!
//! ```toml
//! [serve]
//! listen = "127.0.0.1:8787"   # loopback unless told otherwise
//! max_body = 65536            # bytes; a larger webhook is refused (413) and counted
//! answer_within = "8s"        # Acquired gives a webhook 10 s; unsure work answers 503
//! drain = "30s"               # on SIGTERM: how long in-flight work may take
//! updates = "updates.csv"     # the updates file: every new result appended once
//! apply_command = ["/usr/local/bin/apply-card-updates"]  # JSON lines on its stdin
//! apply_batch = 500           # results per command invocation
//! apply_every = "5s"          # how often new results are handed to the sinks
//!
//! [serve.poll]                # how often each provider's open jobs are asked about
//! cardsync = "15m"
//! payconex = "1h"
//!
//! [serve.rate_limit]          # webhooks per provider path: N (a second), "N/s", "N/min", "N/h"
//! acquired = 50               # (the burst is N)
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use account_updater::ProviderId;
use serde::Deserialize;

use crate::Failure;
use crate::connect::parse_provider;

/// The `[serve]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSpec {
    listen: Option<String>,
    max_body: Option<usize>,
    answer_within: Option<String>,
    drain: Option<String>,
    updates: Option<PathBuf>,
    apply_command: Option<Vec<String>>,
    apply_batch: Option<usize>,
    apply_every: Option<String>,
    #[serde(default)]
    poll: BTreeMap<String, String>,
    #[serde(default)]
    rate_limit: BTreeMap<String, RateSpec>,
}

/// A rate as written: webhooks a second (`50`), or `"N/s"`, `"N/min"`, `"N/h"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RateSpec {
    PerSecond(u32),
    Text(String),
}

/// A rate limit: `count` webhooks per `per` (the burst is `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Webhooks taken per period.
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl RateSpec {
    fn rate(&self) -> Result<Rate, String> {
        let (count, per) = match self {
            RateSpec::PerSecond(n) => (*n, Duration::from_secs(1)),
            RateSpec::Text(text) => {
                let (n, unit) = text
                    .split_once('/')
                    .ok_or_else(|| format!("{text:?} is not N/s, N/min or N/h"))?;
                let n: u32 = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("{text:?}: {n:?} is not a whole number"))?;
                let per = match unit.trim() {
                    "s" | "sec" | "second" => Duration::from_secs(1),
                    "min" | "minute" => Duration::from_secs(60),
                    "h" | "hour" => Duration::from_secs(3600),
                    other => return Err(format!("{text:?}: unit {other:?} is not s, min or h")),
                };
                (n, per)
            }
        };
        if count == 0 {
            return Err("a rate limit must allow at least 1".into());
        }
        Ok(Rate { count, per })
    }
}

/// The collector's settings, resolved and checked.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Where the listener binds.
    pub listen: SocketAddr,
    /// The largest webhook body taken, in bytes.
    pub max_body: usize,
    /// How long a webhook's handling may take before it is answered 503 (the work goes on).
    pub answer_within: Duration,
    /// How long in-flight work may take after SIGTERM.
    pub drain: Duration,
    /// The updates file, if any.
    pub updates: Option<PathBuf>,
    /// The apply command's argv, if any.
    pub apply_command: Option<Vec<String>>,
    /// Results per apply batch.
    pub apply_batch: usize,
    /// How often new results are handed to the sinks.
    pub apply_every: Duration,
    /// Per provider: how often its open jobs are polled.
    pub poll: BTreeMap<ProviderId, Duration>,
    /// Per provider: webhooks taken per period.
    pub rate_limit: BTreeMap<ProviderId, Rate>,
}

/// The poll interval of a provider the file does not name: CardSync batches finish in days,
/// PayConex schedules run for days; a quarter of an hour is often enough and far below any
/// rate limit.
pub const DEFAULT_POLL: Duration = Duration::from_secs(15 * 60);
/// Webhooks a second per provider path when the file does not say.
pub const DEFAULT_RATE_LIMIT: u32 = 50;
/// The port the collector listens on when the file does not say.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

impl ServeSettings {
    /// Resolves `spec` (from `file`), with the command line's `listen` over the file's.
    pub fn resolve(
        file: &Path,
        spec: ServeSpec,
        listen: Option<SocketAddr>,
    ) -> Result<Self, Failure> {
        let bad = |what: String| Failure::error(format!("{}: [serve] {what}", file.display()));
        let duration = |name: &str, value: Option<&String>, default: Duration| {
            value
                .map(|v| {
                    humantime::parse_duration(v).map_err(|e| bad(format!("{name} {v:?}: {e}")))
                })
                .transpose()
                .map(|d| d.unwrap_or(default))
        };
        let listen = match listen {
            Some(addr) => addr,
            None => {
                let text = spec.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
                text.parse()
                    .map_err(|e| bad(format!("listen {text:?} is not ADDRESS:PORT: {e}")))?
            }
        };
        let max_body = spec.max_body.unwrap_or(64 * 1024);
        if max_body == 0 {
            return Err(bad("max_body must be at least 1 byte".into()));
        }
        let answer_within = duration(
            "answer_within",
            spec.answer_within.as_ref(),
            Duration::from_secs(8),
        )?;
        if answer_within.is_zero() {
            return Err(bad("answer_within must be more than 0s".into()));
        }
        let drain = duration("drain", spec.drain.as_ref(), Duration::from_secs(30))?;
        let apply_every = duration(
            "apply_every",
            spec.apply_every.as_ref(),
            Duration::from_secs(5),
        )?
        .max(Duration::from_millis(10));
        let apply_batch = spec.apply_batch.unwrap_or(500);
        if !(1..=10_000).contains(&apply_batch) {
            return Err(bad("apply_batch must lie between 1 and 10000".into()));
        }
        if let Some(argv) = &spec.apply_command {
            let Some(program) = argv.first().filter(|p| !p.trim().is_empty()) else {
                return Err(bad(
                    "apply_command must name a program (a list: program, then its arguments)"
                        .into(),
                ));
            };
            if !runnable(program) {
                return Err(bad(format!(
                    "apply_command: {program:?} is not an executable file (nor one on PATH)"
                )));
            }
        }
        let mut poll = BTreeMap::new();
        for (name, every) in &spec.poll {
            let provider = parse_provider(name).map_err(|e| bad(format!("poll: {e}")))?;
            let every = humantime::parse_duration(every)
                .map_err(|e| bad(format!("poll.{name} {every:?}: {e}")))?;
            if every.is_zero() {
                return Err(bad(format!("poll.{name} must be more than 0s")));
            }
            poll.insert(provider, every);
        }
        let mut rate_limit = BTreeMap::new();
        for (name, rate) in &spec.rate_limit {
            let provider = parse_provider(name).map_err(|e| bad(format!("rate_limit: {e}")))?;
            let rate = rate
                .rate()
                .map_err(|e| bad(format!("rate_limit.{name}: {e}")))?;
            rate_limit.insert(provider, rate);
        }
        Ok(ServeSettings {
            listen,
            max_body,
            answer_within,
            drain,
            updates: spec.updates,
            apply_command: spec.apply_command,
            apply_batch,
            apply_every,
            poll,
            rate_limit,
        })
    }

    /// How often `provider`'s open jobs are polled.
    pub fn poll_every(&self, provider: ProviderId) -> Duration {
        self.poll.get(&provider).copied().unwrap_or(DEFAULT_POLL)
    }

    /// The webhooks taken on `provider`'s path.
    pub fn rate_limit_of(&self, provider: ProviderId) -> Rate {
        self.rate_limit.get(&provider).copied().unwrap_or(Rate {
            count: DEFAULT_RATE_LIMIT,
            per: Duration::from_secs(1),
        })
    }
}

/// Whether `program` is an executable file, as given or on `PATH`.
fn runnable(program: &str) -> bool {
    let executable = |path: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            path.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            path.is_file()
        }
    };
    if program.contains(std::path::MAIN_SEPARATOR) {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| executable(&dir.join(program)))
    })
}
