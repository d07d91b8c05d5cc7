//! `emulator`: a CardSync emulator on loopback until interrupted, with the variables that
//! point `run` at it.

use crate::connect::cardsync_emulator;
use crate::{Exit, Failure};

/// `emulator`: a CardSync emulator with one merchant, until the process is interrupted.
pub async fn serve_emulator() -> Result<Exit, Failure> {
    let connected = cardsync_emulator().await?;
    let Some(emulator) = connected.emulator.as_ref() else {
        return Err(Failure::error("no emulator"));
    };
    let (_, key) = emulator.add_merchant();
    // The emulator's own merchant key: not a credential of any real service.
    crate::say!(
        "export CARDSYNC_BASE_URL={} CARDSYNC_MERCHANT_API_KEY={}",
        emulator.base_url(),
        account_updater::ExposeSecret::expose_secret(&key)
    );
    crate::say!("CardSync emulator serving; interrupt (Ctrl-C) to stop");
    std::future::pending::<()>().await;
    Ok(Exit::Done)
}
