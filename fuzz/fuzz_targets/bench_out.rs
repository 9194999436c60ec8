//! `rnnbook bench --out FILE --resume`'s reader of FILE on any bytes, read from a file as the
//! command reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnnbook::bench::OutFile::read(rnnbook_fuzz::write("bench-out.json", data));
});
