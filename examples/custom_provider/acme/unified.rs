//! The Provider trait on the Acme client, and the mapping of its results to unified ones.

use account_updater::codes::{self, CodeScheme};
use account_updater::transport::PathSegment;
use account_updater::webhook::{WebhookEvent, WebhookRequest};
use account_updater::{CardUpdate, Error, ExpiryFormat, ExposeSecret, ProviderId, Result};
use account_updater::{
    ids::{Flow, JobKind, JobRef, ResultsQuery},
    provider::{
        AcceptedJob, BoxFuture, Capabilities, CardToUpdate, JobReport, JobState, PlacedCard,
        Provider, SubmissionReceipt, check_card_ids,
    },
};

use super::ACME;
use super::client::{AcmeClient, CREATE_INQUIRY, INQUIRY, RESULTS};
use super::validate::card_for_inquiry;
use super::webhook::parse_webhook;
use super::wire::{Created, Inquiry, InquiryBody, Results, WireCard, WireResult};

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
            let mut wire = Vec::with_capacity(cards.len());
            for card in &cards {
                let (pan, expiry) = card_for_inquiry(card)?;
                wire.push(WireCard {
                    r#ref: &card.id,
                    pan: pan.expose_secret(),
                    exp: expiry.format(ExpiryFormat::Mmyy),
                });
            }
            let ids: Vec<String> = cards.iter().map(|c| c.id.clone()).collect();
            let answer = self
                .call::<Created>(
                    CREATE_INQUIRY
                        .request([])
                        .json(&InquiryBody { cards: wire }),
                )
                .await;
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
            let id = PathSegment::new("job.id", &job.id)?;
            let inquiry: Inquiry = self.call(INQUIRY.request([&id])).await?;
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
            let segment = PathSegment::new("job.id", &id)?;
            let results: Results = self.call(RESULTS.request([&segment])).await?;
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
