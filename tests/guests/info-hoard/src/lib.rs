//! Hoards header maps inside `info`, which `plugin inspect`, `audit` and
//! `install` run before anyone approved the plugin: the same budget holds.
guest_support::guest! {
    info: {
        let value = vec![b'a'; 1000];
        let mut hoard = Vec::new();
        loop {
            let fields = wasip2::http::types::Fields::new();
            for i in 0..100 {
                let _ = fields.append(&format!("x-filler-{i}"), &value);
            }
            hoard.push(fields);
        }
    },
    generate(_ctx) {
        Ok(guest_support::credential())
    }
}
