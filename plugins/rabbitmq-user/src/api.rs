//! The parts of RabbitMQ's management HTTP API (`/api/…`) the provider
//! uses, as the admin user: users, their permissions, and a login check.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rekey_sdk::ProviderError;
use rekey_sdk::http::Request;
use serde::{Deserialize, Serialize};

/// A user as `GET /api/users/{name}` shows it.
#[derive(Debug, Deserialize)]
pub struct User {
    /// Empty when the user cannot log in with a password.
    #[serde(default)]
    pub password_hash: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One vhost's permissions of a user.
#[derive(Debug, Deserialize, Serialize)]
pub struct Permission {
    #[serde(skip_serializing)]
    pub vhost: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// One vhost and exchange's topic permissions of a user.
#[derive(Debug, Deserialize, Serialize)]
pub struct TopicPermission {
    #[serde(skip_serializing)]
    pub vhost: String,
    pub exchange: String,
    pub write: String,
    pub read: String,
}

/// The API at `base` (`https://host:15671`), as `admin`.
pub struct Api<'a> {
    base: &'a str,
    authorization: String,
}

/// A path segment: vhost `/` is `%2F`.
fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

impl<'a> Api<'a> {
    pub fn new(base: &'a str, user: &str, password: &str) -> Self {
        Self { base: base.trim_end_matches('/'), authorization: basic(user, password) }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/{path}", self.base)
    }

    fn request(&self, method: &str, path: &str) -> Request {
        Request::new(method, &self.url(path)).header("authorization", &self.authorization)
    }

    /// The user `name`, or `None` if there is none.
    pub fn user(&self, name: &str) -> Result<Option<User>, ProviderError> {
        let response = self.request("GET", &format!("users/{}", segment(name))).send_any_status()?;
        if response.status() == 404 {
            return Ok(None);
        }
        response.error_for_status(&format!("GET user `{name}`"))?;
        response.json().map(Some)
    }

    /// Creates or replaces `name` with `password` (or none: `None` leaves
    /// a user that cannot log in with a password) and `tags`.
    pub fn put_user(&self, name: &str, password: Option<&str>, tags: &[String]) -> Result<(), ProviderError> {
        let tags = tags.join(",");
        let body = match password {
            Some(password) => serde_json::json!({ "password": password, "tags": tags }),
            None => serde_json::json!({ "password_hash": "", "tags": tags }),
        };
        self.request("PUT", &format!("users/{}", segment(name))).json(&body).send().map(drop)
    }

    pub fn permissions(&self, user: &str) -> Result<Vec<Permission>, ProviderError> {
        self.request("GET", &format!("users/{}/permissions", segment(user))).send()?.json()
    }

    pub fn topic_permissions(&self, user: &str) -> Result<Vec<TopicPermission>, ProviderError> {
        self.request("GET", &format!("users/{}/topic-permissions", segment(user))).send()?.json()
    }

    /// Gives `user` the same permissions and topic permissions as `from`
    /// has, vhost by vhost.
    pub fn copy_permissions(&self, from: &str, user: &str) -> Result<(), ProviderError> {
        for p in self.permissions(from)? {
            let path = format!("permissions/{}/{}", segment(&p.vhost), segment(user));
            self.request("PUT", &path).json(&p).send()?;
        }
        for p in self.topic_permissions(from)? {
            let path = format!("topic-permissions/{}/{}", segment(&p.vhost), segment(user));
            self.request("PUT", &path).json(&p).send()?;
        }
        Ok(())
    }

    /// Whether RabbitMQ accepts `password` for `user`: a login to the API
    /// as that user. A user without a management tag is authenticated and
    /// then refused the API ("Not management user"), which still proves the
    /// password.
    pub fn logs_in(&self, user: &str, password: &str) -> Result<Result<(), String>, ProviderError> {
        let response =
            Request::get(&self.url("whoami")).header("authorization", &basic(user, password)).send_any_status()?;
        let body = response.text();
        match response.status() {
            200 => Ok(Ok(())),
            401 if body.contains("Not management user") => Ok(Ok(())),
            401 => Ok(Err(format!("RabbitMQ refused the password of `{user}`"))),
            _ => response.error_for_status("GET whoami").map(|()| Ok(())),
        }
    }
}
