//! Logs without end: the output budget must stop it.
guest_support::guest! {
    info: guest_support::info("log-flood", &[], &[], &[]),
    generate(_ctx) {
        let line = "flood ".repeat(200);
        loop {
            rekey_sdk::log::info(&line);
            eprintln!("{line}");
        }
    }
}
