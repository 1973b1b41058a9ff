//! `rekey token create|list|revoke`: API tokens for people and systems,
//! each with a role and a credential scope. A token is printed once, when
//! created; the store keeps only its start (to find it) and its digest.

use super::context::{Context, time};
use super::exit::UsageError;
use crate::access::token;
use crate::access::{Role, Scope};
use crate::store::now;
use crate::store::tokens::TokenRecord;
use std::time::Duration;

/// `rekey token …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a token and print it once (the store keeps only its first characters and its SHA-256).
    Create {
        /// A name for the token: who or what uses it.
        name: String,
        /// What it may do: viewer (status, history), auditor (+ audit log), rotator (+ rotate, rollback, resume), admin (all).
        #[arg(long, value_enum)]
        role: Role,
        /// Credentials it covers, as globs (repeat for more) [default: all].
        #[arg(long = "credentials", value_name = "GLOB", num_args = 1..)]
        credentials: Vec<String>,
        /// When it stops working, e.g. 30d or 12h [default: never].
        #[arg(long, value_name = "DURATION", value_parser = crate::config::duration::parse)]
        expires: Option<Duration>,
    },
    /// Every token: role, scope, creator, expiry, last use, revoked.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Prints `tokens` as `rekey token list` does (locally or with --server).
pub fn print_list(tokens: &[TokenRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(tokens)?);
        return Ok(());
    }
    if tokens.is_empty() {
        println!("no tokens; create one with `rekey token create NAME --role viewer`");
    }
    let at = now();
    for t in tokens {
        let state = match (t.revoked_at, t.expires_at) {
            (Some(r), _) => format!("revoked {}", time(r)),
            (None, Some(e)) if e <= at => format!("expired {}", time(e)),
            (None, Some(e)) => format!("expires {}", time(e)),
            (None, None) => "no expiry".into(),
        };
        let used = t.last_used_at.map_or("never used".into(), |u| format!("last used {}", time(u)));
        println!("{:<20} {:<8} {:<24} {state}, {used}, by {}", t.name, t.role, describe_scope(&t.scope), t.created_by);
    }
    Ok(())
}

/// Runs a token command.
pub fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    match command {
        Command::Create { name, role, credentials, expires } => {
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
            if !valid {
                return Err(UsageError(format!("`{name}` is not a token name: use 1-64 of a-z, 0-9, `-_.@`")).into());
            }
            let scope = Scope::new(credentials).map_err(|e| UsageError(e.to_string()))?;
            let created_at = now();
            let record = TokenRecord {
                name: name.clone(),
                role: role.name().into(),
                scope: scope.globs().to_vec(),
                created_by: format!("cli:{}", crate::access::local_user()),
                created_at,
                expires_at: expires.map(|d| created_at + d.as_secs() as i64),
                last_used_at: None,
                revoked_at: None,
            };
            let secret = token::generate();
            store.create_token(&record, token::lookup(&secret), &token::digest(&secret))?;
            eprintln!(
                "created token `{name}` ({}, {}); it is shown only now: keep it in a secret store",
                role.name(),
                describe_scope(&record.scope)
            );
            println!("{secret}");
        }
        Command::List { json } => print_list(&store.tokens()?, json)?,
        Command::Revoke { name } => {
            if !store.revoke_token(&name, "cli")? {
                return Err(UsageError(format!("no usable token named `{name}` (see `rekey token list`)")).into());
            }
            println!("revoked token `{name}`: requests with it are refused from now on");
        }
    }
    Ok(())
}

fn describe_scope(globs: &[String]) -> String {
    if globs.is_empty() { "all credentials".into() } else { globs.join(", ") }
}
