//! The shared emulator harness: serves a router on a loopback port and stops on drop.

use account_updater_emulator::EmulatorServer;
use axum::Router;
use axum::routing::get;

#[tokio::test]
async fn serves_on_loopback_and_stops_when_dropped() {
    let server = EmulatorServer::start(Router::new().route("/ping", get(|| async { "pong" })))
        .await
        .unwrap();
    let base = server.base_url().clone();
    assert_eq!(base.host_str(), Some("127.0.0.1"));
    assert_ne!(base.port(), Some(0));
    let body = reqwest::get(base.join("ping").unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "pong");
    drop(server);
    // Give the graceful shutdown a moment, then the port refuses connections.
    let mut refused = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        if client.get(base.join("ping").unwrap()).send().await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "server still answering after drop");
}
