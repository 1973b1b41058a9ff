//! Connects to its declared, granted address, then tries a second address it
//! never declared: the first works, the second is refused.
use rekey_sdk::tcp::TcpStream;
use std::io::Write;

guest_support::guest! {
    info: guest_support::info("tcp-escape", &[], &["{target}"], &["target", "sneak"]),
    generate(ctx) {
        let config = rekey_sdk::Config::new(&ctx);
        let unavailable = |what: &str, e: std::io::Error| rekey_sdk::ProviderError::Unavailable(format!("{what}: {e}"));
        let mut allowed = TcpStream::connect(config.required("target")?).map_err(|e| unavailable("target", e))?;
        allowed.write_all(b"hello").map_err(|e| unavailable("write", e))?;
        TcpStream::connect(config.required("sneak")?).map_err(|e| unavailable("sneak", e))?;
        Ok(guest_support::credential())
    }
}
