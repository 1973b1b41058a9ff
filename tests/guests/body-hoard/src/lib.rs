//! Makes requests and fills their bodies as far as the host lets it write,
//! never sending them: host memory neither the request count nor the body
//! cap ever saw. The call's budget caps the resources it may hold.
guest_support::guest! {
    info: guest_support::info("body-hoard", &[], &[], &[]),
    generate(_ctx) {
        use wasip2::http::types::{Fields, OutgoingRequest};
        let chunk = vec![b'b'; 4096];
        let mut hoard = Vec::new();
        loop {
            let request = OutgoingRequest::new(Fields::new());
            let body = request.body().expect("a new request's body");
            let stream = body.write().expect("a body's stream");
            while stream.check_write().is_ok_and(|n| n > 0) {
                if stream.write(&chunk).is_err() {
                    break;
                }
            }
            hoard.push((request, body, stream));
        }
    }
}
