//! Reads a response far larger than any key API sends: the body cap must
//! stop it before the host buffers it all.
guest_support::guest! {
    info: guest_support::info("oversized-body", &["{url}"], &[], &["url"]),
    generate(ctx) {
        let url = rekey_sdk::Config::new(&ctx).required("url")?;
        let response = rekey_sdk::http::Request::get(url).send_any_status()?;
        Ok(rekey_sdk::Credential { secret: format!("{} bytes", response.bytes().len()), ..guest_support::credential() })
    }
}
