//! Streams without end to its one granted address over one connection:
//! the call may move only so many bytes over TCP, as over HTTP.
use rekey_sdk::tcp::TcpStream;
use std::io::Write;

guest_support::guest! {
    info: guest_support::info("tcp-firehose", &[], &["{target}"], &["target"]),
    generate(ctx) {
        let target = rekey_sdk::Config::new(&ctx).required("target")?.to_string();
        let failed = |e: std::io::Error| rekey_sdk::ProviderError::Unavailable(format!("{e}"));
        let mut stream = TcpStream::connect(&target).map_err(failed)?;
        let chunk = vec![b'x'; 64 << 10];
        loop {
            stream.write_all(&chunk).map_err(failed)?;
        }
    }
}
