//! Recurses without end: the stack limit must stop it.
fn descend(depth: u64, trail: &mut [u64; 16]) -> u64 {
    trail[(depth % 16) as usize] = depth;
    std::hint::black_box(descend(depth + 1, trail)) + trail[0]
}

guest_support::guest! {
    info: guest_support::info("deep-recursion", &[], &[], &[]),
    generate(_ctx) {
        let mut trail = [0; 16];
        let _ = descend(0, &mut trail);
        Ok(guest_support::credential())
    }
}
