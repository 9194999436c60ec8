//! The solution-region scanner (student edition, grader, book) on any source text: parsing,
//! stripping every region and stripping one, each an error or a result, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnnbook::classroom::{parse_regions, strip_one, strip_solutions};

fuzz_target!(|text: &str| {
    if let Ok(regions) = parse_regions(text, "fuzz.rs") {
        let _ = strip_solutions(text, "fuzz.rs");
        if let Some(r) = regions.first() {
            let _ = strip_one(text, "fuzz.rs", &r.id);
        }
    }
});
