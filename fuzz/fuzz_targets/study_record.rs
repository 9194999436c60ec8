//! A record of chapter 7's study (`rnnbook experiments`) on any bytes, read from a file as the
//! study reads its results folder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ch07_experiments::study::Record::read(rnnbook_fuzz::write(
        "adding-lstm-t100-s1.json",
        data,
    ));
});
