//! The Provider trait on the Acme client, and the mapping of its results to unified ones.

use account_updater::codes::{self, CodeScheme};
use account_updater::transport::Operation;
use account_updater::webhook::{WebhookEvent, WebhookRequest};
use account_updater::{CardUpdate, Error, ExpiryFormat, ProviderId, Result};
use account_updater::{
    ids::{Flow, JobKind, JobRef, ResultsQuery},
    provider::{
        AcceptedJob, BoxFuture, Capabilities, CardToUpdate, JobReport, JobState, PlacedCard,
        Provider, SubmissionReceipt, check_card_ids,
    },
};

use super::ACME;
use super::client::AcmeClient;
use super::operations::{CreateInquiry, GetInquiry, GetResults};
use super::webhook::parse_webhook;
use super::wire::WireResult;

impl Provider for AcmeClient {
    fn id(&self) -> ProviderId {
        ACME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[
            Flow::Submit,
            Flow::JobStatus,
            Flow::FetchResults,
            Flow::ParseWebhook,
        ])
    }

    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            check_card_ids(cards.iter().map(|c| c.id.as_str()))?;
            let create = CreateInquiry { cards: &cards };
            // Every input rule is checked before anything is sent.
            create.build_request(self)?;
            let ids: Vec<String> = cards.iter().map(|c| c.id.clone()).collect();
            let answer = self.execute(&create).await;
            let mut receipt = SubmissionReceipt::new(ACME);
            receipt.record(JobKind::Inquiry, ids, answer, |created, ids| {
                AcceptedJob::new(
                    JobRef::new(ACME, JobKind::Inquiry, created.inquiry_id),
                    JobState::Pending,
                    ids.into_iter()
                        .map(|id| PlacedCard::new(id, None))
                        .collect(),
                )
            });
            Ok(receipt)
        })
    }

    fn job_status(&self, job: &JobRef) -> BoxFuture<'_, Result<JobReport>> {
        let job = job.clone();
        Box::pin(async move {
            let inquiry = self
                .execute(&GetInquiry {
                    inquiry_id: &job.id,
                })
                .await?;
            let state = match inquiry.state.as_str() {
                "completed" => JobState::Completed,
                "pending" => JobState::Pending,
                other => JobState::Other(other.to_owned()),
            };
            Ok(JobReport::new(job, state))
        })
    }

    fn fetch_results(&self, query: &ResultsQuery) -> BoxFuture<'_, Result<Vec<CardUpdate>>> {
        let query = query.clone();
        Box::pin(async move {
            let id = match &query {
                ResultsQuery::Job(job) => job.id.clone(),
                other => {
                    return Err(Error::invalid(
                        "query",
                        account_updater::error::InputProblem::NotAllowed {
                            reason: format!("Acme answers results per inquiry, not {other:?}"),
                        },
                    ));
                }
            };
            let results = self.execute(&GetResults { inquiry_id: &id }).await?;
            Ok(results.results.into_iter().map(card_update).collect())
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        parse_webhook(request.body)
    }
}

/// One Acme result in the unified vocabulary: the Visa letter through the crate's code table,
/// a new number only once it passed its check digit and length rule.
fn card_update(r: WireResult) -> CardUpdate {
    let mut update = CardUpdate::new(ACME, codes::outcome(CodeScheme::VisaVau, &r.code), r.code);
    update.card_id = Some(r.r#ref);
    if update.outcome.has_new_card_data() {
        update.new_expiry = r
            .new_exp
            .and_then(|e| account_updater::Expiry::parse(&e, ExpiryFormat::Mmyy).ok());
        if let Some(pan) = r.new_pan {
            update.offer_new_number(pan);
        }
    }
    update
}
