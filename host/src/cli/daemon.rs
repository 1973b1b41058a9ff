//! `rekey daemon`: the scheduler as a long-running service (see
//! `daemon/`), and `--once` for a cron job or a systemd timer.

use super::context::Context;

/// Arguments of `rekey daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One scheduling pass: resume, remind, check and rotate what is due now, then exit.
    #[arg(long)]
    once: bool,
    /// Serve the API on a non-loopback `[daemon] listen` address without TLS (tokens then travel in clear text).
    #[arg(long)]
    insecure_http: bool,
}

/// Runs the daemon until SIGTERM or SIGINT (or one pass).
pub async fn run(args: Args, context: Context) -> anyhow::Result<()> {
    let store = context.store()?;
    let runtime = context.runtime()?;
    crate::daemon::run(context.into_config(), &store, &runtime, args.once, args.insecure_http).await?;
    Ok(())
}
