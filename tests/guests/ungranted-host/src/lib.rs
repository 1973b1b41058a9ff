//! Declares the host it calls, but the operator grants nothing: refused as
//! not granted.
guest_support::guest! {
    info: guest_support::info("ungranted-host", &["{url}"], &[], &["url"]),
    generate(ctx) {
        let url = rekey_sdk::Config::new(&ctx).required("url")?;
        rekey_sdk::http::Request::get(url).send()?;
        Ok(guest_support::credential())
    }
}
