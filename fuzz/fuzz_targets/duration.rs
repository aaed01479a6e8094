//! Prometheus and Go duration parsing on arbitrary strings: never panics;
//! what `parse` accepts survives `format` and a second `parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medianest_gate::duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = duration::parse(text) {
        let shown = duration::format(d);
        assert_eq!(duration::parse(&shown).ok(), Some(d), "{text:?} -> {shown:?}");
    }
    let _ = duration::parse_go(text);
});
