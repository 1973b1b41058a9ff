//! Sends a request with `header-bytes` bytes of headers, then reads whatever
//! comes back: oversized headers are refused both ways, and the host keeps
//! serving.
guest_support::guest! {
    info: guest_support::info("oversized-headers", &["{url}"], &[], &["url", "header-bytes"]),
    generate(ctx) {
        let config = rekey_sdk::Config::new(&ctx);
        let size = config.integer("header-bytes", 0)? as usize;
        let mut request = rekey_sdk::http::Request::get(config.required("url")?);
        for i in 0..size.div_ceil(1000) {
            request = request.header(&format!("x-filler-{i}"), &"a".repeat(1000));
        }
        let response = request.send_any_status()?;
        Ok(rekey_sdk::Credential { secret: format!("{} headers", response.status()), ..guest_support::credential() })
    }
}
