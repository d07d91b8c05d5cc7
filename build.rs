//! Names for the feature combinations the library's code is compiled under, so that each is
//! written once (here) instead of as a repeated `any(feature = …)` list (`cfg_aliases` also
//! declares them to the compiler's `check-cfg`, so a misspelt alias is a warning).

fn main() {
    cfg_aliases::cfg_aliases! {
        // Any native client at all: the shared glue (endpoints, setters, input checks).
        any_provider: { any(feature = "payconex", feature = "cardsync", feature = "accountvault", feature = "acquired") },
        // The providers that take lists of cards by caller id and send webhooks about them:
        // all but AccountVault, which updates one stored account at a time.
        card_list_provider: { any(feature = "payconex", feature = "cardsync", feature = "acquired") },
        // The providers that sign or hash with hex digests (PayConex HMAC, Acquired SHA-256).
        hex_provider: { any(feature = "payconex", feature = "acquired") },
        // The providers authorised by a static API key (CardSync's key, AccountVault's token).
        key_provider: { any(feature = "cardsync", feature = "accountvault") },
        // The providers that submit in bulk through the streamed driver (CardSync, Acquired).
        bulk_provider: { any(feature = "cardsync", feature = "acquired") },
    }
}
