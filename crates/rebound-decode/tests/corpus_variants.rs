//! Unseen copies of the corpus: each Sisimai corpus email changed in a way
//! that must not change what it says, decoded again. A verdict that moves
//! when only the recipient's address, the line endings, the MIME boundary
//! or the way fields are written changes was keyed to the sample rather
//! than to the format, and would fail on the next email of the same kind.
//!
//! The corpus is read from `../shared` (see `support/shared_corpus.rs`);
//! nothing of it is copied here.

use rebound_decode::{DecodeOptions, Record, decode_message};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[path = "support/shared_corpus.rs"]
mod shared_corpus;

fn corpus() -> Option<PathBuf> {
    shared_corpus::sisimai_corpus(&["emails"])
}

fn options() -> DecodeOptions {
    DecodeOptions {
        delivered: true,
        vacation: true,
    }
}

/// What a record says: recipient, then reason, status, reply code and
/// hard-bounce flag.
fn said(r: &Record) -> String {
    format!(
        "{} reason={} status={} code={} hard={}",
        r.recipient,
        r.verdict.reason.as_str(),
        r.verdict
            .deliverystatus
            .map(|s| s.to_string())
            .unwrap_or_default(),
        r.verdict
            .replycode
            .map(|c| c.to_string())
            .unwrap_or_default(),
        r.verdict.hardbounce,
    )
}

fn decode(raw: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = decode_message(raw, "variant", &options())
        .map(|rs| rs.iter().map(said).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Replaces every occurrence of `from` (ASCII case-insensitive) in `raw`.
fn replace_all_ci(raw: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw.len() - i >= from.len() && raw[i..i + from.len()].eq_ignore_ascii_case(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

fn crlf_swapped(raw: &[u8]) -> Vec<u8> {
    if raw.windows(2).any(|w| w == b"\r\n") {
        replace_all_ci(raw, b"\r\n", b"\n")
    } else {
        replace_all_ci(raw, b"\n", b"\r\n")
    }
}

/// Each MIME boundary renamed (the `boundary=` parameters and their uses).
fn boundaries_renamed(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut names = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut at = 0;
    while let Some(p) = lower[at..].find("boundary=") {
        let start = at + p + "boundary=".len();
        let rest = &text[start..];
        let name: String = if let Some(q) = rest.strip_prefix('"') {
            q.chars().take_while(|&c| c != '"').collect()
        } else {
            rest.chars()
                .take_while(|c| !c.is_whitespace() && *c != ';')
                .collect()
        };
        if name.len() >= 6 {
            names.push(name);
        }
        at = start;
    }
    let mut out = raw.to_vec();
    for (n, name) in names.iter().enumerate() {
        let new = format!("=_Rebound_Variant_{n}_{}", "q".repeat(name.len() % 7));
        out = replace_all_ci(&out, name.as_bytes(), new.as_bytes());
    }
    out
}

/// The length of the field name that starts `line` (`Name:`), if any.
fn field_name_len(line: &[u8]) -> Option<usize> {
    let n = line
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-')
        .count();
    (n > 0 && line[0].is_ascii_alphabetic() && line.get(n) == Some(&b':')).then_some(n)
}

/// Every field name at the start of a line written in lower case (RFC 5322
/// and RFC 3464 field names are case-insensitive), or in upper case.
fn field_names_recased(raw: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut continued = false;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        // After a quoted-printable soft break the line goes on a field's
        // value; it only looks like a field.
        let after_soft_break =
            std::mem::replace(&mut continued, line.trim_ascii_end().ends_with(b"="));
        if let Some(name_len) = field_name_len(line).filter(|_| !after_soft_break) {
            let (name, rest) = line.split_at(name_len);
            if upper {
                out.extend(name.iter().map(u8::to_ascii_uppercase));
            } else {
                out.extend(name.iter().map(u8::to_ascii_lowercase));
            }
            out.extend_from_slice(rest);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Every report field (`Name: value` after a line of the same shape)
/// with its colon followed by no space, or by three.
fn colon_spacing(raw: &[u8], spaces: usize) -> Vec<u8> {
    map_fields(raw, |name, value| {
        let mut out = name.to_vec();
        out.push(b':');
        out.extend(std::iter::repeat_n(b' ', spaces));
        out.extend_from_slice(value.trim_ascii_start());
        out
    })
}

/// Every long field folded at its middle space onto a continuation line,
/// as MTAs that wrap at 78 columns write it.
fn long_fields_folded(raw: &[u8]) -> Vec<u8> {
    map_fields(raw, |name, value| {
        let mut out = name.to_vec();
        out.push(b':');
        let body = value.trim_ascii_end();
        let ending = &value[body.len()..];
        let spaces: Vec<usize> = (2..body.len().saturating_sub(2))
            .filter(|&i| body[i] == b' ' && body[i - 1] != b' ' && body[i + 1] != b' ')
            .collect();
        if body.len() < 40 || spaces.len() < 3 {
            out.extend_from_slice(value);
            return out;
        }
        let at = spaces[spaces.len() / 2];
        out.extend_from_slice(&body[..at]);
        out.extend_from_slice(if ending.starts_with(b"\r") {
            b"\r\n\t"
        } else {
            b"\n\t"
        });
        out.extend_from_slice(&body[at + 1..]);
        out.extend_from_slice(ending);
        out
    })
}

/// Applies `f` to the lines that are fields of a header or report block:
/// `Name: value` where the line before is blank or a field too, in plain
/// (not quoted-printable or base64) text.
fn map_fields(raw: &[u8], f: impl Fn(&[u8], &[u8]) -> Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw).to_ascii_lowercase();
    if text.contains("quoted-printable") || text.contains("base64") {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len() + 1024);
    let mut in_block = true;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let name_len = field_name_len(line).filter(|&n| n > 1 && line.get(n + 1) == Some(&b' '));
        let blank = line.trim_ascii().is_empty();
        let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if let Some(n) = name_len.filter(|_| in_block) {
            out.extend(f(&line[..n], &line[n + 1..]));
        } else {
            out.extend_from_slice(line);
        }
        in_block = blank || (in_block && (name_len.is_some() || continuation));
    }
    out
}

/// Each recipient's local part renamed wherever the message writes it
/// (the decoder must find the new name in the same places).
/// `None` when some recipient cannot be renamed everywhere it is written:
/// it is not written out literally (an encoded part, an address the
/// decoder made up) or it shares its local part with another recipient.
fn recipients_renamed(
    raw: &[u8],
    records: &[String],
) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
    let mut out = raw.to_vec();
    let mut map = BTreeMap::new();
    let mut locals = std::collections::BTreeSet::new();
    for (n, r) in records.iter().enumerate() {
        let addr = r.split(' ').next().unwrap_or("");
        let (local, domain) = addr.rsplit_once('@')?;
        if map.contains_key(addr) {
            continue;
        }
        let old = format!("{local}@").into_bytes();
        if local.len() < 4
            || !locals.insert(local.to_ascii_lowercase())
            || !raw.windows(old.len()).any(|w| w.eq_ignore_ascii_case(&old))
        {
            return None;
        }
        let new_local = format!("kestrel{n}wren");
        out = replace_all_ci(&out, &old, format!("{new_local}@").as_bytes());
        map.insert(addr.to_string(), format!("{new_local}@{domain}"));
    }
    Some((out, map))
}

/// Each recipient domain that is a placeholder (`example.*`, the
/// corpus's own test domains) renamed to another placeholder wherever
/// the message writes it: no provider is named either way.
fn placeholder_domains_renamed(raw: &[u8], records: &[String]) -> Option<Vec<u8>> {
    let mut out = raw.to_vec();
    let mut renamed = 0;
    for r in records {
        let addr = r.split(' ').next().unwrap_or("");
        let (_, domain) = addr.rsplit_once('@')?;
        let placeholder = domain.starts_with("example.")
            || domain.contains(".example.")
            || domain.ends_with(".example");
        if !placeholder {
            return None;
        }
        let at = format!("@{domain}").into_bytes();
        if !raw
            .windows(addr.len())
            .any(|w| w.eq_ignore_ascii_case(addr.as_bytes()))
        {
            return None; // written only in an encoded part
        }
        out = replace_all_ci(&out, &at, b"@quillwort.example");
        renamed += 1;
    }
    (renamed > 0).then_some(out)
}

#[test]
fn verdicts_do_not_depend_on_incidentals() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("emails"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut report: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // How many emails each change applied to: a change that no longer
    // applies would pass without testing anything.
    let mut changed: BTreeMap<&str, usize> = BTreeMap::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let base = decode(&raw);
        if base.is_empty() {
            continue;
        }
        for (kind, variant) in [
            ("line endings", crlf_swapped(&raw)),
            ("boundary", boundaries_renamed(&raw)),
            (
                "field names in lower case",
                field_names_recased(&raw, false),
            ),
            ("field names in upper case", field_names_recased(&raw, true)),
            ("no space after a field's colon", colon_spacing(&raw, 0)),
            ("spaces after a field's colon", colon_spacing(&raw, 3)),
            ("long fields folded", long_fields_folded(&raw)),
        ] {
            if variant != raw {
                *changed.entry(kind).or_default() += 1;
            }
            let got = decode(&variant);
            if got != base {
                report
                    .entry(kind)
                    .or_default()
                    .push(format!("{name}\n    was {base:?}\n    now {got:?}"));
            }
        }
        // Changes that rename recipients: the records must name the new
        // addresses and say the same of them.
        let renamed = [
            placeholder_domains_renamed(&raw, &base).map(|v| {
                let rename: Box<dyn Fn(&str) -> String> = Box::new(|addr: &str| {
                    let local = addr.rsplit_once('@').map_or(addr, |(l, _)| l);
                    format!("{local}@quillwort.example")
                });
                ("recipient domain", v, rename)
            }),
            recipients_renamed(&raw, &base).map(|(v, map)| {
                let rename: Box<dyn Fn(&str) -> String> = Box::new(move |addr: &str| {
                    map.get(addr).cloned().unwrap_or_else(|| addr.to_string())
                });
                ("recipient name", v, rename)
            }),
        ];
        for (kind, variant, rename) in renamed.into_iter().flatten() {
            *changed.entry(kind).or_default() += 1;
            let mut expected: Vec<String> = base
                .iter()
                .map(|r| {
                    let (addr, rest) = r.split_once(' ').unwrap_or((r, ""));
                    format!("{} {rest}", rename(addr))
                })
                .collect();
            expected.sort();
            let got = decode(&variant);
            if got != expected {
                report
                    .entry(kind)
                    .or_default()
                    .push(format!("{name}\n    was {expected:?}\n    now {got:?}"));
            }
        }
    }
    for (kind, cases) in &report {
        println!("== {kind}: {} emails", cases.len());
        for c in cases {
            println!("  {c}");
        }
    }
    println!("emails changed by each: {changed:?}");
    for (kind, n) in &changed {
        assert!(*n >= 100, "{kind} changed only {n} emails");
    }
    assert_eq!(changed.len(), 9, "every change applied: {changed:?}");
    let total: usize = report.values().map(Vec::len).sum();
    assert_eq!(total, 0, "verdicts moved under incidental changes");
}
