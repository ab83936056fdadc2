//! Any bytes given to the bounce decoder must yield records or an error,
//! never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound_decode::{DecodeOptions, decode_message};

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions {
        delivered: true,
        vacation: true,
    };
    if let Ok(records) = decode_message(data, "fuzz", &options) {
        for r in records {
            // Serialising must work for whatever was decoded.
            let _ = serde_json_len(&r);
        }
    }
});

fn serde_json_len(r: &rebound_decode::Record) -> usize {
    r.to_sisimai_json().to_string().len()
}
