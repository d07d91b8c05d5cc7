//! Vendor endpoints, each declared once: method and path template.

// Only the provider clients declare endpoints: a build without any leaves this unused.
#![cfg_attr(not(any_provider), allow(dead_code))]

use reqwest::Method;

use super::request::ApiRequest;

/// One id made safe for a URL path: percent-encoded, non-empty, bounded and free of control
/// characters. Only [`PathSegment::new`] makes one, so an [`Endpoint`] can only ever be filled
/// with checked, encoded ids: a caller's id can never change the path.
///
/// ```
/// use account_updater::transport::PathSegment;
///
/// let id = PathSegment::new("schedule_id", "css_1/../admin")?;
/// assert_eq!(id.as_str(), "css_1%2F..%2Fadmin");
/// assert!(PathSegment::new("schedule_id", "").is_err());
/// # Ok::<(), account_updater::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSegment(String);

impl PathSegment {
    /// Percent-encodes `value` as one segment (everything but RFC 3986 unreserved characters
    /// is escaped).
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidInput`] naming `field` when `value` is empty, longer than
    /// [`MAX_PATH_ID_BYTES`](super::MAX_PATH_ID_BYTES), or holds a control character; nothing
    /// has been sent.
    pub fn new(field: &str, value: &str) -> crate::Result<PathSegment> {
        super::path_segment(field, value)
    }

    /// Wraps an already percent-encoded segment (the inputs module's encoder calls this).
    pub(super) fn encoded(segment: String) -> Self {
        PathSegment(segment)
    }

    /// Two segments as one, joined by `separator` (an RFC 3986 unreserved character):
    /// AccountVault's `{ClientID}_{SubClientID}`.
    // Used by the AccountVault client only: builds without it leave this unused.
    #[allow(dead_code)]
    pub fn joined(first: &PathSegment, separator: char, second: &PathSegment) -> Self {
        debug_assert!(separator.is_ascii_alphanumeric() || "-._~".contains(separator));
        PathSegment(format!("{}{separator}{}", first.0, second.0))
    }

    /// The encoded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One vendor endpoint, declared once as a constant: the method and the path template exactly
/// as the vendor documents it, `{placeholders}` included. The concrete path a request goes to
/// and the template its log lines carry both come from this one declaration, so they cannot
/// drift apart. `N` is the number of placeholders; [`Endpoint::new`] checks it when the
/// constant is compiled, so filling an endpoint can never fail at run time.
///
/// ```
/// use account_updater::transport::{Endpoint, Method, PathSegment};
///
/// const GET_JOB: Endpoint<2> = Endpoint::new(Method::GET, "/v1/accounts/{account}/jobs/{job}");
/// let request = GET_JOB.request([
///     &PathSegment::new("account", "acct 7")?,
///     &PathSegment::new("job", "j1")?,
/// ]);
/// assert_eq!(request.path(), "/v1/accounts/acct%207/jobs/j1");
/// assert_eq!(request.template(), "/v1/accounts/{account}/jobs/{job}");
/// # Ok::<(), account_updater::Error>(())
/// ```
#[derive(Debug)]
pub struct Endpoint<const N: usize> {
    method: Method,
    template: &'static str,
    /// Whether the path is appended to the base URL; not when the base URL is the endpoint.
    appended: bool,
}

impl<const N: usize> Endpoint<N> {
    // A build with only the Acquired client (whose one endpoint is its base URL) leaves this
    // unused.
    #[allow(dead_code)]
    /// Declares an endpoint. Used in `const` items, where a template whose placeholder count is
    /// not `N` (or whose braces do not pair up) stops the build.
    pub const fn new(method: Method, template: &'static str) -> Self {
        assert!(
            placeholder_count(template) == N,
            "an endpoint template must hold exactly N placeholders"
        );
        Endpoint {
            method,
            template,
            appended: true,
        }
    }

    /// The template, as the logs show it.
    pub fn template(&self) -> &'static str {
        self.template
    }

    /// The concrete path: each placeholder, in order, replaced by the next segment.
    pub fn path(&self, segments: [&PathSegment; N]) -> String {
        if !self.appended {
            return String::new();
        }
        let extra: usize = segments.iter().map(|s| s.0.len()).sum();
        let mut path = String::with_capacity(self.template.len() + extra);
        let mut rest = self.template;
        for segment in segments {
            // `new` checked that there are exactly N well-formed placeholders; braces are ASCII,
            // so these byte offsets are character boundaries.
            let Some(open) = rest.find('{') else { break };
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            path.push_str(&rest[..open]);
            path.push_str(&segment.0);
            rest = &rest[close..];
        }
        path.push_str(rest);
        path
    }

    /// A request to this endpoint, with no body yet.
    pub fn request(&self, segments: [&PathSegment; N]) -> ApiRequest {
        ApiRequest::new(self.method.clone(), self.path(segments), self.template)
    }
}

impl Endpoint<0> {
    /// An endpoint whose URL is the configured base URL itself (Acquired.com's one `api.php`):
    /// nothing is appended to it, and the logs show `template`.
    // Used by the Acquired client only: builds without it leave this unused.
    #[allow(dead_code)]
    pub const fn at_base_url(method: Method, template: &'static str) -> Self {
        Endpoint {
            method,
            template,
            appended: false,
        }
    }
}

// Unused, like `Endpoint::new`, in a build with only the Acquired client.
#[allow(dead_code)]
/// How many `{…}` placeholders `template` holds; a compile-time error (in a `const`) when a brace
/// is unpaired or nested.
const fn placeholder_count(template: &str) -> usize {
    let bytes = template.as_bytes();
    let mut count = 0;
    let mut open = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                assert!(!open, "nested brace in an endpoint template");
                open = true;
            }
            b'}' => {
                assert!(open, "unpaired closing brace in an endpoint template");
                open = false;
                count += 1;
            }
            _ => {}
        }
        i += 1;
    }
    assert!(!open, "unclosed brace in an endpoint template");
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::path_segment;

    const RECORD: Endpoint<3> = Endpoint::new(
        Method::DELETE,
        "/api/v4/accounts/{accountId}/account-updater/subscriptions/{subscriptionId}/records/{recordId}",
    );
    const BATCH: Endpoint<0> = Endpoint::new(Method::POST, "/v2/batch");

    #[test]
    fn placeholders_are_filled_in_order_with_encoded_segments() {
        let account = path_segment("account_id", "120").unwrap();
        let subscription = path_segment("subscription_id", "sub 1/2").unwrap();
        let record = path_segment("record_id", "r?x").unwrap();
        assert_eq!(
            RECORD.path([&account, &subscription, &record]),
            "/api/v4/accounts/120/account-updater/subscriptions/sub%201%2F2/records/r%3Fx"
        );
        assert_eq!(BATCH.path([]), "/v2/batch");
        const API: Endpoint<0> = Endpoint::at_base_url(Method::POST, "/api.php");
        assert_eq!(API.path([]), "");
        assert_eq!(API.request([]).template, "/api.php");
        assert_eq!(RECORD.template(), RECORD.template);
    }

    #[test]
    fn the_template_not_the_path_is_what_a_request_logs() {
        let account = path_segment("account_id", "120").unwrap();
        let request = RECORD.request([&account, &account, &account]);
        assert_eq!(request.template, RECORD.template);
        assert_eq!(
            request.path,
            "/api/v4/accounts/120/account-updater/subscriptions/120/records/120"
        );
        assert_eq!(request.method, Method::DELETE);
    }

    #[test]
    fn placeholder_counting() {
        assert_eq!(placeholder_count("/v2/batch"), 0);
        assert_eq!(placeholder_count("/v1/clients/{ClientID}/keys/{KeyID}"), 2);
    }

    #[test]
    fn segments_join_for_sub_clients() {
        let client = path_segment("client_id", "A1").unwrap();
        let sub = path_segment("sub_client_id", "B 2").unwrap();
        assert_eq!(PathSegment::joined(&client, '_', &sub).as_str(), "A1_B%202");
    }
}
