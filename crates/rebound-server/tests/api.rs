//! The HTTP API over real HTTP on loopback, against a real SQLite file:
//! auth per scope, every endpoint's happy path, malformed input (4xx with a
//! JSON error, never 5xx), ingest counts, signatures, metrics, OpenAPI.

mod common;

use common::{ADMIN, INGEST, READ, Server, http};
use serde_json::{Value, json};

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every error is JSON with `error` and `detail`.
fn assert_error(r: &http::Resp, status: u16) {
    assert_eq!(r.status, status, "body: {}", r.text());
    let v = r.json();
    assert!(v["error"].is_string() && v["detail"].is_string(), "{v}");
}

const DSN: &str = "From: MAILER-DAEMON@mx.example.net\r
To: sender@example.org\r
Subject: Undelivered Mail Returned to Sender\r
Date: Mon, 2 Nov 2026 10:00:00 +0000\r
Message-ID: <bounce-1@mx.example.net>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r
\r
--B\r
Content-Type: text/plain\r
\r
This is the mail system at host mx.example.net.\r
<nobody@example.com>: host mx.example.com said: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.net\r
\r
Final-Recipient: rfc822; nobody@example.com\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table\r
--B\r
Content-Type: message/rfc822\r
\r
From: sender@example.org\r
To: nobody@example.com\r
Subject: hi\r
Message-ID: <m1@example.org>\r
\r
hello\r
--B--\r
";

/// A Mandrill webhook body: the JSON text of `mandrill_events`,
/// form-encoded (every byte but unreserved ones percent-encoded).
fn mandrill_form(events: &str) -> String {
    let encoded: String = events
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("mandrill_events={encoded}")
}

fn sendgrid_bounce(email: &str, id: &str, t: i64) -> Value {
    json!({"email": email, "timestamp": t, "event": "bounce", "sg_event_id": id,
           "sg_message_id": format!("msg-{id}"), "reason": "550 5.1.1 unknown recipient",
           "status": "5.1.1", "type": "bounce", "ip": "192.0.2.44"})
}

#[test]
fn every_route_needs_the_right_scope() {
    let s = Server::start();
    assert_eq!(s.req("GET", "/healthz", None, b"").status, 200);
    for (method, path) in rebound_server::ROUTES {
        if matches!(*path, "/healthz" | "/" | "/dashboard") {
            continue;
        }
        let path = path
            .replace("{source}", "sendgrid")
            .replace("{address}", "a@example.com")
            .replace("{id}", "1");
        // A HEAD answer has no body: its status and headers are checked.
        let refused = |r: &http::Resp, status: u16| {
            if *method == "HEAD" {
                assert_eq!(r.status, status, "HEAD {path}");
                assert!(r.body.is_empty(), "HEAD {path} answered a body");
            } else {
                assert_error(r, status);
            }
        };
        let r = s.req(method, &path, None, b"");
        refused(&r, 401);
        // Bearer always; Basic only for webhook URLs, never a browser's
        // login box for API clients that did not ask for it.
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert_eq!(
            challenge.contains("Basic"),
            path.starts_with("/v1/events/"),
            "{path}: {challenge}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        refused(
            &s.req(method, &path, Some("wrong-token-wrong-token"), b""),
            401,
        );
        let needed = match (*method, path.as_str()) {
            ("POST" | "HEAD", p) if p.starts_with("/v1/events/") => "ingest",
            ("PUT" | "DELETE", _) => "admin",
            ("POST", "/v1/rules/reload" | "/v1/reclassify") => "admin",
            ("GET", p) if p.starts_with("/v1/jobs/") => "admin",
            _ => "read",
        };
        // A token without the scope is refused with 403, before the body
        // is looked at.
        let lacking = if needed == "read" { INGEST } else { READ };
        refused(&s.req(method, &path, Some(lacking), b""), 403);
    }
    // Basic auth carries the token as the password (ESP webhook URLs).
    let basic = format!("Basic {}", base64_encode(&format!("sendgrid:{INGEST}")));
    let body = json!([sendgrid_bounce("x@example.com", "e1", now_s())]).to_string();
    let r = http::request(
        s.addr,
        "POST",
        "/v1/events/sendgrid",
        &[("Authorization", &basic)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

fn base64_encode(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn classify_one_and_many_and_bad_bodies() {
    let s = Server::start_with(|c| c.limits.small_body_bytes = 4096);
    let r = s.req(
        "POST",
        "/v1/classify",
        Some(READ),
        br#""550 5.1.1 <a@b.example>: User unknown""#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["reason"], "userunknown");
    assert_eq!(r.json()["hardbounce"], true);
    let r = s.req(
        "POST",
        "/v1/classify",
        Some(READ),
        json!({"text": "452 4.2.2 Mailbox full", "recipient": "a@b.example"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.json()["reason"], "mailboxfull");
    let r = s.req(
        "POST",
        "/v1/classify",
        Some(ADMIN),
        json!({"replies": ["550 5.1.1 User unknown", {"text": "421 4.7.0 Try again later, closing connection (throttled)"}]})
            .to_string()
            .as_bytes(),
    );
    let v = r.json();
    assert_eq!(v["verdicts"].as_array().unwrap().len(), 2);
    assert_eq!(v["verdicts"][0]["reason"], "userunknown");
    let r = s.req(
        "POST",
        "/v1/classify",
        Some(READ),
        br#"["550 5.1.1 User unknown"]"#,
    );
    assert_eq!(r.json()["verdicts"][0]["reason"], "userunknown");
    assert_error(
        &s.req("POST", "/v1/classify", Some(READ), b"{\"text\": "),
        400,
    );
    assert_error(&s.req("POST", "/v1/classify", Some(READ), b""), 400);
    assert_error(&s.req("POST", "/v1/classify", Some(READ), b"42"), 422);
    assert_error(
        &s.req("POST", "/v1/classify", Some(READ), br#"{"text": 5}"#),
        422,
    );
    let big = format!("\"{}\"", "x".repeat(10_000));
    assert_error(
        &s.req("POST", "/v1/classify", Some(READ), big.as_bytes()),
        413,
    );
    assert_error(&s.req("GET", "/v1/classify", Some(READ), b""), 405);
    assert_error(&s.req("GET", "/nowhere", Some(READ), b""), 404);
}

#[test]
fn decode_a_bounce_email() {
    let s = Server::start();
    let r = s.req("POST", "/v1/decode", Some(READ), DSN.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{v}");
    assert_eq!(recs[0]["recipient"], "nobody@example.com");
    assert_eq!(recs[0]["reason"], "userunknown");
    assert_error(&s.req("POST", "/v1/decode", Some(READ), b""), 400);
    // A message that is not a bounce gives no records.
    let r = s.req(
        "POST",
        "/v1/decode",
        Some(READ),
        b"Subject: hello\r\n\r\nhi\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["records"].as_array().unwrap().len(), 0);
    assert_error(
        &s.req(
            "POST",
            "/v1/decode?delivered=maybe",
            Some(READ),
            DSN.as_bytes(),
        ),
        400,
    );
}

#[test]
fn suppressions_check_add_remove() {
    let s = Server::start();
    let r = s.req(
        "GET",
        "/v1/suppressions/Someone@Example.com",
        Some(READ),
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["suppressed"], false);
    assert_eq!(r.json()["address"], "someone@example.com");
    let r = s.req(
        "PUT",
        "/v1/suppressions/someone@example.com",
        Some(ADMIN),
        br#"{"detail": "asked us to stop"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["suppression"]["created_by"], "boss");
    assert_eq!(
        s.req(
            "PUT",
            "/v1/suppressions/someone@example.com",
            Some(ADMIN),
            b""
        )
        .status,
        200
    );
    let r = s.req(
        "GET",
        "/v1/suppressions/SOMEONE@example.com",
        Some(READ),
        b"",
    );
    assert_eq!(r.json()["suppressed"], true);
    assert_eq!(r.json()["suppression"]["reason"], "manual");
    let r = s.req(
        "POST",
        "/v1/suppressions/check",
        Some(READ),
        br#"{"addresses": ["someone@example.com", "other@example.com", "not an address"]}"#,
    );
    let res = r.json()["results"].clone();
    assert_eq!(res[0]["suppressed"], true);
    assert_eq!(res[1]["suppressed"], false);
    assert!(res[2]["error"].is_string());
    let r = s.req("GET", "/v1/suppressions?limit=10", Some(READ), b"");
    assert_eq!(r.json()["total"], 1);
    let r = s.req(
        "DELETE",
        "/v1/suppressions/someone@example.com?note=oops",
        Some(ADMIN),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_error(
        &s.req(
            "DELETE",
            "/v1/suppressions/someone@example.com",
            Some(ADMIN),
            b"",
        ),
        404,
    );
    assert_eq!(
        s.req(
            "GET",
            "/v1/suppressions/someone@example.com",
            Some(READ),
            b""
        )
        .json()["suppressed"],
        false
    );
    assert_error(
        &s.req("GET", "/v1/suppressions/not-an-address", Some(READ), b""),
        400,
    );
    assert_error(
        &s.req(
            "PUT",
            "/v1/suppressions/a@example.com",
            Some(ADMIN),
            b"{bad",
        ),
        400,
    );
    assert_error(
        &s.req(
            "PUT",
            "/v1/suppressions/a@example.com",
            Some(ADMIN),
            br#"{"color": 1}"#,
        ),
        422,
    );
    assert_error(
        &s.req(
            "POST",
            "/v1/suppressions/check",
            Some(READ),
            br#"{"addresses": 1}"#,
        ),
        422,
    );
}

#[test]
fn ingest_counts_duplicates_and_rejections() {
    let s = Server::start();
    let t = now_s();
    let batch = json!([
        sendgrid_bounce("gone1@example.com", "ev-1", t),
        sendgrid_bounce("gone2@example.com", "ev-2", t),
        {"email": "ok@example.com", "timestamp": t, "event": "delivered", "sg_event_id": "ev-3", "response": "250 OK"},
        {"timestamp": t, "event": "bounce", "sg_event_id": "broken"},
    ])
    .to_string();
    // Strict: one unreadable record refuses the whole batch.
    let r = s.req(
        "POST",
        "/v1/events/sendgrid?strict=true",
        Some(INGEST),
        batch.as_bytes(),
    );
    assert_error(&r, 422);
    assert_eq!(
        s.req("GET", "/v1/events", Some(READ), b"").json()["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let r = s.req(
        "POST",
        "/v1/events/sendgrid",
        Some(INGEST),
        batch.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["stored"], 3, "{v}");
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["rejected"].as_array().unwrap().len(), 1);
    assert_eq!(v["rejected"][0]["position"], "body:1#4", "{v}");
    let mut suppressed: Vec<String> = serde_json::from_value(v["suppressed"].clone()).unwrap();
    suppressed.sort();
    assert_eq!(suppressed, ["gone1@example.com", "gone2@example.com"]);
    // The ESP retries: nothing new.
    let v = s
        .req(
            "POST",
            "/v1/events/sendgrid",
            Some(INGEST),
            batch.as_bytes(),
        )
        .json();
    assert_eq!(
        (v["stored"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(
        s.req("GET", "/v1/suppressions/gone1@example.com", Some(READ), b"")
            .json()["suppressed"],
        true
    );
    let ev = s
        .req(
            "GET",
            "/v1/events?recipient=gone2@example.com",
            Some(READ),
            b"",
        )
        .json();
    assert_eq!(ev["events"].as_array().unwrap().len(), 1);
    assert_error(
        &s.req(
            "POST",
            "/v1/events/sendgrid",
            Some(INGEST),
            b"[{\"email\": ",
        ),
        400,
    );
    assert_error(
        &s.req("POST", "/v1/events/sendgrid", Some(INGEST), b""),
        400,
    );
    assert_error(
        &s.req("POST", "/v1/events/carrier-pigeon", Some(INGEST), b"{}"),
        404,
    );
    assert_error(
        &s.req(
            "POST",
            "/v1/events/sendgrid",
            Some(INGEST),
            br#"[{"event": "bounce"}]"#,
        ),
        422,
    );
    assert_error(
        &s.req("GET", "/v1/events?since=yesterdayish", Some(READ), b""),
        400,
    );
}

#[test]
fn ingest_every_source() {
    let s = Server::start();
    let t = now_s();
    let ses = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
        "bouncedRecipients": [{"emailAddress": "ses@example.com", "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 user unknown"}], "timestamp": "2026-11-02T10:00:00.000Z"},
        "mail": {"messageId": "ses-1", "source": "a@sender.example"}});
    let sns = json!({"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:1:ses",
        "Message": ses.to_string()});
    let mailgun = json!({"event-data": {"id": "mg-1", "timestamp": t, "event": "failed",
        "severity": "permanent", "recipient": "mg@example.com",
        "delivery-status": {"code": 550, "message": "No such mailbox", "enhanced-code": "5.1.1"}}});
    let postmark = json!({"RecordType": "Bounce", "Type": "HardBounce", "ID": 7, "Email": "pm@example.com",
        "BouncedAt": "2026-11-02T10:00:00Z", "Details": "smtp;550 5.1.1 The email account does not exist."});
    let sparkpost = json!([{"msys": {"message_event": {"type": "bounce", "bounce_class": "10",
        "rcpt_to": "sp@example.com", "raw_reason": "550 5.1.1 unknown", "timestamp": t.to_string(), "event_id": "sp-1"}}}]);
    let mailjet = json!({"event": "bounce", "time": t, "MessageID": 1942177783514649u64,
        "email": "mj@example.com", "mj_campaign_id": 0, "mj_contact_id": 4, "hard_bounce": true,
        "error_related_to": "recipient", "error": "user unknown",
        "comment": "550 5.1.1 <mj@example.com>: Recipient address rejected: User unknown"});
    let brevo = json!({"event": "hard_bounce", "email": "br@example.com", "id": 42, "ts_event": t,
        "message-id": "<b-1@relay.example>", "reason": "550 5.1.1 user unknown"});
    // Mandrill posts form-encoded: the JSON array is the `mandrill_events` field.
    let mandrill_events = json!([{"event": "hard_bounce", "_id": "md-1", "ts": t,
        "msg": {"_id": "md-1", "email": "md+x@example.com", "bounce_description": "bad_mailbox",
        "diag": "smtp;550 5.1.1 The email account that you tried to reach does not exist."}}]);
    let mandrill = mandrill_form(&mandrill_events.to_string());
    let resend = json!({"type": "email.bounced", "created_at": "2026-11-02T10:00:00.000Z",
        "data": {"email_id": "rs-1", "to": ["rs@example.com"],
        "bounce": {"type": "Permanent", "subType": "General", "message": "550 5.1.1 user unknown"}}});
    let sendmail = |who: &str| {
        format!(
            "Nov  2 10:00:00 mx sm-mta[123]: 4AB12xyz: to=<{who}>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120, relay=mx.example.com. [192.0.2.1], dsn=5.1.1, stat=User unknown\n"
        )
    };
    let postfix = "Nov  2 10:00:00 mx postfix/smtp[123]: 4AB12: to=<pf@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <pf@example.com>: User unknown (in reply to RCPT TO command))\n";
    for (source, body, who) in [
        ("ses", sns.to_string(), "ses@example.com"),
        ("mailgun", mailgun.to_string(), "mg@example.com"),
        ("postmark", postmark.to_string(), "pm@example.com"),
        ("sparkpost", sparkpost.to_string(), "sp@example.com"),
        ("mailjet", mailjet.to_string(), "mj@example.com"),
        ("brevo", brevo.to_string(), "br@example.com"),
        ("mandrill", mandrill, "md%2Bx@example.com"),
        ("resend", resend.to_string(), "rs@example.com"),
        ("log", postfix.to_string(), "pf@example.com"),
        ("postfix", postfix.to_string(), "pf@example.com"),
        ("sendmail", sendmail("sm@example.com"), "sm@example.com"),
        ("log", sendmail("sm2@example.com"), "sm2@example.com"),
        ("email", DSN.to_string(), "nobody@example.com"),
    ] {
        let r = s.req(
            "POST",
            &format!("/v1/events/{source}"),
            Some(INGEST),
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{source}: {}", r.text());
        let v = r.json();
        assert_eq!(v["events"], 1, "{source}: {v}");
        let check = s
            .req("GET", &format!("/v1/suppressions/{who}"), Some(READ), b"")
            .json();
        assert_eq!(check["suppressed"], true, "{source}: {check}");
    }
    // A log endpoint refuses JSON, pointing to the right one.
    assert_error(
        &s.req(
            "POST",
            "/v1/events/log",
            Some(INGEST),
            postmark.to_string().as_bytes(),
        ),
        422,
    );
    // SNS subscription confirmation: acknowledged, nothing stored, URL returned.
    let confirm = json!({"Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:us-east-1:1:ses",
        "SubscribeURL": "https://sns.example/confirm?x=1", "Token": "t"});
    let r = s.req(
        "POST",
        "/v1/events/ses",
        Some(INGEST),
        confirm.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["subscribe_url"], "https://sns.example/confirm?x=1");
}

#[test]
fn ses_topic_allowlist() {
    let s = Server::start_with(|c| {
        c.webhooks.ses = Some(rebound_server::config::SesConfig {
            topic_arns: vec!["arn:aws:sns:us-east-1:1:mine".into()],
            ..Default::default()
        })
    });
    let env = json!({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:theirs", "Message": "{}"});
    assert_error(
        &s.req(
            "POST",
            "/v1/events/ses",
            Some(INGEST),
            env.to_string().as_bytes(),
        ),
        403,
    );
}

#[test]
fn body_limit_answers_413_in_json() {
    let s = Server::start_with(|c| c.limits.body_bytes = 1000);
    let body = format!(
        "[{}]",
        vec![sendgrid_bounce("a@example.com", "x", 1).to_string(); 20].join(",")
    );
    assert_error(
        &s.req("POST", "/v1/events/sendgrid", Some(INGEST), body.as_bytes()),
        413,
    );
}

#[test]
fn sendgrid_and_mailgun_signatures_over_http() {
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;
    let sk = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let pk = base64::engine::general_purpose::STANDARD
        .encode(sk.verifying_key().to_public_key_der().unwrap().as_bytes());
    let s = Server::start_with(|c| {
        c.webhooks.sendgrid = Some(rebound_server::config::SendgridConfig {
            public_key: pk,
            max_age_seconds: 300,
        });
        c.webhooks.mailgun = Some(rebound_server::config::MailgunConfig {
            signing_key: "mg-signing-key".into(),
            max_age_seconds: 300,
        });
        c.webhooks.mandrill = Some(rebound_server::config::MandrillConfig {
            webhook_key: "md-webhook-key".into(),
            url: "https://hooks.example/v1/events/mandrill".into(),
        });
        c.webhooks.resend = Some(rebound_server::config::ResendConfig {
            // base64 of "resend-signing-secret-32-bytes!!"
            signing_secret: "whsec_cmVzZW5kLXNpZ25pbmctc2VjcmV0LTMyLWJ5dGVzISE=".into(),
            max_age_seconds: 300,
        });
    });
    let t = now_s();
    let body = json!([sendgrid_bounce("signed@example.com", "sig-1", t)]).to_string();
    let ts = t.to_string();
    let sig: p256::ecdsa::Signature = sk.sign(&[ts.as_bytes(), body.as_bytes()].concat());
    let sig = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
    let h = [
        ("X-Twilio-Email-Event-Webhook-Signature", sig.as_str()),
        ("X-Twilio-Email-Event-Webhook-Timestamp", ts.as_str()),
    ];
    assert_error(
        &s.req("POST", "/v1/events/sendgrid", Some(INGEST), body.as_bytes()),
        401,
    );
    let tampered = body.replace("signed@", "forged@");
    assert_error(
        &s.req_h(
            "POST",
            "/v1/events/sendgrid",
            Some(INGEST),
            &h,
            tampered.as_bytes(),
        ),
        401,
    );
    let r = s.req_h(
        "POST",
        "/v1/events/sendgrid",
        Some(INGEST),
        &h,
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stored"], 1);

    let mg = |token: &str, key: &str| common::mailgun_body(key, token, t, "mg@example.com");
    let good = mg("token-1", "mg-signing-key");
    assert_eq!(
        s.req("POST", "/v1/events/mailgun", Some(INGEST), good.as_bytes())
            .status,
        200
    );
    // The same signed request again is a replay.
    assert_error(
        &s.req("POST", "/v1/events/mailgun", Some(INGEST), good.as_bytes()),
        401,
    );
    assert_error(
        &s.req(
            "POST",
            "/v1/events/mailgun",
            Some(INGEST),
            mg("token-2", "wrong").as_bytes(),
        ),
        401,
    );

    // Mandrill: HMAC-SHA1 of the registered URL and the form's fields.
    let events = json!([{"event": "hard_bounce", "_id": "md-s1", "ts": t,
        "msg": {"_id": "md-s1", "email": "md-signed@example.com", "bounce_description": "bad_mailbox",
        "diag": "smtp;550 5.1.1 no such user"}}])
    .to_string();
    let form = mandrill_form(&events.to_string());
    let sign = |key: &str, value: &str| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(b"https://hooks.example/v1/events/mandrill");
        mac.update(b"mandrill_events");
        mac.update(value.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let good = sign("md-webhook-key", &events);
    let post = |sig: Option<&str>, body: &str| {
        let h: Vec<(&str, &str)> = sig
            .map(|v| ("X-Mandrill-Signature", v))
            .into_iter()
            .collect();
        s.req_h(
            "POST",
            "/v1/events/mandrill",
            Some(INGEST),
            &h,
            body.as_bytes(),
        )
    };
    assert_error(&post(None, &form), 401);
    assert_error(&post(Some(&sign("wrong", &events)), &form), 401);
    // Once signatures are on, an (unsignable) JSON body is refused.
    assert_error(&post(Some(&good), &events), 401);
    let r = post(Some(&good), &form);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stored"], 1);

    // Adding a webhook, Mandrill checks the URL with HEAD (with the URL's
    // credentials), then, failing that, posts an empty list signed with
    // the generic key `test-webhook`. Both must pass; the generic key
    // signs nothing else.
    let head = s.req("HEAD", "/v1/events/mandrill", Some(INGEST), b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        s.req("HEAD", "/v1/events/nowhere", Some(INGEST), b"")
            .status,
        404
    );
    let r = post(Some(&sign("test-webhook", "[]")), &mandrill_form("[]"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stored"], 0);
    assert_error(&post(Some(&sign("test-webhook", &events)), &form), 401);

    // Resend (Svix): HMAC-SHA256 of "id.timestamp.body".
    let body = json!({"type": "email.bounced", "created_at": "2026-11-02T10:00:00.000Z",
        "data": {"email_id": "rs-signed-1", "to": ["rs-signed@example.com"],
        "bounce": {"type": "Permanent", "subType": "General", "message": "550 5.1.1 user unknown"}}})
    .to_string();
    let svix = |secret: &[u8], id: &str, ts: &str, body: &str| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{id}.{ts}.{body}").as_bytes());
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    };
    let ts = now_s().to_string();
    let secret = b"resend-signing-secret-32-bytes!!";
    let post = |sig: &str, ts: &str, body: &str| {
        s.req_h(
            "POST",
            "/v1/events/resend",
            Some(INGEST),
            &[
                ("svix-id", "msg_1"),
                ("svix-timestamp", ts),
                ("svix-signature", sig),
            ],
            body.as_bytes(),
        )
    };
    assert_error(
        &s.req("POST", "/v1/events/resend", Some(INGEST), body.as_bytes()),
        401,
    );
    assert_error(
        &post(
            &svix(b"another-secret-of-32-bytes-long!", "msg_1", &ts, &body),
            &ts,
            &body,
        ),
        401,
    );
    let stale = (now_s() - 3600).to_string();
    assert_error(
        &post(&svix(secret, "msg_1", &stale, &body), &stale, &body),
        401,
    );
    let r = post(&svix(secret, "msg_1", &ts, &body), &ts, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stored"], 1);
}

#[test]
fn metrics_report_incidents_openapi() {
    let s = Server::start();
    // Enough refusals of one kind at one provider to open an incident.
    let t = now_s() - 1800;
    let mut batch = Vec::new();
    for i in 0..200 {
        let (event, reason) = if i % 4 == 0 {
            ("delivered", "250 2.0.0 OK")
        } else {
            (
                "bounce",
                "550 5.7.1 Service unavailable, Client host [192.0.2.44] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.44",
            )
        };
        batch.push(json!({"email": format!("user{i}@outlook.com"), "timestamp": t + i * 5, "event": event,
            "sg_event_id": format!("inc-{i}"), "reason": reason, "response": reason, "ip": "192.0.2.44", "type": "blocked"}));
    }
    let r = s.req(
        "POST",
        "/v1/events/sendgrid",
        Some(INGEST),
        Value::Array(batch).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let inc = s.req("GET", "/v1/incidents", Some(READ), b"");
    assert_eq!(inc.status, 200, "{}", inc.text());
    let open = inc.json()["open"].as_array().unwrap().clone();
    assert!(!open.is_empty(), "{}", inc.text());
    assert_eq!(open[0]["provider"], "microsoft", "{}", inc.text());

    let m = s.req("GET", "/metrics", Some(READ), b"");
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(text.contains("rebound_events_total{source=\"sendgrid\",reason=\"blocked\",provider=\"microsoft\"} 150"), "{text}");
    assert!(text.contains("rebound_incidents_open "), "{text}");
    assert!(text.contains("rebound_suppressions "), "{text}");
    assert!(
        text.contains("rebound_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("route=\"/v1/events/{source}\""), "{text}");

    let r = s.req("GET", "/v1/report?since=24h&by=provider", Some(READ), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["events"], 200);
    let r = s.req("GET", "/v1/report?format=html", Some(READ), b"");
    assert!(r.text().contains("<html"));
    let r = s.req("GET", "/v1/report?format=text", Some(READ), b"");
    assert_eq!(r.status, 200);
    assert_error(&s.req("GET", "/v1/report?format=pdf", Some(READ), b""), 400);
    assert_error(&s.req("GET", "/v1/report?by=moon", Some(READ), b""), 400);

    // The OpenAPI document lists every route, and every listed route is
    // routed (nothing answers 404/405 for it).
    let doc = s.req("GET", "/openapi.json", Some(READ), b"").json();
    for (method, path) in rebound_server::ROUTES {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} missing from openapi.json");
        let concrete = path
            .replace("{source}", "sendgrid")
            .replace("{address}", "a@example.com");
        let r = s.req(method, &concrete, Some(ADMIN), b"");
        assert!(
            r.status != 404 && r.status != 405
                || (*method == "DELETE"
                    && r.status == 404
                    && r.json()["detail"]
                        .as_str()
                        .unwrap()
                        .contains("not suppressed")),
            "{method} {path}: {} {}",
            r.status,
            r.text()
        );
        assert!(r.status < 500, "{method} {path}: {}", r.status);
    }
    let n = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum::<usize>();
    assert_eq!(
        n,
        rebound_server::ROUTES.len(),
        "openapi.json lists operations the router lacks"
    );
}

#[test]
fn dashboard_and_health_need_no_token() {
    let s = Server::start();
    let r = s.req("GET", "/", None, b"");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(s.req("GET", "/healthz", None, b"").json()["status"], "ok");
}

/// Garbage in every shape, on every route: always an answer, always 4xx or
/// 2xx, never 5xx, and the error is JSON.
#[test]
fn garbage_never_gets_a_5xx() {
    let s = Server::start();
    let deep = "[".repeat(100_000);
    let bodies: Vec<Vec<u8>> = vec![
        b"\xff\xfe\x00garbage".to_vec(),
        deep.into_bytes(),
        b"{\"replies\": [1, 2, 3]}".to_vec(),
        b"{\"addresses\": [\"\\u0000@x\", \"a@\", \"@b\"]}".to_vec(),
        b"1e999999".to_vec(),
        b"From: x\r\nContent-Type: multipart/report; boundary=\r\n\r\n--\r\n".to_vec(),
        b"Nov 99 99:99:99 host postfix/smtp[1]: ABC: to=<a@b>, status=bounced (\xff)".to_vec(),
    ];
    let queries = [
        "",
        "?limit=-1",
        "?since=99999999999999999999",
        "?since=9999999999999999w",
        "?until=1&since=2",
        "?strict=maybe",
        "?format=json&by=pattern&bucket=minute&top=0",
    ];
    for (method, path) in rebound_server::ROUTES {
        for source in [
            "sendgrid",
            "ses",
            "mailgun",
            "postmark",
            "sparkpost",
            "mailjet",
            "brevo",
            "mandrill",
            "resend",
            "email",
            "log",
            "pmta",
            "exim",
            "sendmail",
        ] {
            if !path.contains("{source}") && source != "sendgrid" {
                continue;
            }
            let p = path
                .replace("{source}", source)
                .replace("{address}", "a%40example.com");
            for q in queries {
                for b in &bodies {
                    let r = s.req(method, &format!("{p}{q}"), Some(ADMIN), b);
                    assert!(r.status < 500, "{method} {p}{q}: {} {}", r.status, r.text());
                    if r.status >= 400 {
                        assert_error(&r, r.status);
                    }
                }
            }
        }
    }
    for bad in [
        "/v1/suppressions/%ff%fe",
        "/v1/suppressions/a%00b@x.com",
        "/v1/events/%00",
    ] {
        let r = s.req("GET", bad, Some(ADMIN), b"");
        assert!((400..500).contains(&r.status), "{bad}: {}", r.status);
    }
}

#[test]
fn sns_signatures_over_http() {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let s = Server::start_with(|c| {
        c.webhooks.ses = Some(rebound_server::config::SesConfig {
            verify_sns_signatures: true,
            certificate_dir: Some(fixtures.clone()),
            ..Default::default()
        })
    });
    let ses = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
        "bouncedRecipients": [{"emailAddress": "sns@example.com", "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 user unknown"}], "timestamp": "2026-11-02T10:00:00.000Z"},
        "mail": {"messageId": "ses-sns-1", "source": "a@sender.example"}});
    let mut doc = json!({"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:1:ses",
        "Message": ses.to_string(), "Timestamp": "2026-11-02T10:00:01.000Z", "SignatureVersion": "2",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"});
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(
        &std::fs::read_to_string(fixtures.join("sns-test-key.pem")).unwrap(),
    )
    .unwrap();
    let text = rebound_server::sns::string_to_sign(&doc).unwrap();
    let sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign(text.as_bytes());
    doc["Signature"] = base64::engine::general_purpose::STANDARD
        .encode(sig.to_vec())
        .into();

    // A bare SES event (no SNS envelope) carries no signature: refused.
    assert_error(
        &s.req(
            "POST",
            "/v1/events/ses",
            Some(INGEST),
            ses.to_string().as_bytes(),
        ),
        401,
    );
    let mut tampered = doc.clone();
    tampered["Message"] = ses.to_string().replace("sns@", "forged@").into();
    assert_error(
        &s.req(
            "POST",
            "/v1/events/ses",
            Some(INGEST),
            tampered.to_string().as_bytes(),
        ),
        401,
    );
    let r = s.req(
        "POST",
        "/v1/events/ses",
        Some(INGEST),
        doc.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stored"], 1);
}

/// A client that connects and never sends a request is dropped after
/// `header_seconds`, not held forever.
#[test]
fn silent_connections_are_closed() {
    use std::io::Read;
    let s = Server::start_with(|c| c.limits.header_seconds = 1);
    let mut conn = std::net::TcpStream::connect(s.addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let start = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = conn.read_to_end(&mut buf);
    let waited = start.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(10),
        "held for {waited:?}"
    );
    // The server still answers others.
    assert_eq!(s.req("GET", "/healthz", None, b"").status, 200);
}

#[test]
fn a_basic_client_gets_a_basic_challenge_and_pages_get_a_policy() {
    let s = Server::start();
    let basic = format!("Basic {}", base64_encode("ops:not-a-token-at-all"));
    let r = http::request(
        s.addr,
        "GET",
        "/v1/incidents",
        &[("Authorization", &basic)],
        b"",
    );
    assert_error(&r, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap_or_default()
            .contains("Basic")
    );

    for path in ["/", "/dashboard"] {
        let r = s.req("GET", path, None, b"");
        assert_eq!(r.status, 200);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(
            !csp.contains("'unsafe-inline'; img") || !csp.contains("script-src 'unsafe-inline'")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert!(r.header("referrer-policy").is_some());
    }
    let r = s.req("GET", "/v1/report?format=html", Some(READ), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-security-policy")
            .unwrap_or_default()
            .contains("'sha256-")
    );
}

#[test]
fn reports_are_bounded_and_identical_ones_share_an_answer() {
    let s = Server::start_with(|c| {
        c.limits.report_buckets = 100;
        c.limits.report_cache_seconds = 600;
    });
    let now = now_s();
    let post = |events: Value| {
        let r = s.req(
            "POST",
            "/v1/events/sendgrid",
            Some(INGEST),
            events.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    };
    post(json!([
        sendgrid_bounce("a@example.com", "r1", now - 3 * 86_400),
        sendgrid_bounce("b@example.com", "r2", now - 60),
    ]));
    // Minute buckets over three days: 4,321 buckets, over the bound.
    let r = s.req("GET", "/v1/report?since=4d&bucket=minute", Some(READ), b"");
    assert_error(&r, 400);
    assert!(r.json()["detail"].as_str().unwrap().contains("buckets"));
    let r = s.req("GET", "/v1/report?since=4d&bucket=day", Some(READ), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["events"], 2);
    // A new event: the same request within the cache time gets the same
    // answer; another request sees the new event.
    post(json!([sendgrid_bounce("c@example.com", "r3", now - 30)]));
    let r = s.req("GET", "/v1/report?since=4d&bucket=day", Some(READ), b"");
    assert_eq!(r.json()["events"], 2);
    let r = s.req("GET", "/v1/report?since=4d&bucket=hour", Some(READ), b"");
    assert_eq!(r.json()["events"], 3);
}

#[test]
fn ingest_counts_ignored_kinds_and_rejects_unknown_ones_by_name() {
    let s = Server::start();
    let t = now_s();
    let body = json!([
        sendgrid_bounce("x@example.com", "i1", t),
        {"email": "y@example.com", "timestamp": t, "event": "open", "sg_event_id": "i2"},
        {"email": "z@example.com", "timestamp": t, "event": "teleported", "sg_event_id": "i3"},
    ])
    .to_string();
    let r = s.req("POST", "/v1/events/sendgrid", Some(INGEST), body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["stored"], 1);
    assert_eq!(v["ignored"]["sendgrid open"], 1, "{v}");
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{v}");
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .contains("teleported")
    );
}

#[test]
fn alerts_over_the_last_day_need_the_read_scope() {
    let s = Server::start();
    let now = now_s();
    let ev = |email: String, id: String, t: i64, delivered: bool| {
        if delivered {
            json!({"email": email, "timestamp": t, "event": "delivered", "sg_event_id": id,
                "response": "250 2.0.0 OK", "ip": "192.0.2.45"})
        } else {
            json!({"email": email, "timestamp": t, "event": "bounce", "sg_event_id": id,
                "reason": "550 5.1.1 unknown recipient", "status": "5.1.1", "type": "bounce",
                "ip": "192.0.2.45"})
        }
    };
    // list.example in the last hour: 270 delivered, 30 bounced = 10% over
    // 300 attempts (Wilson 95% lower bound 0.071, over the 2% line).
    // old.example three days ago: 250 bounces of 250, outside the default
    // day.
    let mut batch = Vec::new();
    for i in 0..300 {
        batch.push(ev(
            format!("u{i}@list.example"),
            format!("al-{i}"),
            now - 3000 + i,
            i >= 30,
        ));
    }
    for i in 0..250 {
        batch.push(ev(
            format!("o{i}@old.example"),
            format!("ao-{i}"),
            now - 3 * 86_400 + i,
            false,
        ));
    }
    let r = s.req(
        "POST",
        "/v1/events/sendgrid",
        Some(INGEST),
        Value::Array(batch).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    assert_error(&s.req("GET", "/v1/alerts", None, b""), 401);
    assert_error(&s.req("GET", "/v1/alerts", Some(INGEST), b""), 403);
    let domain_alerts = |path: &str| {
        let r = s.req("GET", path, Some(READ), b"");
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["scope"] == "domain" && a["metric"] == "bounce_rate")
            .map(|a| {
                (
                    a["key"].as_str().unwrap().to_string(),
                    a["value"].as_f64().unwrap(),
                    a["attempts"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        domain_alerts("/v1/alerts"),
        [("list.example".to_string(), 0.1, 300)]
    );
    assert_eq!(
        domain_alerts("/v1/alerts?since=4d"),
        [
            ("old.example".to_string(), 1.0, 250),
            ("list.example".to_string(), 0.1, 300)
        ]
    );
    assert!(
        domain_alerts("/v1/alerts?since=4d&until=2d")
            .iter()
            .all(|a| a.0 == "old.example")
    );
    assert_error(
        &s.req("GET", "/v1/alerts?since=whenever", Some(READ), b""),
        400,
    );
    // The gauges follow the incident window (24 hours): list.example only.
    let m = s.req("GET", "/metrics", Some(READ), b"").text();
    assert!(
        m.contains(
            "rebound_alert_value{scope=\"domain\",key=\"list.example\",metric=\"bounce_rate\"} 0.1"
        ),
        "{m}"
    );
    assert!(!m.contains("old.example"), "{m}");
    // The report carries the same list; 5.1.1 is a dead address, so the
    // hard-bounce rate (10% against 1%: 10 times) comes before the bounce
    // rate (10% against 2%: 5 times).
    let r = s.req("GET", "/v1/report?since=24h", Some(READ), b"");
    let v = r.json();
    let domain: Vec<(&str, &str, f64)> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] == "domain")
        .map(|a| {
            (
                a["key"].as_str().unwrap(),
                a["metric"].as_str().unwrap(),
                a["threshold"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        domain,
        [
            ("list.example", "hard_bounce_rate", 0.01),
            ("list.example", "bounce_rate", 0.02)
        ]
    );
}

/// Follows a reclassify job until it ends (each poll is a request; the
/// bound is on polls, not on time).
fn finished_job(s: &Server, location: &str) -> Value {
    for _ in 0..2000 {
        let r = s.req("GET", location, Some(ADMIN), b"");
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        if j["state"] != "running" {
            return j;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("job {location} never ended");
}

#[test]
fn rules_reload_and_reclassify_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("acme.toml");
    // The server starts with a rule file that says nothing of the wording
    // the test uses.
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"unrelated\"\nreason = \"blocked\"\nphrases = [\"a wording never sent\"]\n",
    )
    .unwrap();
    let first = rebound_classify::Classifier::from_user_file(&rules)
        .unwrap()
        .id()
        .to_string();
    let path = rules.clone();
    let s = Server::start_with(move |c| c.rules = Some(path));
    let r = s.req("GET", "/healthz", None, b"");
    assert_eq!(r.json()["rules_id"], first.as_str());
    let metrics = s.req("GET", "/metrics", Some(READ), b"").text();
    assert!(
        metrics.contains(&format!("rebound_rules_info{{rules_id=\"{first}\"}} 1")),
        "{metrics}"
    );

    // Stored through the log endpoint, judged by the rules in use: the
    // wording is not recognised, nothing is suppressed.
    let retired_line = |who: &str| {
        format!(
            "{} mx1 postfix/smtp[2231]: Q1{}: to=<{who}@example.com>, relay=mx.example.com[192.0.2.25]:25, delay=3.2, delays=0.05/0.01/3/0.14, dsn=5.0.0, status=bounced (host mx.example.com[192.0.2.25] said: 550 5.0.0 mailbox retired by acme (in reply to RCPT TO command))\n",
            rebound_ingest::time::format_rfc3339(now_s() * 1000),
            who.to_ascii_uppercase()
        )
    };
    let r = s.req(
        "POST",
        "/v1/events/log",
        Some(INGEST),
        retired_line("alice").as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stored"], 1, "{}", r.text());
    let check = |s: &Server, who: &str| {
        s.req(
            "GET",
            &format!("/v1/suppressions/{who}@example.com"),
            Some(READ),
            b"",
        )
        .json()["suppressed"]
            .clone()
    };
    assert_eq!(check(&s, "alice"), false);

    // The file learns the wording; after a reload, new events are judged
    // by it at once (dave), and alice's stored event waits for reclassify.
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"acme-retired\"\nreason = \"userunknown\"\nphrases = [\"mailbox retired by acme\"]\n",
    )
    .unwrap();
    let with_file = rebound_classify::Classifier::from_user_file(&rules)
        .unwrap()
        .id()
        .to_string();
    let r = s.req("POST", "/v1/rules/reload", Some(ADMIN), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rules_id"], with_file.as_str());
    let r = s.req(
        "POST",
        "/v1/events/log",
        Some(INGEST),
        retired_line("dave").as_bytes(),
    );
    assert_eq!(r.json()["stored"], 1, "{}", r.text());
    assert_eq!(check(&s, "dave"), true);
    assert_eq!(check(&s, "alice"), false);
    let check = |s: &Server| check(s, "alice");

    // A dry run: reported, not done.
    let r = s.req("POST", "/v1/reclassify", Some(ADMIN), b"");
    assert_eq!(r.status, 202, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    let j = finished_job(&s, &location);
    assert_eq!(j["state"], "done", "{j}");
    assert_eq!(j["apply"], false);
    assert_eq!(j["report"]["changed"], 1, "{j}");
    assert_eq!(
        j["report"]["suppressions_added"],
        json!(["alice@example.com"])
    );
    assert_eq!(j["report"]["rules_id"], with_file.as_str());
    assert_eq!(check(&s), false);
    // Applied.
    let r = s.req("POST", "/v1/reclassify?apply=true", Some(ADMIN), b"");
    assert_eq!(r.status, 202, "{}", r.text());
    let j = finished_job(&s, r.header("location").unwrap());
    assert_eq!(j["state"], "done", "{j}");
    assert_eq!(
        j["report"]["suppressions_added"],
        json!(["alice@example.com"])
    );
    assert_eq!(check(&s), true);

    // The file changes; the rules follow on reload. A broken file is
    // refused and the rules in use stay.
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\nreason = \"blocked\"\nphrases = [\"acme\"]\n",
    )
    .unwrap();
    let changed = rebound_classify::Classifier::from_user_file(&rules)
        .unwrap()
        .id()
        .to_string();
    assert_ne!(changed, with_file);
    let r = s.req("POST", "/v1/rules/reload", Some(ADMIN), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rules_id"], changed.as_str());
    assert_eq!(
        s.req("GET", "/healthz", None, b"").json()["rules_id"],
        changed.as_str()
    );
    let metrics = s.req("GET", "/metrics", Some(READ), b"").text();
    assert!(
        metrics.contains(&format!("rules_id=\"{changed}\"")),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&format!("rules_id=\"{with_file}\"")),
        "{metrics}"
    );
    std::fs::write(&rules, "[[rule]\n").unwrap();
    let r = s.req("POST", "/v1/rules/reload", Some(ADMIN), b"");
    assert_error(&r, 422);
    assert_eq!(
        s.req("GET", "/healthz", None, b"").json()["rules_id"],
        changed.as_str()
    );
    // Unknown jobs.
    assert_error(&s.req("GET", "/v1/jobs/999", Some(ADMIN), b""), 404);
    assert_error(&s.req("GET", "/v1/jobs/x", Some(ADMIN), b""), 400);
}

/// Checks on SQLite are answered from held snapshots: a suppression written
/// by another process (here another connection to the file) is seen once
/// the snapshot age bound has passed, and this server's own removal at once.
#[test]
fn checks_see_other_writers_within_the_snapshot_bound() {
    let s = Server::start();
    let who = "elsewhere@example.com";
    let path = format!("/v1/suppressions/{who}");
    // Every check connection opens a snapshot without the suppression.
    for _ in 0..16 {
        assert_eq!(
            s.req("GET", &path, Some(READ), b"").json()["suppressed"],
            false
        );
    }
    let mut other = rebound_ledger::open(&s.db).unwrap();
    other
        .add_suppressions(
            &[rebound_ledger::ManualSuppression {
                address: who.into(),
                reason: "manual".into(),
                detail: "added by the CLI".into(),
            }],
            "cli",
        )
        .unwrap();
    std::thread::sleep(
        rebound_server::CHECK_SNAPSHOT_MAX_AGE + std::time::Duration::from_millis(5),
    );
    for _ in 0..16 {
        let r = s.req("GET", &path, Some(READ), b"").json();
        assert_eq!(r["suppressed"], true, "{r}");
        assert_eq!(r["suppression"]["created_by"], "cli");
    }
    assert_eq!(s.req("DELETE", &path, Some(ADMIN), b"").status, 200);
    for _ in 0..16 {
        assert_eq!(
            s.req("GET", &path, Some(READ), b"").json()["suppressed"],
            false
        );
    }
}
