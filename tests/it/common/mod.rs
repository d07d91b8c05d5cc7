//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod hostile;
pub mod postgres;

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything logged so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A card number: `body` completed with its Luhn check digit (the library's one helper), so no
/// test writes a full card number it would have to keep valid by hand.
pub fn luhn(body: &str) -> String {
    account_updater::card::with_check_digit(body).expect("a body of digits")
}

/// Installs (once per test binary; all the library's integration tests are one binary) a
/// global TRACE-level subscriber writing to one in-memory
/// buffer, and returns that buffer. Global rather than per-thread: `tracing` caches callsite
/// interest, and with thread-local subscribers in concurrently running tests a callsite first
/// hit on a thread without one can stay disabled. The buffer therefore holds what every test in
/// the binary logged, which only makes the leak assertions stricter.
pub fn capture_traces() -> LogBuffer {
    static BUFFER: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buf = LogBuffer::default();
            // Everything at TRACE but the database driver's own statement log (SQL text and
            // timings, which the crate does not write and whose numbers would only make the
            // digit-run check below collide by chance).
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("trace,sqlx=off"))
                .with_writer(buf.clone())
                .with_ansi(false)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("first global subscriber");
            buf
        })
        .clone()
}

/// Asserts that `text` holds no run of seven or more consecutive digits of `pan`, and none of
/// the `secrets`.
pub fn assert_no_leak(text: &str, pans: &[&str], secrets: &[&str]) {
    for pan in pans {
        for w in pan.as_bytes().windows(7) {
            let run = std::str::from_utf8(w).unwrap();
            assert!(
                !text.contains(run),
                "a 7-digit run of a PAN leaked ({}…): {}",
                &run[..2],
                excerpt_around(text, run)
            );
        }
    }
    for s in secrets {
        assert!(
            !text.contains(s),
            "a secret leaked: {}",
            excerpt_around(text, s).replace(s, "<SECRET>")
        );
    }
}

fn excerpt_around(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or(0);
    let start = text[..i]
        .char_indices()
        .rev()
        .nth(80)
        .map(|(j, _)| j)
        .unwrap_or(0);
    text[start..].chars().take(200).collect()
}

/// A CardSync merchant enrollment whose unique fields carry `tag`.
pub fn cardsync_merchant(tag: &str) -> account_updater::providers::cardsync::wire::Merchant {
    use account_updater::providers::cardsync::wire::{
        CardInfo, DeliveryFrequency, Merchant, PrimaryContact, User,
    };
    Merchant::new(
        PrimaryContact::default()
            .first_name("A")
            .last_name("B")
            .company("C")
            .address_line_1("1 Main")
            .address_line_2(String::new())
            .city("Town")
            .state("IL")
            .postal_code("62701")
            .country("US")
            .phone("5555555555")
            .email("a@example.com"),
        User::default()
            .username(format!("user-{tag}"))
            .email("a@example.com")
            .status("active")
            .role("admin")
            .create_api_key(true),
        CardInfo::new(DeliveryFrequency::Weekly)
            .type_of_biller("both")
            .total_number_of_records(19)
            .number_of_visa(6)
            .number_of_mastercard(5)
            .number_of_discover(5)
            .number_of_amex(3)
            .amex_se_number("1234567890")
            .mcc("5968"),
    )
    .legal_business_name(format!("Legal {tag}"))
    .name("Shop")
    .description("test")
    .website("example.com")
    .phone("5555555555")
    .receipt_email("a@example.com")
    .timezone("UTC")
    .fee_schedule_id("bqoa026g10l0v8o62315")
}
