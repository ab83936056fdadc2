//! Any reply text must classify without panicking, and 4xx replies must
//! never be judged hard bounces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound_classify::Classifier;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let verdict = Classifier::builtin().classify_text(&text);
    if verdict
        .replycode
        .is_some_and(|c| (400..500).contains(&c.get()))
        && verdict.deliverystatus.is_none_or(|s| s.class_digit() == 4)
    {
        assert!(!verdict.hardbounce, "4xx judged hard: {text:?}");
    }
});
