//! Tries to get TLS the host did not verify, or to talk in clear after
//! asking for TLS, on its one granted connection (config `target`), as
//! config `mode` says:
//!
//! - `name`: asks for TLS as `name`, which the operator did not grant;
//! - `mixed`: hands over the input of one connection with the output of
//!   another, as if they were one;
//! - `clear-after`: keeps a copy of the output stream's handle, hands the
//!   streams to TLS, then writes a line in clear through the copy.
use rekey_sdk::ProviderError;
use rekey_sdk::bindings::wasi::tls::types::ClientHandshake;
use rekey_sdk::tcp::TcpStream;
use std::io::Write;
use wasip2::io::streams::OutputStream;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

guest_support::guest! {
    info: guest_support::info("tls-impostor", &[], &["{target}"], &["target", "mode", "name"]),
    generate(ctx) {
        let config = rekey_sdk::Config::new(&ctx);
        let target = config.required("target")?;
        let failed = |e: std::io::Error| ProviderError::Unavailable(e.to_string());
        match config.required("mode")? {
            "name" => {
                let mut stream = TcpStream::connect(target).map_err(failed)?;
                stream.start_tls(config.required("name")?).map_err(failed)?;
            }
            "mixed" => {
                let (first, (input, _)) = connect(target);
                let (second, (_, output)) = connect(target);
                let _handshake = ClientHandshake::new(target_ip(target), input, output);
                drop((first, second));
            }
            "clear-after" => {
                let (_socket, (input, output)) = connect(target);
                let copy = output.handle();
                let _handshake = ClientHandshake::new(target_ip(target), input, output);
                // SAFETY: deliberately not: the handle was handed over.
                let stale = unsafe { OutputStream::from_handle(copy) };
                let _ = stale.blocking_write_and_flush(b"secret-in-clear\n");
                std::mem::forget(stale);
            }
            other => return Err(ProviderError::InvalidConfig(format!("mode {other}"))),
        }
        let _ = std::io::stdout().flush();
        Ok(guest_support::credential())
    }
}

/// The IP address of `ip:port`.
fn target_ip(target: &str) -> &str {
    target.rsplit_once(':').map_or(target, |(ip, _)| ip)
}

/// A raw connection to the IPv4 `target` and its streams.
fn connect(target: &str) -> (TcpSocket, (wasip2::io::streams::InputStream, OutputStream)) {
    let address: std::net::SocketAddrV4 = target.parse().expect("an IPv4 address and port");
    let [a, b, c, d] = address.ip().octets();
    let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress { port: address.port(), address: (a, b, c, d) });
    let socket = create_tcp_socket(IpAddressFamily::Ipv4).expect("a socket");
    socket.start_connect(&instance_network(), remote).expect("connecting");
    let pollable = socket.subscribe();
    let streams = loop {
        match socket.finish_connect() {
            Err(wasip2::sockets::network::ErrorCode::WouldBlock) => pollable.block(),
            other => break other.expect("connected"),
        }
    };
    drop(pollable);
    (socket, streams)
}
