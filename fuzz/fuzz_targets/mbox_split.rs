//! The mbox splitter must consume any stream without panicking, and never
//! return more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound_decode::input::MboxReader;

fuzz_target!(|data: &[u8]| {
    let mut total = 0;
    for item in MboxReader::new(data, "fuzz".to_string()).take(10_000) {
        if let Ok(m) = item {
            total += m.bytes.len();
        }
    }
    assert!(total <= data.len());
});
