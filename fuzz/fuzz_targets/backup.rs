//! A backup is restored from a file that anyone who knows its passphrase can
//! write. Whatever it holds, the restore either refuses it or leaves a store
//! that every command can read back: no panic, no unreadable rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekey::store::{Location, Store};

fuzz_target!(|plain: &[u8]| {
    // SAFETY: the fuzzer runs targets on one thread.
    unsafe { std::env::set_var("REKEY_MASTER_KEY", "A".repeat(43) + "=") };
    let dir = tempfile::tempdir_in(shm()).unwrap();
    let (db, key) = (dir.path().join("rekey.db"), dir.path().join("rekey.key"));
    Store::init(&Location::File(db.clone()), &key).unwrap();
    let store = Store::open(&Location::File(db.clone()), &key).unwrap();
    if rekey::fuzzing::restore(&store, plain).is_err() {
        return;
    }
    store.verify_audit().unwrap().expect("a restored audit log is chained anew");
    for credential in store.credentials().unwrap() {
        for version in store.versions(&credential).unwrap() {
            store.secret(&version).expect("a restored secret is sealed for its own row");
        }
        for rotation in store.rotations(&credential).unwrap() {
            store.journal(&rotation.id).unwrap();
        }
    }
    store.export("passphrase").expect("a restored store exports again");
});

/// Memory-backed, so the store's fsyncs cost nothing.
fn shm() -> &'static str {
    if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" }
}
