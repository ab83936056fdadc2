//! Scoring the decoder against a labelled corpus: `expected.jsonl` rows of
//! (file, index, recipient, reason, status, replycode, hardbounce), the
//! layout of Sisimai's public test corpus. Used by the conformance test and
//! by `rebound conformance DIR` on a user's own corpus.

use crate::{DecodeOptions, Record, decode_message_with};
use rebound_classify::Classifier;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// One labelled record.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedRow {
    pub file: String,
    /// 1-based position of the record among the file's records.
    pub index: usize,
    #[serde(default)]
    pub recipient: String,
    pub reason: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub replycode: String,
    #[serde(default)]
    pub hardbounce: bool,
}

/// How one row fared.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub expected: ExpectedRow,
    /// The record at that position, if the decoder produced one.
    pub got: Option<Record>,
    /// An error reading or decoding the file.
    pub error: Option<String>,
}

impl RowResult {
    pub fn recipient_ok(&self) -> bool {
        self.got
            .as_ref()
            .is_some_and(|r| r.recipient.eq_ignore_ascii_case(&self.expected.recipient))
    }
    pub fn reason_ok(&self) -> bool {
        self.got
            .as_ref()
            .is_some_and(|r| sisimai_reason(r) == self.expected.reason)
    }
    pub fn status_ok(&self) -> bool {
        self.got
            .as_ref()
            .is_some_and(|r| sisimai_status(r) == self.expected.status)
    }
    /// The record is a delay notice with no stated cause, which Rebound calls
    /// `onhold` (pending) and Sisimai `expired`.
    pub fn pending_delay(&self) -> bool {
        self.got.as_ref().is_some_and(is_pending_delay)
    }
    pub fn replycode_ok(&self) -> bool {
        self.got.as_ref().is_some_and(|r| {
            r.verdict
                .replycode
                .map(|s| s.to_string())
                .unwrap_or_default()
                == self.expected.replycode
        })
    }
    pub fn hardbounce_ok(&self) -> bool {
        self.got
            .as_ref()
            .is_some_and(|r| r.verdict.hardbounce == self.expected.hardbounce)
    }
    pub fn all_ok(&self) -> bool {
        self.recipient_ok()
            && self.reason_ok()
            && self.status_ok()
            && self.replycode_ok()
            && self.hardbounce_ok()
    }
}

/// Sisimai labels a delay notice whose cause it cannot name `expired`, with
/// its stand-in status `x.0.947`; Rebound says `onhold` (`x.0.901`): the MTA
/// is still retrying, nothing has expired. The two labels mean the same
/// record, so the corpus is compared in Sisimai's words; `render` says how
/// many rows this applies to.
fn is_pending_delay(r: &Record) -> bool {
    r.action.eq_ignore_ascii_case("delayed") && r.verdict.reason == rebound_core::Reason::OnHold
}

fn sisimai_reason(r: &Record) -> &'static str {
    if is_pending_delay(r) {
        "expired"
    } else {
        r.verdict.reason.as_str()
    }
}

fn sisimai_status(r: &Record) -> String {
    let stated = r
        .verdict
        .deliverystatus
        .map(|s| s.to_string())
        .unwrap_or_default();
    match stated.strip_suffix(".0.901") {
        Some(class) if is_pending_delay(r) => format!("{class}.0.947"),
        _ => stated,
    }
}

/// Counts of agreeing rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub rows: usize,
    pub recipient: usize,
    pub reason: usize,
    pub status: usize,
    pub replycode: usize,
    pub hardbounce: usize,
    pub all: usize,
}

impl Totals {
    fn add(&mut self, r: &RowResult) {
        self.rows += 1;
        self.recipient += r.recipient_ok() as usize;
        self.reason += r.reason_ok() as usize;
        self.status += r.status_ok() as usize;
        self.replycode += r.replycode_ok() as usize;
        self.hardbounce += r.hardbounce_ok() as usize;
        self.all += r.all_ok() as usize;
    }

    /// `part` over the row count, in percent.
    pub fn pct(&self, part: usize) -> f64 {
        if self.rows == 0 {
            100.0
        } else {
            100.0 * part as f64 / self.rows as f64
        }
    }
}

/// The result of a conformance run.
#[derive(Debug, Clone, Default)]
pub struct Scoreboard {
    pub rows: Vec<RowResult>,
}

impl Scoreboard {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        self.rows.iter().for_each(|r| t.add(r));
        t
    }

    /// Totals per format, the format being the file name less its number
    /// (`lhost-postfix-02.eml` → `lhost-postfix`).
    pub fn by_format(&self) -> BTreeMap<String, Totals> {
        let mut out: BTreeMap<String, Totals> = BTreeMap::new();
        for r in &self.rows {
            out.entry(format_of(&r.expected.file)).or_default().add(r);
        }
        out
    }

    /// Rows that disagree on any field.
    pub fn misses(&self) -> impl Iterator<Item = &RowResult> {
        self.rows.iter().filter(|r| !r.all_ok())
    }

    /// A printable scoreboard: totals, per-format table, then every miss.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let t = self.totals();
        let _ = writeln!(
            s,
            "{:<28} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "format", "rows", "recipient", "reason", "status", "replycode", "hard"
        );
        for (format, f) in self.by_format() {
            let _ = writeln!(
                s,
                "{:<28} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
                format, f.rows, f.recipient, f.reason, f.status, f.replycode, f.hardbounce
            );
        }
        let _ = writeln!(
            s,
            "{:<28} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "TOTAL", t.rows, t.recipient, t.reason, t.status, t.replycode, t.hardbounce
        );
        let _ = writeln!(
            s,
            "recipient {:.2}%  reason {:.2}%  status {:.2}%  replycode {:.2}%  hardbounce {:.2}%  all {:.2}%",
            t.pct(t.recipient),
            t.pct(t.reason),
            t.pct(t.status),
            t.pct(t.replycode),
            t.pct(t.hardbounce),
            t.pct(t.all)
        );
        let pending = self.rows.iter().filter(|r| r.pending_delay()).count();
        if pending > 0 {
            let _ = writeln!(
                s,
                "({pending} delay notices with no stated cause: Rebound says onhold, compared as Sisimai's expired)"
            );
        }
        let misses: Vec<_> = self.misses().collect();
        if !misses.is_empty() {
            let _ = writeln!(s, "\nmisses ({}):", misses.len());
        }
        for r in misses {
            let e = &r.expected;
            match (&r.got, &r.error) {
                (_, Some(err)) => {
                    let _ = writeln!(s, "  {} #{}: error: {err}", e.file, e.index);
                }
                (None, None) => {
                    let _ = writeln!(
                        s,
                        "  {} #{}: no record (want {} {} {} {})",
                        e.file, e.index, e.recipient, e.reason, e.status, e.replycode
                    );
                }
                (Some(g), None) => {
                    let mut diffs = Vec::new();
                    if !r.recipient_ok() {
                        diffs.push(format!("recipient {} want {}", g.recipient, e.recipient));
                    }
                    if !r.reason_ok() {
                        diffs.push(format!("reason {} want {}", g.verdict.reason, e.reason));
                    }
                    if !r.status_ok() {
                        let got = g.verdict.deliverystatus.map(|s| s.to_string());
                        diffs.push(format!(
                            "status {:?} want {:?}",
                            got.unwrap_or_default(),
                            e.status
                        ));
                    }
                    if !r.replycode_ok() {
                        let got = g.verdict.replycode.map(|s| s.to_string());
                        diffs.push(format!(
                            "replycode {:?} want {:?}",
                            got.unwrap_or_default(),
                            e.replycode
                        ));
                    }
                    if !r.hardbounce_ok() {
                        diffs.push(format!(
                            "hardbounce {} want {}",
                            g.verdict.hardbounce, e.hardbounce
                        ));
                    }
                    let _ = writeln!(
                        s,
                        "  {} #{} [{}]: {} | diag: {}",
                        e.file,
                        e.index,
                        g.decodedby,
                        diffs.join("; "),
                        truncate(&g.diagnosticcode, 160)
                    );
                }
            }
        }
        s
    }
}

fn truncate(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `lhost-postfix-02.eml` → `lhost-postfix`.
pub fn format_of(file: &str) -> String {
    let stem = file.rsplit('/').next().unwrap_or(file);
    let stem = stem.strip_suffix(".eml").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((head, tail)) if tail.bytes().all(|b| b.is_ascii_digit()) => head.to_string(),
        _ => stem.to_string(),
    }
}

/// Reads `expected.jsonl`.
pub fn read_expected(path: &Path) -> io::Result<Vec<ExpectedRow>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), i + 1),
                )
            })
        })
        .collect()
}

/// Where a row's file lives: `DIR/emails/FILE`, else `DIR/FILE`.
fn locate(dir: &Path, file: &str) -> PathBuf {
    let in_emails = dir.join("emails").join(file);
    if in_emails.exists() {
        in_emails
    } else {
        dir.join(file)
    }
}

/// Decodes every file named in `DIR/expected.jsonl` and scores it.
pub fn run(dir: &Path, classifier: &Classifier) -> io::Result<Scoreboard> {
    let expected = read_expected(&dir.join("expected.jsonl"))?;
    let options = DecodeOptions {
        delivered: true,
        vacation: true,
    };
    let mut decoded: HashMap<String, Result<Vec<Record>, String>> = HashMap::new();
    let mut board = Scoreboard::default();
    for row in expected {
        let result = decoded.entry(row.file.clone()).or_insert_with(|| {
            // Read the file as `rebound decode` would: an mbox file gives
            // its messages' records one after another.
            let path = locate(dir, &row.file);
            let mut records = Vec::new();
            for item in crate::input::messages(std::slice::from_ref(&path)) {
                let msg = item.map_err(|e| e.to_string())?;
                records.extend(
                    decode_message_with(&msg.bytes, &row.file, &options, classifier)
                        .map_err(|e| e.to_string())?,
                );
            }
            Ok(records)
        });
        let (got, error) = match result {
            Ok(records) => (records.get(row.index.wrapping_sub(1)).cloned(), None),
            Err(e) => (None, Some(e.clone())),
        };
        board.rows.push(RowResult {
            expected: row,
            got,
            error,
        });
    }
    Ok(board)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_drop_the_number() {
        assert_eq!(format_of("lhost-postfix-02.eml"), "lhost-postfix");
        assert_eq!(format_of("arf-1.eml"), "arf");
        assert_eq!(format_of("rb-issue-368-bug.eml"), "rb-issue-368-bug");
    }
}
