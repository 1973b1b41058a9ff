//! Sends thousands of requests in one call: the request cap must stop it.
guest_support::guest! {
    info: guest_support::info("request-flood", &["{url}"], &[], &["url"]),
    generate(ctx) {
        let url = rekey_sdk::Config::new(&ctx).required("url")?;
        for _ in 0..5000 {
            // Whatever the status, keep going: only the host's cap stops the loop.
            rekey_sdk::http::Request::get(url).send_any_status()?;
        }
        Ok(guest_support::credential())
    }
}
