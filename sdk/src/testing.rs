//! A host for a plugin's native unit tests (feature `test-host`): what the
//! sandbox would serve, scripted. HTTP requests get the responses a test
//! scripts, and are kept for it to check; random bytes come from a fixed
//! sequence, so a test's keys are the same on every run; `log` lines are
//! kept; TCP connects to real sockets (a server the test runs).
//!
//! ```
//! # use rekey_sdk::{http, testing::Host};
//! let host = Host::new().respond("POST", "https://api.example.com/keys", 201, r#"{"id": "k1"}"#);
//! let created = http::Request::post("https://api.example.com/keys").bearer("t").send().unwrap();
//! assert_eq!(created.status(), 201);
//! assert_eq!(host.requests()[0].header("authorization"), Some("Bearer t"));
//! ```
//!
//! The state is per thread, as `cargo test` runs each test on its own
//! thread; [`Host::new`] starts it afresh.

use crate::ProviderError;
use crate::http::{Request, Response, Url};
use crate::log::Level;
use std::cell::RefCell;
use std::collections::VecDeque;
use wasip2::http::types::Scheme;

/// A request the provider sent, as the host received it.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The method, upper-case.
    pub method: String,
    /// The whole URL.
    pub url: String,
    /// `https` or `http`.
    pub scheme: String,
    /// `host[:port]`, as the sandbox would check it against the grants.
    pub authority: String,
    /// The path and query.
    pub path: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Sent {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (panics when it is not: a test wants to know).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// What a scripted exchange answers.
enum Answer {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// The transport failed (a refused connection, a timeout).
    Failure(String),
}

/// The scripted host of this thread.
#[derive(Default)]
struct State {
    /// Answers for `(method, url)`, each used once, in order.
    script: VecDeque<(String, String, Answer)>,
    sent: Vec<Sent>,
    logs: Vec<(Level, String)>,
    random: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
}

/// A handle on this thread's test host.
pub struct Host(());

impl Host {
    /// Starts this thread's test host afresh: nothing scripted, nothing
    /// sent, and random bytes from seed 0.
    pub fn new() -> Self {
        STATE.with(|state| *state.borrow_mut() = State::default());
        Self(())
    }

    /// Answers the next `method url` request with `status` and `body`.
    /// Requests are matched in the order scripted; each answer is used once.
    pub fn respond(self, method: &str, url: &str, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.respond_with_headers(method, url, status, &[], body)
    }

    /// The same, with response headers (`retry-after`, say).
    pub fn respond_with_headers(
        self,
        method: &str,
        url: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Self {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        self.script(method, url, Answer::Response { status, headers, body: body.into() })
    }

    /// Fails the next `method url` request in transport, as a refused
    /// connection would (the provider sees `unavailable`).
    pub fn fail(self, method: &str, url: &str, why: &str) -> Self {
        self.script(method, url, Answer::Failure(why.to_string()))
    }

    /// Draws random bytes from `seed` instead of 0.
    pub fn seed(self, seed: u64) -> Self {
        STATE.with(|state| state.borrow_mut().random = seed);
        self
    }

    fn script(self, method: &str, url: &str, answer: Answer) -> Self {
        let key = (method.to_ascii_uppercase(), url.to_string(), answer);
        STATE.with(|state| state.borrow_mut().script.push_back(key));
        self
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<Sent> {
        STATE.with(|state| state.borrow().sent.clone())
    }

    /// Every `log` line so far, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        STATE.with(|state| state.borrow().logs.clone())
    }
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves a request from the script. One that was not scripted panics,
/// naming it: the test is missing an answer.
pub(crate) fn send(request: &Request, url: &Url<'_>) -> Result<Response, ProviderError> {
    let scheme = match &url.scheme {
        Scheme::Https => "https".to_string(),
        Scheme::Http => "http".to_string(),
        Scheme::Other(other) => other.clone(),
    };
    let sent = Sent {
        method: request.method_name.clone(),
        url: request.url.clone(),
        scheme,
        authority: url.authority.to_string(),
        path: url.path_and_query.to_string(),
        headers: request.headers.clone(),
        body: request.body.clone(),
    };
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let found = state.script.iter().position(|(m, u, _)| *m == sent.method && *u == sent.url);
        let Some(index) = found else {
            panic!(
                "rekey-sdk test host: no answer scripted for {} {} (script one with Host::respond)",
                sent.method, sent.url
            )
        };
        let (_, _, answer) = state.script.remove(index).expect("found just now");
        state.sent.push(sent);
        match answer {
            Answer::Response { status, headers, body } => Ok(Response { status, headers, body }),
            Answer::Failure(why) => {
                Err(ProviderError::Unavailable(format!("request to {} failed: {why}", request.url)))
            }
        }
    })
}

/// Keeps a `log` line.
pub(crate) fn log(level: Level, message: &str) {
    STATE.with(|state| state.borrow_mut().logs.push((level, message.to_string())));
}

/// The next `len` bytes of the fixed sequence (splitmix64 from the seed):
/// the same on every run, different from call to call.
pub(crate) fn random_bytes(len: u64) -> Vec<u8> {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        (0..len)
            .map(|_| {
                state.random = state.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state.random;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;
    use crate::secret::{Encoding, random_secret};

    #[test]
    fn scripted_answers_are_used_once_in_order_and_requests_are_kept() {
        let host = Host::new().respond("GET", "https://api.example.com/me", 200, "first").respond(
            "GET",
            "https://api.example.com/me",
            401,
            "second",
        );
        let first = http::Request::get("https://api.example.com/me").bearer("k").send().unwrap();
        assert_eq!(first.text(), "first");
        let second = http::Request::get("https://api.example.com/me").send();
        assert!(matches!(second, Err(ProviderError::Unauthorized(_))), "statuses map as in the sandbox");
        let sent = host.requests();
        assert_eq!(sent.len(), 2);
        assert_eq!((sent[0].authority.as_str(), sent[0].path.as_str()), ("api.example.com", "/me"));
        assert_eq!(sent[0].header("Authorization"), Some("Bearer k"));
    }

    #[test]
    fn a_transport_failure_is_unavailable() {
        let _host = Host::new().fail("POST", "https://api.example.com/keys", "connection refused");
        let sent = http::Request::post("https://api.example.com/keys").send();
        assert!(matches!(sent, Err(ProviderError::Unavailable(m)) if m.contains("connection refused")));
    }

    #[test]
    #[should_panic(expected = "no answer scripted for DELETE https://api.example.com/keys/1")]
    fn a_request_nobody_scripted_names_itself() {
        let _host = Host::new();
        let _ = http::Request::delete("https://api.example.com/keys/1").send();
    }

    #[test]
    fn randomness_is_fixed_per_seed_and_varies_within_a_run() {
        let _host = Host::new();
        let (a, b) = (random_secret(16, Encoding::Hex), random_secret(16, Encoding::Hex));
        assert_ne!(a, b);
        let _host = Host::new();
        assert_eq!(random_secret(16, Encoding::Hex), a, "the same sequence on every run");
        let _host = Host::new().seed(7);
        assert_ne!(random_secret(16, Encoding::Hex), a);
    }

    #[test]
    fn log_lines_are_kept() {
        let host = Host::new();
        crate::log::info("made key k1");
        assert_eq!(host.logs(), vec![(Level::Info, "made key k1".to_string())]);
    }
}
