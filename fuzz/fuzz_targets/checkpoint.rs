//! `rnnbook train rnn --resume`'s checkpoint loader on any bytes, read from a file as the
//! command reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ =
        rnnbook::train::checkpoint::load_checkpoint(rnnbook_fuzz::write("checkpoint.json", data));
});
