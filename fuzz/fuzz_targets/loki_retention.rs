//! A Loki `/config` body as the probe reads it (YAML into a JSON value),
//! then `effective_retention`: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medianest_gate::probe::effective_retention;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = serde_saphyr::from_str::<serde_json::Value>(text) {
        let _ = effective_retention(&cfg);
    }
});
