//! A chunk's cards as the journal stores them: `[[position, "id"], …]`.

use account_updater::error::{Error, Result};
use account_updater::provider::{CardSource, CardToUpdate};
use account_updater::submission::Chunk;
use sha2::{Digest, Sha256};

/// A chunk's cards as stored: `[[position, "id"], …]`, byte for byte what `serde_json` writes
/// for that list (a chunk's fingerprint is a hash of it, so journals written before stay
/// resumable), written directly: this runs on the submission's task before every chunk's
/// request, where `serde_json`'s generic path (a tuple and an escape scan per card) was the
/// journal's largest CPU cost per chunk.
pub(crate) fn encode_cards(chunk: &Chunk) -> Result<String> {
    let mut out = String::with_capacity(chunk.len() * 24 + 2);
    let mut digits = itoa::Buffer::new();
    out.push('[');
    for (i, (position, id)) in chunk.positions().iter().zip(chunk.ids()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(digits.format(*position));
        out.push(',');
        if id.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            // Rare: let serde_json escape it exactly as it always did.
            let quoted = serde_json::to_string(id).map_err(|e| Error::Journal {
                operation: "claim chunk",
                message: "could not encode the chunk's ids".into(),
                source: Some(Box::new(e)),
            })?;
            out.push_str(&quoted);
        } else {
            out.push('"');
            out.push_str(id);
            out.push('"');
        }
        out.push(']');
    }
    out.push(']');
    Ok(out)
}

/// What a card was, as far as the journal may know it: a card number masked (first six, last
/// four), or a token as `token:ISSUER:` and the first 16 hex digits of its SHA-256 (a token is
/// no card number, but the journal keeps no credential it does not need). Suppression compares
/// it with the card a stop result was about: a new number for the same caller id is not
/// suppressed.
pub(crate) fn card_identity(card: &CardToUpdate) -> String {
    match &card.source {
        CardSource::Pan(number) => number.masked(),
        CardSource::Token { issuer, token } => {
            let digest = Sha256::digest(token.as_bytes());
            format!("token:{issuer}:{}", crate::hex(&digest[..8]))
        }
        // A source this journal does not know: no identity to compare, so a stop result
        // suppresses it (the safe reading: it costs nothing).
        _ => String::new(),
    }
}

/// A chunk's card identities ([`card_identity`]), as a JSON array in position order: stored
/// beside the card list, outside the fingerprint (journals written before have none).
pub(crate) fn encode_identities(chunk: &Chunk) -> String {
    let identities: Vec<String> = chunk.cards().iter().map(card_identity).collect();
    serde_json::to_string(&identities).unwrap_or_else(|_| "[]".to_owned())
}

/// A stored identity list; `None` when it is not what [`encode_identities`] writes.
pub(super) fn decode_identities(json: &str) -> Option<Vec<String>> {
    serde_json::from_str(json).ok()
}

pub(crate) fn decode_cards(json: &str) -> Result<Vec<(u64, String)>> {
    serde_json::from_str(json).map_err(|e| Error::Journal {
        operation: "read chunk cards",
        message: "a chunk's card list is not the JSON the journal writes".into(),
        source: Some(Box::new(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_updater::card::{CardNumber, Expiry};
    use account_updater::{ids::JobKind, provider::CardToUpdate};

    /// The direct encoding is byte for byte serde_json's, escapes included.
    #[test]
    fn encoded_cards_are_exactly_serde_json() {
        let card = |id: &str| {
            CardToUpdate::pan(
                id,
                // Built, not written out: no card-number literal in src/ outside the emulator.
                CardNumber::parse(&format!("4{}", "1".repeat(15))).unwrap(),
                Expiry::new(1, 2030).unwrap(),
            )
        };
        let ids = [
            "c1",
            "quote\"inside",
            "back\\slash",
            "tab\tand\u{1}",
            "é ü 😀",
            "",
            "del\u{7f}",
        ];
        let mut chunk = Chunk::new(JobKind::Batch, None);
        for (i, id) in ids.iter().enumerate() {
            chunk.push(7 + 1_000 * i as u64, card(id));
        }
        let rows: Vec<(u64, &str)> = chunk.positions().iter().copied().zip(chunk.ids()).collect();
        assert_eq!(
            encode_cards(&chunk).unwrap(),
            serde_json::to_string(&rows).unwrap()
        );
        assert_eq!(
            decode_cards(&encode_cards(&chunk).unwrap()).unwrap(),
            rows.iter()
                .map(|(p, id)| (*p, (*id).to_owned()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            encode_cards(&Chunk::new(JobKind::Batch, None)).unwrap(),
            "[]"
        );
    }
}
