//! Planning a streamed submission for CardSync: batches of at most 10,000 Visa / Mastercard /
//! Discover cards, Amex cards to subscriptions grouped per SE number, and the request bodies
//! written straight from the caller's cards.

use super::validate::check_brand;
use super::{CardSyncClient, MAX_CARDS_PER_REQUEST, PROVIDER};
use crate::card::{CardBrand, CardNumber};
use crate::error::{Error, InputProblem, Result};
use crate::submission::{Chunk, ChunkOutcome, ChunkSender, Planner};
use crate::{
    ids::{JobKind, JobRef},
    provider::{BoxFuture, CardSource, CardToUpdate, JobState},
};
use secrecy::ExposeSecret;
use serde::Serialize;

/// Cards that may wait in open chunks (a batch and one subscribe request per SE number) before
/// the largest Amex group is sent early.
pub const MAX_OPEN_CARDS: usize = 4 * MAX_CARDS_PER_REQUEST;

/// CardSync's chunking rules: Visa / Mastercard / Discover to batches, Amex to subscribe
/// requests per SE number, 10,000 cards a request.
#[derive(Default)]
pub(super) struct BulkPlanner {
    batch: Option<Chunk>,
    amex: Vec<Chunk>,
    open: usize,
}

impl Planner for BulkPlanner {
    fn check(&self, _position: u64, card: &CardToUpdate) -> Result<()> {
        let field = |f: &str| format!("cards[id={}].{f}", card.id);
        let CardSource::Pan(pan) = &card.source else {
            return Err(Error::invalid(
                field("card"),
                InputProblem::NotAllowed {
                    reason: "CardSync takes card numbers, not tokens".into(),
                },
            ));
        };
        if card.expiry.is_none() {
            return Err(Error::invalid(field("exp"), InputProblem::Missing));
        }
        let se = card.amex_se_number.as_deref().filter(|s| !s.is_empty());
        if pan.brand() == CardBrand::Amex {
            if se.is_none() {
                return Err(Error::invalid(field("se_number"), InputProblem::Missing));
            }
        } else {
            check_brand(&card.id, pan.brand(), false)?;
            if se.is_some() {
                return Err(Error::invalid(
                    field("se_number"),
                    InputProblem::NotAllowed {
                        reason: "an SE number is for American Express cards only".into(),
                    },
                ));
            }
        }
        Ok(())
    }

    fn admit(&mut self, position: u64, card: CardToUpdate) -> Option<Chunk> {
        let se = card
            .amex_se_number
            .as_deref()
            .filter(|s| !s.is_empty() && card_is_amex(&card));
        let open = match se {
            // A batch fills to 10,000 before it is sent (or the input ends): room for all of
            // them at once. Amex groups start small, as there may be many SE numbers.
            None => self.batch.get_or_insert_with(|| {
                Chunk::with_capacity(JobKind::Batch, None, MAX_CARDS_PER_REQUEST)
            }),
            Some(se) => match self.amex.iter().position(|c| c.group() == Some(se)) {
                Some(i) => &mut self.amex[i],
                None => {
                    self.amex
                        .push(Chunk::new(JobKind::Subscription, Some(se.to_owned())));
                    let last = self.amex.len() - 1;
                    &mut self.amex[last]
                }
            },
        };
        open.push(position, card);
        self.open += 1;
        if open.len() >= MAX_CARDS_PER_REQUEST {
            // The next batch gets its full room again; an emptied Amex group is forgotten.
            let fresh = match open.group() {
                None => Chunk::with_capacity(open.kind(), None, MAX_CARDS_PER_REQUEST),
                Some(_) => Chunk::new(open.kind(), None),
            };
            let full = std::mem::replace(open, fresh);
            return Some(self.close(full));
        }
        if self.open > MAX_OPEN_CARDS {
            let largest = (0..self.amex.len()).max_by_key(|&i| self.amex[i].len())?;
            let chunk = self.amex.swap_remove(largest);
            return Some(self.close(chunk));
        }
        None
    }

    fn finish(&mut self) -> Option<Chunk> {
        let chunk = match self.batch.take().filter(|c| !c.is_empty()) {
            Some(batch) => batch,
            None => loop {
                let next = self.amex.pop()?;
                if !next.is_empty() {
                    break next;
                }
            },
        };
        Some(self.close(chunk))
    }
}

impl BulkPlanner {
    /// Takes a full chunk out of the open ones; an emptied Amex group is forgotten.
    fn close(&mut self, chunk: Chunk) -> Chunk {
        self.open -= chunk.len();
        self.amex.retain(|c| !c.is_empty());
        chunk
    }
}

pub(super) fn card_is_amex(card: &CardToUpdate) -> bool {
    matches!(&card.source, CardSource::Pan(p) if p.brand() == CardBrand::Amex)
}

impl ChunkSender for CardSyncClient {
    fn send<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, ChunkOutcome> {
        Box::pin(async move {
            let sent = match chunk.group() {
                None => match chunk
                    .cards()
                    .iter()
                    .map(batch_ref)
                    .collect::<Result<Vec<_>>>()
                {
                    Ok(body) => self.post_batch(&body).await.map(|b| {
                        match b.batch_id.filter(|id| !id.is_empty()) {
                            Some(id) => JobRef::new(PROVIDER, JobKind::Batch, id),
                            None => JobRef::id_pending(PROVIDER, JobKind::Batch),
                        }
                    }),
                    Err(e) => Err(e),
                },
                Some(se) => match chunk
                    .cards()
                    .iter()
                    .map(|c| amex_ref(c, se))
                    .collect::<Result<Vec<_>>>()
                {
                    Ok(body) => self
                        .post_subscribe(&body)
                        .await
                        .map(|()| JobRef::new(PROVIDER, JobKind::Subscription, se)),
                    Err(e) => Err(e),
                },
            };
            match sent {
                Ok(job) => ChunkOutcome::Accepted {
                    state: if job.kind == JobKind::Batch {
                        JobState::Pending
                    } else {
                        JobState::Active
                    },
                    job,
                    card_refs: None,
                },
                Err(e) => ChunkOutcome::from_error(e),
            }
        })
    }
}

/// `{"cards": [...]}` over borrowed cards: what every batch and subscribe request sends.
#[derive(Serialize)]
pub(super) struct CardsBody<'a, C> {
    pub(super) cards: &'a [C],
}

#[derive(Serialize)]
pub(super) struct BatchCardRef<'a> {
    id: &'a str,
    card: &'a str,
    exp: MmSlashYy,
}

#[derive(Serialize)]
pub(super) struct AmexCardRef<'a> {
    se_number: &'a str,
    id: &'a str,
    card: &'a str,
    exp: MmSlashYy,
}

/// An expiry written `MM/YY` on the stack: no allocation per card in a bulk request.
pub(super) struct MmSlashYy([u8; 5]);

impl MmSlashYy {
    fn new(e: crate::card::Expiry) -> Self {
        let digit = |n: u32| b'0' + (n % 10) as u8;
        let (m, y) = (e.month(), e.year() % 100);
        MmSlashYy([digit(m / 10), digit(m), b'/', digit(y / 10), digit(y)])
    }
}

impl Serialize for MmSlashYy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => Err(serde::ser::Error::custom("expiry is not ASCII")),
        }
    }
}

/// The card number and expiry of a card [`plan_submission`] admitted (it admits only card
/// numbers with an expiry; anything else is an input error here too, never a panic).
pub(super) fn pan_and_exp(card: &CardToUpdate) -> Result<(&CardNumber, MmSlashYy)> {
    match (&card.source, card.expiry) {
        (CardSource::Pan(p), Some(e)) => Ok((p, MmSlashYy::new(e))),
        (CardSource::Pan(_), None) => Err(Error::invalid(
            format!("cards[id={}].exp", card.id),
            InputProblem::Missing,
        )),
        _ => Err(Error::invalid(
            format!("cards[id={}].card", card.id),
            InputProblem::NotAllowed {
                reason: "CardSync takes card numbers, not tokens".into(),
            },
        )),
    }
}

pub(super) fn batch_ref(card: &CardToUpdate) -> Result<BatchCardRef<'_>> {
    let (pan, exp) = pan_and_exp(card)?;
    Ok(BatchCardRef {
        id: &card.id,
        card: pan.expose_secret(),
        exp,
    })
}

pub(super) fn amex_ref<'a>(card: &'a CardToUpdate, se: &'a str) -> Result<AmexCardRef<'a>> {
    let (pan, exp) = pan_and_exp(card)?;
    Ok(AmexCardRef {
        se_number: se,
        id: &card.id,
        card: pan.expose_secret(),
        exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Expiry;
    use crate::submission::Planner;

    /// A full batch holds its 10,000 cards in room for exactly 10,000 (grown by doubling it
    /// would end with room for 16,384), and so does the batch after it.
    #[test]
    fn batches_are_allocated_once_with_room_for_their_cards() {
        let mut planner = BulkPlanner::default();
        let visa = crate::card::with_check_digit(&"4".repeat(15)).unwrap();
        let pan = CardNumber::parse(&visa).unwrap();
        let expiry = Expiry::new(12, 2030).unwrap();
        let mut full = Vec::new();
        for i in 0..2 * MAX_CARDS_PER_REQUEST {
            let card = CardToUpdate::pan(format!("c{i}"), pan.clone(), expiry);
            if let Some(chunk) = planner.admit(i as u64, card) {
                full.push(chunk);
            }
        }
        assert_eq!(full.len(), 2);
        for chunk in &full {
            assert_eq!(chunk.len(), MAX_CARDS_PER_REQUEST);
            assert_eq!(chunk.cards.capacity(), MAX_CARDS_PER_REQUEST);
            assert_eq!(chunk.positions.capacity(), MAX_CARDS_PER_REQUEST);
        }
        assert!(planner.finish().is_none());
    }
}
