//! Polling: every accepted job of every run that still waits for results within its window
//! is asked about on its provider's schedule; errors back off (doubling up to an hour, or the
//! provider's `Retry-After` when it is longer), and a job stops being polled once the provider
//! reports it complete or failed, or its window has passed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use account_updater::ProviderId;
use account_updater::error::{Error, ErrorKind};
use account_updater::ids::{Flow, JobKind, JobRef, ResultsQuery};
use account_updater::provider::{JobState, Provider};
use account_updater_journal::{Journal, ReconcileOptions};
use tokio::time::Instant;

use super::config::ServeSettings;
use super::metrics::Metrics;

/// The longest a failing job waits between polls.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// When a job is next asked about, and how long it waits after its next error.
struct Schedule {
    next: Instant,
    backoff: Duration,
}

/// The poller's state across passes.
pub struct Poller {
    journal: Journal,
    providers: BTreeMap<ProviderId, Arc<dyn Provider>>,
    metrics: Arc<Metrics>,
    settings: ServeSettings,
    windows: ReconcileOptions,
    schedules: HashMap<(String, ProviderId, String), Schedule>,
}

impl Poller {
    /// A poller over the configured providers; `windows` says when each provider's results
    /// are overdue.
    pub fn new(
        journal: Journal,
        providers: BTreeMap<ProviderId, Arc<dyn Provider>>,
        metrics: Arc<Metrics>,
        settings: ServeSettings,
        windows: ReconcileOptions,
    ) -> Self {
        Poller {
            journal,
            providers,
            metrics,
            settings,
            windows,
            schedules: HashMap::new(),
        }
    }

    /// How long to sleep between passes: the shortest poll interval, at most a minute (the
    /// gauges are refreshed each pass).
    pub fn tick(&self) -> Duration {
        self.providers
            .keys()
            .map(|p| self.settings.poll_every(*p))
            .min()
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60))
    }

    /// One pass over every run's jobs: polls those that are due, refreshes the gauges.
    ///
    /// # Errors
    ///
    /// The journal's, when it cannot be read; a provider's errors are counted and backed off,
    /// not returned.
    pub async fn pass(&mut self) -> Result<(), Error> {
        let windows = self.windows.clone().at(chrono::Utc::now());
        let mut pending: BTreeMap<&'static str, i64> = BTreeMap::new();
        let mut overdue: BTreeMap<&'static str, i64> = BTreeMap::new();
        for p in self.providers.keys() {
            pending.insert(p.as_str(), 0);
            overdue.insert(p.as_str(), 0);
        }
        // The jobs still open this pass: the schedules of the others are dropped after it.
        let mut open_jobs = std::collections::HashSet::new();
        for run in self.journal.runs().await? {
            // One run the journal cannot read (say, written by a newer version) does not stop
            // the others from being polled.
            let read = async {
                let reconciliation = self.journal.reconcile(&run.run_id, &windows).await?;
                let accepted = self.journal.accepted_jobs(&run.run_id).await?;
                Ok::<_, Error>((reconciliation, accepted))
            };
            let (reconciliation, accepted) = match read.await {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(run = %run.run_id, error = %e, "poll: could not read the run");
                    continue;
                }
            };
            for job in &reconciliation.jobs {
                if let Some(p) = ProviderId::from_name(&job.provider_name) {
                    *overdue.entry(p.as_str()).or_default() += job.overdue as i64;
                }
            }
            for accepted in accepted {
                let Some(job) = accepted.job else { continue };
                let open = reconciliation.jobs.iter().any(|r| {
                    r.provider_name == job.provider.as_str()
                        && r.job_id.as_deref() == Some(job.id.as_str())
                        && r.state.is_none()
                        && r.waiting > 0
                });
                let Some(provider) = self.providers.get(&job.provider).cloned() else {
                    continue;
                };
                if !open {
                    continue;
                }
                // Pending whether polled or announced by webhook only (Acquired).
                *pending.entry(job.provider.as_str()).or_default() += 1;
                if !provider.capabilities().supports(Flow::FetchResults) {
                    continue;
                }
                let key = (run.run_id.clone(), job.provider, job.id.clone());
                open_jobs.insert(key.clone());
                let every = self.settings.poll_every(job.provider);
                let now = Instant::now();
                let schedule = self.schedules.entry(key).or_insert(Schedule {
                    next: now,
                    backoff: every,
                });
                if schedule.next > now {
                    continue;
                }
                self.metrics
                    .polls
                    .with_label_values(&[job.provider.as_str()])
                    .inc();
                match poll(
                    &self.journal,
                    &self.metrics,
                    provider.as_ref(),
                    &run.run_id,
                    &job,
                )
                .await
                {
                    Ok(()) => {
                        schedule.next = Instant::now() + every;
                        schedule.backoff = every;
                    }
                    Err(e) if e.kind() == ErrorKind::Journal => return Err(e),
                    Err(e) => {
                        self.metrics
                            .poll_errors
                            .with_label_values(&[job.provider.as_str()])
                            .inc();
                        let mut wait = schedule.backoff;
                        if let Error::RateLimited {
                            retry_after: Some(after),
                            ..
                        } = &e
                        {
                            wait = wait.max(*after);
                        }
                        tracing::warn!(provider = job.provider.as_str(), job = %job.id, error = %e, retry_in = ?wait, "poll failed");
                        schedule.next = Instant::now() + wait;
                        schedule.backoff = (schedule.backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        for (provider, n) in pending {
            self.metrics
                .jobs_pending
                .with_label_values(&[provider])
                .set(n);
        }
        for (provider, n) in overdue {
            self.metrics
                .cards_overdue
                .with_label_values(&[provider])
                .set(n);
        }
        self.schedules.retain(|key, _| open_jobs.contains(key));
        self.metrics.poll_passes.inc();
        Ok(())
    }
}

/// Asks about one job: a batch's status first (its results once complete); a subscription's
/// latest results every time (a PayConex schedule runs again and again).
async fn poll(
    journal: &Journal,
    metrics: &Metrics,
    provider: &dyn Provider,
    run_id: &str,
    job: &JobRef,
) -> Result<(), Error> {
    if job.kind == JobKind::Batch {
        match provider.job_status(job).await {
            Ok(status) => {
                journal.record_job_state(run_id, job, &status.state).await?;
                if status.state != JobState::Completed {
                    return Ok(());
                }
            }
            // No status to ask: go on to the results.
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported) => {}
            Err(e) => return Err(e),
        }
    }
    let updates = match provider
        .fetch_results(&ResultsQuery::Job(job.clone()))
        .await
    {
        Ok(updates) => updates,
        // Results of this job come by webhook only (a CardSync Amex subscription).
        Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::InvalidInput) => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if updates.is_empty() {
        return Ok(());
    }
    let report = journal.record_incoming(updates, Some(job)).await?;
    super::count_results(metrics, &report);
    if report.stored > 0 {
        tracing::info!(provider = job.provider.as_str(), job = %job.id, stored = report.stored, "polled results stored");
    }
    Ok(())
}
