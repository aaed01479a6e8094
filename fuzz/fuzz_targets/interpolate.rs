//! `${VAR}` expansion on arbitrary strings: never panics, offsets point at a `$`.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use medianest_gate::gate::{Env, interpolate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = Env::fixed(BTreeMap::from([
        ("SET".to_string(), "value".to_string()),
        ("EMPTY".to_string(), String::new()),
    ]));
    match interpolate(text, &env) {
        Ok(e) => assert!(e.missing.iter().all(|m| e.vars.contains(m))),
        Err(e) => assert_eq!(text.as_bytes().get(e.offset), Some(&b'$'), "{e:?}"),
    }
});
