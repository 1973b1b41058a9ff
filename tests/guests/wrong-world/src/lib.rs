//! A valid component for another world: refused at load, naming what it
//! exports instead of the provider interface.
wit_bindgen::generate!({ path: "wit", world: "other" });

struct Other;

impl Guest for Other {
    fn greet() -> String {
        "hello".into()
    }
}

export!(Other);
