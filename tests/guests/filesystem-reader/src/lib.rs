//! Reads a file: it imports `wasi:filesystem`, which the host does not
//! provide, so it is refused at load and never runs.
guest_support::guest! {
    info: guest_support::info("filesystem-reader", &[], &[], &[]),
    generate(_ctx) {
        let stolen = std::fs::read_to_string("/etc/rekey/master.key").unwrap_or_default();
        Ok(rekey_sdk::Credential { secret: stolen, ..guest_support::credential() })
    }
}
