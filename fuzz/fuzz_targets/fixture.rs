//! The fixture reader (`rnnbook check`) on any text: an error or a fixture, never a panic, an
//! abort or an allocation larger than the data. Both formats: `parse_any` reads a single-layer
//! file as `parse` does, and a stacked or bidirectional one (`num_layers`, `bidirectional`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = ch00_foundations::fixture::parse_any(Path::new("fuzz.json"), text);
});
