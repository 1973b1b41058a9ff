//! Logs terminal escape sequences, a bidirectional override and its admin
//! secret, then succeeds: the operator must see none of them.
guest_support::guest! {
    info: {
        let mut info = guest_support::info("ansi-log", &[], &[], &[]);
        info.config.push(rekey_sdk::ConfigField::new("token", rekey_sdk::FieldType::Text, "admin secret").secret());
        info
    },
    generate(ctx) {
        let token = rekey_sdk::Config::new(&ctx).secret("token")?;
        rekey_sdk::log::warn(&format!("\x1b[2J\x1b[31mred alert\x1b[0m \x1b]0;pwned\x07 token={token} \u{202e}desrever"));
        println!("stdout says \x1b[1mbold\x1b[0m token={token}");
        Ok(guest_support::credential())
    }
}
