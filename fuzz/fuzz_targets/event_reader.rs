//! Logs and webhook payloads: any bytes, read as each record format, give
//! events or errors — never a panic, a hang or unbounded memory. The first
//! byte picks the format, so one input exercises one reader deeply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound_ingest::{EventReader, Format, ReaderOptions, detect};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    let _ = detect(input);
    let format = Format::RECORDS[usize::from(pick) % Format::RECORDS.len()];
    let options = ReaderOptions {
        format,
        year: Some(2026),
        // Fixed, so that a crash reproduces whatever the day.
        now_ms: Some(1_790_812_800_000),
        ..ReaderOptions::default()
    };
    if let Ok(reader) = EventReader::new(input, "fuzz", options) {
        for event in reader.take(100_000).flatten() {
            // An event always names one recipient address.
            assert!(event.recipient.contains('@'), "{:?}", event.recipient);
        }
    }
});
