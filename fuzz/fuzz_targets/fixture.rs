//! The fixture reader (`rnnbook check`) on any text: an error or a fixture, never a panic, an
//! abort or an allocation larger than the data.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = ch00_foundations::fixture::parse(Path::new("fuzz.json"), text);
});
