//! The classroom configuration (`classroom/exercises.toml`, read by `student-edition` and
//! `grade`) on any bytes, in a tree of its own.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = rnnbook_fuzz::write(rnnbook::classroom::CONFIG, data);
    let root = config
        .parent()
        .and_then(Path::parent)
        .expect("CONFIG is in a folder");
    let _ = rnnbook::classroom::read_config(root);
});
