//! Prints 262,000 bare newlines, within the output's byte budget: one log
//! line each, unless lines are bounded too.
guest_support::guest! {
    info: guest_support::info("line-flood", &[], &[], &[]),
    generate(_ctx) {
        eprint!("{}", "\n".repeat(262_000));
        Ok(guest_support::credential())
    }
}
