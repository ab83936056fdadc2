//! Helpers shared by format decoders that work on the message or give
//! deliveries: reading DSN reports into deliveries, one reply per recipient,
//! a delivery from a stated reply. Pure text helpers are in `crate::text`,
//! address and field readers in `crate::dsn`.

use crate::delivery::Delivery;
use crate::dsn::{
    DeliveryStatus, clean_address, is_internal_route, looks_like_address, typed_value,
};
use crate::mail::{Headers, Mail};
use crate::text::{
    StatusBounds, contains_ignore_case, leading_reply_code, squash, status_in_with, unfold_reply,
};

/// Reads every recipient block of the mail's delivery-status report into a
/// delivery. Returns an empty list when there is no report or no recipient.
pub fn deliveries_from_report(mail: &Mail) -> Vec<Delivery> {
    let Some(report) = mail.report("delivery-status") else {
        return Vec::new();
    };
    deliveries_from_status(&DeliveryStatus::parse(report))
}

/// Turns parsed DSN blocks into deliveries, one per recipient.
pub fn deliveries_from_status(ds: &DeliveryStatus) -> Vec<Delivery> {
    let lhost = typed_value(ds.message.value("reporting-mta")).1.to_string();
    let message_date = ds
        .message
        .get("arrival-date")
        .or_else(|| ds.message.get("last-attempt-date"))
        .unwrap_or("");
    let mut out = Vec::new();
    for block in &ds.recipients {
        let final_rcpt = clean_address(block.value("final-recipient"));
        let original_rcpt = clean_address(block.value("original-recipient"));
        let usable_original =
            looks_like_address(&original_rcpt) && !is_internal_route(&original_rcpt);
        // A source route (`@relay:user@host`, RFC 5321's obsolete form) or
        // an internal routing name (`user@ims-ms-daemon`) is how the MTA
        // reached the mailbox, not the address the sender used.
        let routed = final_rcpt.starts_with('@') || is_internal_route(&final_rcpt);
        let recipient = if looks_like_address(&final_rcpt) && !(routed && usable_original) {
            final_rcpt
        } else if looks_like_address(&original_rcpt) {
            original_rcpt.clone()
        } else {
            // Neither field names a mailbox: the address after aliasing
            // that Sendmail and others add is the last one left.
            let actual = clean_address(block.value("x-actual-recipient"));
            if !looks_like_address(&actual) {
                continue;
            }
            actual
        };
        let (diagnostictype, diagnostic) = typed_value(block.value("diagnostic-code"));
        let alias = if !original_rcpt.is_empty() && !original_rcpt.eq_ignore_ascii_case(&recipient)
        {
            original_rcpt
        } else {
            String::new()
        };
        let status_field = block.value("status");
        let mut status = first_status(status_field);
        // The status the remote server itself wrote is first-hand; the
        // Status field is the reporting MTA's summary of it, sometimes a
        // catch-all (`5.0.0` over `550 #5.1.0 Address rejected`), sometimes
        // a default that contradicts it (`5.1.1` over `552 5.2.2 Over
        // quota`). A specific status of the same class in the reply wins,
        // as in the Sendmail decoder.
        if let (Some(s), Some(inner)) = (status, status_in_with(diagnostic, StatusBounds::Word))
            && !inner.is_generic()
            && inner.class_digit() == s.class_digit()
        {
            status = Some(inner);
        }
        // The comment of the Status field is the reporting MTA's own
        // explanation (`4.0.0 (host name lookup failure)`, PowerMTA's
        // `5.2.1 (mailbox disabled, not accepting messages)`): without a
        // Diagnostic-Code it is the only one; with one it is kept after the
        // remote reply (which must stay first, where its reply code is
        // read), so the classifier weighs both, as Sisimai does.
        let comment = status_comment(status_field);
        let diagnostic = if diagnostic.is_empty() {
            comment.to_string()
        } else if comment.is_empty() || contains_ignore_case(diagnostic, comment) {
            diagnostic.to_string()
        } else {
            format!("{diagnostic} ({comment})")
        };
        out.push(Delivery {
            recipient,
            alias,
            action: normalise_action(block.value("action")),
            status,
            replycode: None,
            diagnostic,
            diagnostictype,
            command: String::new(),
            rhost: typed_value(block.value("remote-mta")).1.to_string(),
            lhost: lhost.clone(),
            date: block
                .get("last-attempt-date")
                .unwrap_or(message_date)
                .to_string(),
            reason: None,
            feedbacktype: String::new(),
            standin: None,
            addresser: String::new(),
        });
    }
    out
}

/// When a format decoder gave several recipients one and the same reply
/// (its notice has one explanation for all) but the message also carries
/// a delivery-status report with a reply per recipient, each recipient
/// takes its own from the report: a notice's shared words must not stand
/// for every recipient's refusal. The report's status fills a missing one.
pub fn separate_shared_replies(mail: &Mail, deliveries: &mut [Delivery]) {
    let [first, rest @ ..] = deliveries else {
        return;
    };
    if rest.is_empty() || rest.iter().any(|d| d.diagnostic != first.diagnostic) {
        return;
    }
    let report = deliveries_from_report(mail);
    if report.len() < 2 {
        return;
    }
    // A report that repeats one reply for all (often cut shorter than the
    // notice's) has nothing of its own to give.
    let distinct = report.iter().any(|r| r.diagnostic != report[0].diagnostic);
    for d in deliveries.iter_mut() {
        let Some(own) = report
            .iter()
            .find(|r| r.recipient.eq_ignore_ascii_case(&d.recipient))
        else {
            continue;
        };
        if distinct && !own.diagnostic.is_empty() && own.diagnostic != d.diagnostic {
            d.diagnostic = own.diagnostic.clone();
            d.replycode = None;
            d.status = own
                .status
                .or(status_in_with(&own.diagnostic, StatusBounds::Word));
        } else if d.status.is_none() {
            d.status = own.status;
        }
    }
}

/// The parenthesised comment after a `Status:` value, if any.
pub fn status_comment(value: &str) -> &str {
    match (value.find('('), value.rfind(')')) {
        (Some(start), Some(end)) if start < end => value.get(start + 1..end).unwrap_or("").trim(),
        _ => "",
    }
}

/// A DSN `Action:` value in lower case, with the variants some MTAs write
/// (`deliverable`, `failure`) mapped onto RFC 3464's words.
pub fn normalise_action(value: &str) -> String {
    let v = value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase();
    match v.as_str() {
        "deliverable" => "delivered".to_string(),
        "failure" | "fail" => "failed".to_string(),
        _ => v,
    }
}

/// The enhanced status at the start of a `Status:` value (which may carry a
/// comment: `5.1.1 (user unknown)`).
pub fn first_status(value: &str) -> Option<rebound_core::EnhancedStatus> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
}

/// A delivery for a notice that states a recipient and a reply: the reply
/// code and enhanced status are read from the reply itself.
pub fn delivery_from_reply(recipient: String, reply: &str) -> Delivery {
    let diagnostic = squash(reply);
    Delivery {
        recipient,
        action: "failed".to_string(),
        status: status_in_with(&diagnostic, StatusBounds::Word),
        replycode: leading_reply_code(&diagnostic),
        diagnostic,
        ..Delivery::default()
    }
}

/// A delivery from one RFC 3464 recipient block, its reply unfolded into
/// one line. The alias and anything the notice's text adds are the caller's.
pub(crate) fn delivery_from_block(
    block: &Headers,
    recipient: String,
    lhost: &str,
    date: &str,
) -> Delivery {
    let (diagnostictype, diag) = typed_value(block.value("diagnostic-code"));
    Delivery {
        recipient,
        action: block.value("action").trim().to_ascii_lowercase(),
        status: first_status(block.value("status")),
        diagnostic: unfold_reply(diag),
        diagnostictype,
        rhost: typed_value(block.value("remote-mta")).1.to_string(),
        lhost: lhost.to_string(),
        date: block.get("last-attempt-date").unwrap_or(date).to_string(),
        ..Delivery::default()
    }
}

/// At most this many recipients are read from one message: the decoders
/// match each recipient against the notice's text, and a real bounce never
/// lists more.
pub(crate) const MAX_RECIPIENTS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsn::DeliveryStatus;

    #[test]
    fn status_with_comment() {
        assert_eq!(first_status("5.1.1 (bad)").unwrap().to_string(), "5.1.1");
        assert!(first_status("").is_none());
    }
    #[test]
    fn status_details_from_the_report() {
        let ds = DeliveryStatus::parse(
            "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@x.example\nAction: failed\n\
Status: 5.0.0\nDiagnostic-Code: smtp; 550 #5.1.0 Address rejected.\n\n\
Final-Recipient: rfc822; b@x.example\nAction: delayed\nStatus: 4.0.0 (x.example: host name lookup failure)\n\n\
Final-Recipient: rfc822; c@x.example\nAction: failed\nStatus: 5.2.1 (mailbox disabled, not accepting messages)\n\
Diagnostic-Code: smtp;550 5.2.1 <c@x.example>... User Unknown\n\n\
Final-Recipient: rfc822; d@x.example\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 552 5.2.2 Over quota\n\n\
Final-Recipient: rfc822; e@x.example\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 452 4.2.2 Over quota\n",
        );
        let found = deliveries_from_status(&ds);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.0");
        assert_eq!(found[0].diagnostic, "550 #5.1.0 Address rejected.");
        assert_eq!(found[1].status.unwrap().to_string(), "4.0.0");
        assert_eq!(found[1].diagnostic, "x.example: host name lookup failure");
        // The reporting MTA's comment follows the remote reply, which stays
        // first so that its reply code is still read from the start.
        assert_eq!(
            found[2].diagnostic,
            "550 5.2.1 <c@x.example>... User Unknown (mailbox disabled, not accepting messages)"
        );
        // The server's own specific status beats the report's default...
        assert_eq!(found[3].status.unwrap().to_string(), "5.2.2");
        // ...but not across classes: the report's class is the MTA's verdict.
        assert_eq!(found[4].status.unwrap().to_string(), "5.1.1");
    }

    #[test]
    fn replies_give_their_codes() {
        let d = delivery_from_reply("a@b.example".into(), "552 over  quota (#5.2.2)");
        assert_eq!(d.replycode.unwrap().get(), 552);
        assert_eq!(d.status.unwrap().to_string(), "5.2.2");
        assert_eq!(d.diagnostic, "552 over quota (#5.2.2)");
    }
}
