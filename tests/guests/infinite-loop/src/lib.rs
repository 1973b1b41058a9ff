//! Spins forever: the call deadline must stop it.
guest_support::guest! {
    info: guest_support::info("infinite-loop", &[], &[], &[]),
    generate(_ctx) {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}
