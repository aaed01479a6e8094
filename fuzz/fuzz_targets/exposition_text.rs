//! Arbitrary bytes as a /metrics body in the Text format: `parse_bytes` must
//! accept or reject with an in-range location, never panic, hang or blow up;
//! `histogram_problems` runs on every accepted body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medianest_gate::exposition::{Format, histogram_problems, parse_bytes};

include!("exposition_common.rs");

fuzz_target!(|data: &[u8]| {
    check_exposition(data, Format::Text);
});
