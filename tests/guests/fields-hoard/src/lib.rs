//! Makes `wasi:http` header maps of 100 KB each and keeps them, never
//! sending a request: host memory the linear-memory limit never saw. The
//! call's budget caps the resources it may hold.
guest_support::guest! {
    info: guest_support::info("fields-hoard", &[], &[], &[]),
    generate(_ctx) {
        guest_support::hoard_header_maps()
    }
}
