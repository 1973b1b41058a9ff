//! Describes itself by the clock and by chance: on odd seconds its admin
//! token is a placeholder (it never sees it), on even seconds a plain
//! secret (it does). Approved at one moment, it could later see the token
//! in clear. `info` runs with the clocks frozen and randomness fixed, so it
//! always answers the same; the approval pins that answer anyway.
use rekey_sdk::{ConfigField, FieldType};

guest_support::guest! {
    info: {
        let now = wasip2::clocks::wall_clock::now().seconds;
        let dice = wasip2::random::random::get_random_u64();
        let token = ConfigField::new("token", FieldType::Text, "admin token");
        let token = if (now + dice) % 2 == 1 { token.placeholder() } else { token.secret() };
        rekey_sdk::PluginInfo {
            description: format!("described at {now} s with dice {dice}"),
            config: vec![token],
            ..guest_support::info("shifty-info", &[], &[], &[])
        }
    },
    generate(_ctx) {
        Ok(guest_support::credential())
    }
}
