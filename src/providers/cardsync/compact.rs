//! Results kept as the body they arrived in, with an index: for the largest answer CardSync
//! gives (10,000 cards a page), decoding costs a small fraction of the body on top of the body
//! itself, instead of one owned struct per card.
//!
//! Each card is 24 bytes of index: where the card's strings start in the body, and each of its
//! five strings as a 16-bit offset from there and a 16-bit length. Strings with JSON escapes,
//! and values that are not strings (a numeric id), are copied once into a side buffer; a card
//! with such a string (or whose strings lie further apart than 16 bits can say) keeps five full
//! spans in a list of its own. Card numbers stay in the body and are validated into a [`CardNumber`] only when
//! asked for; the body (and the side buffer) are overwritten with zeros when dropped.

use std::borrow::Cow;
use std::fmt;

use secrecy::zeroize::{Zeroize, Zeroizing};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::PROVIDER;
use super::unified::update_from_parts;
use super::wire::{BatchState, ResultCard, Stats};
use crate::card::{CardNumber, Expiry, ExpiryFormat, NewNumberProblem};
use crate::error::{Error, Result};
use crate::outcome::CardUpdate;

/// Where a string is: in the body, or (high bit set) in the side buffer. `len == NONE`: absent.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

const NONE: u32 = u32::MAX;
const SIDE: u32 = 1 << 31;

impl Span {
    const ABSENT: Span = Span {
        start: 0,
        len: NONE,
    };
}

/// One card of the index: its strings at `base + offset` in the body, `len` bytes each
/// (`len == SHORT_NONE`: absent), in the order id, SE number, card, expiry, status. With
/// `base == WIDE` the card's strings are in [`CompactResults::wide`], at the index the first
/// field's `offset` (low half) and `len` (high half) spell.
///
/// 24 bytes where five full spans take 40: the index is what a compact decoding adds to the
/// body (about 90 bytes a card in a batch's results), and issue 25 asks that a results fetch
/// peak below twice the body.
#[derive(Clone, Copy)]
struct CompactCard {
    base: u32,
    fields: [Short; 5],
}

/// A string relative to its card's `base`.
#[derive(Clone, Copy)]
struct Short {
    offset: u16,
    len: u16,
}

const SHORT_NONE: u16 = u16::MAX;
const WIDE: u32 = u32::MAX;

impl CompactCard {
    /// The card's five spans in the compact form, when they fit it: every string present is
    /// in the body (an empty one anywhere), within 16 bits of the first.
    fn short(spans: &[Span; 5]) -> Option<CompactCard> {
        // Body offsets are below `SIDE`, so `WIDE` is never a real start.
        let mut base = WIDE;
        for span in spans.iter().filter(|s| s.len != NONE && s.len != 0) {
            if span.start & SIDE != 0 {
                return None;
            }
            base = base.min(span.start);
        }
        if base == WIDE {
            base = 0;
        }
        let mut fields = [Short {
            offset: 0,
            len: SHORT_NONE,
        }; 5];
        for (field, span) in fields.iter_mut().zip(spans) {
            if span.len == NONE {
                continue;
            }
            if span.len == 0 {
                field.len = 0;
                continue;
            }
            field.offset = u16::try_from(span.start - base).ok()?;
            field.len = u16::try_from(span.len).ok().filter(|&l| l != SHORT_NONE)?;
        }
        Some(CompactCard { base, fields })
    }

    /// A card whose spans are `wide[index]`.
    fn wide(index: usize) -> std::result::Result<CompactCard, Error> {
        let index = u32::try_from(index)
            .map_err(|_| Error::decode(PROVIDER, 200, "results body too large", b""))?;
        let mut fields = [Short { offset: 0, len: 0 }; 5];
        fields[0] = Short {
            offset: index as u16,
            len: (index >> 16) as u16,
        };
        Ok(CompactCard { base: WIDE, fields })
    }
}

/// Batch or subscription results, decoded compactly ([`super::CardSyncClient::batch_results_compact`]).
#[non_exhaustive]
pub struct CompactResults {
    /// Checked UTF-8 once, so that each field is a slice, not a second validation.
    body: String,
    side: String,
    cards: Vec<CompactCard>,
    /// The spans of the cards that do not fit [`CompactCard`]'s short form.
    wide: Vec<[Span; 5]>,
    /// The batch (batch results only).
    pub batch_id: Option<String>,
    /// The state.
    pub status: Option<BatchState>,
    /// Counters.
    pub stats: Stats,
}

impl fmt::Debug for CompactResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactResults")
            .field("batch_id", &self.batch_id)
            .field("status", &self.status)
            .field("cards", &self.cards.len())
            .finish()
    }
}

/// [`CompactResults::into_card_updates`].
struct IntoCardUpdates {
    results: CompactResults,
    next: usize,
    provider_ref: Option<String>,
}

impl Iterator for IntoCardUpdates {
    type Item = CardUpdate;

    fn next(&mut self) -> Option<CardUpdate> {
        let card = self.results.cards.get(self.next)?;
        self.next += 1;
        let r = self.results.view(card);
        Some(update_from_parts(
            r.id.to_owned(),
            r.status.to_owned(),
            r.checked_card(),
            r.expiry(),
            self.provider_ref.as_deref(),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.results.cards.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for IntoCardUpdates {}

impl Drop for CompactResults {
    fn drop(&mut self) {
        // The body holds card numbers in clear.
        self.body.zeroize();
        self.side.zeroize();
    }
}

/// One card of [`CompactResults`], borrowed.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ResultRef<'a> {
    /// The caller's id, echoed.
    pub id: &'a str,
    /// The SE number (Amex results).
    pub se_number: Option<&'a str>,
    card: Option<&'a str>,
    /// The expiry as sent (`MM/YY`).
    pub exp: Option<&'a str>,
    /// The status, verbatim.
    pub status: &'a str,
}

impl fmt::Debug for ResultRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultRef")
            .field("id", &self.id)
            .field("se_number", &self.se_number)
            .field("card", &self.card())
            .field("exp", &self.exp)
            .field("status", &self.status)
            .finish()
    }
}

impl ResultRef<'_> {
    /// The card (the new one for `updated_card`), when it is a valid card number.
    pub fn card(&self) -> Option<CardNumber> {
        self.checked_card().and_then(Result::ok)
    }

    /// The card as a new number is checked ([`CardNumber::parse_new_number`]): `None` when
    /// the answer carried none, the reason when it is no valid card number.
    pub fn checked_card(&self) -> Option<std::result::Result<CardNumber, NewNumberProblem>> {
        self.card.map(CardNumber::parse_new_number_in)
    }

    /// The expiry, when it is a valid `MM/YY`.
    pub fn expiry(&self) -> Option<Expiry> {
        self.exp
            .and_then(|e| Expiry::parse(e, ExpiryFormat::MmSlashYy).ok())
    }

    /// The same card as the owned wire type.
    pub fn to_result_card(&self) -> ResultCard {
        let (card, card_problem) = match self.checked_card() {
            Some(Ok(card)) => (Some(card), None),
            Some(Err(problem)) => (None, Some(problem)),
            None => (None, None),
        };
        ResultCard {
            id: self.id.to_owned(),
            se_number: self.se_number.map(str::to_owned),
            card,
            card_problem,
            exp: self.exp.map(str::to_owned),
            status: self.status.to_owned(),
        }
    }
}

impl CompactResults {
    /// Number of cards.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// `true` when there are no cards.
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    fn text(&self, span: Span) -> Option<&str> {
        if span.len == NONE {
            return None;
        }
        let (source, start) = if span.start & SIDE != 0 {
            (self.side.as_str(), (span.start & !SIDE) as usize)
        } else {
            (self.body.as_str(), span.start as usize)
        };
        source.get(start..start + span.len as usize)
    }

    fn view(&self, c: &CompactCard) -> ResultRef<'_> {
        let [id, se_number, card, exp, status] = if c.base == WIDE {
            let index = usize::from(c.fields[0].offset) | usize::from(c.fields[0].len) << 16;
            self.wide
                .get(index)
                .map_or([None; 5], |spans| spans.map(|s| self.text(s)))
        } else {
            c.fields.map(|f| {
                if f.len == SHORT_NONE {
                    return None;
                }
                let start = c.base as usize + usize::from(f.offset);
                self.body.get(start..start + usize::from(f.len))
            })
        };
        ResultRef {
            id: id.unwrap_or(""),
            se_number,
            card,
            exp,
            status: status.unwrap_or(""),
        }
    }

    /// The card at `index`.
    pub fn get(&self, index: usize) -> Option<ResultRef<'_>> {
        self.cards.get(index).map(|c| self.view(c))
    }

    /// The cards, in the order of the answer.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ResultRef<'_>> {
        self.cards.iter().map(|c| self.view(c))
    }

    /// The unified updates, built one at a time (as [`super::card_update`] maps them, without
    /// an intermediate owned card).
    pub fn card_updates<'a>(
        &'a self,
        provider_ref: Option<&'a str>,
    ) -> impl Iterator<Item = CardUpdate> + 'a {
        self.iter().map(move |r| {
            update_from_parts(
                r.id.to_owned(),
                r.status.to_owned(),
                r.checked_card(),
                r.expiry(),
                provider_ref,
            )
        })
    }

    /// The unified updates, built one at a time as the iterator is advanced, the results moved
    /// into it (what [`Provider::fetch_results_iter`](crate::Provider::fetch_results_iter)
    /// hands out: the body and its index stay, no card is held as an owned struct).
    pub fn into_card_updates(
        self,
        provider_ref: Option<String>,
    ) -> impl ExactSizeIterator<Item = CardUpdate> + Send + 'static {
        IntoCardUpdates {
            results: self,
            next: 0,
            provider_ref,
        }
    }

    /// Decodes a results body you fetched yourself, checked the way the client checks every
    /// answer (HTTP status and the envelope's `status`: a failure is the same typed error).
    pub fn from_body(status: u16, body: Vec<u8>) -> Result<CompactResults> {
        super::response::compact_results_from(status, body)
    }

    /// Decodes a 2xx results body in one pass: the envelope's `status` and message are read
    /// on the way (a `status` other than `success` is CardSync's refusal), and each card is
    /// indexed as it is read, never held as an owned struct. When the body does not decode,
    /// `envelope_error` is asked first what the envelope check makes of it (its error wins, as
    /// when the check ran before the decoding).
    pub(crate) fn parse(
        http: u16,
        body: Vec<u8>,
        envelope_error: impl FnOnce(&[u8]) -> Option<Error>,
    ) -> Result<CompactResults> {
        // Zeroed when dropped on every way out, a refused answer's included: the body holds
        // card numbers in clear until the results (which zero it themselves) take it.
        let mut body = Zeroizing::new(match String::from_utf8(body) {
            Ok(body) => body,
            Err(e) => {
                let mut bytes = e.into_bytes();
                let error = envelope_error(&bytes).unwrap_or_else(|| {
                    Error::decode(PROVIDER, http, "results body is not UTF-8", &bytes)
                });
                bytes.zeroize();
                return Err(error);
            }
        });
        let mut index = Index {
            base: body.as_ptr() as usize,
            body_len: body.len(),
            side: Zeroizing::new(String::new()),
            // Every card has a `status` key (as do the envelope and the batch): counting them
            // sizes the index once, instead of doubling it (and copying) as cards are read.
            cards: Vec::with_capacity(
                memchr::memmem::find_iter(body.as_bytes(), b"\"status\"").count(),
            ),
            wide: Vec::new(),
            batch_id: None,
            status: None,
            stats: Stats::default(),
            has_data: false,
            envelope: EnvelopeFields::default(),
            error: None,
        };
        let mut de = serde_json::Deserializer::from_str(&body);
        let decoded = de::DeserializeSeed::deserialize(OuterSeed(&mut index), &mut de)
            .and_then(|()| de.end());
        let failed = match (index.error.take(), decoded) {
            (Some(e), _) => Some(e),
            (None, Err(e)) => Some(Error::decode_json(PROVIDER, http, &e, body.as_bytes())),
            (None, Ok(())) => None,
        };
        if let Some(error) = failed {
            return Err(envelope_error(body.as_bytes()).unwrap_or(error));
        }
        let envelope = std::mem::take(&mut index.envelope);
        let status = envelope.status.unwrap_or_default();
        if status != "success" {
            return Err(super::response::refused_envelope(
                http,
                &status,
                envelope.message.flatten().as_deref(),
            ));
        }
        if !index.has_data {
            return Err(Error::decode(
                PROVIDER,
                200,
                "results response has no data",
                b"",
            ));
        }
        let Index {
            mut side,
            cards,
            wide,
            batch_id,
            status,
            stats,
            ..
        } = index;
        Ok(CompactResults {
            body: std::mem::take(&mut *body),
            side: std::mem::take(&mut *side),
            cards,
            wide,
            batch_id,
            status,
            stats,
        })
    }
}

/// What the one-pass decoder builds.
struct Index {
    base: usize,
    body_len: usize,
    side: Zeroizing<String>,
    cards: Vec<CompactCard>,
    wide: Vec<[Span; 5]>,
    batch_id: Option<String>,
    status: Option<BatchState>,
    stats: Stats,
    has_data: bool,
    envelope: EnvelopeFields,
    /// A typed error found inside the decoder (serde's errors carry text only).
    error: Option<Error>,
}

/// The envelope's own fields, read as [`Envelope`](super::wire::Envelope) reads them: `status`
/// a string, `message` (or `msg`) a string or `null`, each at most once.
#[derive(Default)]
struct EnvelopeFields {
    status: Option<String>,
    message: Option<Option<String>>,
    data_seen: bool,
}

impl Index {
    fn span(&mut self, v: Option<Cow<'_, str>>) -> std::result::Result<Span, Error> {
        let Some(v) = v else {
            return Ok(Span::ABSENT);
        };
        let too_large = || Error::decode(PROVIDER, 200, "results body too large", b"");
        let len = u32::try_from(v.len()).map_err(|_| too_large())?;
        let offset = (v.as_ptr() as usize).wrapping_sub(self.base);
        match v {
            Cow::Borrowed(s)
                if offset
                    .checked_add(s.len())
                    .is_some_and(|e| e <= self.body_len) =>
            {
                Ok(Span {
                    start: u32::try_from(offset)
                        .ok()
                        .filter(|o| o & SIDE == 0)
                        .ok_or_else(too_large)?,
                    len,
                })
            }
            other => {
                let start = u32::try_from(self.side.len())
                    .ok()
                    .filter(|s| s & SIDE == 0)
                    .ok_or_else(too_large)?;
                self.side.push_str(&other);
                Ok(Span {
                    start: start | SIDE,
                    len,
                })
            }
        }
    }

    fn push(&mut self, card: CardCow<'_>) -> std::result::Result<(), Error> {
        let spans = [
            self.span(Some(card.id.unwrap_or(Cow::Borrowed(""))))?,
            self.span(card.se_number)?,
            self.span(card.card)?,
            self.span(card.exp)?,
            self.span(Some(card.status.unwrap_or(Cow::Borrowed(""))))?,
        ];
        let card = match CompactCard::short(&spans) {
            Some(card) => card,
            None => {
                self.wide.push(spans);
                CompactCard::wide(self.wide.len() - 1)?
            }
        };
        self.cards.push(card);
        Ok(())
    }
}

/// `{ "status", "message" | "msg", "data": { … } }`: the envelope's fields, and the cards in
/// `data`.
struct OuterSeed<'i>(&'i mut Index);

impl<'de> de::DeserializeSeed<'de> for OuterSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OuterSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CardSync results envelope")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let envelope = &mut self.0.envelope;
            match key.as_ref() {
                "data" if envelope.data_seen => {
                    return Err(de::Error::duplicate_field("data"));
                }
                "data" => {
                    envelope.data_seen = true;
                    map.next_value_seed(DataSeed(&mut *self.0))?;
                }
                "status" if envelope.status.is_some() => {
                    return Err(de::Error::duplicate_field("status"));
                }
                "status" => envelope.status = Some(map.next_value()?),
                "message" | "msg" if envelope.message.is_some() => {
                    return Err(de::Error::duplicate_field("message"));
                }
                "message" | "msg" => envelope.message = Some(map.next_value()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `data`: the batch's fields, and its cards indexed one by one.
struct DataSeed<'i>(&'i mut Index);

impl<'de> de::DeserializeSeed<'de> for DataSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the results data")
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        self.0.has_data = true;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "batch_id" => self.0.batch_id = map.next_value()?,
                "status" => self.0.status = map.next_value()?,
                "stats" => self.0.stats = map.next_value::<Option<Stats>>()?.unwrap_or_default(),
                "cards" => map.next_value_seed(CardsSeed(&mut *self.0))?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `cards`: each element decoded borrowed and indexed at once (`null` is no cards).
struct CardsSeed<'i>(&'i mut Index);

impl<'de> de::DeserializeSeed<'de> for CardsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for CardsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of result cards")
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.0.cards.reserve(n);
        }
        while let Some(card) = seq.next_element::<CardCow<'de>>()? {
            if let Err(e) = self.0.push(card) {
                self.0.error = Some(e);
                return Err(de::Error::custom("results value out of range"));
            }
        }
        Ok(())
    }
}

/// One card as borrowed strings where the body allows it.
#[derive(Deserialize)]
struct CardCow<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_cow")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "se", deserialize_with = "lenient_cow")]
    se_number: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_cow")]
    card: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_cow")]
    exp: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_cow")]
    status: Option<Cow<'a, str>>,
}

/// A string borrowed from the body when it has no escapes; a number or boolean as its text
/// (CardSync documents strings; a numeric id is still the caller's id); `null` as absent.
fn lenient_cow<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_borrowed_str<E: de::Error>(
            self,
            v: &'de str,
        ) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cards in the 24-byte form and cards that do not fit it (a string in the side buffer,
    /// one of 65,535 bytes or more, strings further apart than 16 bits can say), in one
    /// answer: each reads back exactly, in order.
    #[test]
    fn short_and_wide_cards_read_back_exactly() {
        let long_id = "i".repeat(usize::from(u16::MAX));
        let padding = "p".repeat(70_000);
        let number = crate::card::with_check_digit("411111111111111").unwrap();
        let cards = [
            format!(r#"{{"id":"c1","card":"{number}","exp":"12/29","status":"updated_card"}}"#),
            format!(r#"{{"id":"{long_id}","status":"closed"}}"#),
            format!(r#"{{"id":"c3","pad":"{padding}","se_number":"9","status":"no_change"}}"#),
            r#"{"id":"caf\u00e9","exp":"01/30","status":"valid"}"#.to_owned(),
            r#"{"id":"","card":null,"se":"77"}"#.to_owned(),
            r#"{"status":"contact","id":"c6"}"#.to_owned(),
        ];
        let body = format!(
            r#"{{"status":"success","data":{{"batch_id":"b","cards":[{}]}}}}"#,
            cards.join(",")
        );
        let results = CompactResults::from_body(200, body.into_bytes()).unwrap();
        assert_eq!(results.len(), 6);
        // The first, fifth and sixth fit the short form; the others are wide.
        let wide: Vec<bool> = results.cards.iter().map(|c| c.base == WIDE).collect();
        assert_eq!(wide, [false, true, true, true, false, false]);
        let read: Vec<_> = results
            .iter()
            .map(|r| (r.id.to_owned(), r.se_number, r.card.is_some(), r.exp, r.status))
            .collect();
        assert_eq!(
            read,
            [
                ("c1".to_owned(), None, true, Some("12/29"), "updated_card"),
                (long_id.clone(), None, false, None, "closed"),
                ("c3".to_owned(), Some("9"), false, None, "no_change"),
                ("caf\u{e9}".to_owned(), None, false, Some("01/30"), "valid"),
                (String::new(), Some("77"), false, None, ""),
                ("c6".to_owned(), None, false, None, "contact"),
            ]
        );
        assert_eq!(
            results.get(0).and_then(|r| r.card()).map(|c| c.last4().to_owned()),
            Some("1111".to_owned())
        );
        assert_eq!(std::mem::size_of::<CompactCard>(), 24);
    }
}
