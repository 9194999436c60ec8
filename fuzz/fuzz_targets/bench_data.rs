//! Chapter 6's benchmark data (`chapters/ch06-fused/data/bench.json`, read by the figures) on
//! any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ch06_fused::results::BenchFile::read(rnnbook_fuzz::write("bench.json", data));
});
