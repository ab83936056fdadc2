//! `rebound report` end to end: a ledger filled by the seeded generator
//! (real classifier, real SQLite store), the terminal and JSON reports, and
//! the HTML page loaded in headless Chromium (rendered, charts present, no
//! console errors, a non-blank screenshot of the right size).
//!
//! The Chromium tests print "SKIPPED: chromium not installed" when no
//! browser is found, and fail instead when `CI=true`.

mod common;

use rebound_insight::synth::{Synth, SynthConfig};
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// 2026-11-02T00:00:00Z
const T0: i64 = 1_793_577_600_000;

fn ledger(dir: &Path) -> (String, u64, SynthConfig) {
    let cfg = SynthConfig::with_incidents(11, T0, 30, 900.0, 3);
    let url = dir.join("ledger.db").to_str().unwrap().to_string();
    let mut store = rebound_ledger::open(&url).unwrap();
    let events: Vec<_> = Synth::new(cfg.clone()).collect();
    let n = store
        .ingest_batch(&events, &rebound_ledger::Policy::default())
        .unwrap()
        .inserted as u64;
    (url, n, cfg)
}

fn rebound(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rebound {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs headless Chromium on a page with extra arguments; (stdout, stderr).
fn run_chromium(bin: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_in_text_json_and_html_and_the_page_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (url, n, cfg) = ledger(dir.path());
    assert!(n > 15_000, "{n}");

    let text = rebound(&["report", "--db", &url]);
    assert!(
        text.contains(&format!("Rebound report — {n} events")),
        "{text}"
    );
    for p in ["google", "microsoft", "yahoo", "apple"] {
        assert!(text.contains(p), "{p} missing from\n{text}");
    }
    assert!(text.contains("Top patterns per provider"));
    assert!(text.contains("Incidents: "));

    let html = dir.path().join("report.html");
    let json = rebound(&[
        "report",
        "--db",
        &url,
        "--json",
        "--by",
        "ip",
        "--bucket",
        "hour",
        "--html",
        html.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["events"], n);
    assert_eq!(v["by"], "ip");
    assert_eq!(
        v["groups"].as_array().unwrap().len(),
        rebound_insight::synth::IPS.len()
    );
    let incidents = v["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), cfg.injections.len(), "{incidents:#?}");
    // Newest first.
    for (i, inj) in incidents.iter().rev().zip(&cfg.injections) {
        assert_eq!(i["kind"], serde_json::to_value(inj.kind).unwrap());
    }
    // Stricter thresholds from a config file: nothing reaches 10 000 events.
    let conf = dir.path().join("insight.toml");
    // The generator's incidents push some keys over the default lines.
    assert!(!v["alerts"].as_array().unwrap().is_empty(), "{json}");
    std::fs::write(
        &conf,
        "[incidents]\nmin_events = 10000\n[alerts]\nbounce_rate = 1.0\nhard_bounce_rate = 1.0\ncomplaint_rate = 1.0\ndeferral_rate = 1.0\n",
    )
    .unwrap();
    let strict = rebound(&[
        "report",
        "--db",
        &url,
        "--json",
        "--config",
        conf.to_str().unwrap(),
    ]);
    let s: serde_json::Value = serde_json::from_str(&strict).unwrap();
    assert_eq!(s["incidents"].as_array().unwrap().len(), 0);
    assert_eq!(s["detect"]["min_events"], 10000);
    // No rate is over 100%.
    assert_eq!(s["alerts"].as_array().unwrap().len(), 0);

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Self-contained: no external resources.
    for bad in ["src=\"http", "href=\"http", "<link ", "@import", "src=\"//"] {
        assert!(
            !page.contains(bad),
            "page refers to an external resource: {bad}"
        );
    }

    let Some(bin) = common::browser::chromium() else {
        return;
    };
    let (dom, log) = run_chromium(&bin, &html, &["--dump-dom"]);
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "not rendered; log:\n{log}"
    );
    assert!(dom.contains(">rendered<"), "{log}");
    // Charts: one line per series in the rates and volume charts, reason and
    // pattern bars, incident bands.
    let lines = dom.matches("class=\"series-line\"").count();
    assert_eq!(
        lines,
        2 * rebound_insight::synth::IPS.len(),
        "{lines} lines"
    );
    assert!(dom.matches("class=\"reason-bar\"").count() >= 3);
    assert!(dom.matches("class=\"pattern-bar\"").count() >= 3);
    assert!(dom.matches("class=\"incident-band\"").count() >= 2 * cfg.injections.len());
    assert!(dom.contains("<svg"));
    for line in log.lines() {
        assert!(
            !(line.contains("CONSOLE") || line.contains("Uncaught")),
            "console output: {line}"
        );
    }

    let shot = dir.path().join("report.png");
    let (_, log) = run_chromium(
        &bin,
        &html,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
    );
    assert!(shot.is_file(), "no screenshot; log:\n{log}");
    if let Ok(keep) = std::env::var("REBOUND_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let px = info.line_size / info.width as usize;
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut not_white = 0usize;
    for p in pixels.chunks(px) {
        colours.insert((p[0], p[1], p[2]));
        if p[..3].iter().any(|&c| c < 240) {
            not_white += 1;
        }
    }
    let share = not_white as f64 / (info.width * info.height) as f64;
    assert!(colours.len() > 50, "{} colours: blank?", colours.len());
    assert!(share > 0.05, "only {share:.3} of the pixels are not white");
}

/// Reply texts are the outside world's: whatever they hold, the page keeps
/// its embedded data intact and renders (`<!--` once broke `JSON.parse`).
#[test]
fn hostile_reply_texts_round_trip_through_the_html_page() {
    const HOSTILE: &str =
        "<!-- </script><script>document.title='pwned'</script> \u{2028}\u{2029} & &amp; \\\" -->";
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig::with_incidents(5, T0, 24, 300.0, 1);
    let url = dir.path().join("ledger.db").to_str().unwrap().to_string();
    let mut store = rebound_ledger::open(&url).unwrap();
    let mut events: Vec<_> = Synth::new(cfg).collect();
    let mut touched = 0;
    for e in events.iter_mut() {
        if e.outcome != rebound_ingest::Outcome::Delivered {
            e.text = format!("{HOSTILE} {}", e.text);
            e.verdict.pattern = format!("{HOSTILE} {}", e.verdict.pattern);
            touched += 1;
        }
    }
    assert!(touched > 50, "{touched} failures");
    store
        .ingest_batch(&events, &rebound_ledger::Policy::default())
        .unwrap();
    let html = dir.path().join("report.html");
    let json = rebound(&[
        "report",
        "--db",
        &url,
        "--json",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(
        json.contains("<!--"),
        "the JSON report keeps the text as it is"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    // The embedded data holds none of the characters that end a script or
    // open a comment; the JSON itself still carries the text.
    let start = page.find("id=\"report-data\">").unwrap();
    let data = &page[start + "id=\"report-data\">".len()..];
    let data = &data[..data.find("</script>").unwrap()];
    for bad in ["<", ">", "\u{2028}", "\u{2029}"] {
        assert!(!data.contains(bad), "embedded data holds {bad:?}");
    }
    let parsed: serde_json::Value = serde_json::from_str(data).unwrap();
    assert!(parsed.to_string().contains("</script><script>"));

    let Some(bin) = common::browser::chromium() else {
        return;
    };
    let (dom, log) = run_chromium(&bin, &html, &["--dump-dom"]);
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "not rendered; log:\n{log}"
    );
    assert!(!dom.contains("<title>pwned"), "a reply text ran as script");
    assert!(
        dom.contains("&lt;/script&gt;"),
        "the reply text is shown as text"
    );
}

/// The text report fits the terminal: at 80 and 100 columns (`COLUMNS`) no
/// line is wider, whatever the replies hold (long wording, a URL with no
/// space to break at); alerts come before the tables.
#[test]
fn the_text_report_fits_80_and_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig::with_incidents(7, T0, 24, 300.0, 2);
    let url = dir.path().join("ledger.db").to_str().unwrap().to_string();
    let mut store = rebound_ledger::open(&url).unwrap();
    let mut events: Vec<_> = Synth::new(cfg).collect();
    let tail = format!(
        "please see our postmaster pages for the reasons we may refuse mail and what to do about it https://postmaster.example.net/{}",
        "a1b2c3d4".repeat(20)
    );
    for e in events.iter_mut() {
        if e.outcome != rebound_ingest::Outcome::Delivered {
            e.text = format!("{} {tail}", e.text);
            e.verdict.pattern = format!("{} {tail}", e.verdict.pattern);
        }
    }
    store
        .ingest_batch(&events, &rebound_ledger::Policy::default())
        .unwrap();
    for width in [80usize, 100] {
        for by in ["provider", "pattern", "domain"] {
            let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
                .args(["report", "--db", &url, "--by", by])
                .env("COLUMNS", width.to_string())
                .output()
                .unwrap();
            assert!(out.status.success());
            let text = String::from_utf8(out.stdout).unwrap();
            for line in text.lines() {
                assert!(
                    line.chars().count() <= width,
                    "{} columns at COLUMNS={width} --by {by}:\n{line}",
                    line.chars().count()
                );
            }
            // The long wording is cut, not spilled.
            assert!(text.contains('…'), "{text}");
            let alerts = text.find("\nALERTS (").expect("the incidents raise alerts");
            let table = text.find(&format!("\nby {by}")).unwrap();
            assert!(alerts < table, "alerts after the tables:\n{text}");
            assert!(text.contains("first action: "), "{text}");
        }
    }
}

/// The page at a desktop width (1400 px) and a phone's (390 px): nothing
/// sticks out sideways (the document is no wider than the viewport), no
/// chart label is cut by its chart's edge, tick values are round and time
/// ticks fall on whole hours, every incident band is labelled and takes
/// its kind's colour, and each incident's raw replies are folded away.
#[test]
fn the_html_page_fits_a_desktop_and_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _, cfg) = ledger(dir.path());
    let html = dir.path().join("report.html");
    rebound(&["report", "--db", &url, "--html", html.to_str().unwrap()]);
    let Some(bin) = common::browser::chromium() else {
        return;
    };
    let mut b = common::browser::Browser::launch(&bin);
    b.call("Page.enable", json!({}));
    for (width, height, mobile) in [(1400, 1000, false), (390, 844, true)] {
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        b.call(
            "Page.navigate",
            json!({"url": format!("file://{}", html.display())}),
        );
        b.wait_for(
            "document.readyState === 'complete' && document.body.dataset.rendered === 'ok'",
            "the report to render",
        );
        let fit = b.eval("[document.documentElement.scrollWidth, window.innerWidth]");
        assert_eq!(fit[1], json!(width), "the viewport is the emulated one");
        assert!(
            fit[0].as_u64() <= fit[1].as_u64(),
            "at {width} px the page is {} px wide",
            fit[0]
        );
        // Labels inside their chart (client rectangles: rotated titles too).
        let clipped = b.eval(
            "[...document.querySelectorAll('svg text')].filter(t => { const r = t.getBoundingClientRect(), s = t.ownerSVGElement.getBoundingClientRect(); \
             return r.width > 0 && (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5); }).map(t => t.textContent)",
        );
        assert_eq!(clipped, json!([]), "labels cut at {width} px");
        // Round y ticks: each chart's ticks are the multiples of one step of
        // 1, 2, 2.5 or 5 times a power of ten.
        let charts = b.eval(
            "[...document.querySelectorAll('svg.chart-svg')].map(s => [Number(s.dataset.yStep), [...s.querySelectorAll('.y-tick')].map(t => t.textContent)])",
        );
        for c in charts.as_array().unwrap() {
            let step = c[0].as_f64().unwrap();
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 2.5, 5.0, 10.0]
                    .iter()
                    .any(|m| (m - mantissa).abs() < 1e-9),
                "step {step}"
            );
            for (k, label) in c[1].as_array().unwrap().iter().enumerate() {
                let label = label.as_str().unwrap();
                let value: f64 = if let Some(p) = label.strip_suffix('%') {
                    p.parse::<f64>().unwrap() / 100.0
                } else {
                    label.replace(',', "").parse().unwrap()
                };
                assert!(
                    (value - k as f64 * step).abs() < step * 1e-6,
                    "tick {k} of step {step} reads {label}"
                );
                // Thousands are separated.
                if value >= 1000.0 && !label.ends_with('%') {
                    assert!(label.contains(','), "{label}");
                }
            }
        }
        // Time ticks on whole hours: `HH:00`, `MM-DD HH:00` or a day `MM-DD`.
        let ticks = b.eval("[...document.querySelectorAll('.x-tick')].map(t => t.textContent)");
        assert!(!ticks.as_array().unwrap().is_empty());
        for t in ticks.as_array().unwrap() {
            let t = t.as_str().unwrap();
            let hour = t.rsplit(' ').next().unwrap();
            let whole_hour = hour.len() == 5 && hour.ends_with(":00");
            let day = t.len() == 5 && t.as_bytes()[2] == b'-';
            assert!(whole_hour || day, "time tick {t:?}");
        }
        // Bands: one label each, and the kinds' colours differ.
        let bands = b.eval(
            "[...document.querySelectorAll('#failures-chart .incident-band')].map(r => [r.dataset.kind, r.getAttribute('fill')])",
        );
        let bands = bands.as_array().unwrap();
        assert_eq!(bands.len(), cfg.injections.len());
        let labels = b.eval("document.querySelectorAll('#failures-chart .band-label').length");
        assert_eq!(labels, json!(bands.len()));
        let mut colour_of = std::collections::HashMap::new();
        for band in bands {
            let prev = colour_of.insert(band[0].clone(), band[1].clone());
            assert!(prev.is_none() || prev.as_ref() == Some(&band[1]));
        }
        let colours: std::collections::HashSet<_> = colour_of.values().collect();
        assert_eq!(colours.len(), colour_of.len(), "{colour_of:?}");
        // Replies folded away: one closed <details> per incident.
        let folded = b.eval(
            "[...document.querySelectorAll('#incidents tr.incident-row')].map(r => { const d = r.querySelector('details'); return !!d && !d.open && !d.querySelector('code').checkVisibility(); })",
        );
        assert_eq!(folded, json!(vec![true; cfg.injections.len()]));
        // Nothing of the page's own workings in its header.
        let header = b.eval("document.querySelector('header').innerText");
        for word in ["render", "debug", "not drawn"] {
            assert!(!header.as_str().unwrap().contains(word), "{header}");
        }
        if let Ok(keep) = std::env::var("REBOUND_KEEP_SCREENSHOT") {
            let shot = b.call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            );
            std::fs::write(
                format!("{keep}.{width}.png"),
                common::browser::base64_png::decode(shot["data"].as_str().unwrap()),
            )
            .unwrap();
        }
    }
}
