//! Opens connection after connection to its one granted address and holds
//! them all: each is a socket and buffers in the host. The call may open
//! only so many.
use rekey_sdk::tcp::TcpStream;

guest_support::guest! {
    info: guest_support::info("tcp-flood", &[], &["{target}"], &["target"]),
    generate(ctx) {
        let target = rekey_sdk::Config::new(&ctx).required("target")?.to_string();
        let mut held = Vec::new();
        for _ in 0..3000 {
            let stream = TcpStream::connect(&target)
                .map_err(|e| rekey_sdk::ProviderError::Unavailable(format!("connection {}: {e}", held.len() + 1)))?;
            held.push(stream);
        }
        Ok(guest_support::credential())
    }
}
