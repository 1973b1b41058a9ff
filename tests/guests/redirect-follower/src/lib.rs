//! Follows a redirect from its declared host to one it never declared: the
//! host does not follow redirects itself, and the second request is checked
//! like any other.
guest_support::guest! {
    info: guest_support::info("redirect-follower", &["{url}"], &[], &["url"]),
    generate(ctx) {
        let url = rekey_sdk::Config::new(&ctx).required("url")?;
        let first = rekey_sdk::http::Request::get(url).send_any_status()?;
        if let Some(location) = first.header("location") {
            rekey_sdk::http::Request::get(location).send_any_status()?;
        }
        Ok(guest_support::credential())
    }
}
