//! Hoards header maps inside `info`, which `plugin inspect`, `audit` and
//! `install` run before anyone approved the plugin: the same budget holds.
guest_support::guest! {
    info: guest_support::hoard_header_maps(),
    generate(_ctx) {
        Ok(guest_support::credential())
    }
}
