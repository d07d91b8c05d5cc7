//! `/metrics`: the collector's counters and gauges in the Prometheus text exposition format
//! (version 0.0.4), through TiKV's `prometheus` crate. Labels carry provider names, outcome
//! names, reasons and sink names only: never a card, an id or a secret.

use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
    register_int_counter_vec_with_registry, register_int_counter_with_registry,
    register_int_gauge_vec_with_registry,
};

/// Every metric the collector exports.
pub struct Metrics {
    registry: Registry,
    /// `account_updater_results_total{provider,outcome}`: results stored for the first time.
    pub results: IntCounterVec,
    /// `account_updater_results_unmatched_total{provider}`: results no run of the journal
    /// sent a card for (not stored).
    pub unmatched: IntCounterVec,
    /// `account_updater_webhooks_received_total{provider}`: webhooks taken for handling
    /// (verified or parsed).
    pub webhooks_received: IntCounterVec,
    /// `account_updater_webhooks_refused_total{provider,reason}`: webhooks refused, by
    /// reason: `unknown_path`, `too_large`, `rate_limited`, `bad_signature`, `unreadable`.
    pub webhooks_refused: IntCounterVec,
    /// `account_updater_webhooks_duplicate_total{provider}`: webhooks whose every result the
    /// journal already held (a redelivery).
    pub webhooks_duplicate: IntCounterVec,
    /// `account_updater_webhooks_unanswered_total{provider}`: webhooks answered 503 (their
    /// results not yet durable, or not yet known): the provider delivers them again.
    pub webhooks_deferred: IntCounterVec,
    /// `account_updater_jobs_pending{provider}`: accepted jobs still waiting for results
    /// within their window.
    pub jobs_pending: IntGaugeVec,
    /// `account_updater_cards_overdue{provider}`: accepted cards past their provider's
    /// window with no result.
    pub cards_overdue: IntGaugeVec,
    /// `account_updater_applied_total{sink}`: results handed to a sink and marked applied.
    pub applied: IntCounterVec,
    /// `account_updater_apply_failures_total{sink}`: failed hand-overs (retried with backoff).
    pub apply_failures: IntCounterVec,
    /// `account_updater_polls_total{provider}`: job polls made.
    pub polls: IntCounterVec,
    /// `account_updater_poll_errors_total{provider}`: polls that failed (backed off).
    pub poll_errors: IntCounterVec,
    /// `account_updater_poll_passes_total`: passes over the journal's open jobs (each pass
    /// refreshes the gauges).
    pub poll_passes: IntCounter,
    /// `account_updater_apply_passes_total`: completed passes of the sinks over every run's
    /// unapplied results (whether or not there were any; a failed pass is not counted).
    pub apply_passes: IntCounter,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_int_counter_vec_with_registry!(Opts::new(name, help), labels, registry)
                .expect("a metric name registered once")
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register_int_gauge_vec_with_registry!(Opts::new(name, help), labels, registry)
                .expect("a metric name registered once")
        };
        Metrics {
            results: counter(
                "account_updater_results_total",
                "Results stored in the journal for the first time.",
                &["provider", "outcome"],
            ),
            unmatched: counter(
                "account_updater_results_unmatched_total",
                "Results for cards no run of the journal sent (not stored).",
                &["provider"],
            ),
            webhooks_received: counter(
                "account_updater_webhooks_received_total",
                "Webhooks verified or parsed and taken for handling.",
                &["provider"],
            ),
            webhooks_refused: counter(
                "account_updater_webhooks_refused_total",
                "Webhooks refused, by reason.",
                &["provider", "reason"],
            ),
            webhooks_duplicate: counter(
                "account_updater_webhooks_duplicate_total",
                "Webhooks whose every result the journal already held.",
                &["provider"],
            ),
            webhooks_deferred: counter(
                "account_updater_webhooks_unanswered_total",
                "Webhooks answered 503: not yet durable or not yet known; the provider redelivers.",
                &["provider"],
            ),
            jobs_pending: gauge(
                "account_updater_jobs_pending",
                "Accepted jobs waiting for results within their window.",
                &["provider"],
            ),
            cards_overdue: gauge(
                "account_updater_cards_overdue",
                "Accepted cards past their provider's window with no result.",
                &["provider"],
            ),
            applied: counter(
                "account_updater_applied_total",
                "Results handed to a sink and marked applied.",
                &["sink"],
            ),
            apply_failures: counter(
                "account_updater_apply_failures_total",
                "Failed hand-overs to a sink (retried with backoff).",
                &["sink"],
            ),
            polls: counter(
                "account_updater_polls_total",
                "Job polls made.",
                &["provider"],
            ),
            poll_errors: counter(
                "account_updater_poll_errors_total",
                "Job polls that failed (backed off).",
                &["provider"],
            ),
            poll_passes: register_int_counter_with_registry!(
                Opts::new(
                    "account_updater_poll_passes_total",
                    "Passes over the journal's open jobs."
                ),
                registry
            )
            .expect("a metric name registered once"),
            apply_passes: register_int_counter_with_registry!(
                Opts::new(
                    "account_updater_apply_passes_total",
                    "Completed passes of the sinks over the journal's unapplied results."
                ),
                registry
            )
            .expect("a metric name registered once"),
            registry,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail but on a metric family the registry itself built.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
