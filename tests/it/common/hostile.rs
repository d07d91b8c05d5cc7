//! A hostile HTTP/1.1 peer on 127.0.0.1, written on raw TCP so that it can do what no
//! well-behaved server library will: stream a body forever, declare an 8 GiB `Content-Length`,
//! redirect elsewhere, or echo the whole request (headers and body) back inside every error field
//! a provider's error mapping reads. It counts the requests and the TCP connections it accepted.
//!
//! Every loop here is bounded (in bytes written or in time), and the server stops when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the peer answers every request.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `200`, chunked, a body that never ends (stops after 1 GiB or when the client hangs up).
    Endless,
    /// `200` with `Content-Length: 8589934592`, a few bytes, then silence (5 s at most).
    HugeLength,
    /// A redirect with this status to `location`.
    Redirect { status: u16, location: String },
    /// This status with a JSON body whose every error field holds the request as received.
    Echo { status: u16 },
    /// This status and body, keeping the connection alive.
    Fixed { status: u16, body: Vec<u8> },
}

/// The running peer.
pub struct Hostile {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Starts a peer answering in `mode`.
    pub async fn start(mode: Mode) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (m, r, c) = (mode.clone(), requests.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (m, r) = (m.clone(), r.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, m, r).await;
                });
            }
        });
        Hostile {
            addr,
            mode,
            requests,
            connections,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    /// Changes how the next requests are answered.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one request: the head up to the blank line, then `Content-Length` bytes of body.
/// `None` when the client closed the connection.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

async fn serve(
    mut stream: TcpStream,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    while let Some((head, body)) = read_request(&mut stream).await {
        requests.fetch_add(1, Ordering::SeqCst);
        let mode = mode.lock().unwrap().clone();
        match mode {
            Mode::Endless => {
                stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n",
                    )
                    .await?;
                let spaces = vec![b' '; 64 * 1024];
                let frame = [b"10000\r\n".as_slice(), &spaces, b"\r\n"].concat();
                for _ in 0..(1 << 14) {
                    stream.write_all(&frame).await?;
                }
                return Ok(());
            }
            Mode::HugeLength => {
                stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8589934592\r\n\r\n{\"a\":\"",
                    )
                    .await?;
                tokio::time::sleep(Duration::from_secs(5)).await;
                return Ok(());
            }
            Mode::Redirect { status, location } => {
                let text = format!(
                    "HTTP/1.1 {status} Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
                );
                stream.write_all(text.as_bytes()).await?;
            }
            Mode::Echo { status } => {
                let seen = format!("{head}{}", String::from_utf8_lossy(&body));
                write_response(&mut stream, status, echo_body(status, &seen).as_bytes()).await?;
            }
            Mode::Fixed { status, body } => {
                write_response(&mut stream, status, &body).await?;
            }
        }
    }
    Ok(())
}

async fn write_response(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(&[head.as_bytes(), body].concat()).await
}

/// Every field any provider's error mapping reads, each holding `seen` (the request as received):
/// PayConex `ApiViolation`, CardSync's envelope, TabaPay's `SC`/`EC`/`EM`, Acquired's answer.
fn echo_body(status: u16, seen: &str) -> String {
    json!({
        "message": seen, "msg": seen, "errorCode": seen, "code": seen, "errorType": seen,
        "traceId": seen, "source": seen,
        "details": [{"source": seen, "message": seen, "description": seen}],
        "status": "failed",
        "SC": if status < 300 { 400 } else { status }, "EC": seen, "EM": seen,
        "duplicateAccountIDs": [seen],
        "response_code": seen, "response_message": seen, "bank_response_code": seen,
        "transaction_id": seen, "timestamp": seen, "response_hash": seen,
    })
    .to_string()
}
