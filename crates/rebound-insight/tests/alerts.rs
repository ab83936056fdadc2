//! Rate alerts over hand-built events: which keys cross "the 2% line" and
//! which do not. The expected Wilson bounds are worked out by hand in the
//! comments (z = 1.96 unless said otherwise).

use rebound_insight::report::Aggregator;
use rebound_insight::{AlertConfig, Metric, ReportOptions, Row, Scope};

/// 2026-11-02T10:00:00Z
const T0: i64 = 1_793_613_600_000;
const MIN: i64 = 60_000;

/// What a key gets, in that order, `step` ms apart per kind.
#[derive(Default, Clone, Copy)]
struct Mix {
    delivered: u64,
    soft: u64,
    hard: u64,
    deferred: u64,
    complaints: u64,
}

fn row(
    t: i64,
    provider: &'static str,
    domain: &'static str,
    ip: Option<&'static str>,
    campaign: Option<&'static str>,
    outcome: &'static str,
    hard: bool,
) -> Row<'static> {
    let (reason, owner) = match outcome {
        "delivered" => ("delivered", "none"),
        "complained" => ("feedback", "none"),
        "deferred" => ("expired", "remote"),
        _ if hard => ("userunknown", "recipient"),
        _ => ("mailboxfull", "recipient"),
    };
    Row {
        time_ms: t,
        provider,
        domain,
        ip,
        campaign,
        outcome,
        reason,
        owner,
        status: None,
        hardbounce: hard,
        pattern: "",
        blocklist: None,
        text: "",
    }
}

/// Feeds `m` for one key, one event per second from `t` (deliveries
/// weighted by minute like the readers' counts; failures one by one).
#[allow(clippy::too_many_arguments)]
fn feed(
    a: &mut Aggregator,
    t: i64,
    provider: &'static str,
    domain: &'static str,
    ip: Option<&'static str>,
    campaign: Option<&'static str>,
    m: Mix,
) {
    let r = |t, o, h| row(t, provider, domain, ip, campaign, o, h);
    a.push_n(&r(t, "delivered", false), m.delivered);
    let mut t = t + MIN;
    for (o, h, n) in [
        ("bounced", false, m.soft),
        ("bounced", true, m.hard),
        ("deferred", false, m.deferred),
        ("complained", false, m.complaints),
    ] {
        for _ in 0..n {
            a.push(&r(t, o, h));
            t += 1000;
        }
    }
}

fn opts(alerts: AlertConfig) -> ReportOptions {
    ReportOptions {
        alerts,
        ..ReportOptions::default()
    }
}

/// The alerts of scope `s` as (key, metric, value, attempts).
fn of(r: &rebound_insight::Report, s: Scope) -> Vec<(String, Metric, f64, u64)> {
    r.alerts
        .iter()
        .filter(|a| a.scope == s)
        .map(|a| (a.key.clone(), a.metric, a.value, a.attempts))
        .collect()
}

#[test]
fn domains_over_their_lines_alert_and_the_others_do_not() {
    let mut a = Aggregator::new(opts(AlertConfig::default()));
    // All under one provider whose overall rates stay under every line
    // (171 bounces, 30 hard, 240 deferrals over 15,020 attempts; 10
    // complaints over 14,609 delivered), so only domains alert.
    let p = "bigmail";
    // 78/3000 = 2.6%: bound 0.02088 > 2%.
    feed(
        &mut a,
        T0,
        p,
        "bad.example",
        None,
        None,
        Mix {
            delivered: 2922,
            soft: 78,
            ..Mix::default()
        },
    );
    // 60/4000 = 1.5%: under the line whatever the confidence.
    feed(
        &mut a,
        T0,
        p,
        "ok.example",
        None,
        None,
        Mix {
            delivered: 3940,
            soft: 60,
            ..Mix::default()
        },
    );
    // 3/20 = 15%, but 20 attempts: under the minimum of 200.
    feed(
        &mut a,
        T0,
        p,
        "tiny.example",
        None,
        None,
        Mix {
            delivered: 17,
            soft: 3,
            ..Mix::default()
        },
    );
    // 10 complaints over 5,000 delivered = 0.2%: bound 0.0010867 > 0.1%.
    feed(
        &mut a,
        T0,
        p,
        "fbl.example",
        None,
        None,
        Mix {
            delivered: 5000,
            complaints: 10,
            ..Mix::default()
        },
    );
    // 240/2000 = 12% deferrals: bound 0.10648 > 10%.
    feed(
        &mut a,
        T0,
        p,
        "slow.example",
        None,
        None,
        Mix {
            delivered: 1760,
            deferred: 240,
            ..Mix::default()
        },
    );
    // 30/1000 = 3% dead addresses: bound 0.021094 > 2% and > 1%.
    feed(
        &mut a,
        T0 + 5 * MIN,
        p,
        "dead.example",
        None,
        None,
        Mix {
            delivered: 970,
            hard: 30,
            ..Mix::default()
        },
    );
    let r = a.finish();
    assert_eq!(r.totals.counts.attempted, 15_020);
    let got: Vec<(&str, &str, &str)> = r
        .alerts
        .iter()
        .map(|a| (a.scope.as_str(), a.key.as_str(), a.metric.as_str()))
        .collect();
    // Furthest over first: 0.03/0.01 = 3, 0.002/0.001 = 2, 0.03/0.02 =
    // 1.5, 0.026/0.02 = 1.3, 0.12/0.1 = 1.2.
    assert_eq!(
        got,
        [
            ("domain", "dead.example", "hard_bounce_rate"),
            ("domain", "fbl.example", "complaint_rate"),
            ("domain", "dead.example", "bounce_rate"),
            ("domain", "bad.example", "bounce_rate"),
            ("domain", "slow.example", "deferral_rate"),
        ]
    );
    let bad = &r.alerts[3];
    assert_eq!(
        (bad.value, bad.threshold, bad.attempts),
        (0.026, 0.02, 3000)
    );
    assert_eq!(bad.since_ms, T0);
    let fbl = &r.alerts[1];
    // The complaint rate's denominator is what was delivered.
    assert_eq!(
        (fbl.value, fbl.threshold, fbl.attempts),
        (0.002, 0.001, 5000)
    );
    assert_eq!(r.alerts[0].since_ms, T0 + 5 * MIN);
    assert_eq!(r.alerts[4].value, 0.12);
}

#[test]
fn confidence_and_minimum_hold_back_small_or_borderline_keys() {
    let run = |cfg: AlertConfig, m: Mix| {
        let mut a = Aggregator::new(opts(cfg));
        feed(&mut a, T0, "p", "d.example", None, None, m);
        of(&a.finish(), Scope::Domain)
    };
    let three_of_twenty = Mix {
        delivered: 17,
        soft: 3,
        ..Mix::default()
    };
    assert!(run(AlertConfig::default(), three_of_twenty).is_empty());
    // Without the minimum, 3/20 passes the interval (bound 0.0524 > 2%):
    // the minimum is what holds it back.
    let no_min = AlertConfig {
        min_attempts: 0,
        ..AlertConfig::default()
    };
    assert_eq!(run(no_min, three_of_twenty).len(), 1);
    // 52/2000 = 2.6% has a two-sided 95% bound of 0.019882: under 2%, so
    // no alert at z = 1.96; at z = 1.645 (one-sided 95%) the bound is
    // 0.020756 and it alerts.
    let at_2000 = Mix {
        delivered: 1948,
        soft: 52,
        ..Mix::default()
    };
    assert!(run(AlertConfig::default(), at_2000).is_empty());
    let one_sided = AlertConfig {
        z: 1.645,
        ..AlertConfig::default()
    };
    assert_eq!(
        run(one_sided, at_2000),
        [("d.example".to_string(), Metric::BounceRate, 0.026, 2000)]
    );
    // Thresholds are the config's: at 3% the 2.6% domain is fine.
    let at_3000 = Mix {
        delivered: 2922,
        soft: 78,
        ..Mix::default()
    };
    let loose = AlertConfig {
        bounce_rate: 0.03,
        ..AlertConfig::default()
    };
    assert!(run(loose, at_3000).is_empty());
    assert_eq!(run(AlertConfig::default(), at_3000).len(), 1);
    let off = AlertConfig {
        enabled: false,
        ..AlertConfig::default()
    };
    assert!(run(off, at_3000).is_empty());
}

#[test]
fn ips_campaigns_and_providers_are_counted_across_domains() {
    let mut a = Aggregator::new(opts(AlertConfig::default()));
    // Ten domains of 150 attempts (each under the minimum), 10 bounces
    // each, all from one IP and campaign at one provider: 100/1500 =
    // 6.7%, bound 0.0551 > 2%, for the IP, the campaign and the provider.
    let domains = [
        "a.t", "b.t", "c.t", "d.t", "e.t", "f.t", "g.t", "h.t", "i.t", "j.t",
    ];
    for (i, d) in domains.iter().enumerate() {
        let m = Mix {
            delivered: 140,
            soft: 10,
            ..Mix::default()
        };
        feed(
            &mut a,
            T0 + i as i64 * MIN,
            "p",
            d,
            Some("192.0.2.1"),
            Some("spring"),
            m,
        );
    }
    // Clean traffic from another IP and campaign, and none at all.
    feed(
        &mut a,
        T0,
        "q",
        "clean.t",
        Some("192.0.2.2"),
        Some("fall"),
        Mix {
            delivered: 1000,
            ..Mix::default()
        },
    );
    feed(
        &mut a,
        T0,
        "q",
        "clean.t",
        None,
        None,
        Mix {
            delivered: 1000,
            soft: 100,
            ..Mix::default()
        },
    );
    let r = a.finish();
    let expect = |k: &str| vec![(k.to_string(), Metric::BounceRate, 100.0 / 1500.0, 1500)];
    assert_eq!(of(&r, Scope::Ip), expect("192.0.2.1"));
    assert_eq!(of(&r, Scope::Campaign), expect("spring"));
    // Provider q is clean.t's: 100/2100 = 4.8%, bound 0.0393 (its
    // IP-less half counts for the provider and the domain, not for an IP).
    let prov: Vec<(String, u64)> = of(&r, Scope::Provider)
        .into_iter()
        .map(|x| (x.0, x.3))
        .collect();
    assert_eq!(prov, [("p".to_string(), 1500), ("q".to_string(), 2100)]);
    let d = of(&r, Scope::Domain);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].0.as_str(), d[0].3), ("clean.t", 2100));
    let ip = r.alerts.iter().find(|a| a.scope == Scope::Ip).unwrap();
    assert_eq!(ip.since_ms, T0);
}

#[test]
fn keys_beyond_the_cap_count_as_other_which_never_alerts() {
    let run = |max_keys| {
        let mut a = Aggregator::new(opts(AlertConfig {
            max_keys,
            ..AlertConfig::default()
        }));
        feed(
            &mut a,
            T0,
            "p1",
            "one.t",
            None,
            None,
            Mix {
                delivered: 500,
                ..Mix::default()
            },
        );
        feed(
            &mut a,
            T0,
            "p2",
            "two.t",
            None,
            None,
            Mix {
                delivered: 500,
                ..Mix::default()
            },
        );
        // Half bounces: far over every line, but the third key.
        feed(
            &mut a,
            T0,
            "p3",
            "three.t",
            None,
            None,
            Mix {
                delivered: 500,
                soft: 500,
                ..Mix::default()
            },
        );
        a.finish()
    };
    let capped = run(2);
    assert!(capped.alerts.is_empty(), "{:?}", capped.alerts);
    let free = run(10);
    let keys: Vec<(Scope, &str)> = free
        .alerts
        .iter()
        .map(|a| (a.scope, a.key.as_str()))
        .collect();
    assert_eq!(keys, [(Scope::Provider, "p3"), (Scope::Domain, "three.t")]);
}

#[test]
fn the_report_json_carries_the_alerts_by_their_names() {
    let mut a = Aggregator::new(opts(AlertConfig::default()));
    feed(
        &mut a,
        T0,
        "p",
        "bad.example",
        None,
        None,
        Mix {
            delivered: 2922,
            soft: 78,
            ..Mix::default()
        },
    );
    let r = a.finish();
    let v = serde_json::to_value(&r).unwrap();
    let first = &v["alerts"][0];
    let mut names: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "attempts",
            "key",
            "metric",
            "scope",
            "since_ms",
            "threshold",
            "value"
        ]
    );
    assert_eq!(first["scope"], "provider");
    assert_eq!(first["metric"], "bounce_rate");
    assert_eq!(v["alerts"][1]["scope"], "domain");
    // The text and the page show them before anything else.
    let text = rebound_insight::render::text(&r);
    let alerts_at = text.find("ALERTS (2)").expect("ALERTS heading");
    assert!(alerts_at < text.find("by provider").unwrap());
    assert!(text.contains("bad.example"));
    assert!(text.contains("2.60% > 2.00%"));
    let page = rebound_insight::html::page(&r);
    let table = page.find("<section id=\"alerts\">").expect("alerts table");
    assert!(table < page.find("class=\"kpis\"").unwrap());
    assert_eq!(page.matches("class=\"alert-row\"").count(), 2);
}

/// Through a real SQLite ledger: the readers count deliveries per minute
/// and, grouping by provider, still hand on each delivery's domain, IP and
/// campaign, so those scopes see every attempt (not just the failures).
#[test]
fn a_sqlite_ledger_gives_every_scope_its_deliveries() {
    use rebound_core::Observation;
    use rebound_ingest::{Event, Outcome, dedupe_key};
    let mut n = 0u64;
    let mut ev = |t: i64, rcpt: String, ip: &str, campaign: &str, outcome: Outcome, text: &str| {
        n += 1;
        let obs = Observation {
            text: text.into(),
            recipient: Some(rcpt.clone()),
            smtpcommand: Some("RCPT".into()),
            action: Some(
                if outcome == Outcome::Delivered {
                    "delivered"
                } else {
                    "failed"
                }
                .into(),
            ),
            reason_hint: (outcome == Outcome::Delivered).then_some(rebound_core::Reason::Delivered),
            ..Observation::default()
        };
        Event {
            time_ms: t,
            recipient_domain: rcpt.rsplit('@').next().unwrap().into(),
            recipient: rcpt,
            sender: Some("news@sender.example".into()),
            sending_ip: Some(ip.into()),
            campaign: Some(campaign.into()),
            message_id: Some(format!("m{n}@sender.example")),
            outcome,
            text: text.into(),
            format: "test".into(),
            source: format!("test:{n}"),
            dedupe_key: dedupe_key(&format!("alerts-test-{n}")),
            verdict: rebound_classify::Classifier::builtin().classify(&obs),
            evidence: Default::default(),
        }
    };
    let mut v = Vec::new();
    // bad.example from 192.0.2.7, campaign "spring": 270 deliveries from
    // T0 (one a second), then 30 dead addresses from T0 + 10 min: 30/300 =
    // 10% (bound 0.0709).
    for i in 0..270 {
        v.push(ev(
            T0 + i * 1000,
            format!("u{i}@bad.example"),
            "192.0.2.7",
            "spring",
            Outcome::Delivered,
            "250 2.0.0 OK",
        ));
    }
    for i in 0..30 {
        v.push(ev(T0 + 10 * MIN + i, format!("x{i}@bad.example"), "192.0.2.7", "spring", Outcome::Bounced,
            "550 5.1.1 <x@bad.example>: Recipient address rejected: User unknown in local recipient table"));
    }
    // good.example from another IP and campaign: 3,000 deliveries, 15
    // bounces (0.5%).
    for i in 0..3000 {
        v.push(ev(
            T0 + i * 100,
            format!("g{i}@good.example"),
            "192.0.2.8",
            "fall",
            Outcome::Delivered,
            "250 2.0.0 OK",
        ));
    }
    for i in 0..15 {
        v.push(ev(T0 + 20 * MIN + i, format!("y{i}@good.example"), "192.0.2.8", "fall", Outcome::Bounced,
            "550 5.1.1 <y@good.example>: Recipient address rejected: User unknown in local recipient table"));
    }
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("ledger.db").to_string_lossy().into_owned();
    let mut store = rebound_ledger::open(&url).unwrap();
    let out = store
        .ingest_batch(&v, &rebound_ledger::Policy::default())
        .unwrap();
    assert_eq!(out.inserted, 3315);
    drop(store);
    let r = rebound_insight::build(&url, ReportOptions::default()).unwrap();
    let t = &r.totals.counts;
    assert_eq!((t.attempted, t.bounced, t.hard), (3315, 45, 45));
    for (scope, key) in [
        (Scope::Domain, "bad.example"),
        (Scope::Ip, "192.0.2.7"),
        (Scope::Campaign, "spring"),
    ] {
        let got: Vec<(Metric, u64, i64)> = r
            .alerts
            .iter()
            .filter(|a| a.scope == scope)
            .map(|a| {
                assert_eq!(a.key, key);
                assert_eq!(a.value, 0.1);
                (a.metric, a.attempts, a.since_ms)
            })
            .collect();
        // Hard bounces over 1% (0.1 / 0.01 = 10) before bounces over 2%.
        assert_eq!(
            got,
            [
                (Metric::HardBounceRate, 300, T0),
                (Metric::BounceRate, 300, T0)
            ],
            "{scope:?}"
        );
    }
}

/// An IP whose deliveries the input does not attribute (Postfix: refusals
/// quote the sending IP, delivery lines do not) has no measurable rate.
#[test]
fn an_ip_seen_only_on_failures_does_not_alert() {
    let mut a = Aggregator::new(opts(AlertConfig::default()));
    let mix = |delivered| Mix {
        delivered,
        soft: 300,
        hard: 0,
        deferred: 0,
        complaints: 0,
    };
    // Deliveries of both domains without an IP, failures with one.
    feed(&mut a, T0, "bigmail", "a.example", None, None, mix(5000));
    feed(
        &mut a,
        T0,
        "bigmail",
        "a.example",
        Some("192.0.2.1"),
        None,
        mix(0),
    );
    // Another IP with its deliveries named: 300 of 3,300 (9.1%) alerts.
    feed(
        &mut a,
        T0,
        "bigmail",
        "b.example",
        Some("192.0.2.2"),
        None,
        mix(3000),
    );
    let r = a.finish();
    let ips = of(&r, Scope::Ip);
    assert_eq!(ips.len(), 1, "{ips:?}");
    assert_eq!(ips[0].0, "192.0.2.2");
    assert_eq!(ips[0].1, Metric::BounceRate);
}
