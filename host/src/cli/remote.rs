//! `rekey --server URL …`: the CLI as a client of a daemon's `/v1` API,
//! for a team member with a token (`$REKEY_TOKEN`) and no store, master key
//! or shell on the daemon's host. `status`, `history`, `rotate`,
//! `rollback`, `resume`, `audit log|verify` and `token list` print what
//! they print locally; a rotation, rollback or resume is asked of the
//! daemon and waited for, then reported as a local one is.

use super::Command;
use super::audit::{self, print_log, print_verified};
use super::exit::UsageError;
use super::progress::{Progress, describe};
use super::rotate::confirm;
use super::status::{print_history, print_status};
use crate::rotation::{Ended, RotationError};
use crate::server::reads::{AuditPage, CredentialPage, Verified};
use crate::status::Standing;
use crate::store::rotations::State;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a rotation asked of the daemon is waited for.
const WAIT: Duration = Duration::from_secs(15 * 60);
/// How often its progress is read.
const POLL: Duration = Duration::from_millis(250);

/// Why a remote command failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No token to send.
    #[error("--server needs a token in $REKEY_TOKEN (one made with `rekey token create` on the daemon's host)")]
    NoToken,
    /// The server cannot be reached or spoke no HTTP.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server refused, with its reason.
    #[error("{server} refused: {message} (HTTP {status})")]
    Refused {
        /// The server.
        server: String,
        /// Its status.
        status: u16,
        /// Its reason.
        message: String,
    },
    /// An answer that is not what the API describes.
    #[error(
        "{url} answered something this rekey does not understand ({reason}); is it a rekey daemon of the same version?"
    )]
    Garbled {
        /// What was asked.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A daemon's API, with a token.
struct Client {
    agent: ureq::Agent,
    server: String,
    token: String,
}

impl Client {
    fn new(server: &str, ca: Option<&Path>) -> anyhow::Result<Self> {
        let token = std::env::var("REKEY_TOKEN").map_err(|_| RemoteError::NoToken)?;
        let mut config =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60)));
        if let Some(ca) = ca {
            let pem =
                std::fs::read(ca).map_err(|e| UsageError(format!("cannot read --server-ca {}: {e}", ca.display())))?;
            let certificates = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(certificate)) => Some(certificate),
                    _ => None,
                })
                .collect::<Vec<_>>();
            if certificates.is_empty() {
                return Err(UsageError(format!("--server-ca {} holds no certificate", ca.display())).into());
            }
            let roots = ureq::tls::RootCerts::new_with_certs(&certificates);
            config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        Ok(Self { agent: config.build().into(), server: server.trim_end_matches('/').into(), token })
    }

    /// `GET path`, decoded.
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        let url = format!("{}{path}", self.server);
        let answer = self.agent.get(&url).header("Authorization", format!("Bearer {}", self.token)).call();
        self.decode(url, answer)
    }

    /// `POST path` with no body, decoded.
    fn post<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        let url = format!("{}{path}", self.server);
        let answer = self.agent.post(&url).header("Authorization", format!("Bearer {}", self.token)).send_empty();
        self.decode(url, answer)
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        answer: Result<http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, RemoteError> {
        let mut answer =
            answer.map_err(|e| RemoteError::Unreachable { url: url.clone(), reason: in_words(&e.to_string()) })?;
        let status = answer.status().as_u16();
        let body = answer
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| RemoteError::Unreachable { url: url.clone(), reason: e.to_string() })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(String::from))
                .unwrap_or_else(|| body.chars().take(200).collect());
            return Err(RemoteError::Refused { server: self.server.clone(), status, message });
        }
        serde_json::from_str(&body).map_err(|e| RemoteError::Garbled { url, reason: e.to_string() })
    }

    fn credential(&self, name: &str) -> Result<CredentialPage, RemoteError> {
        self.get(&format!("/v1/credentials/{}", segment(name)))
    }
}

/// A TLS failure, in words that say what to do, before rustls's own.
fn in_words(reason: &str) -> String {
    let words = [
        (
            "CaUsedAsEndEntity",
            "the daemon's certificate is a CA certificate (basicConstraints CA:TRUE, which `openssl req -x509` sets \
             unless told otherwise), and TLS clients refuse one as a server's own: make it again with \
             `-addext basicConstraints=critical,CA:FALSE` (the README's recipe), or have that CA sign a server certificate",
        ),
        (
            "UnknownIssuer",
            "the daemon's certificate is not signed by anyone this client trusts: pass it (or the CA that signed it) \
             with --server-ca FILE",
        ),
        (
            "NotValidForName",
            "the daemon's certificate does not name the host in --server: use a name it was made for, or make it \
             again with that name in its subjectAltName",
        ),
        ("Expired", "the daemon's certificate has expired: make a new one"),
    ];
    match words.iter().find(|(error, _)| reason.contains(error)) {
        Some((_, said)) => format!("{said} ({reason})"),
        None => reason.to_string(),
    }
}

fn segment(name: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
}

/// Runs `command` against the daemon at `server`.
pub fn run(server: &str, ca: Option<&Path>, command: Command) -> anyhow::Result<()> {
    let client = Client::new(server, ca)?;
    match command {
        Command::Status { json } => print_status(json, |row| {
            client.get::<Vec<Standing>>("/v1/credentials")?.into_iter().try_for_each(row)
        }),
        Command::History { name, json } => print_history(&name, &client.credential(&name)?.history, json),
        Command::Audit(audit::Command::Log { credential, plugin, json }) => {
            print_log(audit_log(&client, credential.as_deref())?, plugin, json)
        }
        Command::Audit(audit::Command::Verify) => {
            let verified: Verified = client.get("/v1/audit/verify")?;
            print_verified(if verified.intact { Ok(verified.entries.unwrap_or(0)) } else { Err(verified.broken.unwrap_or_default()) })
        }
        Command::Rotate(args) => {
            if args.all_due || args.dry_run {
                return Err(UsageError("with --server, rotate takes credential names (not --all-due or --dry-run)".into()).into());
            }
            if args.names.is_empty() {
                return Err(UsageError("nothing to rotate: name credentials".into()).into());
            }
            if args.emergency {
                confirm(args.yes, &format!("revoke the current key of {} as soon as the new one verifies", args.names.join(", ")))?;
            }
            let mut progress = Progress::new(args.names.len(), args.json);
            let query = if args.emergency { "?emergency=true" } else { "" };
            for name in &args.names {
                let started = Instant::now();
                let outcome = ask(&client, name, &format!("rotate{query}"))
                    .and_then(|before| wait(&client, name, &before, Asked::Rotate));
                progress.ended(name, outcome.map_err(failure(name))?, started.elapsed());
            }
            progress.finish()
        }
        Command::Rollback { name, yes } => {
            confirm(yes, &format!("put the previous key of `{name}` back in every target and revoke the new one"))?;
            let before = ask(&client, &name, "rollback")?;
            let outcome = wait(&client, &name, &before, Asked::Rollback).map_err(failure(&name))?;
            println!("{}", describe(&name, &outcome));
            outcome.map(drop).map_err(|e| super::exit::Reported(e.into()).into())
        }
        Command::Resume { json, .. } => {
            let standings: Vec<Standing> = client.get("/v1/credentials")?;
            let open: Vec<String> = standings
                .into_iter()
                .filter(|s| s.in_progress.as_ref().is_some_and(|p| p.state.starts_with("interrupted")))
                .map(|s| s.name)
                .collect();
            if open.is_empty() {
                println!("nothing to resume");
                return Ok(());
            }
            let mut progress = Progress::new(open.len(), json);
            for name in &open {
                let started = Instant::now();
                let outcome =
                    ask(&client, name, "resume").and_then(|before| wait(&client, name, &before, Asked::Resume));
                progress.ended(name, outcome.map_err(failure(name))?, started.elapsed());
            }
            progress.finish()
        }
        Command::Token(super::token::Command::List { json }) => {
            super::token::print_list(&client.get::<Vec<crate::store::tokens::TokenRecord>>("/v1/tokens")?, json)
        }
        _ => Err(UsageError(
            "with --server, only status, history, rotate, rollback, resume, audit and token list run (the others need the store: run them on the daemon's host)".into(),
        )
        .into()),
    }
}

/// Every audit entry the token may read, a page at a time.
fn audit_log(client: &Client, credential: Option<&str>) -> Result<Vec<crate::store::audit::Entry>, RemoteError> {
    let mut entries = vec![];
    let mut after = 0;
    loop {
        let mut path = format!("/v1/audit?limit=500&after={after}");
        if let Some(credential) = credential {
            path.push_str(&format!("&credential={}", segment(credential)));
        }
        let page: AuditPage = client.get(&path)?;
        entries.extend(page.entries);
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(entries),
        }
    }
}

/// What a credential looked like when a rotation, rollback or resume was asked.
struct Before {
    /// Its newest rotation.
    newest: Option<String>,
    /// Its open rotation (the one a rollback undoes, or a resume finishes).
    open: Option<String>,
    /// How many steps that one had journaled, and its error.
    open_progress: (usize, Option<String>),
}

/// What was asked of the daemon, and so which rotation is waited for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// A new rotation.
    Rotate,
    /// The open rotation, undone.
    Rollback,
    /// The open, interrupted rotation, finished.
    Resume,
}

/// Asks the daemon for `action` on `name`: how things stood before.
fn ask(client: &Client, name: &str, action: &str) -> Result<Before, RemoteError> {
    let page = client.credential(name)?;
    let open = page.credential.in_progress.map(|p| p.id);
    let open_record = page.history.iter().find(|r| Some(&r.rotation.id) == open.as_ref());
    let before = Before {
        newest: page.history.first().map(|r| r.rotation.id.clone()),
        open_progress: open_record.map_or((0, None), |r| (r.journal.len(), r.rotation.error.clone())),
        open,
    };
    client.post::<serde_json::Value>(&format!("/v1/credentials/{}/{action}", segment(name)))?;
    Ok(before)
}

/// Waits until the rotation the request made (or, for a `rollback` or a
/// `resume`, the open one) has ended, and says how, as a local run would.
fn wait(
    client: &Client,
    name: &str,
    before: &Before,
    asked: Asked,
) -> Result<Result<Ended, RotationError>, RemoteError> {
    let deadline = Instant::now() + WAIT;
    loop {
        let page = client.credential(name)?;
        let wanted = |id: &String| match asked {
            Asked::Rotate => Some(id) != before.newest.as_ref(),
            Asked::Rollback | Asked::Resume => Some(id) == before.open.as_ref(),
        };
        if let Some(record) = page.history.iter().find(|r| wanted(&r.rotation.id)) {
            let interrupted = page.credential.in_progress.as_ref().is_some_and(|p| p.state.starts_with("interrupted"));
            // A resumed rotation still interrupted has failed again only once
            // the daemon got to it: it journaled a step, or failed anew.
            let progressed = (record.journal.len(), record.rotation.error.clone()) != before.open_progress;
            let interrupted = interrupted && (asked != Asked::Resume || progressed);
            if let Some(outcome) = ended(name, &record.rotation, interrupted, asked == Asked::Rollback) {
                return Ok(outcome);
            }
        }
        if Instant::now() > deadline {
            return Err(RemoteError::Refused {
                server: client.server.clone(),
                status: 202,
                message: format!(
                    "`{name}`: nothing ended within {} minutes; see `rekey --server … status`",
                    WAIT.as_secs() / 60
                ),
            });
        }
        std::thread::sleep(POLL);
    }
}

/// How `rotation` ended, once it has: what a local run would have returned
/// (a rollback asked for ends rolled back).
fn ended(
    name: &str,
    rotation: &crate::store::rotations::Rotation,
    interrupted: bool,
    rollback: bool,
) -> Option<Result<Ended, RotationError>> {
    let failed = |rolled_back: bool| {
        let error = rotation.error.clone().unwrap_or_else(|| "interrupted; the daemon retries it".into());
        let (step, cause) = match error.split_once(" failed: ") {
            Some((step, cause)) => (step.to_string(), cause.to_string()),
            None => ("a step".to_string(), error),
        };
        Err(RotationError::Failed { credential: name.into(), rotation: rotation.id.clone(), step, cause, rolled_back })
    };
    match rotation.state {
        State::Succeeded if rotation.from_version.is_none() => Some(Ok(Ended::FirstKey)),
        State::Succeeded => Some(Ok(Ended::Succeeded)),
        State::Grace if rollback => None,
        State::Grace => Some(Ok(Ended::InGrace { until: rotation.revoke_after.unwrap_or_default() })),
        State::RolledBack if rollback => Some(Ok(Ended::RolledBack)),
        State::RolledBack => Some(failed(true)),
        State::Failed => Some(failed(false)),
        State::Running if interrupted => Some(failed(false)),
        State::Running => None,
    }
}

/// A failure to talk to the daemon, as the error of a whole command.
fn failure(name: &str) -> impl Fn(RemoteError) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("`{name}`: {e}")
}
