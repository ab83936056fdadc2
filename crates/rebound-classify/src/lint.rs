//! `rebound rules check`: what is wrong with a user rule file, all of it at
//! once, with line numbers (building the rules stops at the first error).

use crate::rules::{RuleFileView, RuleSpecView};
use rebound_core::{Owner, Reason, Remedy};
use serde::Serialize;

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// 1-based; 0 when the problem has no one place.
    pub line: usize,
    /// `error` (the file cannot be used) or `warning` (it can, but part of
    /// it does nothing).
    pub severity: &'static str,
    pub message: String,
}

/// Checks one user rule file's text: TOML errors, unknown reasons,
/// duplicate rule ids, phrases that can never win because an earlier rule
/// of the file (user rules are tried in order) always matches first,
/// `[advice.<reason>]` tables (unknown reasons, owners, remedies and
/// hard-bounce rules; a table that sets nothing), an `[order]` (built in
/// only), and whatever else building it with the built-in rules refuses.
pub fn lint(name: &str, text: &str) -> Vec<Finding> {
    let file = match crate::rules::view(text) {
        Ok(f) => f,
        Err((line, message)) => {
            return vec![Finding {
                line,
                severity: "error",
                message,
            }];
        }
    };
    let mut out = Vec::new();
    unknown_reasons(text, &file, &mut out);
    duplicate_ids(text, &file, &mut out);
    shadowed_phrases(text, &file, &mut out);
    advice_tables(text, &file, &mut out);
    if out.iter().all(|f| f.severity != "error")
        && let Err(e) = crate::rules::compile_with_builtins(&[(name, text)])
    {
        out.push(Finding {
            line: 0,
            severity: "error",
            message: e.to_string(),
        });
    }
    out.sort_by_key(|f| f.line);
    out
}

/// The line of the first `needle` at or after line `from` (1-based).
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or(0)
}

fn id_line(text: &str, id: &str) -> usize {
    let quoted = format!("\"{id}\"");
    text.lines()
        .enumerate()
        .find(|(_, l)| {
            let l = l.trim_start();
            l.starts_with("id") && l.contains(&quoted)
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(0)
}

fn unknown_reasons(text: &str, file: &RuleFileView, out: &mut Vec<Finding>) {
    let mut check = |r: &str, line: usize| {
        if r.parse::<Reason>().is_err() {
            let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
            out.push(Finding {
                line,
                severity: "error",
                message: format!("unknown reason {r:?} (one of {})", names.join(", ")),
            });
        }
    };
    if let Some(r) = &file.reason {
        check(r, line_of(text, "reason", 1));
    }
    for rule in &file.rules {
        if let Some(r) = &rule.reason {
            let at = id_line(text, &rule.id);
            check(r, line_of(text, "reason", at.max(1)));
        }
    }
    for (code, r) in &file.statuses {
        check(r, line_of(text, code, 1));
    }
}

fn duplicate_ids(text: &str, file: &RuleFileView, out: &mut Vec<Finding>) {
    let mut seen = std::collections::HashSet::new();
    for rule in &file.rules {
        if !seen.insert(rule.id.as_str()) {
            // The second occurrence is the one to point at.
            let first = id_line(text, &rule.id);
            let quoted = format!("\"{}\"", rule.id);
            let second = text
                .lines()
                .enumerate()
                .skip(first)
                .find(|(_, l)| l.trim_start().starts_with("id") && l.contains(&quoted))
                .map(|(i, _)| i + 1)
                .unwrap_or(first);
            out.push(Finding {
                line: second,
                severity: "error",
                message: format!("duplicate rule id {:?} (first at line {first})", rule.id),
            });
        }
    }
}

/// A phrase of a later rule that contains a phrase of an earlier rule with
/// no other condition: every reply holding it holds the earlier rule too,
/// which wins (user rules are tried in order), so it never decides.
fn shadowed_phrases(text: &str, file: &RuleFileView, out: &mut Vec<Finding>) {
    for (j, later) in file.rules.iter().enumerate() {
        for phrase in &later.phrases {
            let lower = crate::scanner::fold_phrase(phrase);
            let by = file.rules[..j].iter().find_map(|earlier| {
                if !unconditional(earlier) {
                    return None;
                }
                earlier
                    .phrases
                    .iter()
                    .find(|p| {
                        !p.trim().is_empty() && lower.contains(&crate::scanner::fold_phrase(p))
                    })
                    .map(|p| (earlier, p))
            });
            if let Some((earlier, p)) = by {
                let at = id_line(text, &later.id);
                out.push(Finding {
                    line: line_of(text, phrase, at.max(1)),
                    severity: "warning",
                    message: format!(
                        "rule {}: phrase {phrase:?} can never win: rule {} (line {}) matches {p:?} in every reply that holds it, and comes first",
                        later.id,
                        earlier.id,
                        id_line(text, &earlier.id)
                    ),
                });
            }
        }
    }
}

/// A rule that holds whenever one of its phrases is present.
fn unconditional(r: &RuleSpecView) -> bool {
    r.has_no_conditions
}

/// A user file's `[advice.<reason>]` tables: each field overrides the
/// built-in one (`rules/advice.toml`), so a missing field is no error, but
/// every value must be one the classifier knows.
fn advice_tables(text: &str, file: &RuleFileView, out: &mut Vec<Finding>) {
    if file.has_order {
        out.push(Finding {
            line: line_of(text, "[order]", 1),
            severity: "error",
            message: "[order] is built in (rules/order.toml); a user file cannot change it".into(),
        });
    }
    for (key, spec) in &file.advice {
        // The table's header, else a dotted key (`advice.x.owner = …`).
        let at = match line_of(text, &format!("[advice.{key}]"), 1) {
            0 => line_of(text, &format!("advice.{key}."), 1),
            line => line,
        };
        if key.parse::<Reason>().is_err() {
            let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
            out.push(Finding {
                line: at,
                severity: "error",
                message: format!(
                    "advice.{key}: unknown reason {key:?} (one of {})",
                    names.join(", ")
                ),
            });
        }
        let mut error = |needle: &str, message: String| {
            out.push(Finding {
                line: line_of(text, needle, at.max(1)),
                severity: "error",
                message: format!("advice.{key}: {message}"),
            });
        };
        let check = |v: &Option<String>, ok: fn(&str) -> Result<(), String>| {
            v.as_deref()
                .and_then(|v| ok(v).err().map(|e| (v.to_string(), e)))
        };
        let owner = |v: &str| v.parse::<Owner>().map(drop);
        let remedy = |v: &str| v.parse::<Remedy>().map(drop);
        let hard = |v: &str| v.parse::<crate::advice::HardBounce>().map(drop);
        let blocklisted = spec.blocklisted.as_ref();
        for (value, problem) in [
            check(&spec.owner, owner),
            check(&spec.remedy, remedy),
            check(&spec.temporary_remedy, remedy),
            check(&spec.hardbounce, hard),
            check(&blocklisted.map(|b| b.owner.clone()), owner),
            check(&blocklisted.map(|b| b.remedy.clone()), remedy),
        ]
        .into_iter()
        .flatten()
        {
            error(&format!("\"{value}\""), problem);
        }
        let sets_nothing = spec.meaning.is_none()
            && spec.owner.is_none()
            && spec.remedy.is_none()
            && spec.temporary_remedy.is_none()
            && spec.hardbounce.is_none()
            && spec.blocklisted.is_none();
        if sets_nothing {
            out.push(Finding {
                line: at,
                severity: "warning",
                message: format!("advice.{key} sets nothing: the built-in advice stays"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lint;

    #[test]
    fn advice_tables_are_checked_with_their_lines() {
        let text = "[advice.mailboxfull]\nremedy = \"suppress\"\n\n\
                    [advice.mailboxful]\nremedy = \"suppres\"\n\n\
                    [advice.blocked]\n\n\
                    [order]\nprimary = []\nsecondary = []\n";
        let found: Vec<(usize, &str, String)> = lint("user.toml", text)
            .into_iter()
            .map(|f| (f.line, f.severity, f.message))
            .collect();
        let has = |line: usize, severity: &str, part: &str| {
            found
                .iter()
                .any(|(l, s, m)| *l == line && *s == severity && m.contains(part))
        };
        assert!(
            has(4, "error", "unknown reason \"mailboxful\""),
            "{found:?}"
        );
        assert!(has(5, "error", "unknown Remedy \"suppres\""), "{found:?}");
        assert!(
            has(7, "warning", "advice.blocked sets nothing"),
            "{found:?}"
        );
        assert!(has(9, "error", "[order] is built in"), "{found:?}");
        // The valid override on lines 1-2 draws nothing.
        assert!(!found.iter().any(|(l, _, _)| *l <= 2), "{found:?}");
    }

    #[test]
    fn a_valid_advice_override_passes() {
        let text = "[advice.mailboxfull]\nremedy = \"suppress\"\nblocklisted = { owner = \"policy\", remedy = \"investigate\" }\n";
        assert_eq!(lint("user.toml", text), vec![]);
    }
}
