//! What a plugin returns is attacker-controlled. The host's checks must
//! refuse, without panicking, anything it could not store or show safely;
//! what they accept, the store keeps and gives back unchanged.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rekey::runtime::{Credential, Pair, Verification};
use rekey::store::{Location, Store};

#[derive(Arbitrary, Debug)]
struct Returned {
    key_id: String,
    secret: String,
    attributes: Vec<(String, String)>,
    expires_at: Option<u64>,
    detail: Option<String>,
    last_used: Option<u64>,
}

fuzz_target!(|returned: Returned| {
    let verification = Verification { valid: true, detail: returned.detail.clone(), last_used: returned.last_used };
    if rekey::fuzzing::check_verification(&verification).is_ok() {
        assert_printable(returned.detail.as_deref().unwrap_or_default());
    }
    let credential = Credential {
        key_id: returned.key_id,
        secret: returned.secret,
        attributes: returned.attributes.into_iter().map(|(key, value)| Pair { key, value }).collect(),
        expires_at: returned.expires_at,
    };
    if rekey::fuzzing::check_credential(&credential).is_err() {
        return;
    }
    assert_printable(&credential.key_id);
    for pair in &credential.attributes {
        assert_printable(&pair.key);
        assert_printable(&pair.value);
    }
    let stored = with_store(|store| {
        store.import("fuzzed", &credential).unwrap();
        let current = store.versions("fuzzed").unwrap().pop().unwrap();
        store.credential(&current).unwrap()
    });
    assert_eq!(stored.key_id, credential.key_id);
    assert_eq!(stored.secret, credential.secret);
    assert_eq!(stored.expires_at, credential.expires_at);
    let pairs = |c: &Credential| c.attributes.iter().map(|p| (p.key.clone(), p.value.clone())).collect::<Vec<_>>();
    assert_eq!(pairs(&stored), pairs(&credential));
});

/// Nothing that would move a terminal's cursor, change its colours, or
/// reorder or hide text when `rekey status` prints it (the most used
/// Unicode format characters listed here on purpose, apart from the host's
/// own table).
fn assert_printable(text: &str) {
    let hidden = ['\u{00ad}', '\u{061c}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}', '\u{feff}'];
    assert!(
        !text.chars().any(|c| (c.is_control() && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c) || hidden.contains(&c)),
        "accepted text that rewrites or hides text on a terminal: {text:?}"
    );
}

fn with_store<T>(f: impl FnOnce(&Store) -> T) -> T {
    // SAFETY: the fuzzer runs targets on one thread.
    unsafe { std::env::set_var("REKEY_MASTER_KEY", "A".repeat(43) + "=") };
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let (db, key) = (dir.path().join("rekey.db"), dir.path().join("rekey.key"));
    Store::init(&Location::File(db.clone()), &key).unwrap();
    f(&Store::open(&Location::File(db.clone()), &key).unwrap())
}
