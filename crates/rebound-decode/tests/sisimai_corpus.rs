//! Conformance against Sisimai's public corpus (`../shared/corpus/sisimai`,
//! or `REBOUND_SISIMAI_CORPUS`). Without it each test says SKIPPED and
//! passes, except under `CI=true`, where it fails.

use rebound_classify::Classifier;
use rebound_decode::{DecodeOptions, Record, conformance, decode_message};
use std::path::PathBuf;

/// Floors the decoder must not fall below, in percent of expected rows.
/// The issue's targets are reason 99, recipient 100, status and replycode
/// 98, hardbounce 99. Each floor sits at the level reached (648 of 650
/// rows, 99.69%), so one more miss fails. Recipient stays at two misses:
/// both expected addresses are data errors of the reference (an off-by-one
/// in go-sisimai's ApacheJames decoder, and an address found only in a
/// mailto: link of office365-04 that contradicts its own text and DSN).
const FLOOR_RECIPIENT: f64 = 99.6;
/// Reason sits two rows lower (646): two Gmail delay notices say "the
/// recipient server did not accept our requests to connect", which Rebound
/// reports as the cause (`networkerror`, still retrying) where Sisimai says
/// `expired` (a delay notice has not expired; Sisimai itself calls another
/// such 4.4.1 notice, rfc3464-34, `networkerror`).
const FLOOR_REASON: f64 = 99.3;
const FLOOR_STATUS: f64 = 99.6;
const FLOOR_REPLYCODE: f64 = 99.6;
const FLOOR_HARDBOUNCE: f64 = 99.6;

#[path = "support/shared_corpus.rs"]
mod shared_corpus;

fn corpus() -> Option<PathBuf> {
    shared_corpus::sisimai_corpus(&["expected.jsonl", "emails"])
}

fn all_options() -> DecodeOptions {
    DecodeOptions {
        delivered: true,
        vacation: true,
    }
}

#[test]
fn conformance_meets_the_floors() {
    let Some(dir) = corpus() else { return };
    let board = conformance::run(&dir, Classifier::builtin()).expect("corpus readable");
    println!("{}", board.render());
    let t = board.totals();
    assert_eq!(t.rows, 650, "expected.jsonl should hold 650 rows");
    let checks = [
        ("recipient", t.recipient, FLOOR_RECIPIENT),
        ("reason", t.reason, FLOOR_REASON),
        ("status", t.status, FLOOR_STATUS),
        ("replycode", t.replycode, FLOOR_REPLYCODE),
        ("hardbounce", t.hardbounce, FLOOR_HARDBOUNCE),
    ];
    let failed: Vec<String> = checks
        .iter()
        .filter(|(_, n, floor)| t.pct(*n) < *floor)
        .map(|(name, n, floor)| format!("{name} {:.2}% < {floor}%", t.pct(*n)))
        .collect();
    assert!(failed.is_empty(), "below the floors: {}", failed.join(", "));
}

#[test]
fn every_corpus_email_decodes_without_error() {
    let Some(dir) = corpus() else { return };
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(dir.join("emails")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = decode_message(&bytes, &path.display().to_string(), &all_options()) {
            errors.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn messages_that_are_not_bounces_give_no_record() {
    let Some(dir) = corpus() else { return };
    for entry in std::fs::read_dir(dir.join("not-bounce")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let records = decode_message(&bytes, "x", &all_options()).expect("no error");
        assert!(records.is_empty(), "{}: {records:?}", path.display());
    }
}

/// Records minus the fields that name the file.
fn comparable(records: Vec<Record>) -> Vec<Record> {
    records
        .into_iter()
        .map(|mut r| {
            r.origin.clear();
            r
        })
        .collect()
}

#[test]
fn crlf_and_cr_copies_decode_like_their_lf_twins() {
    let Some(dir) = corpus() else { return };
    let mut compared = 0;
    let mut differ = Vec::new();
    for kind in ["crlf", "cr"] {
        let sub = dir.join("line-endings").join(kind);
        for entry in std::fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            let twin = dir.join("emails").join(path.file_name().unwrap());
            let Ok(twin_bytes) = std::fs::read(&twin) else {
                continue;
            };
            let bytes = std::fs::read(&path).unwrap();
            // Only true twins: the same text once line endings are equal.
            let norm = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .replace("\r\n", "\n")
                    .replace('\r', "\n")
            };
            if norm(&bytes) != norm(&twin_bytes) {
                continue;
            }
            compared += 1;
            // Read as `rebound decode FILE` reads it: a file that starts
            // with an mbox postmark goes through the mbox reader.
            let read = |p: &std::path::Path| -> Vec<Record> {
                let mut records = Vec::new();
                for m in rebound_decode::messages(&[p.to_path_buf()]) {
                    let m = m.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    match decode_message(&m.bytes, "x", &all_options()) {
                        Ok(r) => records.extend(r),
                        Err(e) => panic!("{}: {e}", p.display()),
                    }
                }
                comparable(records)
            };
            let (a, b) = (read(&path), read(&twin));
            if a != b {
                differ.push(format!(
                    "{kind}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(compared >= 100, "only {compared} twins compared");
    assert!(differ.is_empty(), "decode differently: {differ:?}");
}

#[test]
fn mboxes_split_into_their_messages() {
    let Some(dir) = corpus() else { return };
    let count = |name: &str| {
        let items: Vec<_> = rebound_decode::messages(&[dir.join("mbox").join(name)]).collect();
        assert!(items.iter().all(|m| m.is_ok()), "{name}: read errors");
        items.into_iter().map(|m| m.unwrap()).collect::<Vec<_>>()
    };
    let mbox0 = count("mbox-0");
    assert_eq!(mbox0.len(), 37, "mbox-0 holds 37 messages");
    assert_eq!(count("mbox-1").len(), 1);
    // Size edge cases: empty, one blank, three bytes of junk. None is a
    // bounce; junk may be reported as not a message, never decoded.
    assert!(count("size-0").is_empty());
    assert!(count("size-1").is_empty());
    for m in count("size-2") {
        let decoded = decode_message(&m.bytes, &m.origin, &all_options());
        assert!(decoded.is_err() || decoded.unwrap().is_empty());
    }
    let with_records = mbox0
        .iter()
        .filter(|m| {
            !decode_message(&m.bytes, &m.origin, &all_options())
                .expect("decodes")
                .is_empty()
        })
        .count();
    assert!(
        with_records >= 30,
        "only {with_records} of 37 mbox messages gave records"
    );
}
