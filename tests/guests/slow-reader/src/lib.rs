//! Reads a response that a server drip-feeds, a byte at a time: the call
//! deadline must hold while the host waits on the network, not only while
//! the plugin computes.
guest_support::guest! {
    info: guest_support::info("slow-reader", &["{url}"], &[], &["url"]),
    generate(ctx) {
        let url = rekey_sdk::Config::new(&ctx).required("url")?;
        rekey_sdk::http::Request::get(url).send_any_status()?;
        Ok(guest_support::credential())
    }
}
