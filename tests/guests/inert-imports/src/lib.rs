//! Imports what language runtimes (Python, JavaScript, Rust's `std::fs` and
//! `std::net`) import and a provider never needs — `wasi:filesystem`, UDP,
//! name lookups — and tries each: read the master key, list the open
//! directories, open a UDP socket, resolve a name. The host links them
//! inert, so the plugin loads and every attempt comes back refused; the
//! call fails with the report of what happened.
use wasip2::sockets::{instance_network::instance_network, ip_name_lookup, network::IpAddressFamily};

guest_support::guest! {
    info: guest_support::info("inert-imports", &[], &[], &[]),
    generate(_ctx) {
        let file = match std::fs::read_to_string("/etc/rekey/master.key") {
            Ok(text) => format!("READ {} bytes", text.len()),
            Err(e) => format!("refused ({e})"),
        };
        let preopens = wasip2::filesystem::preopens::get_directories().len();
        let udp = match wasip2::sockets::udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4) {
            Ok(_) => "OPENED".to_string(),
            Err(e) => format!("refused ({e:?})"),
        };
        let lookup = match ip_name_lookup::resolve_addresses(&instance_network(), "localhost") {
            Ok(stream) => {
                stream.subscribe().block();
                match stream.resolve_next_address() {
                    Ok(Some(address)) => format!("RESOLVED {address:?}"),
                    other => format!("refused ({other:?})"),
                }
            }
            Err(e) => format!("refused ({e:?})"),
        };
        Err(rekey_sdk::ProviderError::Rejected(format!(
            "file: {file}; preopened directories: {preopens}; udp: {udp}; lookup: {lookup}"
        )))
    }
}
