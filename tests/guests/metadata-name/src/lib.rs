//! Calls a harmless-looking name that resolves to the cloud metadata
//! endpoint: refused even though declared and granted.
guest_support::guest! {
    info: guest_support::info("metadata-name", &["instance-data.test"], &[], &[]),
    generate(_ctx) {
        rekey_sdk::http::Request::get("http://instance-data.test/latest/meta-data/iam/security-credentials/").send()?;
        Ok(guest_support::credential())
    }
}
