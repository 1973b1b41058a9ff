//! Who runs a command on this machine, for the records that name a person
//! (a token's creator, a confirmed revocation).

/// The login name, or the user id where no name is set (a container, a
/// cron job).
pub fn local_user() -> String {
    let named = ["USER", "LOGNAME"].into_iter().find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()));
    named.unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}
