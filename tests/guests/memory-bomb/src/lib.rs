//! Allocates without end: the memory limit must stop it.
guest_support::guest! {
    info: guest_support::info("memory-bomb", &[], &[], &[]),
    generate(_ctx) {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}
