//! Dashboard sessions: signing in with a token opens one, kept in memory
//! behind a random id in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! over TLS), with its own CSRF token that every form carries back. A
//! session remembers which token opened it, never the token, and ends when
//! the token is revoked or expires (checked on every request), when its
//! holder signs out, after [`LIFETIME`], or when the daemon restarts.

use super::super::identity::Remembered;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie.
pub const COOKIE: &str = "rekey_session";
/// The cookie that ties the sign-in form to the browser that loaded it.
pub const SIGNIN_COOKIE: &str = "rekey_signin";
/// How long a session lasts, however active.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3_600);
/// Sessions open at once; the oldest is closed to make room.
const MOST: usize = 10_000;

/// One signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The token it was opened with.
    pub token: Remembered,
    /// What every form it posts must carry.
    pub csrf: String,
    opened: Instant,
}

/// The open sessions, by the digest of their id (a memory dump shows no
/// cookie that could be replayed).
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `token`: its id, for the cookie.
    pub fn open(&self, token: Remembered) -> String {
        let id = random();
        let session = Session { token, csrf: random(), opened: Instant::now() };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, s| s.opened.elapsed() < LIFETIME);
        if open.len() >= MOST
            && let Some(oldest) = open.iter().min_by_key(|(_, s)| s.opened).map(|(k, _)| k.clone())
        {
            open.remove(&oldest);
        }
        open.insert(digest(&id), session);
        id
    }

    /// The session whose cookie is `id`, if open.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let key = digest(id);
        match open.get(&key) {
            Some(session) if session.opened.elapsed() < LIFETIME => Some(session.clone()),
            Some(_) => {
                open.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Closes the session whose cookie is `id`.
    pub fn close(&self, id: &str) {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&digest(id));
    }
}

/// 256 random bits, base64url.
pub fn random() -> String {
    URL_SAFE_NO_PAD.encode(crate::store::rand_bytes::<32>())
}

/// Whether a form's CSRF token is the expected one, compared in constant time.
pub fn same(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure`
/// over TLS; `max_age` 0 deletes it.
pub fn cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", max_age.as_secs())
}

/// The value of cookie `name` in a `Cookie` header.
pub fn read_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered() -> Remembered {
        Remembered::for_tests()
    }

    #[test]
    fn a_session_is_found_by_its_cookie_only_until_closed() {
        let sessions = Sessions::default();
        let id = sessions.open(remembered());
        let session = sessions.get(&id).expect("open");
        assert_eq!(session.csrf.len(), 43);
        assert!(sessions.get(&random()).is_none(), "another id finds nothing");
        sessions.close(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn each_session_has_its_own_id_and_csrf_token() {
        let sessions = Sessions::default();
        let (a, b) = (sessions.open(remembered()), sessions.open(remembered()));
        assert_ne!(a, b);
        assert_ne!(sessions.get(&a).unwrap().csrf, sessions.get(&b).unwrap().csrf);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let tls = cookie(COOKIE, "x", LIFETIME, true);
        assert_eq!(tls, "rekey_session=x; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure");
        assert!(!cookie(COOKIE, "x", LIFETIME, false).contains("Secure"));
        assert_eq!(read_cookie("a=1; rekey_session=abc; b=2", COOKIE), Some("abc"));
        assert_eq!(read_cookie("a=1", COOKIE), None);
    }
}
