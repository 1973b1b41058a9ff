//! Panics: reported as a panic with its message, not as a crash of the host.
guest_support::guest! {
    info: guest_support::info("panic", &[], &[], &[]),
    generate(_ctx) {
        panic!("boom: the provider exploded");
    }
}
