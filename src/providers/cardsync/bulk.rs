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
            let sent = match chunk_body(chunk.cards(), chunk.group()) {
                Err(e) => Err(e),
                Ok(body) => match chunk.group() {
                    None => self.post_batch(body).await.map(|b| {
                        match b.batch_id.filter(|id| !id.is_empty()) {
                            Some(id) => JobRef::new(PROVIDER, JobKind::Batch, id),
                            None => JobRef::id_pending(PROVIDER, JobKind::Batch),
                        }
                    }),
                    Some(se) => self
                        .post_subscribe(body)
                        .await
                        .map(|()| JobRef::new(PROVIDER, JobKind::Subscription, se)),
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

/// The body of a chunk's request, `{"cards":[…]}` (a batch; with `se_number` first in each
/// card, an Amex subscription), written straight into one buffer sized for it. The bytes are
/// exactly what `serde_json` writes for the wire structs [`BatchCardRef`] / [`AmexCardRef`]
/// (held to that by the tests below), but only the caller's own strings (id, SE number) can
/// need JSON escaping: the keys are constants, and a card number and an `MM/YY` expiry are
/// digits and a slash, which JSON never escapes. Escaping six strings a card was the largest
/// single cost in a profile of a bulk run; now at most two are looked at, and an id with
/// nothing to escape is copied as it is.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a card without a number and expiry (the planner admits none).
pub(super) fn chunk_body(cards: &[CardToUpdate], se_number: Option<&str>) -> Result<Vec<u8>> {
    /// Bytes a card takes beside its id (and SE number): keys, a 19-digit number, expiry.
    const PER_CARD: usize = 56;
    let per_se = se_number.map_or(0, |se| se.len() + 16);
    let ids: usize = cards.iter().map(|c| c.id.len()).sum();
    let mut body = Vec::with_capacity(16 + ids + cards.len() * (PER_CARD + per_se));
    body.extend_from_slice(b"{\"cards\":[");
    for (index, card) in cards.iter().enumerate() {
        let (pan, exp) = pan_and_exp(card)?;
        if index > 0 {
            body.push(b',');
        }
        body.push(b'{');
        if let Some(se) = se_number {
            body.extend_from_slice(b"\"se_number\":");
            json_string(&mut body, se);
            body.push(b',');
        }
        body.extend_from_slice(b"\"id\":");
        json_string(&mut body, &card.id);
        body.extend_from_slice(b",\"card\":\"");
        body.extend_from_slice(pan.expose_secret().as_bytes());
        body.extend_from_slice(b"\",\"exp\":\"");
        body.extend_from_slice(&exp.0);
        body.extend_from_slice(b"\"}");
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

/// `text` as a JSON string, as `serde_json` writes it: copied between quotes when it holds
/// nothing JSON escapes (a control character, `"` or `\`), else through `serde_json` itself.
fn json_string(body: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        let mut serializer = serde_json::Serializer::new(&mut *body);
        // Serialising a string into a Vec cannot fail: neither the string nor the Vec errs.
        let _ = serde::Serializer::serialize_str(&mut serializer, text);
    } else {
        body.push(b'"');
        body.extend_from_slice(text.as_bytes());
        body.push(b'"');
    }
}

/// `{"cards": [...]}` over borrowed cards: what every batch and subscribe request sends.
#[derive(Serialize)]
pub(super) struct CardsBody<'a, C> {
    pub(super) cards: &'a [C],
}

/// A batch card as the wire structs write it: the reference [`chunk_body`] is tested against.
#[cfg(test)]
#[derive(Serialize)]
pub(super) struct BatchCardRef<'a> {
    id: &'a str,
    card: &'a str,
    exp: MmSlashYy,
}

/// An Amex subscription card as the wire structs write it (see [`BatchCardRef`]).
#[cfg(test)]
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

#[cfg(test)]
pub(super) fn batch_ref(card: &CardToUpdate) -> Result<BatchCardRef<'_>> {
    let (pan, exp) = pan_and_exp(card)?;
    Ok(BatchCardRef {
        id: &card.id,
        card: pan.expose_secret(),
        exp,
    })
}

#[cfg(test)]
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

    /// The reference: what serde_json writes for the wire structs.
    fn serde_body(cards: &[CardToUpdate], se: Option<&str>) -> Vec<u8> {
        match se {
            None => {
                let refs: Vec<_> = cards.iter().map(|c| batch_ref(c).unwrap()).collect();
                serde_json::to_vec(&CardsBody { cards: &refs }).unwrap()
            }
            Some(se) => {
                let refs: Vec<_> = cards.iter().map(|c| amex_ref(c, se).unwrap()).collect();
                serde_json::to_vec(&CardsBody { cards: &refs }).unwrap()
            }
        }
    }

    fn card(id: &str, body: &str, month: u32) -> CardToUpdate {
        let number = CardNumber::parse(&crate::card::with_check_digit(body).unwrap()).unwrap();
        CardToUpdate::pan(id, number, Expiry::new(month, 2031).unwrap())
    }

    #[test]
    fn a_chunk_body_is_byte_for_byte_what_serde_json_writes() {
        let cards = [
            card("plain-1", "411111111111111", 1),
            card("quote\"and\\backslash", "555555555555444", 12),
            card("tab\there, newline\n, bell\u{7}, del\u{7f}", "601111111111111", 6),
            card("ünïcødé ✓ / slash", "3782822463100", 9),
            card("x", "411111111111111111", 3),
        ];
        assert_eq!(chunk_body(&cards, None).unwrap(), serde_body(&cards, None));
        let number = crate::card::with_check_digit("411111111111111").unwrap();
        assert_eq!(
            String::from_utf8(chunk_body(&cards[..1], None).unwrap()).unwrap(),
            format!(r#"{{"cards":[{{"id":"plain-1","card":"{number}","exp":"01/31"}}]}}"#)
        );
        let amex = [card("a1", "37828224631000", 2), card("a\"2", "34213233556677", 11)];
        assert_eq!(
            chunk_body(&amex, Some("1234567890")).unwrap(),
            serde_body(&amex, Some("1234567890"))
        );
        assert_eq!(chunk_body(&[], None).unwrap(), serde_body(&[], None));
    }

    #[test]
    fn a_card_without_number_or_expiry_is_refused_not_written() {
        let mut no_expiry = card("n", "411111111111111", 1);
        no_expiry.expiry = None;
        let token = CardToUpdate::token("t", crate::ProviderId::CardSync, "tok");
        for odd in [no_expiry, token] {
            let e = chunk_body(&[card("ok", "411111111111111", 1), odd], None).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        }
    }

    proptest::proptest! {
        /// Any id (any characters at all) and SE number: the same bytes as serde_json.
        #[test]
        fn any_ids_are_written_as_serde_json_writes_them(
            ids in proptest::collection::vec(proptest::prelude::any::<String>(), 1..20),
            se in proptest::option::of("[0-9\"\\\\a-z]{1,12}"),
        ) {
            let cards: Vec<CardToUpdate> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| card(id, &format!("4{:014}", i), (i % 12 + 1) as u32))
                .collect();
            proptest::prop_assert_eq!(
                chunk_body(&cards, se.as_deref()).unwrap(),
                serde_body(&cards, se.as_deref())
            );
        }
    }
}
