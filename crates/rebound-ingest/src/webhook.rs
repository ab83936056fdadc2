//! ESP webhook JSON, as the providers document them: Amazon SES (raw or in an
//! SNS envelope), SendGrid event webhook (and its bounce-list API entries),
//! Mailgun (webhook `event-data` or Events API items), Postmark
//! bounce/delivery/spam webhooks, SparkPost `msys` events, Mailjet Event API
//! posts, Brevo (Sendinblue) transactional webhooks, Mandrill (Mailchimp
//! Transactional) `mandrill_events`, Resend webhooks.
//!
//! Every provider states its own verdict on a failure (SES `bounceType` and
//! `bounceSubType`, SendGrid `type` and `bounce_classification`, Mailgun
//! `severity` and `reason`, Postmark `Type`/`TypeCode`, SparkPost
//! `bounce_class`). One table per provider, below, turns that verdict into
//! an [`EspVerdict`]: the outcome, a reason hint the classifier uses only
//! when the reply text names no reason of its own (step 7 of
//! `rebound_classify`), and whether the provider calls the failure
//! temporary or a block of the sender, which never makes a hard bounce
//! whatever the text says (see `Normaliser::finish`).
//!
//! Record kinds that carry no delivery outcome (opens, clicks, `processed`,
//! subscription changes…) give no events and are counted by the reader;
//! a kind no table knows is an error naming it, never dropped silently.
//! A record without a timestamp takes the time it was received.

use crate::{Draft, Format, Outcome, smtp_command_in, time};
use rebound_classify::reply;
use rebound_core::Reason;
use serde_json::Value;

/// What one provider's own classification of an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EspVerdict {
    pub outcome: Outcome,
    /// The reason the classification names, as a hint: a specific phrase
    /// or status in the reply text still decides.
    pub hint: Option<Reason>,
    /// A broad class ("general hard bounce", "generic bounce"): its hint is
    /// dropped when the reply's enhanced status puts the problem on the
    /// sender's side (`5.7.1` under SES Permanent/General is a policy
    /// refusal, not a dead address).
    pub broad: bool,
    /// The provider calls the failure temporary, or a block of the sender:
    /// the event is never a hard bounce, whatever the text says.
    pub temporary: bool,
}

/// A row of a provider table: an event with a verdict, or a kind that
/// carries no delivery outcome for the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Row {
    Event(EspVerdict),
    NotDelivery,
}

const fn row(outcome: Outcome, hint: Option<Reason>, broad: bool, temporary: bool) -> Row {
    Row::Event(EspVerdict {
        outcome,
        hint,
        broad,
        temporary,
    })
}
/// A permanent failure whose class names a specific reason.
const fn permanent(r: Reason) -> Row {
    row(Outcome::Bounced, Some(r), false, false)
}
/// A permanent failure of a broad class.
const fn broad(r: Option<Reason>) -> Row {
    row(Outcome::Bounced, r, true, false)
}
/// A failure the provider calls temporary, or a block of the sender.
const fn temporary(r: Option<Reason>) -> Row {
    row(Outcome::Bounced, r, false, true)
}
/// Not attempted: the provider's own list or policy.
const fn dropped(r: Reason) -> Row {
    row(Outcome::Dropped, Some(r), false, false)
}
/// Not attempted, for a reason the provider's table does not name.
const DROPPED_UNKNOWN: Row = row(Outcome::Dropped, None, false, false);
const DEFERRED: Row = row(Outcome::Deferred, None, false, true);
const DELIVERED: Row = row(Outcome::Delivered, None, false, false);
const COMPLAINED: Row = row(Outcome::Complained, None, false, false);
const AUTOREPLY: Row = row(Outcome::AutoReply, Some(Reason::Vacation), false, false);
const BOUNCED: Row = broad(None);

/// The row of the first key `hit` accepts.
fn lookup<K: Copy>(table: &[(K, Row)], hit: impl Fn(K) -> bool) -> Option<Row> {
    table.iter().find(|(k, _)| hit(*k)).map(|(_, r)| *r)
}

/// A key matcher: names are compared ASCII case-insensitively.
fn eq(a: &str) -> impl Fn(&str) -> bool + '_ {
    move |k: &str| k.eq_ignore_ascii_case(a)
}

// ---------------------------------------------------------------- Amazon SES

/// SES bounce types and subtypes, from "Amazon SNS notification contents
/// for Amazon SES", section "Bounce types":
/// https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html#bounce-types
const SES_BOUNCES: &[((&str, &str), Row)] = &[
    // "Amazon SES received a general hard bounce. If you receive this type
    // of bounce, you should remove the recipient's email address from your
    // mailing list." The only reason whose verdict says "this address is
    // dead, stop" without claiming more (a dead domain, a move) is
    // userunknown; without it a bounce with no diagnostic ends as onhold
    // and the address SES told us to remove would be mailed again. Broad:
    // a specific status in the diagnostic (`5.7.1`) still decides.
    (("Permanent", "General"), broad(Some(Reason::UserUnknown))),
    // "...the email address doesn't exist."
    (("Permanent", "NoEmail"), permanent(Reason::UserUnknown)),
    // "Amazon SES has suppressed sending to this address because it has a
    // recent history of bouncing as an invalid address": SES's global
    // list, fed by every SES sender, so this may be the first we hear of
    // it; unlike the account-level list below, SES counts these towards
    // the sender's bounce rate. The address is invalid: suppress.
    (("Permanent", "Suppressed"), permanent(Reason::UserUnknown)),
    // The account's own suppression list: not sent, "does not count toward
    // your bounce rate"; the ledger learns nothing new from an ESP's own
    // list.
    (
        ("Permanent", "OnAccountSuppressionList"),
        dropped(Reason::Suppressed),
    ),
    // "You may be able to successfully send to this recipient in the
    // future."
    (("Transient", "General"), temporary(None)),
    (
        ("Transient", "MailboxFull"),
        temporary(Some(Reason::MailboxFull)),
    ),
    (
        ("Transient", "MessageTooLarge"),
        temporary(Some(Reason::MesgTooBig)),
    ),
    (
        ("Transient", "ContentRejected"),
        temporary(Some(Reason::ContentError)),
    ),
    (
        ("Transient", "AttachmentRejected"),
        temporary(Some(Reason::ContentError)),
    ),
    // "Amazon SES was unable to determine a specific bounce reason."
    (("Undetermined", "Undetermined"), BOUNCED),
];

/// A subtype SES adds later falls back to its type's general row.
fn ses_bounce(btype: &str, sub: &str) -> Row {
    lookup(SES_BOUNCES, |(t, s)| {
        t.eq_ignore_ascii_case(btype) && s.eq_ignore_ascii_case(sub)
    })
    .or_else(|| {
        lookup(SES_BOUNCES, |(t, s)| {
            t.eq_ignore_ascii_case(btype) && s == "General"
        })
    })
    .unwrap_or(BOUNCED)
}

/// SES `delayType`s of a DeliveryDelay event (always a deferral), from
/// "Contents of event data that Amazon SES publishes to Amazon SNS",
/// section "DeliveryDelay object":
/// https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
const SES_DELAY_TYPES: &[(&str, Option<Reason>)] = &[
    ("InternalFailure", Some(Reason::SystemError)),
    ("General", None),
    ("MailboxFull", Some(Reason::MailboxFull)),
    // "...detected a large amount of unsolicited email from your account."
    ("SpamDetected", Some(Reason::BadReputation)),
    ("RecipientServerError", Some(Reason::SystemError)),
    // "The IP address that's sending the message is being blocked or
    // throttled by the recipient's email provider."
    ("IPFailure", Some(Reason::Blocked)),
    ("TransientCommunicationFailure", Some(Reason::NetworkError)),
    ("BYOIPHostNameLookupUnavailable", Some(Reason::NetworkError)),
    ("Undetermined", None),
    ("SendingDeferral", None),
];

/// SES notification and event types that are not about a recipient's
/// delivery (event publishing: "Send", "Open", "Click", "Subscription";
/// the SNS set-up test message):
/// https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
const SES_NOT_DELIVERY: &[&str] = &[
    "Send",
    "Open",
    "Click",
    "Subscription",
    "AmazonSnsSubscriptionSucceeded",
];

/// SES event types for a message SES accepted and then never sent, with
/// the object that says why, the field holding the words and the reason:
/// "Reject" (SES found a virus in it) and "Rendering Failure" (its
/// template could not be rendered). Each of the message's destinations
/// gets a dropped event, so a sender sees the content problem per campaign
/// and provider; the recipient did nothing wrong.
const SES_NOT_SENT: &[(&str, &str, &str, Reason)] = &[
    ("Reject", "reject", "reason", Reason::VirusDetected),
    (
        "Rendering Failure",
        "failure",
        "errorMessage",
        Reason::ContentError,
    ),
];

// ------------------------------------------------------------------ SendGrid

/// SendGrid event types, from the Event Webhook reference:
/// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
const SENDGRID_EVENTS: &[(&str, Row)] = &[
    ("delivered", DELIVERED),
    ("deferred", DEFERRED),
    // `type` below tells a bounce from a block.
    ("bounce", BOUNCED),
    ("dropped", dropped(Reason::Suppressed)),
    ("spamreport", COMPLAINED),
    // Delivery event before any attempt, engagement and account events.
    ("processed", Row::NotDelivery),
    ("open", Row::NotDelivery),
    ("click", Row::NotDelivery),
    ("unsubscribe", Row::NotDelivery),
    ("group_unsubscribe", Row::NotDelivery),
    ("group_resubscribe", Row::NotDelivery),
    ("account_status_change", Row::NotDelivery),
];

/// The bounce event's `type`: "bounce" when the receiving server rejected
/// the address, "blocked" when it refused the message for reasons of the
/// sender (IP, content, reputation); SendGrid does not suppress blocked
/// addresses, and neither do we.
const SENDGRID_BOUNCE_TYPES: &[(&str, Row)] = &[
    ("bounce", broad(Some(Reason::UserUnknown))),
    ("blocked", temporary(Some(Reason::Blocked))),
];

/// `bounce_classification`, from "Bounce and Block Classifications":
/// https://www.twilio.com/docs/sendgrid/ui/analytics-and-reporting/bounce-and-block-classifications
/// (the API's enum spells two of them longer: "Technical Failure",
/// "Frequency or Volume Too High"). SendGrid derived these from the reply,
/// so they are not broad; the temporary flag comes from `type`.
const SENDGRID_CLASSIFICATIONS: &[(&str, Option<Reason>)] = &[
    // "the recipient's email address is syntactically incorrect or the
    // recipient's mailbox does not exist"
    ("Invalid Address", Some(Reason::UserUnknown)),
    ("Invalid", Some(Reason::UserUnknown)),
    // DNS, connection, TLS or configuration trouble on either side.
    ("Technical", Some(Reason::SystemError)),
    ("Technical Failure", Some(Reason::SystemError)),
    ("Content", Some(Reason::ContentError)),
    ("Reputation", Some(Reason::BadReputation)),
    ("Frequency or Volume", Some(Reason::Speeding)),
    ("Frequency or Volume Too High", Some(Reason::Speeding)),
    // Full, inactive or disabled mailboxes: retry, suppress if it lasts.
    ("Mailbox Unavailable", Some(Reason::Suspend)),
    ("Unclassified", None),
];

/// `dropped` reasons (Event Webhook reference, "dropped"): SendGrid did not
/// send. Every one is "not attempted"; the reason says why.
const SENDGRID_DROP_REASONS: &[(&str, Row)] = &[
    ("Bounced Address", dropped(Reason::Suppressed)),
    ("Unsubscribed Address", dropped(Reason::Suppressed)),
    ("Spam Reporting Address", dropped(Reason::Suppressed)),
    ("Invalid", dropped(Reason::UserUnknown)),
    ("Invalid SMTPAPI header", dropped(Reason::SyntaxError)),
    (
        "Spam Content (if spam checker app enabled)",
        dropped(Reason::SpamDetected),
    ),
    ("Spam Content", dropped(Reason::SpamDetected)),
    // The account's plan allows fewer recipients than the list holds: the
    // sender's own limit, never a fault of the address.
    (
        "Recipient List over Package Quota",
        dropped(Reason::Speeding),
    ),
];

// ------------------------------------------------------------------- Mailgun

/// Mailgun event types, from "Events" (event types and structure):
/// https://documentation.mailgun.com/docs/mailgun/user-manual/events/
/// `failed` is split by `severity` below.
const MAILGUN_EVENTS: &[(&str, Row)] = &[
    ("delivered", DELIVERED),
    ("failed", BOUNCED),
    ("complained", COMPLAINED),
    // Mailgun refused the request to send (an unauthorised sandbox
    // recipient, a disabled domain…): not attempted, and not a suppression
    // list either, so no reason is given; `reject.reason` is the text.
    ("rejected", row(Outcome::Dropped, None, false, false)),
    ("accepted", Row::NotDelivery),
    ("opened", Row::NotDelivery),
    ("clicked", Row::NotDelivery),
    ("unsubscribed", Row::NotDelivery),
    ("stored", Row::NotDelivery),
    ("list_member_uploaded", Row::NotDelivery),
    ("list_member_upload_error", Row::NotDelivery),
    ("list_uploaded", Row::NotDelivery),
];

/// A `failed` event's `reason` when `severity` is "permanent" (same page,
/// "failed"). "temporary" failures are deferrals whatever the reason.
const MAILGUN_PERMANENT_REASONS: &[(&str, Row)] = &[
    // The receiving server refused for good; Mailgun adds the address to
    // its bounce list, so a text without a reason of its own means a dead
    // address, as SES's Permanent/General.
    ("bounce", broad(Some(Reason::UserUnknown))),
    // Not sent: the address is on one of Mailgun's suppression lists.
    ("suppress-bounce", dropped(Reason::Suppressed)),
    ("suppress-complaint", dropped(Reason::Suppressed)),
    ("suppress-unsubscribe", dropped(Reason::Suppressed)),
    // Retried until the message was too old.
    (
        "old",
        row(Outcome::Expired, Some(Reason::Expired), false, false),
    ),
    // The receiving ESP blocked the sender.
    ("espblock", temporary(Some(Reason::Blocked))),
    ("generic", BOUNCED),
];

// ------------------------------------------------------------------ Postmark

/// Postmark bounce types by name and `TypeCode`, from "Bounce API", section
/// "Bounce types": https://postmarkapp.com/developer/api/bounce-api#bounce-types
const POSTMARK_TYPES: &[(&str, u64, Row)] = &[
    // "The server was unable to deliver your message (ex: unknown user,
    // mailbox not found)."
    ("HardBounce", 1, broad(Some(Reason::UserUnknown))),
    // "Message delayed/Undeliverable": the server could not temporarily
    // deliver.
    ("Transient", 2, DEFERRED),
    // Subscription requests by mail: list management, not delivery.
    ("Unsubscribe", 16, Row::NotDelivery),
    ("Subscribe", 32, Row::NotDelivery),
    ("AutoResponder", 64, AUTOREPLY),
    // "The recipient has requested an address change."
    ("AddressChange", 128, permanent(Reason::HasMoved)),
    // "A temporary DNS error."
    ("DnsError", 256, temporary(Some(Reason::NetworkError))),
    // Delivered, then blocked by the user or classified as spam.
    ("SpamNotification", 512, permanent(Reason::SpamDetected)),
    // "The NDR is actually a test email message to see if the mail server
    // is an open relay."
    ("OpenRelayTest", 1024, Row::NotDelivery),
    // "Unable to classify the NDR."
    ("Unknown", 2048, BOUNCED),
    // "Unable to temporarily deliver message (i.e. mailbox full, account
    // disabled, exceeds quota, out of disk space)."
    ("SoftBounce", 4096, temporary(None)),
    ("VirusNotification", 8192, permanent(Reason::VirusDetected)),
    // A challenge-response system asks the sender to verify itself.
    ("ChallengeVerification", 16384, Row::NotDelivery),
    // "The address is not a valid email address."
    ("BadEmailAddress", 100000, permanent(Reason::UserUnknown)),
    ("SpamComplaint", 100001, COMPLAINED),
    // Not sent: deactivated by hand, or the subscriber never confirmed.
    ("ManuallyDeactivated", 100002, dropped(Reason::Suppressed)),
    ("Unconfirmed", 100003, dropped(Reason::Suppressed)),
    // "Sender is blocked by ISP" (content or blocklisting).
    ("Blocked", 100006, temporary(Some(Reason::Blocked))),
    // Postmark's SMTP API refused the submission: never sent.
    ("SMTPApiError", 100007, dropped(Reason::SyntaxError)),
    // An inbound (receiving) processing error, not an outbound delivery.
    ("InboundError", 1000, Row::NotDelivery),
    ("DMARCPolicy", 100009, permanent(Reason::AuthFailure)),
    // The template did not render: never sent.
    (
        "TemplateRenderingFailed",
        100010,
        dropped(Reason::ContentError),
    ),
];

/// Postmark webhook `RecordType`s other than bounces:
/// https://postmarkapp.com/developer/webhooks/webhooks-overview
const POSTMARK_RECORDS: &[(&str, Row)] = &[
    ("Delivery", DELIVERED),
    ("SpamComplaint", COMPLAINED),
    ("Open", Row::NotDelivery),
    ("Click", Row::NotDelivery),
    ("SubscriptionChange", Row::NotDelivery),
];

// ----------------------------------------------------------------- SparkPost

/// SparkPost `bounce_class`, from "Bounce Classification Codes":
/// https://support.sparkpost.com/docs/deliverability/bounce-classification-codes
/// with its category: Hard, Soft, Block, Admin, Undetermined.
const SPARKPOST_CLASSES: &[(u16, Row)] = &[
    (1, BOUNCED),                                  // Undetermined
    (10, permanent(Reason::UserUnknown)),          // Invalid Recipient (Hard)
    (20, temporary(None)),                         // Soft Bounce (Soft)
    (21, temporary(Some(Reason::NetworkError))),   // DNS Failure (Soft)
    (22, temporary(Some(Reason::MailboxFull))),    // Mailbox Full (Soft)
    (23, temporary(Some(Reason::MesgTooBig))),     // Too Large (Soft)
    (24, temporary(Some(Reason::NetworkError))),   // Timeout (Soft)
    (25, dropped(Reason::Suppressed)),             // Admin Failure (Admin)
    (26, dropped(Reason::Suppressed)),             // Smart Send Suppression (Admin)
    (30, broad(Some(Reason::UserUnknown))),        // Generic Bounce: No RCPT (Hard)
    (40, row(Outcome::Bounced, None, true, true)), // Generic Bounce (Soft)
    (50, temporary(Some(Reason::Blocked))),        // Mail Block (Block)
    (51, temporary(Some(Reason::Blocked))),        // Spam Block (Block)
    (52, temporary(Some(Reason::SpamDetected))),   // Spam Content (Block)
    (53, temporary(Some(Reason::ContentError))),   // Prohibited Attachment (Block)
    (54, temporary(Some(Reason::NoRelaying))),     // Relaying Denied (Block)
    (60, AUTOREPLY),                               // Auto-Reply (Soft)
    (70, temporary(None)),                         // Transient Failure (Soft)
    // Subscribe (Admin), Unsubscribe (Hard) and Challenge-Response (Soft)
    // are messages about the list or the sender, not a delivery failure;
    // SparkPost's own list acts on the unsubscribe.
    (80, Row::NotDelivery),
    (90, Row::NotDelivery),
    (100, Row::NotDelivery),
];

/// SparkPost `message_event` types, from "Event Types":
/// https://developers.sparkpost.com/api/events/#header-event-types
const SPARKPOST_MESSAGE_EVENTS: &[(&str, Row)] = &[
    ("delivery", DELIVERED),
    ("bounce", BOUNCED),
    ("out_of_band", BOUNCED),
    ("delay", DEFERRED),
    ("spam_complaint", COMPLAINED),
    ("policy_rejection", dropped(Reason::Suppressed)),
    ("injection", Row::NotDelivery),
    // A `gen_event`: "Message generation failed for an intended recipient"
    // (a template that did not render for this recipient's data). Never
    // sent, so no suppression; the content is the cause, as with SES's
    // "Rendering Failure".
    ("generation_failure", dropped(Reason::ContentError)),
    ("generation_rejection", Row::NotDelivery),
    ("sms_status", Row::NotDelivery),
];

/// The other `msys` event groups: engagement, relay, A/B tests, ingest.
const SPARKPOST_GROUPS: &[&str] = &[
    "track_event",
    "gen_event",
    "unsubscribe_event",
    "relay_event",
    "ab_test_event",
    "ingest_event",
];

/// What one record gives.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub drafts: Vec<Draft>,
    /// For a record that carries no delivery outcome: its provider and
    /// kind (`sendgrid open`), for the reader's count.
    pub skipped: Option<String>,
}

impl Parsed {
    fn events(drafts: Vec<Draft>) -> Self {
        Self {
            drafts,
            skipped: None,
        }
    }
    fn skip(format: Format, kind: &str) -> Self {
        // Kinds come from the tables, so the count has a bounded key set.
        Self {
            drafts: Vec::new(),
            skipped: Some(format!("{format} {kind}")),
        }
    }
}

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
    if o.get("type").and_then(Value::as_str).is_some_and(|t| {
        t.starts_with("email.") || t.starts_with("contact.") || t.starts_with("domain.")
    }) && o.get("data").is_some_and(Value::is_object)
    {
        return Some(Format::Resend);
    }
    if o.contains_key("msg") && o.contains_key("event") && o.contains_key("ts") {
        return Some(Format::Mandrill);
    }
    if o.contains_key("sg_event_id") || o.contains_key("sg_message_id") {
        return Some(Format::Sendgrid);
    }
    if [
        "mj_message_id",
        "mj_campaign_id",
        "mj_contact_id",
        "Message_GUID",
        "error_related_to",
    ]
    .iter()
    .any(|k| o.contains_key(*k))
    {
        return Some(Format::Mailjet);
    }
    if o.contains_key("event")
        && ["ts_epoch", "ts_event", "message-id"]
            .iter()
            .any(|k| o.contains_key(*k))
    {
        return Some(Format::Brevo);
    }
    if o.contains_key("email") && o.contains_key("event") {
        return Some(Format::Sendgrid);
    }
    if o.contains_key("event") && (o.contains_key("recipient") || o.contains_key("delivery-status"))
    {
        return Some(Format::Mailgun);
    }
    // An entry of SendGrid's bounce (or block) list API.
    if o.contains_key("email")
        && o.contains_key("created")
        && (o.contains_key("reason") || o.contains_key("status"))
    {
        return Some(Format::Sendgrid);
    }
    None
}

/// How Mandrill's webhook body starts: a form (`application/x-www-form-urlencoded`)
/// whose `mandrill_events` field holds the events' JSON.
pub(crate) const MANDRILL_FORM_FIELD: &str = "mandrill_events=";

/// One Mandrill form body, read: all its fields (what Mandrill signs) and
/// the JSON text of its `mandrill_events` field.
pub struct MandrillForm {
    pub fields: Vec<(String, String)>,
    pub events: String,
}

/// Reads one Mandrill form body, as posted or as saved from a request.
pub fn mandrill_form(form: &[u8]) -> Result<MandrillForm, String> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(form)
        .map_err(|e| format!("mandrill: neither JSON nor a form body: {e}"))?;
    let events = fields
        .iter()
        .find(|(k, _)| k == "mandrill_events")
        .map(|(_, v)| v.clone())
        .ok_or("mandrill: a form body without mandrill_events")?;
    Ok(MandrillForm { fields, events })
}

/// The events of one Mandrill form body saved as a line of a file, for
/// [`records`] to split.
pub(crate) fn mandrill_form_events(form: &str) -> Result<Value, String> {
    let form = mandrill_form(form.as_bytes())?;
    serde_json::from_str(&form.events)
        .map_err(|e| format!("mandrill: invalid JSON in mandrill_events: {e}"))
}

/// Splits a document into records: an array's elements, a Mailgun Events
/// API page's `items`, Mandrill's `mandrill_events` (an array, or the JSON
/// text of one as its form field carries it), or the object itself. An
/// array of such documents (request bodies kept together in one file:
/// SendGrid's arrays, Mandrill's posts) is split once more; deeper nesting
/// is left as it is, and its elements fail as records of their own.
pub(crate) fn records(v: Value) -> Vec<Value> {
    split_records(v, 0)
}

fn split_records(v: Value, depth: u8) -> Vec<Value> {
    let is_document = |e: &Value| match e {
        Value::Array(_) => true,
        Value::Object(o) => {
            o.contains_key("mandrill_events") || o.get("items").is_some_and(Value::is_array)
        }
        _ => false,
    };
    match v {
        Value::Array(a) if depth == 0 && a.iter().any(is_document) => a
            .into_iter()
            .flat_map(|e| {
                if is_document(&e) {
                    split_records(e, depth + 1)
                } else {
                    vec![e]
                }
            })
            .collect(),
        Value::Array(a) => a,
        Value::Object(mut o) if o.contains_key("mandrill_events") => {
            match o.remove("mandrill_events") {
                Some(Value::Array(a)) => a,
                Some(Value::String(text)) => match serde_json::from_str(&text) {
                    Ok(Value::Array(a)) => a,
                    Ok(other) => vec![other],
                    // Kept as it came: reading it then fails with a clear
                    // error for this record alone.
                    Err(_) => vec![Value::String(text)],
                },
                _ => Vec::new(),
            }
        }
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
/// decide. `received_ms` is the time of a record that states none.
pub(crate) fn record(
    v: &Value,
    format: Format,
    received_ms: i64,
) -> Result<(Format, Parsed), String> {
    let format = match format {
        Format::Auto => provider_of(v).ok_or("not a webhook event of a known provider")?,
        f => f,
    };
    if !v.is_object() {
        return Err("a webhook record must be a JSON object".into());
    }
    let parsed = match format {
        Format::Ses => ses(v, received_ms)?,
        Format::Sendgrid => sendgrid(v, received_ms)?,
        Format::Mailgun => mailgun(v, received_ms)?,
        Format::Postmark => postmark(v, received_ms)?,
        Format::Sparkpost => sparkpost(v, received_ms)?,
        Format::Mailjet => mailjet(v, received_ms)?,
        Format::Brevo => brevo(v, received_ms)?,
        Format::Mandrill => mandrill(v, received_ms)?,
        Format::Resend => resend(v, received_ms)?,
        other => return Err(format!("{other} is not a webhook format")),
    };
    Ok((format, parsed))
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

/// The event's own time, or the time it was received when it states none
/// (or one that cannot be read): the record is still evidence.
fn time_or(stated: Option<i64>, received_ms: i64) -> i64 {
    stated.unwrap_or(received_ms)
}

/// The stated time as it enters an identity: the parsed milliseconds, as
/// always (stored keys depend on it), or nothing when none is stated: the
/// time of receipt would make a re-post a new event.
fn stamp_of(stated: Option<&Value>) -> String {
    stated
        .and_then(time::parse_epoch)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The ESP's own classification fields of a record as stated
/// (`bounceType=Permanent; bounceSubType=General`), kept with the event's
/// evidence; `None` when it states none of them.
fn esp_fields(v: &Value, keys: &[&str]) -> Option<String> {
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| string(v, k).map(|x| format!("{k}={x}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn apply(d: &mut Draft, v: EspVerdict) {
    d.outcome = Some(v.outcome);
    d.hint = v.hint;
    d.hint_is_broad = v.broad;
    d.temporary = v.temporary;
}

/// Completes a draft from its text: reply code, enhanced status (a specific
/// one in the text replaces a generic `x.0.0` the ESP put in a field),
/// command; then drops a broad class's hint when the status says more.
fn codes_into(d: &mut Draft) {
    let (code, status) = reply::codes(&d.text);
    if d.replycode.is_none() {
        d.replycode = code;
    }
    match (d.status, status) {
        (None, s) => d.status = s,
        (Some(field), Some(text))
            if field.is_generic()
                && !text.is_generic()
                && field.class_digit() == text.class_digit() =>
        {
            d.status = Some(text)
        }
        _ => {}
    }
    if d.smtpcommand.is_none() {
        d.smtpcommand = smtp_command_in(&d.text);
    }
    if d.hint_is_broad && d.status.is_some_and(says_sender_side) {
        d.hint = None;
    }
}

/// An enhanced status whose subject puts the problem on the sender's side
/// (RFC 3463: x.5.x protocol, x.6.x message content or media, x.7.x
/// security or policy): a broad "hard bounce" class of the ESP must not
/// turn it into a dead address. Address, mailbox, mail system and routing
/// subjects (x.1 to x.4) leave the class standing where the status table
/// only guesses (`5.4.1` is how Microsoft refuses a recipient it does not
/// have).
fn says_sender_side(s: rebound_core::EnhancedStatus) -> bool {
    matches!(s.subject(), 5..=7)
}

// ---------------------------------------------------------------- Amazon SES

/// An SES notification, raw or in its SNS envelope: one draft per
/// recipient of a bounce, complaint, delivery or delay; other kinds are
/// counted as skipped.
fn ses(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    // SNS envelope: the notification is a JSON string in `Message`.
    match v.get("Type").and_then(Value::as_str) {
        Some("Notification") => {
            let msg = s(v, "Message").ok_or("SNS envelope without Message")?;
            let inner: Value =
                serde_json::from_str(msg).map_err(|e| format!("SNS Message is not JSON: {e}"))?;
            return ses(&inner, received_ms);
        }
        Some(kind @ ("SubscriptionConfirmation" | "UnsubscribeConfirmation")) => {
            return Ok(Parsed::skip(Format::Ses, kind));
        }
        _ => {}
    }
    let kind = s(v, "notificationType")
        .or_else(|| s(v, "eventType"))
        .ok_or("SES notification without notificationType/eventType")?;
    let base = ses_message(v.get("mail").unwrap_or(&Value::Null));
    let part = |key: &str| v.get(key).ok_or(format!("{kind} without {key}"));
    let drafts = match kind {
        "Bounce" => match ses_bounces(part("bounce")?, &base, received_ms)? {
            Some(drafts) => drafts,
            None => return Ok(Parsed::skip(Format::Ses, kind)),
        },
        "Complaint" => ses_complaints(part("complaint")?, &base, received_ms)?,
        "Delivery" => ses_deliveries(part("delivery")?, &base, received_ms)?,
        "DeliveryDelay" => ses_delays(part("deliveryDelay")?, &base, received_ms)?,
        k if let Some(&(_, key, field, reason)) = SES_NOT_SENT
            .iter()
            .find(|(n, ..)| n.eq_ignore_ascii_case(k)) =>
        {
            let detail = v.get(key).and_then(|o| s(o, field)).unwrap_or("");
            ses_not_sent(
                v.get("mail").unwrap_or(&Value::Null),
                k,
                &base,
                reason,
                detail,
                received_ms,
            )?
        }
        k if SES_NOT_DELIVERY.iter().any(|n| n.eq_ignore_ascii_case(k)) => {
            return Ok(Parsed::skip(Format::Ses, k));
        }
        k => return Err(format!("unknown SES notification type {k:?}")),
    };
    Ok(Parsed::events(drafts))
}

/// What the notification's `mail` object says about the message, common
/// to every recipient's draft: sender, message id, sending IP and campaign
/// (an `X-Campaign` or `List-ID` header, else the `campaign` tag).
fn ses_message(mail: &Value) -> Draft {
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
    Draft {
        sender: s(mail, "source").map(str::to_string),
        sending_ip: tag("ses:outgoing-ip"),
        campaign: header("X-Campaign")
            .or_else(|| header("List-ID"))
            .or_else(|| tag("campaign")),
        message_id: s(mail, "messageId").map(str::to_string),
        ..Draft::default()
    }
}

/// The stated time of an SES event object (raw, for the identity) and the
/// event time.
fn ses_stamp(o: &Value, received_ms: i64) -> (String, i64) {
    let ts = s(o, "timestamp").unwrap_or("");
    (ts.to_string(), time_or(time::parse_iso(ts), received_ms))
}

/// The recipients list `key` of an event object, which must be there.
fn ses_recipients<'v>(o: &'v Value, what: &str, key: &str) -> Result<&'v Vec<Value>, String> {
    o.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{what} without {key}"))
}

/// A draft for one recipient of an event at `time_ms`, with the identity
/// `kind, message id, parts…`.
fn ses_draft(base: &Draft, kind: &str, time_ms: i64, recipient: &str, parts: &[&str]) -> Draft {
    let mut d = base.clone();
    d.time_ms = time_ms;
    d.recipient = recipient.to_string();
    d.identity = format!("{kind}\u{1f}{}", d.message_id.as_deref().unwrap_or(""));
    for p in parts {
        d.identity.push('\u{1f}');
        d.identity.push_str(p);
    }
    d
}

/// A bounce's recipients, judged by the bounce type and subtype
/// (`ses_bounce`); `None` when that table says the kind is no delivery
/// outcome.
fn ses_bounces(b: &Value, base: &Draft, received_ms: i64) -> Result<Option<Vec<Draft>>, String> {
    let (ts, time_ms) = ses_stamp(b, received_ms);
    let btype = s(b, "bounceType").unwrap_or("Undetermined");
    let sub = s(b, "bounceSubType").unwrap_or("");
    let Row::Event(verdict) = ses_bounce(btype, sub) else {
        return Ok(None);
    };
    let feedback = s(b, "feedbackId").unwrap_or("");
    let mut out = Vec::new();
    for r in ses_recipients(b, "bounce", "bouncedRecipients")? {
        let address = s(r, "emailAddress").unwrap_or("");
        let mut d = ses_draft(base, "Bounce", time_ms, address, &[feedback, &ts]);
        apply(&mut d, verdict);
        d.esp = esp_fields(b, &["bounceType", "bounceSubType"]);
        d.text = s(r, "diagnosticCode")
            .map(|t| t.strip_prefix("smtp;").unwrap_or(t).trim().to_string())
            .unwrap_or_else(|| format!("{btype} {sub}").trim().to_string());
        if let Some(st) = s(r, "status") {
            d.set_status(st);
        }
        d.rhost = s(b, "remoteMtaIp").map(str::to_string);
        codes_into(&mut d);
        out.push(d);
    }
    Ok(Some(out))
}

/// A dropped event for each destination of a message SES never sent
/// (`SES_NOT_SENT`), dated by the message.
fn ses_not_sent(
    mail: &Value,
    kind: &str,
    base: &Draft,
    reason: Reason,
    detail: &str,
    received_ms: i64,
) -> Result<Vec<Draft>, String> {
    let (ts, time_ms) = ses_stamp(mail, received_ms);
    let text = match detail.trim() {
        "" => format!("not sent: {kind}"),
        d => format!("not sent: {kind}: {d}"),
    };
    let mut out = Vec::new();
    for r in ses_recipients(mail, kind, "destination")? {
        let address = r.as_str().unwrap_or("");
        let mut d = ses_draft(base, kind, time_ms, address, &[&ts]);
        d.outcome = Some(Outcome::Dropped);
        d.hint = Some(reason);
        d.text = text.clone();
        out.push(d);
    }
    Ok(out)
}

fn ses_complaints(c: &Value, base: &Draft, received_ms: i64) -> Result<Vec<Draft>, String> {
    let (ts, time_ms) = ses_stamp(c, received_ms);
    let fb = s(c, "complaintFeedbackType").unwrap_or("abuse");
    let feedback = s(c, "feedbackId").unwrap_or("");
    // "OnAccountSuppressionList": SES accepted the message but did not send
    // it, the address being on the account's suppression list; not a new
    // complaint.
    let not_sent = s(c, "complaintSubType")
        .is_some_and(|t| t.eq_ignore_ascii_case("OnAccountSuppressionList"));
    let mut out = Vec::new();
    for r in ses_recipients(c, "complaint", "complainedRecipients")? {
        let address = s(r, "emailAddress").unwrap_or("");
        let mut d = ses_draft(base, "Complaint", time_ms, address, &[feedback, &ts]);
        if not_sent {
            d.outcome = Some(Outcome::Dropped);
            d.hint = Some(Reason::Suppressed);
            d.text = "not sent: on the account-level suppression list".into();
        } else {
            d.outcome = Some(Outcome::Complained);
            d.text = format!("complaint: {fb}");
        }
        out.push(d);
    }
    Ok(out)
}

fn ses_deliveries(dl: &Value, base: &Draft, received_ms: i64) -> Result<Vec<Draft>, String> {
    let (ts, time_ms) = ses_stamp(dl, received_ms);
    let resp = s(dl, "smtpResponse").unwrap_or("");
    let mut out = Vec::new();
    for r in ses_recipients(dl, "delivery", "recipients")? {
        let address = r.as_str().unwrap_or("");
        let mut d = ses_draft(base, "Delivery", time_ms, address, &[&ts]);
        d.outcome = Some(Outcome::Delivered);
        d.text = resp.to_string();
        d.rhost = s(dl, "remoteMtaIp").map(str::to_string);
        codes_into(&mut d);
        out.push(d);
    }
    Ok(out)
}

/// A delay's recipients: deferred, temporary, with the reason the delay
/// type names (`SES_DELAY_TYPES`).
fn ses_delays(dl: &Value, base: &Draft, received_ms: i64) -> Result<Vec<Draft>, String> {
    let (ts, time_ms) = ses_stamp(dl, received_ms);
    let delay_hint = s(dl, "delayType").and_then(|t| {
        SES_DELAY_TYPES
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(t))
            .and_then(|(_, r)| *r)
    });
    let mut out = Vec::new();
    for r in ses_recipients(dl, "deliveryDelay", "delayedRecipients")? {
        let address = s(r, "emailAddress").unwrap_or("");
        let mut d = ses_draft(base, "DeliveryDelay", time_ms, address, &[&ts]);
        d.outcome = Some(Outcome::Deferred);
        d.hint = delay_hint;
        d.temporary = true;
        d.text = s(r, "diagnosticCode")
            .or_else(|| s(dl, "delayType"))
            .unwrap_or("")
            .to_string();
        if let Some(st) = s(r, "status") {
            d.set_status(st);
        }
        codes_into(&mut d);
        out.push(d);
    }
    Ok(out)
}

// ------------------------------------------------------------------ SendGrid

fn sendgrid(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    // An entry of the bounce/block list API has no `event`, and `created`
    // for its time; bounces and blocks look alike there, so the text
    // decides.
    let listed = v.get("event").is_none() && v.get("created").is_some();
    let event = if listed {
        "bounce"
    } else {
        s(v, "event").ok_or("SendGrid event without event")?
    };
    let mut row = lookup(SENDGRID_EVENTS, eq(event))
        .ok_or_else(|| format!("unknown SendGrid event type {event:?}"))?;
    if row == Row::NotDelivery {
        return Ok(Parsed::skip(Format::Sendgrid, event));
    }
    let email = s(v, "email").ok_or("SendGrid event without email")?;
    let stated = v.get(if listed { "created" } else { "timestamp" });
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    if event.eq_ignore_ascii_case("bounce") && !listed {
        // A bounce without `type` is a bounce of the address; a `type`
        // this table does not know leaves the text alone to decide (the
        // event itself is known: losing it would be worse).
        row =
            lookup(SENDGRID_BOUNCE_TYPES, eq(s(v, "type").unwrap_or("bounce"))).unwrap_or(BOUNCED);
    }
    if event.eq_ignore_ascii_case("dropped")
        && let Some(reason) = s(v, "reason").filter(|r| !r.trim().is_empty())
    {
        // A reason this table does not know is no suppression list's: its
        // words decide, as any reply's would.
        row = lookup(SENDGRID_DROP_REASONS, eq(reason)).unwrap_or(DROPPED_UNKNOWN);
    }
    let Row::Event(mut verdict) = row else {
        return Ok(Parsed::skip(Format::Sendgrid, event));
    };
    if listed {
        // The bounce and block lists give a `status` and look alike, so
        // the text decides. An entry without one is from the invalid
        // emails list: "an address that is formatted in a manner that
        // does not meet internet email format standards or the email does
        // not exist at the recipient's mail server"
        // (https://www.twilio.com/docs/sendgrid/ui/sending-email/invalid-emails).
        verdict.hint = v.get("status").is_none().then_some(Reason::UserUnknown);
    }
    // "Unclassified" says nothing: the `type`'s verdict stands.
    if let Some(class) = s(v, "bounce_classification")
        && let Some((_, Some(hint))) = SENDGRID_CLASSIFICATIONS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(class))
    {
        verdict.hint = Some(*hint);
        verdict.broad = false;
    }
    let text = s(v, "response")
        .or_else(|| s(v, "reason"))
        .unwrap_or("")
        .to_string();
    let campaign = match v.get("category") {
        Some(Value::String(c)) => Some(c.clone()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
    .or_else(|| string(v, "marketing_campaign_name"))
    .or_else(|| string(v, "campaign"));
    let stamp = stamp_of(stated);
    let mut d = Draft {
        time_ms,
        recipient: email.to_string(),
        sending_ip: s(v, "ip").map(str::to_string),
        campaign,
        message_id: s(v, "smtp-id")
            .map(|m| m.trim_matches(['<', '>']).to_string())
            .or_else(|| s(v, "sg_message_id").map(str::to_string)),
        text,
        identity: match s(v, "sg_event_id") {
            Some(id) => id.to_string(),
            None if listed => format!("list\u{1f}{stamp}\u{1f}{email}"),
            None => format!(
                "{event}\u{1f}{stamp}\u{1f}{}",
                s(v, "sg_message_id").unwrap_or("")
            ),
        },
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(v, &["event", "type", "bounce_classification"]);
    if let Some(st) = string(v, "status") {
        d.set_status(&st);
    }
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// ------------------------------------------------------------------- Mailgun

fn mailgun(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    let e = v.get("event-data").unwrap_or(v);
    let event = s(e, "event").ok_or("Mailgun event without event")?;
    let row = lookup(MAILGUN_EVENTS, eq(event))
        .ok_or_else(|| format!("unknown Mailgun event type {event:?}"))?;
    let row = match (event, s(e, "severity")) {
        ("failed", Some(sev)) if sev.eq_ignore_ascii_case("temporary") => DEFERRED,
        ("failed", _) => s(e, "reason")
            .and_then(|r| lookup(MAILGUN_PERMANENT_REASONS, eq(r)))
            .unwrap_or(BOUNCED),
        _ => row,
    };
    let Row::Event(verdict) = row else {
        return Ok(Parsed::skip(Format::Mailgun, event));
    };
    let stated = e.get("timestamp");
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    let recipient = s(e, "recipient").ok_or("Mailgun event without recipient")?;
    let ds = e.get("delivery-status").cloned().unwrap_or(Value::Null);
    // A `rejected` event says why in `reject` instead.
    let reject = e.get("reject").cloned().unwrap_or(Value::Null);
    let text = [
        s(&ds, "message"),
        s(&ds, "description"),
        s(&reject, "reason"),
        s(&reject, "description"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let text = if text.is_empty() && verdict.outcome == Outcome::Complained {
        "complaint".to_string()
    } else {
        text
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
    let stamp = stamp_of(stated);
    let mut d = Draft {
        time_ms,
        recipient: recipient.to_string(),
        sender: s(&envelope, "sender").map(str::to_string),
        sending_ip: s(&envelope, "sending-ip").map(str::to_string),
        campaign,
        message_id: s(&headers, "message-id").map(|m| m.trim_matches(['<', '>']).to_string()),
        text,
        rhost: s(&ds, "mx-host").map(str::to_string),
        identity: match s(e, "id") {
            Some(id) => id.to_string(),
            None => format!("{event}\u{1f}{stamp}"),
        },
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(e, &["event", "severity", "reason"]);
    if let Some(code) = ds.get("code").and_then(Value::as_u64) {
        d.replycode = u16::try_from(code)
            .ok()
            .and_then(rebound_core::ReplyCode::new);
    }
    if let Some(st) = s(&ds, "enhanced-code") {
        d.set_status(st);
    }
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// ------------------------------------------------------------------ Postmark

fn postmark(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    let record = s(v, "RecordType").unwrap_or("Bounce");
    let row = if record.eq_ignore_ascii_case("Bounce") {
        // The name decides; `TypeCode` when there is none. A type the
        // table does not know (Postmark adds some) is still a bounce: its
        // `Details` decide, as for a bounce with no type (the type stays in
        // `esp`).
        match (s(v, "Type"), v.get("TypeCode").and_then(Value::as_u64)) {
            (Some(ty), _) => POSTMARK_TYPES
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(ty))
                .map_or(BOUNCED, |(_, _, r)| *r),
            (None, Some(code)) => POSTMARK_TYPES
                .iter()
                .find(|(_, c, _)| *c == code)
                .map_or(BOUNCED, |(_, _, r)| *r),
            (None, None) => BOUNCED,
        }
    } else {
        lookup(POSTMARK_RECORDS, eq(record))
            .ok_or_else(|| format!("unknown Postmark RecordType {record:?}"))?
    };
    let Row::Event(verdict) = row else {
        let kind = if record.eq_ignore_ascii_case("Bounce") {
            s(v, "Type").unwrap_or(record)
        } else {
            record
        };
        return Ok(Parsed::skip(Format::Postmark, kind));
    };
    let email = s(v, "Email")
        .or_else(|| s(v, "Recipient"))
        .ok_or("Postmark record without Email/Recipient")?;
    let at = s(v, "BouncedAt")
        .or_else(|| s(v, "DeliveredAt"))
        .or_else(|| s(v, "ReceivedAt"))
        .unwrap_or("");
    let time_ms = time_or(time::parse_iso(at), received_ms);
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
        text,
        identity: match string(v, "ID") {
            Some(id) => format!("{record}\u{1f}{id}"),
            None => format!(
                "{record}\u{1f}{}\u{1f}{at}",
                s(v, "MessageID").unwrap_or("")
            ),
        },
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(v, &["RecordType", "Type", "TypeCode"]);
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// ----------------------------------------------------------------- SparkPost

fn sparkpost(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    let msys = v.get("msys").ok_or("SparkPost record without msys")?;
    // Generation events share the message events' fields (`gen_event`).
    let event = msys.get("message_event").or_else(|| {
        msys.get("gen_event")
            .filter(|g| g.get("type").and_then(Value::as_str) == Some("generation_failure"))
    });
    let Some(e) = event else {
        return match SPARKPOST_GROUPS.iter().find(|g| msys.get(**g).is_some()) {
            Some(g) => Ok(Parsed::skip(Format::Sparkpost, g)),
            None => {
                let keys: Vec<&str> = msys
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).take(4).collect())
                    .unwrap_or_default();
                Err(format!(
                    "unknown SparkPost event group {:?}",
                    keys.join(",")
                ))
            }
        };
    };
    let ty = s(e, "type").ok_or("message_event without type")?;
    let mut row = lookup(SPARKPOST_MESSAGE_EVENTS, eq(ty))
        .ok_or_else(|| format!("unknown SparkPost message_event type {ty:?}"))?;
    let class = string(e, "bounce_class");
    if matches!(ty, "bounce" | "out_of_band")
        && let Some(c) = class.as_deref()
    {
        // A class SparkPost adds later leaves the text alone to decide.
        let n: Option<u16> = c.parse().ok();
        row = n
            .and_then(|n| lookup(SPARKPOST_CLASSES, |k| k == n))
            .unwrap_or(BOUNCED);
    }
    if ty == "delay"
        && let Some(Row::Event(c)) = class
            .as_deref()
            .and_then(|c| c.parse::<u16>().ok())
            .and_then(|n| lookup(SPARKPOST_CLASSES, |k| k == n))
        && let Row::Event(v) = &mut row
    {
        // Still a deferral; the class names its reason.
        v.hint = c.hint;
    }
    let Row::Event(verdict) = row else {
        let kind = match class {
            Some(c) if matches!(ty, "bounce" | "out_of_band") => format!("{ty} class {c}"),
            _ => ty.to_string(),
        };
        return Ok(Parsed::skip(Format::Sparkpost, &kind));
    };
    let stated = e.get("timestamp");
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    let rcpt = s(e, "rcpt_to")
        .or_else(|| s(e, "raw_rcpt_to"))
        .ok_or("message_event without rcpt_to")?;
    let text = s(e, "raw_reason")
        .or_else(|| s(e, "reason"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            if verdict.outcome == Outcome::Complained {
                format!("complaint: {}", s(e, "fbtype").unwrap_or("abuse"))
            } else {
                String::new()
            }
        });
    let stamp = stamp_of(stated);
    let mut d = Draft {
        time_ms,
        recipient: rcpt.to_string(),
        sender: s(e, "msg_from")
            .or_else(|| s(e, "friendly_from"))
            .map(str::to_string),
        sending_ip: s(e, "sending_ip").map(str::to_string),
        campaign: s(e, "campaign_id").map(str::to_string),
        message_id: s(e, "message_id").map(str::to_string),
        text,
        identity: match string(e, "event_id") {
            Some(id) => id,
            None => format!(
                "{ty}\u{1f}{stamp}\u{1f}{}",
                s(e, "message_id").unwrap_or("")
            ),
        },
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(e, &["type", "bounce_class"]);
    if let Some(code) = string(e, "error_code").and_then(|c| c.parse::<u16>().ok()) {
        d.replycode = rebound_core::ReplyCode::new(code);
    }
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// ------------------------------------------------------------------- Mailjet

/// Mailjet Event API kinds ("Event API: real-time notifications",
/// https://dev.mailjet.com/email/guides/webhooks/). A `bounce` is read
/// further by `hard_bounce` and `error`, a `blocked` (not sent by Mailjet)
/// by `error`.
const MAILJET_EVENTS: &[(&str, Row)] = &[
    ("sent", DELIVERED),
    ("bounce", BOUNCED),
    ("blocked", dropped(Reason::Suppressed)),
    ("spam", COMPLAINED),
    ("open", Row::NotDelivery),
    ("click", Row::NotDelivery),
    ("unsub", Row::NotDelivery),
];

/// Mailjet's `error` values (grouped by `error_related_to`: recipient,
/// domain, spam, content, system, mailjet) and the reason each names.
/// `None`: the reply text alone decides.
const MAILJET_ERRORS: &[(&str, Option<Reason>)] = &[
    ("user unknown", Some(Reason::UserUnknown)),
    ("mailbox inactive", Some(Reason::Suspend)),
    ("quota exceeded", Some(Reason::MailboxFull)),
    ("invalid domain", Some(Reason::HostUnknown)),
    ("no mail host", Some(Reason::HostUnknown)),
    ("relay/access denied", None),
    ("sender blocked", Some(Reason::Blocked)),
    ("content blocked", Some(Reason::SpamDetected)),
    ("policy issue", Some(Reason::PolicyViolation)),
    ("system issue", Some(Reason::SystemError)),
    ("protocol issue", Some(Reason::NetworkError)),
    ("connection issue", Some(Reason::NetworkError)),
    ("greylisted", Some(Reason::PolicyViolation)),
    // Mailjet's own refusals to send (`blocked`).
    ("preblocked", Some(Reason::Suppressed)),
    ("duplicate in campaign", Some(Reason::Suppressed)),
    ("spam reporter", Some(Reason::Suppressed)),
    ("blacklisted", Some(Reason::Suppressed)),
    ("typofix", Some(Reason::Suppressed)),
    ("bad or empty template", Some(Reason::ContentError)),
    ("error in template language", Some(Reason::ContentError)),
];

fn mailjet(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    let event = s(v, "event").ok_or("Mailjet event without event")?;
    let mut row = lookup(MAILJET_EVENTS, eq(event))
        .ok_or_else(|| format!("unknown Mailjet event {event:?}"))?;
    let error = s(v, "error");
    let named = error.and_then(|e| {
        MAILJET_ERRORS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(e))
            .map(|(_, r)| *r)
    });
    if event.eq_ignore_ascii_case("bounce") {
        // (`blocked: true` says Mailjet now blocks the recipient, which
        // follows from the bounce; it adds nothing here.)
        let hard = v.get("hard_bounce").and_then(Value::as_bool);
        let hint = named.flatten();
        row = match (hard, hint) {
            // Mailjet calls it soft: never a dead address, whatever the
            // text says.
            (Some(false), _) => temporary(hint),
            // Hard, and the error names the reason.
            (_, Some(r)) => permanent(r),
            (_, None) => BOUNCED,
        };
    }
    if event.eq_ignore_ascii_case("blocked") {
        // Not sent: the error says why; a recipient fact learnt before
        // (an unknown user) stays the reason, Mailjet's lists otherwise.
        row = dropped(named.flatten().unwrap_or(Reason::Suppressed));
    }
    let Row::Event(verdict) = row else {
        return Ok(Parsed::skip(Format::Mailjet, event));
    };
    let email = s(v, "email").ok_or("Mailjet event without email")?;
    let stated = v.get("time");
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    // `comment` holds the receiving server's words when there are any;
    // `smtp_reply` is the acceptance of a `sent`.
    let text = match (s(v, "comment"), error, s(v, "smtp_reply")) {
        (Some(c), _, _) => c.to_string(),
        (None, Some(e), _) => e.to_string(),
        (None, None, Some(r)) => r.to_string(),
        _ => String::new(),
    };
    let message = string(v, "MessageID").or_else(|| string(v, "mj_message_id"));
    let stamp = stamp_of(stated);
    let campaign = s(v, "customcampaign")
        .map(str::to_string)
        .or_else(|| string(v, "mj_campaign_id").filter(|c| c != "0"));
    let mut d = Draft {
        time_ms,
        recipient: email.to_string(),
        campaign,
        message_id: s(v, "Message_GUID").map(str::to_string).or(message.clone()),
        text,
        identity: format!(
            "{event}\u{1f}{stamp}\u{1f}{}\u{1f}{email}",
            message.as_deref().unwrap_or("")
        ),
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(v, &["event", "hard_bounce", "error_related_to", "error"]);
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// --------------------------------------------------------------------- Brevo

/// Brevo (formerly Sendinblue) transactional webhook events
/// (https://developers.brevo.com/docs/transactional-webhooks).
const BREVO_EVENTS: &[(&str, Row)] = &[
    ("delivered", DELIVERED),
    // "the email address does not exist, the domain does not exist or the
    // recipient's server blocks the email permanently": broad, a specific
    // status in the reason still decides.
    ("hard_bounce", broad(Some(Reason::UserUnknown))),
    ("soft_bounce", temporary(None)),
    ("deferred", DEFERRED),
    ("spam", COMPLAINED),
    ("complaint", COMPLAINED),
    // Not sent by Brevo: the contact is on its block list (unsubscribed,
    // hard bounced or complained before), or the address is malformed.
    ("blocked", dropped(Reason::Suppressed)),
    ("invalid_email", dropped(Reason::UserUnknown)),
    ("invalid", dropped(Reason::UserUnknown)),
    ("error", dropped(Reason::SystemError)),
    ("request", Row::NotDelivery),
    ("sent", Row::NotDelivery),
    ("opened", Row::NotDelivery),
    ("unique_opened", Row::NotDelivery),
    ("proxy_open", Row::NotDelivery),
    ("unique_proxy_open", Row::NotDelivery),
    ("click", Row::NotDelivery),
    ("unsubscribed", Row::NotDelivery),
    ("list_addition", Row::NotDelivery),
    // The names as Brevo's webhook settings write them.
    ("hardBounce", broad(Some(Reason::UserUnknown))),
    ("softBounce", temporary(None)),
    ("uniqueOpened", Row::NotDelivery),
    ("listAddition", Row::NotDelivery),
];

fn brevo(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    // Marketing (campaign) events name their time `date_event` and their
    // campaign `camp_id`.
    let event = s(v, "event").ok_or("Brevo event without event")?;
    let row =
        lookup(BREVO_EVENTS, eq(event)).ok_or_else(|| format!("unknown Brevo event {event:?}"))?;
    let Row::Event(verdict) = row else {
        return Ok(Parsed::skip(Format::Brevo, event));
    };
    let email = s(v, "email").ok_or("Brevo event without email")?;
    // `ts_epoch` is in milliseconds, `ts_event` and `ts` in seconds
    // (`parse_epoch` tells them apart by size), `date` local to the account.
    let stated = ["ts_epoch", "ts_event", "ts", "date_event"]
        .iter()
        .find_map(|k| v.get(*k).filter(|t| time::parse_epoch(t).is_some()));
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    let campaign = match v.get("tags") {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
    .or_else(|| {
        s(v, "tag")
            .filter(|t| !t.starts_with('['))
            .map(str::to_string)
    })
    .or_else(|| string(v, "camp_id"));
    let message = s(v, "message-id").map(|m| m.trim_matches(['<', '>']).to_string());
    let stamp = stamp_of(stated);
    let mut d = Draft {
        time_ms,
        recipient: email.to_string(),
        sending_ip: s(v, "sending_ip").map(str::to_string),
        campaign,
        message_id: message.clone(),
        text: s(v, "reason").unwrap_or("").to_string(),
        identity: format!(
            "{event}\u{1f}{stamp}\u{1f}{}\u{1f}{}",
            string(v, "id").unwrap_or_default(),
            message.as_deref().unwrap_or("")
        ),
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(v, &["event"]);
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// ------------------------------------------------------------------ Mandrill

/// Mandrill (Mailchimp Transactional) webhook events
/// (https://mailchimp.com/developer/transactional/docs/webhooks/).
const MANDRILL_EVENTS: &[(&str, Row)] = &[
    ("send", DELIVERED),
    ("deferral", DEFERRED),
    ("hard_bounce", BOUNCED),
    ("soft_bounce", temporary(None)),
    ("spam", COMPLAINED),
    // Not sent: the address is on Mandrill's rejection list.
    ("reject", dropped(Reason::Suppressed)),
    ("open", Row::NotDelivery),
    ("click", Row::NotDelivery),
    ("unsub", Row::NotDelivery),
    ("blacklist", Row::NotDelivery),
    ("whitelist", Row::NotDelivery),
];

/// Mandrill's `bounce_description` of a hard bounce and the reason it
/// names; another value leaves the reply text alone to decide.
const MANDRILL_BOUNCES: &[(&str, Row)] = &[
    ("bad_mailbox", permanent(Reason::UserUnknown)),
    ("invalid_domain", permanent(Reason::HostUnknown)),
    ("mailbox_full", permanent(Reason::MailboxFull)),
    ("spam_related", permanent(Reason::SpamDetected)),
    ("general", BOUNCED),
];

fn mandrill(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    let event = s(v, "event").ok_or("Mandrill event without event")?;
    let mut row = lookup(MANDRILL_EVENTS, eq(event))
        .ok_or_else(|| format!("unknown Mandrill event {event:?}"))?;
    let msg = v.get("msg").unwrap_or(&Value::Null);
    if event.eq_ignore_ascii_case("hard_bounce")
        && let Some(r) = s(msg, "bounce_description").and_then(|b| lookup(MANDRILL_BOUNCES, eq(b)))
    {
        row = r;
    }
    let Row::Event(verdict) = row else {
        return Ok(Parsed::skip(Format::Mandrill, event));
    };
    let email = s(msg, "email").ok_or("Mandrill event without msg.email")?;
    let stated = v.get("ts").or_else(|| msg.get("ts"));
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    // The last SMTP event's reply is the receiving server's latest word;
    // `diag` the summary Mandrill keeps with the message.
    let last = msg
        .get("smtp_events")
        .and_then(Value::as_array)
        .and_then(|a| a.last());
    let text = s(msg, "diag")
        .or_else(|| last.and_then(|e| s(e, "diag")))
        .unwrap_or("")
        .to_string();
    let text = text
        .strip_prefix("smtp;")
        .map(|t| t.trim().to_string())
        .unwrap_or(text);
    let campaign = msg
        .get("tags")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    let id = s(v, "_id").or_else(|| s(msg, "_id"));
    let stamp = stamp_of(stated);
    let mut d = Draft {
        time_ms,
        recipient: email.to_string(),
        sender: s(msg, "sender").map(str::to_string),
        sending_ip: last.and_then(|e| s(e, "source_ip")).map(str::to_string),
        campaign,
        message_id: id.map(str::to_string),
        text,
        rhost: last
            .and_then(|e| s(e, "destination_ip"))
            .map(str::to_string),
        identity: format!("{event}\u{1f}{stamp}\u{1f}{}", id.unwrap_or("")),
        ..Draft::default()
    };
    apply(&mut d, verdict);
    d.esp = esp_fields(msg, &["state", "bounce_description"]);
    codes_into(&mut d);
    Ok(Parsed::events(vec![d]))
}

// -------------------------------------------------------------------- Resend

/// Resend webhook event types (https://resend.com/docs/dashboard/webhooks/event-types).
/// Resend sends through Amazon SES and passes its bounce `type` and
/// `subType` on, so a bounce is read with the SES table.
const RESEND_EVENTS: &[(&str, Row)] = &[
    ("email.delivered", DELIVERED),
    ("email.delivery_delayed", DEFERRED),
    ("email.complained", COMPLAINED),
    ("email.bounced", BOUNCED),
    // Not sent: Resend could not send it (an invalid sender, a quota).
    ("email.failed", dropped(Reason::Undefined)),
    ("email.sent", Row::NotDelivery),
    ("email.scheduled", Row::NotDelivery),
    ("email.opened", Row::NotDelivery),
    ("email.clicked", Row::NotDelivery),
    ("email.received", Row::NotDelivery),
];

fn resend(v: &Value, received_ms: i64) -> Result<Parsed, String> {
    let kind = s(v, "type").ok_or("Resend event without type")?;
    let Some(mut row) = lookup(RESEND_EVENTS, eq(kind)) else {
        if kind.starts_with("email.") {
            return Err(format!("unknown Resend event type {kind:?}"));
        }
        // contact.* and domain.* events say nothing about a delivery.
        return Ok(Parsed::skip(Format::Resend, "not an email event"));
    };
    let data = v.get("data").ok_or("Resend event without data")?;
    let bounce = data.get("bounce").unwrap_or(&Value::Null);
    if kind.eq_ignore_ascii_case("email.bounced") {
        row = ses_bounce(
            s(bounce, "type").unwrap_or("Undetermined"),
            s(bounce, "subType").unwrap_or("General"),
        );
    }
    let Row::Event(mut verdict) = row else {
        return Ok(Parsed::skip(Format::Resend, kind));
    };
    let to: Vec<&str> = match data.get("to") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    };
    if to.is_empty() {
        return Err("Resend event without data.to".into());
    }
    if to.len() > 1 && verdict.outcome == Outcome::Bounced {
        // The event does not say which of the addressees bounced: record
        // the failure for each, never as a dead address.
        verdict.temporary = true;
    }
    let stated = v.get("created_at").or_else(|| data.get("created_at"));
    let time_ms = time_or(stated.and_then(time::parse_epoch), received_ms);
    let text = s(bounce, "message")
        .or_else(|| data.get("failed").and_then(|f| s(f, "reason")))
        .unwrap_or("")
        .to_string();
    let id = s(data, "email_id");
    let stamp = stamp_of(stated);
    let campaign = data
        .get("tags")
        .and_then(|t| match t {
            Value::Object(o) => o.values().next().and_then(Value::as_str),
            Value::Array(a) => a
                .first()
                .and_then(|x| x.get("value").and_then(Value::as_str)),
            _ => None,
        })
        .map(str::to_string);
    let mut drafts = Vec::with_capacity(to.len());
    for rcpt in to {
        let mut d = Draft {
            time_ms,
            recipient: rcpt.to_string(),
            sender: s(data, "from").map(str::to_string),
            campaign: campaign.clone(),
            message_id: id.map(str::to_string),
            text: text.clone(),
            identity: format!("{kind}\u{1f}{stamp}\u{1f}{}\u{1f}{rcpt}", id.unwrap_or("")),
            ..Draft::default()
        };
        apply(&mut d, verdict);
        d.esp = esp_fields(bounce, &["type", "subType"]).or_else(|| esp_fields(v, &["type"]));
        codes_into(&mut d);
        drafts.push(d);
    }
    Ok(Parsed::events(drafts))
}
