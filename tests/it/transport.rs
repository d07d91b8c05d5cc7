//! The shared HTTP path against real local servers (wiremock): timeouts, retries where safe,
//! Retry-After, signing per attempt, query flags, decode errors and base-URL checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use account_updater::error::{Delivery, InputProblem, ProviderError};
use account_updater::provider::BoxFuture;
use account_updater::transport::{
    ApiRequest, NoAuth, RetryPolicy, SignableRequest, Signer, Timer, Transport, TransportConfig,
    validate_base_url,
};
use account_updater::{Error, ErrorKind, ProviderId};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use url::Url;
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .max_retry_after(Duration::from_secs(5))
}

/// A clock stopped at a fixed instant whose sleeps return at once and are recorded.
#[derive(Debug)]
struct RecordingTimer {
    now: chrono::DateTime<chrono::Utc>,
    slept: std::sync::Mutex<Vec<Duration>>,
}

impl RecordingTimer {
    fn new() -> Arc<Self> {
        Arc::new(RecordingTimer {
            now: chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
                .unwrap()
                .into(),
            slept: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn slept(&self) -> Vec<Duration> {
        self.slept.lock().unwrap().clone()
    }
}

impl Timer for RecordingTimer {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.slept.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

fn transport(server: &MockServer, config: TransportConfig) -> Transport {
    Transport::new(
        ProviderId::CardSync,
        Url::parse(&server.uri()).unwrap(),
        Arc::new(NoAuth),
        config,
    )
    .unwrap()
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let t = transport(
        &server,
        TransportConfig::default()
            .timeout(Duration::from_millis(200))
            .retry(RetryPolicy::none()),
    );
    let err = t
        .send(ApiRequest::new(Method::GET, "/slow", "/slow"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                delivery: Delivery::MaybeSent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(err.may_have_reached_provider());
}

#[tokio::test]
async fn get_is_retried_on_503_honouring_retry_after_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/batch"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/batch"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
        .mount(&server)
        .await;
    let timer = RecordingTimer::new();
    let t = transport(
        &server,
        TransportConfig::default()
            .retry(fast_retries())
            .timer(timer.clone()),
    );
    let resp = t
        .send(ApiRequest::new(Method::GET, "/v2/batch", "/v2/batch"))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    // The server asked for one second; the 10 ms backoff alone would not have waited that long.
    // The injected timer records the wait instead of taking it (no wall-clock bound: a loaded
    // machine may take any time over the two requests).
    assert_eq!(timer.slept(), [Duration::from_secs(1)]);
}

#[tokio::test]
async fn post_is_not_retried_after_a_503() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let t = transport(&server, TransportConfig::default().retry(fast_retries()));
    let resp = t
        .send(
            ApiRequest::new(Method::POST, "/v2/batch", "/v2/batch")
                .json(&serde_json::json!({"cards": []})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 503);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let err = resp.status_error(ProviderError::status(503));
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(err.is_retryable() && err.may_have_reached_provider());
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let t = transport(&server, TransportConfig::default().retry(fast_retries()));
    let resp = t
        .send(ApiRequest::new(Method::DELETE, "/x", "/x"))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 502);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_429_becomes_rate_limited_with_the_delay_and_long_waits_are_not_slept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let t = transport(&server, TransportConfig::default().retry(fast_retries()));
    let resp = t
        .send(ApiRequest::new(Method::GET, "/x", "/x"))
        .await
        .unwrap();
    // 120 s is over max_retry_after (5 s): no retry, the caller decides.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    match resp.status_error(ProviderError::status(429)) {
        Error::RateLimited {
            retry_after,
            provider,
            ..
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            assert_eq!(provider, ProviderId::CardSync);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn retry_after_as_http_date_is_understood() {
    let server = MockServer::start().await;
    let timer = RecordingTimer::new();
    let when = (timer.now + chrono::Duration::seconds(90)).to_rfc2822();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", when.as_str()))
        .mount(&server)
        .await;
    let t = transport(
        &server,
        TransportConfig::default()
            .retry(RetryPolicy::none())
            .timer(timer.clone()),
    );
    let resp = t
        .send(ApiRequest::new(Method::GET, "/x", "/x"))
        .await
        .unwrap();
    // Read against the injected clock, so exact.
    assert_eq!(resp.retry_after(), Some(Duration::from_secs(90)));
}

#[tokio::test]
async fn a_request_marked_so_is_not_repeated_on_a_5xx_but_is_on_a_429() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500).set_body_string(r#"{"SC":500,"EC":"5C000001"}"#))
        .mount(&server)
        .await;
    let timer = RecordingTimer::new();
    let config = TransportConfig::default()
        .retry(fast_retries())
        .timer(timer.clone());
    let t = transport(&server, config);
    let put = || ApiRequest::new(Method::PUT, "/a", "/a").json(&serde_json::json!({}));
    let resp = t.send(put().no_retry_on_server_error()).await.unwrap();
    assert_eq!(resp.status.as_u16(), 500);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // Unmarked, the same PUT is tried three times (the classifier's 500 is retryable).
    t.send(put()).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    assert_eq!(timer.slept().len(), 2);
}

#[test]
fn backoff_grows_is_jittered_and_never_undercuts_retry_after() {
    let p = RetryPolicy::default()
        .max_attempts(5)
        .initial_backoff(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(400))
        .max_retry_after(Duration::from_secs(10));
    for _ in 0..200 {
        let d1 = p.delay(1, None).unwrap();
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d3 = p.delay(3, None).unwrap();
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
        let d9 = p.delay(9, None).unwrap();
        assert!(d9 <= Duration::from_millis(400));
        assert!(p.delay(1, Some(Duration::from_secs(2))).unwrap() >= Duration::from_secs(2));
    }
    assert_eq!(p.delay(1, Some(Duration::from_secs(11))), None);
}

#[derive(Debug, Default)]
struct CountingSigner {
    calls: AtomicU32,
}

impl Signer for CountingSigner {
    fn sign(&self, r: &mut SignableRequest<'_>) -> account_updater::Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let value = format!("{} {}?{} {} n{n}", r.method, r.path, r.query, r.body.len());
        r.headers
            .insert("x-test-sig", HeaderValue::from_str(&value).unwrap());
        Ok(())
    }
}

#[tokio::test]
async fn the_signer_runs_for_every_attempt_and_sees_exact_path_query_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v1/clients/abc/accounts/42"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/clients/abc/accounts/42"))
        .and(header("content-type", "application/json"))
        .and(body_string(r#"{"a":1}"#))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let signer = Arc::new(CountingSigner::default());
    let t = Transport::new(
        ProviderId::AccountVault,
        Url::parse(&server.uri()).unwrap(),
        signer.clone(),
        TransportConfig::default().retry(fast_retries()),
    )
    .unwrap();
    let req = ApiRequest::new(
        Method::PUT,
        "/v1/clients/abc/accounts/42",
        "/v1/clients/{c}/accounts/{a}",
    )
    .flag("RejectDuplicateCard")
    .json(&serde_json::json!({"a": 1}));
    assert_eq!(
        t.url_for(&req).as_str(),
        format!(
            "{}/v1/clients/abc/accounts/42?RejectDuplicateCard",
            server.uri()
        )
    );
    let resp = t.send(req).await.unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    let sigs: Vec<_> = received
        .iter()
        .map(|r| {
            r.headers
                .get("x-test-sig")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        sigs[0],
        "PUT /v1/clients/abc/accounts/42?RejectDuplicateCard 7 n0"
    );
    assert_eq!(
        sigs[1],
        "PUT /v1/clients/abc/accounts/42?RejectDuplicateCard 7 n1"
    );
    assert_eq!(received[0].url.query(), Some("RejectDuplicateCard"));
}

#[tokio::test]
async fn query_values_are_encoded_and_base_paths_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api.php/v2/batch/results"))
        .and(query_param("batch_id", "a b&c"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let t = Transport::new(
        ProviderId::CardSync,
        Url::parse(&format!("{}/api.php", server.uri())).unwrap(),
        Arc::new(NoAuth),
        TransportConfig::default(),
    )
    .unwrap();
    let resp = t
        .send(
            ApiRequest::new(Method::GET, "/v2/batch/results", "/v2/batch/results")
                .query("batch_id", "a b&c"),
        )
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Shape {
    status: String,
}

#[tokio::test]
async fn html_and_truncated_bodies_are_decode_errors_with_a_short_redacted_excerpt() {
    let server = MockServer::start().await;
    let html = format!(
        "<html><body><h1>502 Bad Gateway</h1><p>card 4457010000000009</p>{}</body></html>",
        "x".repeat(5000)
    );
    Mock::given(path("/html"))
        .respond_with(ResponseTemplate::new(200).set_body_string(html))
        .mount(&server)
        .await;
    Mock::given(path("/truncated"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"status":"succ"#))
        .mount(&server)
        .await;
    let t = transport(&server, TransportConfig::default());
    for p in ["/html", "/truncated"] {
        let resp = t.send(ApiRequest::new(Method::GET, p, "/x")).await.unwrap();
        let err = resp.json::<Shape>().unwrap_err();
        let Error::Decode {
            excerpt, status, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*status, 200);
        assert!(excerpt.chars().count() <= 121, "{excerpt}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("4457010"), "{shown}");
        assert!(!shown.contains("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert_eq!(err.code(), "decode");
    }
}

#[tokio::test]
async fn plain_http_is_refused_unless_loopback() {
    for bad in [
        "http://api.payconex.net",
        "http://10.0.0.1:8080",
        "ftp://example.com",
        "http://127.example.com",
    ] {
        let err = Transport::new(
            ProviderId::PayConex,
            Url::parse(bad).unwrap(),
            Arc::new(NoAuth),
            TransportConfig::default(),
        )
        .unwrap_err();
        match err {
            Error::InvalidInput(e) => {
                assert_eq!(e.field, "base_url");
                assert_eq!(e.problem, InputProblem::InsecureUrl);
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    for ok in [
        "https://api.payconex.net",
        "http://127.0.0.1:9",
        "http://localhost:1",
        "http://[::1]:2",
    ] {
        validate_base_url(&Url::parse(ok).unwrap()).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    assert!(validate_base_url(&Url::parse("data:text/plain,x").unwrap()).is_err());
}

#[tokio::test]
async fn a_refused_connection_was_not_sent_and_a_post_is_retried_then() {
    // Bind and drop a listener: the port is (almost certainly) closed now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let signer = Arc::new(CountingSigner::default());
    let t = Transport::new(
        ProviderId::Acquired,
        Url::parse(&format!("http://127.0.0.1:{port}/api.php")).unwrap(),
        signer.clone(),
        TransportConfig::default().retry(fast_retries()),
    )
    .unwrap();
    let err = t
        .send(ApiRequest::new(Method::POST, "", "/api.php").json(&serde_json::json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                delivery: Delivery::NotSent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.may_have_reached_provider());
    // Not sent, so even the POST was tried again, up to the limit.
    assert_eq!(signer.calls.load(Ordering::SeqCst), 3);
    // The cause is kept as the source, without the URL (whose path and query can carry ids);
    // the socket address it failed to reach is kept.
    let source = std::error::Error::source(&err).expect("a source");
    let chain = format!("{source} {source:?}");
    assert!(
        !chain.contains("api.php") && !chain.contains("http://"),
        "{chain}"
    );
    assert!(chain.contains("onnection refused"), "{chain}");
}
