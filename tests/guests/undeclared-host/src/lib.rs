//! Declares one host and sends its request to another: refused as undeclared,
//! whatever the operator granted.
guest_support::guest! {
    info: guest_support::info("undeclared-host", &["api.declared.example"], &[], &["url"]),
    generate(ctx) {
        let url = rekey_sdk::Config::new(&ctx).required("url")?;
        rekey_sdk::http::Request::get(url).send()?;
        Ok(guest_support::credential())
    }
}
