//! Acquired through the unified [`Provider`] trait: stored tokens updated, enabled and disabled,
//! and one ACCOUNT_UPDATER inquiry per token in a streamed submission.

use super::validate::check_token;
use super::wire::{BillingAddress, Customer};
use super::{AcquiredClient, Answer, ManageBilling, NewCard, PROVIDER};
use crate::error::{Error, InputProblem, Result};
use crate::model::check_card_ids;
use crate::providers::common::check_token_issuer;
use crate::submission::{
    Chunk, ChunkObserver, ChunkOutcome, ChunkSender, Planner, ReceiptCollector,
    StreamOptions, StreamReceipt, card_stream, check_all, drive,
};
use crate::webhook::{WebhookEvent, WebhookRequest};
use crate::{
    ids::{Flow, JobKind, JobRef, ProviderId},
    provider::{
        AcceptedJob, AccountUpdateReceipt, AccountUpdateRequest, BoxFuture, Capabilities,
        CardSource, CardToUpdate, HolderData, JobState, PlacedCard, Provider, RemovalReceipt,
        RemoveCard, SubmissionReceipt,
    },
};
use futures::stream::BoxStream;
use std::sync::Arc;

/// The unified holder data as Acquired customer and billing fields.
pub(super) fn holder_parts(h: &HolderData) -> (Option<Customer>, Option<BillingAddress>) {
    let customer = (h.first_name.is_some()
        || h.middle_name.is_some()
        || h.last_name.is_some()
        || h.company.is_some())
    .then(|| Customer {
        customer_fname: h.first_name.clone(),
        customer_mname: h.middle_name.clone(),
        customer_lname: h.last_name.clone(),
        customer_company: h.company.clone(),
        ..Customer::default()
    });
    let a = h.address.clone().unwrap_or_default();
    let billing = BillingAddress {
        billing_street: a.line1,
        billing_street2: a.line2,
        billing_city: a.city,
        billing_state: a.state,
        billing_zipcode: a.postal_code,
        billing_country_code_iso2: a.country,
        billing_phone: match (&h.phone_country_code, &h.phone) {
            (Some(cc), Some(n)) => Some(format!("+{cc}{n}")),
            (None, n) => n.clone(),
            (Some(_), None) => None,
        },
        billing_email: h.email.clone(),
    };
    let billing = (billing != BillingAddress::default()).then_some(billing);
    (customer, billing)
}

pub(super) fn receipt_for(answer: Answer, account_id: String) -> AccountUpdateReceipt {
    let r = answer.response();
    AccountUpdateReceipt {
        provider: PROVIDER,
        account_id,
        raw_code: r.response_code.clone().unwrap_or_default(),
        warning: None,
        reference: r.transaction_id.clone(),
    }
}

pub(super) fn tokens_of(cards: Vec<CardToUpdate>) -> Result<Vec<(String, String)>> {
    check_card_ids(cards.iter().map(|c| c.id.as_str()))?;
    cards
        .into_iter()
        .map(|c| match c.source {
            CardSource::Token { issuer, token } => {
                let field = format!("cards[id={}].token", c.id);
                check_token_issuer(PROVIDER, &field, issuer)?;
                check_token(&field, &token)?;
                Ok((c.id, token))
            }
            _ => Err(Error::invalid(
                format!("cards[id={}].card", c.id),
                InputProblem::NotAllowed {
                    reason:
                        "Acquired works on stored tokens (INIT transaction ids), not card numbers"
                            .into(),
                },
            )),
        })
        .collect()
}

/// Acquired's chunking: every card is its own ACCOUNT_UPDATER request on its token.
pub(super) struct InquiryPlanner;

impl Planner for InquiryPlanner {
    fn check(&self, _position: u64, card: &CardToUpdate) -> Result<()> {
        match &card.source {
            CardSource::Token { issuer, token } => {
                let field = format!("cards[id={}].token", card.id);
                check_token_issuer(PROVIDER, &field, *issuer)?;
                check_token(&field, token)
            }
            _ => Err(Error::invalid(
                format!("cards[id={}].card", card.id),
                InputProblem::NotAllowed {
                    reason:
                        "Acquired works on stored tokens (INIT transaction ids), not card numbers"
                            .into(),
                },
            )),
        }
    }

    fn admit(&mut self, position: u64, card: CardToUpdate) -> Option<Chunk> {
        let mut chunk = Chunk::new(JobKind::Inquiry, None);
        chunk.push(position, card);
        Some(chunk)
    }

    fn finish(&mut self) -> Option<Chunk> {
        None
    }
}

impl ChunkSender for AcquiredClient {
    fn send<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, ChunkOutcome> {
        Box::pin(async move {
            let token = match chunk.cards() {
                [card] => match &card.source {
                    CardSource::Token { token, .. } => token,
                    _ => {
                        return ChunkOutcome::Failed(Error::invalid("card", InputProblem::Missing));
                    }
                },
                _ => return ChunkOutcome::Failed(Error::invalid("cards", InputProblem::Empty)),
            };
            match self.request_account_update(token, None).await {
                Ok(answer) => ChunkOutcome::Accepted {
                    // The token is the reference the account_updater webhook names.
                    job: JobRef::new(PROVIDER, JobKind::Inquiry, token.clone()),
                    state: match answer {
                        Answer::Pending(_) => JobState::Pending,
                        Answer::Success(_) => JobState::Completed,
                    },
                    card_refs: Some(vec![token.clone()]),
                },
                Err(e) => ChunkOutcome::from_error(e),
            }
        })
    }
}

impl AcquiredClient {
    /// The flows this client offers (its [`Provider::capabilities`]), known before one is
    /// built: the command line asks it to say what a provider can do without credentials.
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[
        Flow::UpdateAccount,
        Flow::Submit,
        Flow::AddCards,
        Flow::RemoveCards,
        Flow::ParseWebhook,
    ]);
}

impl Provider for AcquiredClient {
    /// A token Acquired issued, in its documented form (both flows work on stored tokens).
    fn check_card(&self, _flow: Flow, card: &CardToUpdate) -> Result<()> {
        InquiryPlanner.check(0, card)
    }

    fn id(&self) -> ProviderId {
        PROVIDER
    }

    /// Results arrive only by the signed `account_updater` webhook, so there is no fetch or
    /// status flow; enable / disable a token are "add" / "remove" from updates.
    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    /// A new card number: UPDATE_BILLING (with the holder's billing address when given), which
    /// needs the expiry. Holder data only: SUBSCRIPTION_MANAGE. An expiry alone cannot change
    /// (Acquired changes it only with the number).
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        Box::pin(async move {
            let AccountUpdateRequest {
                account_id,
                card,
                holder,
            } = request;
            check_token("account_id", &account_id)?;
            let (customer, billing) = holder.as_ref().map(holder_parts).unwrap_or((None, None));
            match card {
                Some(data) => {
                    let Some(number) = data.number.clone() else {
                        return Err(Error::invalid(
                            "card.number",
                            InputProblem::NotAllowed {
                                reason: "Acquired changes an expiry only together with the card number (UPDATE_BILLING)".into(),
                            },
                        ));
                    };
                    let expiry = data
                        .expiry
                        .ok_or_else(|| Error::invalid("card.expiry", InputProblem::Missing))?;
                    if customer.is_some() {
                        return Err(Error::invalid(
                            "holder",
                            InputProblem::NotAllowed {
                                reason: "customer names change with SUBSCRIPTION_MANAGE; send them in a separate update".into(),
                            },
                        ));
                    }
                    let card = NewCard {
                        number,
                        expiry,
                        cvv: data.security_code.clone(),
                        holder_name: data.holder_name.clone(),
                    };
                    let answer = self
                        .update_card(&account_id, &card, billing.as_ref(), None)
                        .await?;
                    Ok(receipt_for(answer, account_id))
                }
                None => {
                    if customer.is_none() && billing.is_none() {
                        return Err(Error::invalid("update", InputProblem::Empty));
                    }
                    let mut change = ManageBilling::new(account_id.clone());
                    change.customer = customer;
                    change.billing = billing;
                    let answer = self.manage_billing(&change).await?;
                    Ok(receipt_for(answer, account_id))
                }
            }
        })
    }

    /// One ACCOUNT_UPDATER per token (cards must be tokens), sent with bounded concurrency and
    /// never repeated; each accepted token is a pending inquiry job whose outcome arrives by
    /// webhook.
    fn submit(&self, cards: Vec<CardToUpdate>) -> BoxFuture<'_, Result<SubmissionReceipt>> {
        Box::pin(async move {
            check_all(&InquiryPlanner, &cards)?;
            let mut collector = ReceiptCollector::default();
            let streamed = drive(
                PROVIDER,
                card_stream(cards),
                InquiryPlanner,
                Arc::new(self.clone()),
                &StreamOptions::prechecked(),
                self.concurrency,
                &mut collector,
            )
            .await;
            collector.into_receipt(streamed)
        })
    }

    fn streams_on_the_crate_driver(&self) -> bool {
        true
    }

    /// One ACCOUNT_UPDATER request (a chunk of one card) per token, streamed.
    fn submit_stream<'a>(
        &'a self,
        cards: BoxStream<'a, CardToUpdate>,
        options: StreamOptions,
        observer: &'a mut dyn ChunkObserver,
    ) -> BoxFuture<'a, Result<StreamReceipt>> {
        Box::pin(async move {
            Ok(drive(
                PROVIDER,
                cards,
                InquiryPlanner,
                Arc::new(self.clone()),
                &options,
                self.concurrency,
                observer,
            )
            .await)
        })
    }

    /// Re-enables tokens (SUBSCRIPTION_MANAGE / ENABLE). The job is not used: tokens are
    /// enabled one by one.
    fn add_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<CardToUpdate>,
    ) -> BoxFuture<'a, Result<SubmissionReceipt>> {
        let _ = job;
        Box::pin(async move {
            let mut receipt = SubmissionReceipt::new(PROVIDER);
            for (id, token) in tokens_of(cards)? {
                let answer = self.enable_token(&token, None).await;
                // The token is the card's reference: what remove_cards disables and what joins
                // webhook results back to the caller's id.
                let placed = PlacedCard::new(id.clone(), Some(token.clone()));
                receipt.record(JobKind::Subscription, vec![id], answer, |_, _| {
                    AcceptedJob {
                        cards: vec![placed],
                        job: JobRef::new(PROVIDER, JobKind::Subscription, token),
                        state: JobState::Active,
                    }
                });
            }
            Ok(receipt)
        })
    }

    /// Disables tokens (SUBSCRIPTION_MANAGE / DISABLE): a token given as
    /// `RemoveCard::Card(CardToUpdate::token(..))`, or a placed card from a receipt, whose
    /// `provider_ref` is its token (never its caller id: that is the caller's own name for the
    /// card, and sending it as a token could disable another customer's card). A placed card with
    /// no token is refused before any request. Every token is tried; the receipt says which were
    /// disabled.
    fn remove_cards<'a>(
        &'a self,
        job: &'a JobRef,
        cards: Vec<RemoveCard>,
    ) -> BoxFuture<'a, Result<RemovalReceipt>> {
        let _ = job;
        Box::pin(async move {
            let mut as_tokens = Vec::with_capacity(cards.len());
            for (index, c) in cards.into_iter().enumerate() {
                match c {
                    RemoveCard::Card(card) => as_tokens.push(card),
                    RemoveCard::Placed(PlacedCard {
                        id,
                        provider_ref: Some(token),
                        ..
                    }) => as_tokens.push(CardToUpdate::token(id, PROVIDER, token)),
                    RemoveCard::Placed(_) => {
                        return Err(Error::invalid(
                            format!("cards[{index}].provider_ref"),
                            InputProblem::Missing,
                        ));
                    }
                }
            }
            let mut receipt = RemovalReceipt::new(PROVIDER);
            for (id, token) in tokens_of(as_tokens)? {
                let answer = self.disable_token(&token, None).await;
                receipt.record(vec![id], vec![token], answer);
            }
            Ok(receipt)
        })
    }

    fn parse_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookEvent> {
        AcquiredClient::verify_webhook(self, request.body)
    }
}
