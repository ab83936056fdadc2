//! The terminal summary of a [`Report`], fitted to a terminal width: no
//! line is wider (long keys and patterns are cut with an ellipsis, prose is
//! wrapped, table columns that do not fit are left out and named). What
//! needs acting on comes first: alerts, then open incidents in full, then
//! the tables, then the closed incidents.

use crate::detect::Incident;
use crate::report::{Group, Report};
use rebound_ingest::time::format_rfc3339;
use std::fmt::Write;

/// The width used when the caller knows none (no tty, no `COLUMNS`).
pub const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, lines are laid out for this width anyway: a table
/// needs its number columns.
pub const MIN_WIDTH: usize = 60;

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

fn width_of(s: &str) -> usize {
    s.chars().count()
}

/// `s` in at most `n` characters, cut with an ellipsis.
fn cut(s: &str, n: usize) -> String {
    if width_of(s) <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut o: String = s.chars().take(n - 1).collect();
        o.push('…');
        o
    }
}

/// A time to the second, in UTC (the report says so once, in its header).
fn time(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => {
            let s = format_rfc3339(ms);
            // `2026-11-02T08:00:02.000Z` → `2026-11-02 08:00:02`.
            match s.get(..19) {
                Some(head) if s.ends_with('Z') => head.replacen('T', " ", 1),
                _ => s,
            }
        }
        None => "-".into(),
    }
}

/// A time to the minute: `2026-11-02 08:00`.
fn minute(ms: i64) -> String {
    let t = time(Some(ms));
    t.get(..16).map(str::to_string).unwrap_or(t)
}

/// `1h 05m`, `12m`, `3d 4h`.
pub fn duration(ms: i64) -> String {
    let m = ms.max(0) / 60_000;
    let (d, h, m) = (m / 1440, m / 60 % 24, m % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m")
    }
}

/// Writes `text` after `first` (then `indent` on further lines), wrapped at
/// spaces so that no line is wider than `width`; a word longer than a line
/// is cut with an ellipsis.
fn wrap(out: &mut String, first: &str, indent: &str, text: &str, width: usize) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let room = width.saturating_sub(width_of(&line) + usize::from(!empty));
        if !empty && width_of(word) > room {
            let _ = writeln!(out, "{line}");
            line = indent.to_string();
            empty = true;
        }
        let room = width.saturating_sub(width_of(&line) + usize::from(!empty));
        if !empty {
            line.push(' ');
        }
        line.push_str(&cut(word, room.max(1)));
        empty = false;
    }
    let _ = writeln!(out, "{}", cut(&line, width));
}

/// A number column of the group table.
struct Column {
    title: &'static str,
    width: usize,
    /// Lower is kept longer when the terminal is narrow.
    priority: u8,
    value: fn(&Group) -> String,
}

const COLUMNS: &[Column] = &[
    Column {
        title: "attempted",
        width: 11,
        priority: 0,
        value: |g| thousands(g.counts.attempted),
    },
    Column {
        title: "accepted",
        width: 11,
        priority: 5,
        value: |g| thousands(g.counts.delivered),
    },
    Column {
        title: "bounce",
        width: 7,
        priority: 1,
        value: |g| pct(g.rates.bounce_rate),
    },
    Column {
        title: "hard",
        width: 7,
        priority: 3,
        value: |g| pct(g.rates.hard_bounce_rate),
    },
    Column {
        title: "soft",
        width: 7,
        priority: 7,
        value: |g| pct(g.rates.soft_bounce_rate),
    },
    Column {
        title: "deferral",
        width: 8,
        priority: 2,
        value: |g| pct(g.rates.deferral_rate),
    },
    Column {
        title: "block",
        width: 7,
        priority: 6,
        value: |g| pct(g.rates.block_rate),
    },
    Column {
        title: "auth",
        width: 7,
        priority: 8,
        value: |g| pct(g.rates.auth_failure_rate),
    },
    Column {
        title: "complaint",
        width: 9,
        priority: 4,
        value: |g| pct(g.rates.complaint_rate),
    },
];

/// The columns that fit beside a key column at least `min_key` wide, in
/// table order, and the key column's width.
fn layout(width: usize, min_key: usize, max_key: usize) -> (Vec<&'static Column>, usize) {
    let mut by_priority: Vec<&Column> = COLUMNS.iter().collect();
    by_priority.sort_by_key(|c| c.priority);
    let mut kept: Vec<&Column> = Vec::new();
    let mut used = 0;
    for c in by_priority {
        // One space before each column.
        if min_key + used + c.width < width {
            used += c.width + 1;
            kept.push(c);
        }
    }
    kept.sort_by_key(|c| COLUMNS.iter().position(|x| x.title == c.title));
    (kept, width.saturating_sub(used).min(max_key))
}

fn table_line(out: &mut String, key: &str, cells: &[String], cols: &[&Column], key_w: usize) {
    let mut line = format!("{:<key_w$}", cut(key, key_w));
    for (c, v) in cols.iter().zip(cells) {
        let _ = write!(line, " {:>w$}", v, w = c.width);
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

fn group_line(out: &mut String, g: &Group, cols: &[&Column], key_w: usize) {
    let cells: Vec<String> = cols.iter().map(|c| (c.value)(g)).collect();
    table_line(out, &g.key, &cells, cols, key_w);
}

fn names(v: &[(String, u64)]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter()
        .map(|x| x.0.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One incident, every line within `width`.
fn incident(out: &mut String, i: &Incident, width: usize) {
    let head = format!(
        "[{}] {} at {} — owner {}",
        i.state,
        i.kind.as_str(),
        i.provider,
        i.owner
    );
    wrap(out, "  ", "      ", &head, width);
    let field = |out: &mut String, label: &str, text: &str| {
        wrap(out, &format!("      {label}: "), "        ", text, width);
    };
    // A pattern is one token-like string: cut, not wrapped.
    let label = "      pattern: ";
    let pattern = format!("{} {} ({})", i.family, i.pattern, i.reason);
    let _ = writeln!(
        out,
        "{label}{}",
        cut(&pattern, width.saturating_sub(width_of(label)))
    );
    field(
        out,
        "scope",
        &format!(
            "IPs {}; domains {}; campaigns {}{}",
            names(&i.ips),
            names(&i.domains),
            names(&i.campaigns),
            if i.providers.len() > 1 {
                format!("; providers {}", names(&i.providers))
            } else {
                String::new()
            }
        ),
    );
    if let Some(b) = &i.blocklist {
        let what = if b.assets.is_empty() {
            format!("the sending {} (not named in the replies)", b.listed)
        } else {
            b.assets.join(", ")
        };
        field(out, "listed", &format!("{what} on {}", b.list));
    }
    let end = i.closed_ms.unwrap_or(i.last_seen_ms);
    // Later times of the same day as the first are given as hours only.
    let first = time(Some(i.first_seen_ms));
    let same_day = |ms: i64| {
        let t = time(Some(ms));
        match (t.get(..10), first.get(..10), t.get(11..)) {
            (Some(d), Some(f), Some(h)) if d == f => h.to_string(),
            _ => t,
        }
    };
    field(
        out,
        "when",
        &format!(
            "first seen {first} · detected {} · {} {} · lasted {}",
            same_day(i.opened_ms),
            if i.closed_ms.is_some() {
                "closed"
            } else {
                "open, last seen"
            },
            same_day(end),
            duration(end - i.first_seen_ms)
        ),
    );
    field(
        out,
        "volume",
        &format!(
            "{} events; peak {} in the window, {} of attempts",
            thousands(i.events),
            thousands(i.peak_window_events),
            pct(i.peak_share)
        ),
    );
    field(out, "first action", &i.action);
    if let Some(s) = i.samples.first() {
        let label = "      reply: ";
        let _ = writeln!(
            out,
            "{label}{}",
            cut(s, width.saturating_sub(width_of(label)))
        );
    }
}

/// The report as plain text, [`DEFAULT_WIDTH`] columns wide.
pub fn text(r: &Report) -> String {
    text_width(r, DEFAULT_WIDTH)
}

/// The report as plain text; no line wider than `width` characters (at
/// least [`MIN_WIDTH`]).
pub fn text_width(r: &Report, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let mut out = String::new();
    // The title; the window only when one was asked for.
    let mut title = format!(
        "Rebound report — {} events, {} to {} UTC",
        r.events,
        time(r.first_event_ms),
        time(r.last_event_ms)
    );
    if r.since_ms.is_some() || r.until_ms.is_some() {
        let _ = write!(
            title,
            " (window {} to {})",
            time(r.since_ms),
            time(r.until_ms)
        );
    }
    wrap(&mut out, "", "  ", &title, width);
    // What needs acting on comes before the tables.
    if !r.alerts.is_empty() {
        let _ = writeln!(out, "\nALERTS ({})", r.alerts.len());
        for a in &r.alerts {
            // `  domain   bounce_rate  2.60% > 2.00%  2,100 attempts since …`
            // with the key cut to what is left.
            let tail = format!(
                " {:<16} {:>7} > {:<5} {:>9} attempts, since {}",
                a.metric.as_str(),
                pct(a.value),
                pct(a.threshold),
                thousands(a.attempts),
                minute(a.since_ms)
            );
            let head = format!("  {:<8} ", a.scope.as_str());
            let room = width.saturating_sub(width_of(&head) + width_of(&tail));
            if room >= 12 {
                let _ = writeln!(out, "{head}{:<room$}{tail}", cut(&a.key, room));
            } else {
                wrap(
                    &mut out,
                    &format!("{head}{}", cut(&a.key, width - width_of(&head))),
                    "",
                    "",
                    width,
                );
                wrap(&mut out, "           ", "           ", tail.trim(), width);
            }
        }
    }
    let open: Vec<_> = r.incidents.iter().filter(|i| i.state == "open").collect();
    if !open.is_empty() {
        let _ = writeln!(out, "\nOPEN INCIDENTS ({})", open.len());
        for i in &open {
            incident(&mut out, i, width);
        }
    }

    // The group table: the key column takes what the number columns leave,
    // and columns that would squeeze it under 16 characters are left out.
    let max_key = if r.by == crate::Dimension::Pattern {
        60
    } else {
        32
    };
    let (cols, key_w) = layout(width, 16, max_key);
    let titles: Vec<String> = cols.iter().map(|c| c.title.to_string()).collect();
    let _ = writeln!(out);
    table_line(&mut out, &format!("by {}", r.by), &titles, &cols, key_w);
    let rule = key_w + cols.iter().map(|c| c.width + 1).sum::<usize>();
    let _ = writeln!(out, "{}", "─".repeat(rule));
    for g in &r.groups {
        group_line(&mut out, g, &cols, key_w);
    }
    let _ = writeln!(out, "{}", "─".repeat(rule));
    group_line(&mut out, &r.totals, &cols, key_w);
    let left_out: Vec<&str> = COLUMNS
        .iter()
        .filter(|c| !cols.iter().any(|k| k.title == c.title))
        .map(|c| c.title)
        .collect();
    let mut note = format!(
        "(rates over attempts; complaints {} over {} accepted; dropped {} not attempted",
        thousands(r.totals.counts.complaints),
        thousands(r.totals.counts.delivered),
        thousands(r.totals.counts.dropped)
    );
    if !left_out.is_empty() {
        let _ = write!(
            note,
            "; not shown at this width: {} — see --json",
            left_out.join(", ")
        );
    }
    note.push(')');
    wrap(&mut out, "", " ", &note, width);

    if !r.reasons.is_empty() {
        let total: u64 = r.reasons.iter().map(|x| x.1).sum();
        let _ = writeln!(out, "\nFailed attempts by reason");
        for (reason, n) in r.reasons.iter().take(12) {
            let _ = writeln!(
                out,
                "  {:<18} {:>11} {:>8}",
                cut(reason, 18),
                thousands(*n),
                pct(*n as f64 / total as f64)
            );
        }
    }

    if !r.top_patterns.is_empty() {
        let _ = writeln!(out, "\nTop patterns per provider");
        for p in &r.top_patterns {
            wrap(
                &mut out,
                "  ",
                "    ",
                &format!("{} ({} failures)", p.provider, thousands(p.failures)),
                width,
            );
            for x in &p.patterns {
                let head = format!(
                    "    {:>9} {:>7} {:<15} ",
                    thousands(x.count),
                    pct(x.share),
                    cut(&x.reason, 15)
                );
                let room = width.saturating_sub(width_of(&head));
                let _ = writeln!(out, "{head}{}", cut(&x.pattern, room));
            }
        }
    }

    let closed: Vec<_> = r.incidents.iter().filter(|i| i.state != "open").collect();
    let _ = writeln!(
        out,
        "\nIncidents: {} in the window, {} open{}",
        r.incidents.len(),
        open.len(),
        if open.is_empty() || closed.is_empty() {
            ""
        } else {
            " (above); closed, newest first:"
        }
    );
    for i in closed {
        incident(&mut out, i, width);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_durations_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(duration(59_999), "0m");
        assert_eq!(duration(65 * 60_000), "1h 05m");
        assert_eq!(duration((26 * 60 + 3) * 60_000), "1d 2h");
        assert_eq!(time(Some(1_793_606_402_123)), "2026-11-02 08:00:02");
    }

    #[test]
    fn wrapped_text_stays_within_the_width() {
        let mut out = String::new();
        let long = format!("short words then {} and more", "x".repeat(120));
        wrap(&mut out, "  label: ", "    ", &long, 40);
        for line in out.lines() {
            assert!(width_of(line) <= 40, "{line:?}");
        }
        // Nothing is lost but the cut word's tail.
        assert!(out.contains("short words then"), "{out}");
        assert!(out.contains("xxx…"), "{out}");
        assert!(out.contains("and more"), "{out}");
    }

    #[test]
    fn narrow_tables_leave_out_the_least_needed_columns() {
        let (cols, key) = layout(100, 16, 32);
        let all: usize = COLUMNS.iter().map(|c| c.width + 1).sum();
        // 100 − 16 leaves 84, and all columns need 83: all shown, the key
        // gets the 17 left.
        assert_eq!(all, 83);
        assert_eq!(cols.len(), COLUMNS.len());
        assert_eq!(key, 17);
        let (cols, _) = layout(80, 16, 32);
        let titles: Vec<_> = cols.iter().map(|c| c.title).collect();
        // 64 columns: attempted 12, bounce 8, deferral 9, hard 8,
        // complaint 10, accepted 12 = 59; block, soft and auth (8 each) no
        // longer fit.
        assert_eq!(
            titles,
            [
                "attempted",
                "accepted",
                "bounce",
                "hard",
                "deferral",
                "complaint"
            ]
        );
    }
}
