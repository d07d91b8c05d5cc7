//! Embedded, stateful emulators of each provider (feature `emulator`).
//!
//! No vendor ships an offline sandbox, so the crate carries its own: each provider's emulator is
//! an in-process HTTP server on `127.0.0.1:0` that checks what the real service checks
//! (credentials, signatures, field rules) and answers with the documented bodies. Examples run on
//! them when no credentials are set, and a billing platform can use them in its own integration
//! tests.
//!
//! This module holds the shared harness: [`EmulatorServer`] runs an `axum` router on a loopback
//! port and stops it when dropped.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use url::Url;

/// An in-process HTTP server on a loopback port. Stops when dropped.
#[derive(Debug)]
pub struct EmulatorServer {
    base_url: Url,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl EmulatorServer {
    /// Binds `127.0.0.1:0` and serves `router` on it in a background task of the current Tokio
    /// runtime.
    pub async fn start(router: axum::Router) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        let base_url = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        Ok(EmulatorServer {
            base_url,
            addr,
            shutdown: Some(tx),
        })
    }

    /// The server's base URL, `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EmulatorServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
