//! Makes `wasi:http` header maps of 100 KB each and keeps them, never
//! sending a request: host memory the linear-memory limit never saw. The
//! call's budget caps the resources it may hold.
guest_support::guest! {
    info: guest_support::info("fields-hoard", &[], &[], &[]),
    generate(_ctx) {
        let value = vec![b'a'; 1000];
        let mut hoard = Vec::new();
        loop {
            let fields = wasip2::http::types::Fields::new();
            for i in 0..100 {
                let _ = fields.append(&format!("x-filler-{i}"), &value);
            }
            hoard.push(fields);
        }
    }
}
