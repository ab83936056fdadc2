//! The dashboard end to end: a real `rebound serve` on loopback, headless
//! Chromium driven over the DevTools protocol (a WebSocket, `tungstenite`):
//! type the token, see incidents, chart and events render, search a
//! suppressed address and remove it with a click, then check through the
//! API that it is gone.
//!
//! Prints "SKIPPED: chromium not installed" without a browser, and fails
//! instead when `CI=true`.

mod common;

use common::browser::{Browser, base64_png, chromium};
use common::{ADMIN, INGEST, READ, Serve, now_s};
use serde_json::{Value, json};

#[test]
fn dashboard_shows_incidents_chart_events_and_removes_a_suppression() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").display().to_string();
    let server = Serve::start(&db);

    // Seed: a blocklisting at one provider (an incident), some deliveries
    // elsewhere, and a manual suppression to find and remove.
    let t0 = now_s() - 3 * 3600;
    let mut events = Vec::new();
    for i in 0..240i64 {
        let (email, event, reply) = match i % 4 {
            0 => (format!("fine{i}@gmail.com"), "delivered", "250 2.0.0 OK"),
            1 => (format!("user{i}@outlook.com"), "delivered", "250 2.0.0 OK"),
            _ => (
                format!("user{i}@outlook.com"),
                "bounce",
                "550 5.7.1 Service unavailable, Client host [192.0.2.44] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.44",
            ),
        };
        events.push(
            json!({"email": email, "timestamp": t0 + i * 40, "event": event,
            "sg_event_id": format!("dash-{i}"), "reason": reply, "response": reply,
            "ip": "192.0.2.44", "type": "blocked"}),
        );
    }
    let r = server.req(
        "POST",
        "/v1/events/sendgrid",
        INGEST,
        Value::Array(events).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.req(
        "PUT",
        "/v1/suppressions/remove-me@example.com",
        ADMIN,
        br#"{"detail": "seeded by the test"}"#,
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        server.req("GET", "/v1/incidents", READ, b"").json()["open"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let mut b = Browser::launch(&bin);
    b.call("Page.enable", json!({}));
    b.call(
        "Page.navigate",
        json!({"url": format!("http://{}/", server.addr)}),
    );
    b.wait_for(
        "document.readyState === 'complete' && document.body.dataset.state === 'need-token'",
        "the token prompt",
    );
    // The shell alone shows no data.
    assert_eq!(
        b.eval("document.querySelectorAll('#events tbody tr').length"),
        json!(0)
    );

    b.type_into("#token", ADMIN);
    b.click("#token-save");
    b.wait_for(
        "document.body.dataset.rendered === 'ok'",
        "the dashboard to render",
    );
    assert_eq!(
        b.eval("sessionStorage.getItem('rebound-token')"),
        json!(ADMIN)
    );

    let incidents = b.eval("document.querySelector('#incidents tbody').innerText");
    assert!(
        incidents.as_str().unwrap().contains("microsoft"),
        "incidents: {incidents}"
    );
    let lines = b.eval(
        "[...document.querySelectorAll('#chart path.series-line')].map(p => p.dataset.key).sort()",
    );
    // Providers as the classifier names them (gmail.com is Google's).
    assert_eq!(lines, json!(["google", "microsoft"]), "chart lines");
    // The incident as the HTML report tells it: owner, the listed IP, a
    // band in the chart, the replies folded away.
    let incident = incidents.as_str().unwrap();
    for part in ["sender reputation", "192.0.2.44", "first seen"] {
        assert!(incident.contains(part), "{part} missing from {incident}");
    }
    assert_eq!(
        b.eval("document.querySelectorAll('#chart .incident-band').length"),
        json!(1)
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('#incidents details')].map(d => d.open)"),
        json!([false])
    );
    // The report's look: its chart kit draws the chart.
    assert_eq!(
        b.eval("document.querySelector('#chart svg').classList.contains('chart-svg')"),
        json!(true)
    );
    // Nothing sticks out sideways, on a desktop or a phone.
    for (width, mobile) in [(1400, false), (390, true)] {
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        let fit = b.eval("[document.documentElement.scrollWidth, window.innerWidth]");
        assert_eq!(fit[1], json!(width));
        assert!(
            fit[0].as_u64() <= fit[1].as_u64(),
            "at {width} px the dashboard is {} px wide",
            fit[0]
        );
    }
    b.call("Emulation.clearDeviceMetricsOverride", json!({}));
    let rows = b.eval("document.querySelectorAll('#events tbody tr').length");
    assert!(rows.as_u64().unwrap() >= 40, "events rows: {rows}");
    let text = b.eval("document.querySelector('#events tbody').innerText");
    assert!(text.as_str().unwrap().contains("outlook.com"), "{text}");

    if let Ok(path) = std::env::var("REBOUND_DASHBOARD_SCREENSHOT") {
        use base64_png::decode;
        let shot = b.call("Page.captureScreenshot", json!({"format": "png"}));
        std::fs::write(path, decode(shot["data"].as_str().unwrap())).unwrap();
    }

    b.type_into("#search", "Remove-Me@example.com");
    b.click("#search-btn");
    b.wait_for(
        "document.getElementById('search-result').dataset.result === 'suppressed'",
        "the search result",
    );
    let found = b.eval("document.getElementById('search-result').innerText");
    assert!(
        found.as_str().unwrap().contains("seeded by the test"),
        "{found}"
    );
    b.click("#remove-btn");
    b.wait_for(
        "document.getElementById('search-result').dataset.result === 'removed'",
        "the removal",
    );

    let r = server.req("GET", "/v1/suppressions/remove-me@example.com", READ, b"");
    assert_eq!(r.json()["suppressed"], false, "{}", r.text());
}
