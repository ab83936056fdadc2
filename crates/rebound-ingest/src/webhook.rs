//! ESP webhook JSON, as the providers document it: Amazon SES (raw or in an
//! SNS envelope), SendGrid event webhook, Mailgun (webhook `event-data` or
//! Events API items), Postmark bounce/delivery/spam webhooks, SparkPost
//! `msys` events.

use crate::{Draft, Format, Outcome, codes_in, smtp_command_in, time};
use rebound_core::Reason;
use serde_json::Value;

/// Which provider wrote this record, from its keys.
pub(crate) fn provider_of(v: &Value) -> Option<Format> {
    let o = v.as_object()?;
    if o.contains_key("msys") {
        return Some(Format::Sparkpost);
    }
    if o.contains_key("event-data") {
        return Some(Format::Mailgun);
    }
    if o.contains_key("RecordType") || (o.contains_key("BouncedAt") && o.contains_key("Email")) {
        return Some(Format::Postmark);
    }
    if o.contains_key("notificationType")
        || (o.contains_key("eventType") && o.contains_key("mail"))
        || (o.get("Type").and_then(Value::as_str) == Some("Notification")
            && o.contains_key("Message"))
    {
        return Some(Format::Ses);
    }
    if o.contains_key("sg_event_id")
        || o.contains_key("sg_message_id")
        || (o.contains_key("email") && o.contains_key("event"))
    {
        return Some(Format::Sendgrid);
    }
    if o.contains_key("event") && (o.contains_key("recipient") || o.contains_key("delivery-status"))
    {
        return Some(Format::Mailgun);
    }
    None
}

/// Splits a document into records: an array's elements, a Mailgun Events
/// API page's `items`, or the object itself.
pub(crate) fn records(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Object(mut o) if o.get("items").is_some_and(Value::is_array) => {
            match o.remove("items") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            }
        }
        other => vec![other],
    }
}

/// Reads one record. `format` may be [`Format::Auto`]: the record's keys
/// decide. Records of event kinds that carry no delivery outcome (opens,
/// clicks, `processed`, …) give no drafts.
pub(crate) fn record(v: &Value, format: Format) -> Result<(Format, Vec<Draft>), String> {
    let format = match format {
        Format::Auto => provider_of(v).ok_or("not a webhook event of a known provider")?,
        f => f,
    };
    if !v.is_object() {
        return Err("a webhook record must be a JSON object".into());
    }
    let drafts = match format {
        Format::Ses => ses(v)?,
        Format::Sendgrid => sendgrid(v)?,
        Format::Mailgun => mailgun(v)?,
        Format::Postmark => postmark(v)?,
        Format::Sparkpost => sparkpost(v)?,
        other => return Err(format!("{other} is not a webhook format")),
    };
    Ok((format, drafts))
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn string(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn codes_into(d: &mut Draft) {
    let (code, status) = codes_in(&d.text);
    if d.replycode.is_none() {
        d.replycode = code;
    }
    if d.status.is_none() {
        d.status = status;
    }
    if d.smtpcommand.is_none() {
        d.smtpcommand = smtp_command_in(&d.text);
    }
}

// ---------------------------------------------------------------- Amazon SES

fn ses(v: &Value) -> Result<Vec<Draft>, String> {
    // SNS envelope: the notification is a JSON string in `Message`.
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        let msg = s(v, "Message").ok_or("SNS envelope without Message")?;
        let inner: Value =
            serde_json::from_str(msg).map_err(|e| format!("SNS Message is not JSON: {e}"))?;
        return ses(&inner);
    }
    if v.get("Type").and_then(Value::as_str) == Some("SubscriptionConfirmation") {
        return Ok(Vec::new());
    }
    let kind = s(v, "notificationType")
        .or_else(|| s(v, "eventType"))
        .ok_or("SES notification without notificationType/eventType")?;
    let mail = v.get("mail").cloned().unwrap_or(Value::Null);
    let message_id = s(&mail, "messageId").map(str::to_string);
    let sender = s(&mail, "source").map(str::to_string);
    let tag = |name: &str| -> Option<String> {
        mail.get("tags")?
            .get(name)?
            .as_array()?
            .first()?
            .as_str()
            .map(str::to_string)
    };
    let header = |name: &str| -> Option<String> {
        mail.get("headers")?
            .as_array()?
            .iter()
            .find(|h| {
                h.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|h| s(h, "value"))
            .map(str::to_string)
    };
    let campaign = header("X-Campaign")
        .or_else(|| header("List-ID"))
        .or_else(|| tag("campaign"));
    let sending_ip = tag("ses:outgoing-ip");
    let base = Draft {
        sender,
        sending_ip,
        campaign,
        message_id: message_id.clone(),
        ..Draft::default()
    };
    let mut out = Vec::new();
    match kind {
        "Bounce" => {
            let b = v.get("bounce").ok_or("Bounce without bounce")?;
            let ts = s(b, "timestamp").ok_or("bounce without timestamp")?;
            let time_ms = time::parse_iso(ts).ok_or_else(|| format!("bad timestamp {ts:?}"))?;
            let btype = s(b, "bounceType").unwrap_or("Undetermined");
            let sub = s(b, "bounceSubType").unwrap_or("");
            let hint = match (btype, sub) {
                (_, "Suppressed" | "OnAccountSuppressionList") => Some(Reason::Suppressed),
                ("Permanent", "NoEmail") => Some(Reason::UserUnknown),
                ("Transient", "MailboxFull") => Some(Reason::MailboxFull),
                ("Transient", "MessageTooLarge") => Some(Reason::MesgTooBig),
                ("Transient", "ContentRejected" | "AttachmentRejected") => {
                    Some(Reason::ContentError)
                }
                _ => None,
            };
            let remote = s(b, "remoteMtaIp").map(str::to_string);
            let feedback = s(b, "feedbackId").unwrap_or("");
            for r in b
                .get("bouncedRecipients")
                .and_then(Value::as_array)
                .ok_or("bounce without bouncedRecipients")?
            {
                let mut d = base.clone();
                d.time_ms = time_ms;
                d.recipient = s(r, "emailAddress").unwrap_or("").to_string();
                d.outcome = Some(Outcome::Bounced);
                d.text = s(r, "diagnosticCode")
                    .map(|t| t.strip_prefix("smtp;").unwrap_or(t).trim().to_string())
                    .unwrap_or_else(|| format!("{btype} {sub}").trim().to_string());
                if let Some(st) = s(r, "status") {
                    d.set_status(st);
                }
                d.hint = hint;
                d.rhost = remote.clone();
                d.identity = format!(
                    "Bounce\u{1f}{}\u{1f}{feedback}\u{1f}{ts}",
                    d.message_id.as_deref().unwrap_or("")
                );
                codes_into(&mut d);
                out.push(d);
            }
        }
        "Complaint" => {
            let c = v.get("complaint").ok_or("Complaint without complaint")?;
            let ts = s(c, "timestamp").ok_or("complaint without timestamp")?;
            let time_ms = time::parse_iso(ts).ok_or_else(|| format!("bad timestamp {ts:?}"))?;
            let fb = s(c, "complaintFeedbackType").unwrap_or("abuse");
            let feedback = s(c, "feedbackId").unwrap_or("");
            for r in c
                .get("complainedRecipients")
                .and_then(Value::as_array)
                .ok_or("complaint without complainedRecipients")?
            {
                let mut d = base.clone();
                d.time_ms = time_ms;
                d.recipient = s(r, "emailAddress").unwrap_or("").to_string();
                d.outcome = Some(Outcome::Complained);
                d.text = format!("complaint: {fb}");
                d.identity = format!(
                    "Complaint\u{1f}{}\u{1f}{feedback}\u{1f}{ts}",
                    d.message_id.as_deref().unwrap_or("")
                );
                out.push(d);
            }
        }
        "Delivery" => {
            let dl = v.get("delivery").ok_or("Delivery without delivery")?;
            let ts = s(dl, "timestamp").ok_or("delivery without timestamp")?;
            let time_ms = time::parse_iso(ts).ok_or_else(|| format!("bad timestamp {ts:?}"))?;
            let resp = s(dl, "smtpResponse").unwrap_or("").to_string();
            for r in dl
                .get("recipients")
                .and_then(Value::as_array)
                .ok_or("delivery without recipients")?
            {
                let mut d = base.clone();
                d.time_ms = time_ms;
                d.recipient = r.as_str().unwrap_or("").to_string();
                d.outcome = Some(Outcome::Delivered);
                d.text = resp.clone();
                d.rhost = s(dl, "remoteMtaIp").map(str::to_string);
                d.identity = format!(
                    "Delivery\u{1f}{}\u{1f}{ts}",
                    d.message_id.as_deref().unwrap_or("")
                );
                codes_into(&mut d);
                out.push(d);
            }
        }
        "DeliveryDelay" => {
            let dl = v
                .get("deliveryDelay")
                .ok_or("DeliveryDelay without deliveryDelay")?;
            let ts = s(dl, "timestamp").ok_or("deliveryDelay without timestamp")?;
            let time_ms = time::parse_iso(ts).ok_or_else(|| format!("bad timestamp {ts:?}"))?;
            for r in dl
                .get("delayedRecipients")
                .and_then(Value::as_array)
                .ok_or("deliveryDelay without delayedRecipients")?
            {
                let mut d = base.clone();
                d.time_ms = time_ms;
                d.recipient = s(r, "emailAddress").unwrap_or("").to_string();
                d.outcome = Some(Outcome::Deferred);
                d.text = s(r, "diagnosticCode")
                    .or_else(|| s(dl, "delayType"))
                    .unwrap_or("")
                    .to_string();
                if let Some(st) = s(r, "status") {
                    d.set_status(st);
                }
                d.identity = format!(
                    "DeliveryDelay\u{1f}{}\u{1f}{ts}",
                    d.message_id.as_deref().unwrap_or("")
                );
                codes_into(&mut d);
                out.push(d);
            }
        }
        // Send, Reject, Open, Click, Rendering Failure, Subscription: no
        // delivery outcome for a recipient.
        _ => {}
    }
    Ok(out)
}

// ------------------------------------------------------------------ SendGrid

fn sendgrid(v: &Value) -> Result<Vec<Draft>, String> {
    let event = s(v, "event").ok_or("SendGrid event without event")?;
    let email = s(v, "email").ok_or("SendGrid event without email")?;
    let time_ms = v
        .get("timestamp")
        .and_then(time::parse_epoch)
        .ok_or("SendGrid event without a valid timestamp")?;
    let outcome = match event {
        "delivered" => Outcome::Delivered,
        "deferred" => Outcome::Deferred,
        "bounce" => Outcome::Bounced,
        "dropped" => Outcome::Dropped,
        "spamreport" => Outcome::Complained,
        _ => return Ok(Vec::new()),
    };
    let text = s(v, "response")
        .or_else(|| s(v, "reason"))
        .unwrap_or("")
        .to_string();
    let hint = match (event, s(v, "type"), s(v, "bounce_classification")) {
        ("dropped", ..) => Some(Reason::Suppressed),
        (_, _, Some("Invalid Address" | "Invalid")) => Some(Reason::UserUnknown),
        (_, _, Some("Reputation")) => Some(Reason::BadReputation),
        (_, _, Some("Content")) => Some(Reason::ContentError),
        (_, _, Some("Frequency or Volume Too High")) => Some(Reason::Speeding),
        (_, Some("blocked"), _) => Some(Reason::Blocked),
        _ => None,
    };
    let campaign = match v.get("category") {
        Some(Value::String(c)) => Some(c.clone()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
    .or_else(|| string(v, "marketing_campaign_name"))
    .or_else(|| string(v, "campaign"));
    let mut d = Draft {
        time_ms,
        recipient: email.to_string(),
        sending_ip: s(v, "ip").map(str::to_string),
        campaign,
        message_id: s(v, "smtp-id")
            .map(|m| m.trim_matches(['<', '>']).to_string())
            .or_else(|| s(v, "sg_message_id").map(str::to_string)),
        outcome: Some(outcome),
        text,
        hint,
        identity: match s(v, "sg_event_id") {
            Some(id) => id.to_string(),
            None => format!(
                "{event}\u{1f}{time_ms}\u{1f}{}",
                s(v, "sg_message_id").unwrap_or("")
            ),
        },
        ..Draft::default()
    };
    if let Some(st) = string(v, "status") {
        d.set_status(&st);
    }
    codes_into(&mut d);
    Ok(vec![d])
}

// ------------------------------------------------------------------- Mailgun

fn mailgun(v: &Value) -> Result<Vec<Draft>, String> {
    let e = v.get("event-data").unwrap_or(v);
    let event = s(e, "event").ok_or("Mailgun event without event")?;
    let outcome = match (event, s(e, "severity")) {
        ("delivered", _) => Outcome::Delivered,
        ("failed", Some("temporary")) => Outcome::Deferred,
        ("failed", _) => Outcome::Bounced,
        ("complained", _) => Outcome::Complained,
        _ => return Ok(Vec::new()),
    };
    let time_ms = e
        .get("timestamp")
        .and_then(time::parse_epoch)
        .ok_or("Mailgun event without a valid timestamp")?;
    let recipient = s(e, "recipient").ok_or("Mailgun event without recipient")?;
    let ds = e.get("delivery-status").cloned().unwrap_or(Value::Null);
    let text = [s(&ds, "message"), s(&ds, "description")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let text = if text.is_empty() && outcome == Outcome::Complained {
        "complaint".to_string()
    } else {
        text
    };
    let hint = match s(e, "reason") {
        Some("suppress-bounce" | "suppress-complaint" | "suppress-unsubscribe") => {
            Some(Reason::Suppressed)
        }
        _ => None,
    };
    let msg = e.get("message").cloned().unwrap_or(Value::Null);
    let headers = msg.get("headers").cloned().unwrap_or(Value::Null);
    let campaign = s(&headers, "x-campaign")
        .map(str::to_string)
        .or_else(|| {
            e.get("campaigns")?
                .as_array()?
                .first()
                .and_then(|c| s(c, "name").or_else(|| s(c, "id")))
                .map(str::to_string)
        })
        .or_else(|| {
            e.get("tags")?
                .as_array()?
                .first()?
                .as_str()
                .map(str::to_string)
        })
        .or_else(|| string(e.get("user-variables").unwrap_or(&Value::Null), "campaign"));
    let envelope = e.get("envelope").cloned().unwrap_or(Value::Null);
    let mut d = Draft {
        time_ms,
        recipient: recipient.to_string(),
        sender: s(&envelope, "sender").map(str::to_string),
        sending_ip: s(&envelope, "sending-ip").map(str::to_string),
        campaign,
        message_id: s(&headers, "message-id").map(|m| m.trim_matches(['<', '>']).to_string()),
        outcome: Some(outcome),
        text,
        rhost: s(&ds, "mx-host").map(str::to_string),
        hint,
        identity: match s(e, "id") {
            Some(id) => id.to_string(),
            None => format!("{event}\u{1f}{time_ms}"),
        },
        ..Draft::default()
    };
    if let Some(code) = ds.get("code").and_then(Value::as_u64) {
        d.replycode = u16::try_from(code)
            .ok()
            .and_then(rebound_core::ReplyCode::new);
    }
    if let Some(st) = s(&ds, "enhanced-code") {
        d.set_status(st);
    }
    codes_into(&mut d);
    Ok(vec![d])
}

// ------------------------------------------------------------------ Postmark

fn postmark(v: &Value) -> Result<Vec<Draft>, String> {
    let record = s(v, "RecordType").unwrap_or("Bounce");
    let ty = s(v, "Type").unwrap_or("");
    let (outcome, hint) = match (record, ty) {
        ("Delivery", _) => (Outcome::Delivered, None),
        ("SpamComplaint", _) | (_, "SpamComplaint") => (Outcome::Complained, None),
        ("Bounce", "HardBounce") => (Outcome::Bounced, Some(Reason::UserUnknown)),
        ("Bounce", "BadEmailAddress") => (Outcome::Bounced, Some(Reason::UserUnknown)),
        ("Bounce", "SoftBounce" | "Undeliverable" | "Unknown" | "DnsError") => {
            (Outcome::Bounced, None)
        }
        ("Bounce", "Transient") => (Outcome::Deferred, None),
        ("Bounce", "Blocked") => (Outcome::Bounced, Some(Reason::Blocked)),
        ("Bounce", "AutoResponder") => (Outcome::AutoReply, Some(Reason::Vacation)),
        ("Bounce", "VirusNotification") => (Outcome::Bounced, Some(Reason::VirusDetected)),
        ("Bounce", "DMARCPolicy") => (Outcome::Bounced, Some(Reason::AuthFailure)),
        ("Bounce", "ManuallyDeactivated") => (Outcome::Dropped, Some(Reason::Suppressed)),
        ("Bounce", "SpamNotification") => (Outcome::Bounced, Some(Reason::SpamDetected)),
        ("Bounce", "AddressChange") => (Outcome::Bounced, Some(Reason::HasMoved)),
        // Challenge-response, unsubscribe and subscription changes, opens,
        // clicks: no delivery outcome.
        _ => return Ok(Vec::new()),
    };
    let email = s(v, "Email")
        .or_else(|| s(v, "Recipient"))
        .ok_or("Postmark record without Email/Recipient")?;
    let at = s(v, "BouncedAt")
        .or_else(|| s(v, "DeliveredAt"))
        .or_else(|| s(v, "ReceivedAt"))
        .ok_or("Postmark record without BouncedAt/DeliveredAt")?;
    let time_ms = time::parse_iso(at).ok_or_else(|| format!("bad time {at:?}"))?;
    let text = s(v, "Details")
        .or_else(|| s(v, "Description"))
        .unwrap_or("")
        .to_string();
    let mut d = Draft {
        time_ms,
        recipient: email.to_string(),
        sender: s(v, "From").map(str::to_string),
        campaign: s(v, "Tag").map(str::to_string),
        message_id: s(v, "MessageID").map(str::to_string),
        outcome: Some(outcome),
        text,
        hint,
        identity: match string(v, "ID") {
            Some(id) => format!("{record}\u{1f}{id}"),
            None => format!(
                "{record}\u{1f}{}\u{1f}{at}",
                s(v, "MessageID").unwrap_or("")
            ),
        },
        ..Draft::default()
    };
    codes_into(&mut d);
    Ok(vec![d])
}

// ----------------------------------------------------------------- SparkPost

fn sparkpost(v: &Value) -> Result<Vec<Draft>, String> {
    let msys = v.get("msys").ok_or("SparkPost record without msys")?;
    let Some(e) = msys.get("message_event") else {
        // track_event, gen_event, unsubscribe_event, relay_event …
        return Ok(Vec::new());
    };
    let ty = s(e, "type").ok_or("message_event without type")?;
    let outcome = match ty {
        "delivery" => Outcome::Delivered,
        "bounce" | "out_of_band" => Outcome::Bounced,
        "delay" => Outcome::Deferred,
        "spam_complaint" => Outcome::Complained,
        "policy_rejection" => Outcome::Dropped,
        _ => return Ok(Vec::new()),
    };
    let class = string(e, "bounce_class");
    let hint = match class.as_deref() {
        Some("10") => Some(Reason::UserUnknown),
        Some("22") => Some(Reason::MailboxFull),
        Some("23") => Some(Reason::MesgTooBig),
        Some("50" | "51") => Some(Reason::Blocked),
        Some("52") => Some(Reason::SpamDetected),
        Some("53") => Some(Reason::ContentError),
        Some("54") => Some(Reason::NoRelaying),
        Some("60") => Some(Reason::Vacation),
        Some("25") => Some(Reason::Suppressed),
        _ if ty == "policy_rejection" => Some(Reason::Suppressed),
        _ => None,
    };
    let outcome = if hint == Some(Reason::Vacation) {
        Outcome::AutoReply
    } else {
        outcome
    };
    let time_ms = e
        .get("timestamp")
        .and_then(time::parse_epoch)
        .ok_or("message_event without a valid timestamp")?;
    let rcpt = s(e, "rcpt_to")
        .or_else(|| s(e, "raw_rcpt_to"))
        .ok_or("message_event without rcpt_to")?;
    let text = s(e, "raw_reason")
        .or_else(|| s(e, "reason"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            if outcome == Outcome::Complained {
                format!("complaint: {}", s(e, "fbtype").unwrap_or("abuse"))
            } else {
                String::new()
            }
        });
    let mut d = Draft {
        time_ms,
        recipient: rcpt.to_string(),
        sender: s(e, "msg_from")
            .or_else(|| s(e, "friendly_from"))
            .map(str::to_string),
        sending_ip: s(e, "sending_ip").map(str::to_string),
        campaign: s(e, "campaign_id").map(str::to_string),
        message_id: s(e, "message_id").map(str::to_string),
        outcome: Some(outcome),
        text,
        hint,
        identity: match string(e, "event_id") {
            Some(id) => id,
            None => format!(
                "{ty}\u{1f}{time_ms}\u{1f}{}",
                s(e, "message_id").unwrap_or("")
            ),
        },
        ..Draft::default()
    };
    if let Some(code) = string(e, "error_code").and_then(|c| c.parse::<u16>().ok()) {
        d.replycode = rebound_core::ReplyCode::new(code);
    }
    codes_into(&mut d);
    Ok(vec![d])
}
