//! Checks on what callers put into URLs and headers: base URLs, path ids, secret header values.

use std::net::IpAddr;

use reqwest::header::{HeaderName, HeaderValue};
use url::{Host, Url};

use super::endpoint::PathSegment;
use crate::error::{Error, InputProblem, Result};

/// Parses one of the crate's published base URLs (a constant): an error, never a panic, should
/// one ever be malformed.
#[cfg_attr(not(any_provider), allow(dead_code))]
pub(crate) fn published_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|_| Error::invalid("base_url", InputProblem::BadUrl))
}

/// Refuses a base URL that is not `https`, unless it is plain `http` to a loopback host
/// (`127.0.0.0/8`, `::1`, `localhost`) as the emulators use.
pub fn validate_base_url(url: &Url) -> Result<()> {
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::invalid("base_url", InputProblem::BadUrl));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(Error::invalid("base_url", InputProblem::InsecureUrl)),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Builds a header value from a secret, marked sensitive so that `Debug` of the header map
/// (reqwest, hyper) prints `Sensitive` instead of it.
pub(crate) fn sensitive_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid(
            "credentials",
            InputProblem::Format {
                expected: "visible ASCII characters only".to_owned(),
            },
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Longest id accepted in a URL path or query, in bytes. The longest documented one is
/// AccountVault's 22-character `AccountID`; PayConex and CardSync ids are shorter still.
pub const MAX_PATH_ID_BYTES: usize = 128;

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Refuses an id for a URL path or query that is empty, over [`MAX_PATH_ID_BYTES`], or holds a
/// control character: the typed input error comes before any request.
pub(crate) fn check_id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, InputProblem::Missing));
    }
    if value.len() > MAX_PATH_ID_BYTES || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            InputProblem::Format {
                expected: format!("1 to {MAX_PATH_ID_BYTES} bytes with no control characters"),
            },
        ));
    }
    Ok(())
}

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// Percent-encodes `value` as one URL path segment (everything but RFC 3986 unreserved
/// characters is escaped), refusing an empty value, a value over [`MAX_PATH_ID_BYTES`] and one
/// with a control character: ids from callers can never change the path, and nothing is sent.
pub(crate) fn path_segment(field: &str, value: &str) -> Result<PathSegment> {
    check_id(field, value)?;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(PathSegment::encoded(out))
}

// Used by the provider modules: a build with only some of them leaves it unused.
#[allow(dead_code)]
/// The `Authorization` header name, re-exported for signers.
pub(crate) const AUTHORIZATION: HeaderName = reqwest::header::AUTHORIZATION;
