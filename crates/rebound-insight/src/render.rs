//! The terminal summary of a [`Report`].

use crate::report::{Group, Report};
use rebound_ingest::time::format_rfc3339;
use std::fmt::Write;

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

fn time(ms: Option<i64>) -> String {
    ms.map(format_rfc3339).unwrap_or_else(|| "-".into())
}

fn group_line(out: &mut String, g: &Group, w: usize) {
    let c = &g.counts;
    let r = &g.rates;
    let _ = writeln!(
        out,
        "{:<w$} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        cut(&g.key, w),
        c.attempted,
        c.delivered,
        pct(r.bounce_rate),
        pct(r.hard_bounce_rate),
        pct(r.soft_bounce_rate),
        pct(r.deferral_rate),
        pct(r.block_rate),
        pct(r.auth_failure_rate),
        pct(r.complaint_rate),
    );
}

/// Renders the report as plain text tables.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rebound report — {} events from {} to {} (window {} .. {})",
        r.events,
        time(r.first_event_ms),
        time(r.last_event_ms),
        time(r.since_ms),
        time(r.until_ms)
    );
    // What needs acting on comes before the tables.
    if !r.alerts.is_empty() {
        let _ = writeln!(out, "\nALERTS ({})", r.alerts.len());
        for a in &r.alerts {
            let _ = writeln!(
                out,
                "  {:<8} {:<32} {:<16} {:>8} > {:<8} {:>10} attempts  since {}",
                a.scope.as_str(),
                cut(&a.key, 32),
                a.metric.as_str(),
                pct(a.value),
                pct(a.threshold),
                a.attempts,
                time(Some(a.since_ms))
            );
        }
    }
    let open: Vec<_> = r.incidents.iter().filter(|i| i.state == "open").collect();
    if !open.is_empty() {
        let _ = writeln!(out, "\nOPEN INCIDENTS ({}; details below)", open.len());
        for i in &open {
            let _ = writeln!(
                out,
                "  {} at {} — {} {} — {} events since {}",
                i.kind.as_str(),
                i.provider,
                i.family,
                i.reason,
                i.events,
                time(Some(i.first_seen_ms))
            );
        }
    }
    let w = if r.by == crate::Dimension::Pattern {
        48
    } else {
        28
    };
    let _ = writeln!(
        out,
        "\n{:<w$} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        format!("by {}", r.by),
        "attempted",
        "accepted",
        "bounce",
        "hard",
        "soft",
        "deferral",
        "block",
        "auth",
        "complaint"
    );
    let _ = writeln!(out, "{}", "─".repeat(w + 90));
    for g in &r.groups {
        group_line(&mut out, g, w);
    }
    let _ = writeln!(out, "{}", "─".repeat(w + 90));
    group_line(&mut out, &r.totals, w);
    let _ = writeln!(
        out,
        "(complaints {} over {} accepted; dropped {} not attempted)",
        r.totals.counts.complaints, r.totals.counts.delivered, r.totals.counts.dropped
    );

    if !r.reasons.is_empty() {
        let total: u64 = r.reasons.iter().map(|x| x.1).sum();
        let _ = writeln!(out, "\nFailed attempts by reason");
        for (reason, n) in r.reasons.iter().take(12) {
            let _ = writeln!(
                out,
                "  {:<18} {:>10} {:>8}",
                reason,
                n,
                pct(*n as f64 / total as f64)
            );
        }
    }

    if !r.top_patterns.is_empty() {
        let _ = writeln!(out, "\nTop patterns per provider");
        for p in &r.top_patterns {
            let _ = writeln!(out, "  {} ({} failures)", p.provider, p.failures);
            for x in &p.patterns {
                let _ = writeln!(
                    out,
                    "    {:>8} {:>7} {:<14} {}",
                    x.count,
                    pct(x.share),
                    x.reason,
                    cut(&x.pattern, 90)
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "\nIncidents: {} in the window, {} open",
        r.incidents.len(),
        open.len()
    );
    for i in &r.incidents {
        let _ = writeln!(
            out,
            "  [{}] {} at {} — {} {} — owner {} — {} events, detected {}, first {} last {}{}",
            i.state,
            i.kind.as_str(),
            i.provider,
            i.family,
            i.reason,
            i.owner,
            i.events,
            time(Some(i.opened_ms)),
            time(Some(i.first_seen_ms)),
            time(Some(i.last_seen_ms)),
            i.closed_ms
                .map(|c| format!(", closed {}", time(Some(c))))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "      peak {} in the window ({} of attempts); ips: {}; campaigns: {}",
            i.peak_window_events,
            pct(i.peak_share),
            i.ips
                .iter()
                .map(|x| x.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            i.campaigns
                .iter()
                .map(|x| x.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(b) = &i.blocklist {
            let _ = writeln!(
                out,
                "      listed on {}: {} {}",
                b.list,
                b.listed,
                b.assets.join(", ")
            );
        }
        if let Some(s) = i.samples.first() {
            let _ = writeln!(out, "      sample: {}", cut(s, 140));
        }
        let _ = writeln!(out, "      action: {}", i.action);
    }
    out
}
