//! The request handlers. Bodies are read as bytes and parsed here, so that
//! every malformed input gets a 4xx with a sentence saying what is wrong.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::{EventLabels, IngestLabels};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rebound_core::Observation;
use rebound_ingest::{Event, EventReader, Format, ReaderOptions, normalize_address};
use rebound_ledger::{EventQuery, ManualSuppression};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Shared = State<Arc<AppState>>;
type ApiResult = Result<Response, ApiError>;

fn ok(v: Value) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

/// The body, or the body limit's / transport's error as a JSON 4xx.
fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        let status = e.status();
        let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, error, e.body_text())
    })
}

/// A JSON endpoint refuses a body declared as something else (a form, a
/// file upload): 415. No `Content-Type` at all is taken as JSON, as the
/// simplest clients send none.
fn json_content(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = v
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("Content-Type {media:?}: this endpoint reads application/json"),
    ))
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "empty body: a JSON document is expected",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::unprocessable(format!("JSON of the wrong shape: {e}"))
        } else {
            ApiError::bad_request(format!("malformed JSON: {e}"))
        }
    })
}

fn address(raw: &str) -> Result<String, ApiError> {
    normalize_address(raw).ok_or_else(|| {
        ApiError::bad_request(format!("{raw:?} is not an email address (local@domain)"))
    })
}

fn blocking_failed(e: tokio::task::JoinError) -> ApiError {
    // A panic in the decoder or a parser is caught by the runtime; the
    // input is what made it fail, so it is answered as unprocessable.
    ApiError::unprocessable(format!("the input could not be processed: {e}"))
}

// ------------------------------------------------------------------ open

pub async fn healthz(State(s): Shared) -> ApiResult {
    ok(json!({
        "status": "ok",
        "backend": backend_name(s.pool.url()),
        "rules_id": s.rules.get().id(),
    }))
}

fn backend_name(url: &str) -> &'static str {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "postgres"
    } else {
        "sqlite"
    }
}

pub async fn dashboard() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::dashboard_page(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the API is described at /openapi.json")
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

// -------------------------------------------------------------- classify

/// One reply: a bare string, or an observation object (`text` plus any of
/// `replycode`, `status`, `smtpcommand`, `rhost`, `recipient`, …).
#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Text(String),
    Observation(Box<Observation>),
}

impl Reply {
    fn into_observation(self) -> Observation {
        match self {
            Reply::Text(t) => Observation::from_text(t),
            Reply::Observation(o) => *o,
        }
    }
}

/// `{"replies": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManyReplies {
    replies: Vec<Reply>,
}

/// The classify body: one reply (a string or an observation object), an
/// array of them, or `{"replies": [...]}`. The first byte says which, so
/// each body is parsed once, straight into its type (this is the hottest
/// endpoint).
enum ClassifyBody {
    One(Observation),
    Many(Vec<Reply>),
}

fn classify_body(bytes: &[u8]) -> Result<ClassifyBody, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let shape = "expected a reply string, an object with `text`, an array of those, or {\"replies\": [...]}";
    match first {
        None => Err(ApiError::bad_request(
            "empty body: a JSON document is expected",
        )),
        Some(b'"') => {
            parse_json::<String>(bytes).map(|t| ClassifyBody::One(Observation::from_text(t)))
        }
        Some(b'[') => parse_json::<Vec<Reply>>(bytes)
            .map(ClassifyBody::Many)
            .map_err(|e| with_shape(e, shape)),
        Some(b'{') if memchr::memmem::find(bytes, b"\"replies\"").is_some() => {
            parse_json::<ManyReplies>(bytes)
                .map(|m| ClassifyBody::Many(m.replies))
                .map_err(|e| with_shape(e, shape))
        }
        Some(b'{') => parse_json::<Observation>(bytes)
            .map(ClassifyBody::One)
            .map_err(|e| with_shape(e, shape)),
        Some(_) => {
            // Valid JSON of another kind is the wrong shape; anything else
            // is malformed.
            parse_json::<serde::de::IgnoredAny>(bytes)?;
            Err(ApiError::unprocessable(shape))
        }
    }
}

/// A shape error gets the accepted shapes appended; syntax errors stay as
/// they are.
fn with_shape(e: ApiError, shape: &str) -> ApiError {
    if e.status == StatusCode::UNPROCESSABLE_ENTITY {
        ApiError::unprocessable(format!("{} ({shape})", e.detail))
    } else {
        e
    }
}

pub async fn classify(
    State(s): Shared,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    json_content(&headers)?;
    let bytes = body(b)?;
    let classifier = s.rules.get();
    match classify_body(&bytes)? {
        ClassifyBody::One(obs) => Ok(axum::Json(classifier.classify(&obs)).into_response()),
        ClassifyBody::Many(replies) => {
            let max = s.config.limits.batch_items;
            if replies.len() > max {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("{} replies in one request; at most {max}", replies.len()),
                ));
            }
            let verdicts: Vec<_> = replies
                .into_iter()
                .map(|r| classifier.classify(&r.into_observation()))
                .collect();
            ok(json!({ "verdicts": verdicts }))
        }
    }
}

// ---------------------------------------------------------------- decode

#[derive(Deserialize, Default)]
pub struct DecodeQuery {
    /// Also report successful deliveries.
    #[serde(default)]
    delivered: bool,
    /// Also report auto-replies.
    #[serde(default)]
    vacation: bool,
}

pub async fn decode(
    State(s): Shared,
    q: Result<Query<DecodeQuery>, axum::extract::rejection::QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bytes = body(b)?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "empty body: post the raw bounce email (message/rfc822)",
        ));
    }
    let opts = rebound_decode::DecodeOptions {
        delivered: q.delivered,
        vacation: q.vacation,
    };
    let state = Arc::clone(&s);
    let records = tokio::task::spawn_blocking(move || {
        rebound_decode::decode_message_with(&bytes, "body", &opts, &state.rules.get())
    })
    .await
    .map_err(blocking_failed)?
    .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    ok(json!({ "records": records }))
}

// ---------------------------------------------------------------- events

/// Event sources accepted by `POST /v1/events/{source}`.
pub const SOURCES: &[&str] = &[
    "ses",
    "sendgrid",
    "mailgun",
    "postmark",
    "sparkpost",
    "mailjet",
    "brevo",
    "mandrill",
    "resend",
    "email",
    "log",
    "postfix",
    "exim",
    "sendmail",
    "pmta",
];

#[derive(Deserialize, Default)]
pub struct IngestQuery {
    /// Refuse the whole batch if any record cannot be read.
    #[serde(default)]
    strict: bool,
    /// Syslog year for Postfix lines without one.
    year: Option<i64>,
}

/// What parsing a body gave: events, and the records that could not be
/// read with where they were.
struct Parsed {
    events: Vec<Event>,
    rejected: Vec<Value>,
    records: usize,
    /// Records of a known kind that say nothing about delivery (opens,
    /// clicks, …), by kind.
    ignored: std::collections::BTreeMap<String, u64>,
}

/// `POST /v1/events/{source}`: a body of events (an ESP's webhook, log
/// lines, a bounce email) parsed, checked and stored in one transaction.
/// The steps: which source, the body's signature (or an SNS envelope to
/// answer instead), parsing on the blocking pool, refusing what cannot be
/// read, storing with the policy, counting.
pub async fn ingest(
    State(s): Shared,
    Path(source): Path<String>,
    q: Result<Query<IngestQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let source = known_source(&source)?;
    let bytes = body(b)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("empty body"));
    }
    let bytes = if source == "mandrill" {
        mandrill_form(&s, &headers, bytes)?
    } else {
        bytes
    };
    let once = match verify_body(&s, source, &headers, &bytes).await? {
        Verified::Answer(resp) => return Ok(resp),
        Verified::Events(once) => once,
    };
    let state = Arc::clone(&s);
    let year = q.year;
    let parsed = tokio::task::spawn_blocking(move || parse_events(&state, source, &bytes, year))
        .await
        .map_err(blocking_failed)??;
    refuse_unreadable(&s, source, &parsed, q.strict)?;
    let events = Arc::new(parsed.events);
    let outcome = store_events(&s, Arc::clone(&events), once).await?;
    count_ingest(&s, source, &events, &outcome, parsed.rejected.len());
    ok(json!({
        "source": source,
        "events": events.len(),
        "stored": outcome.inserted,
        "duplicates": outcome.duplicates,
        "rejected": parsed.rejected,
        "ignored": parsed.ignored,
        "suppressed": outcome.suppressed,
        "sender_issues": outcome.sender_issues,
    }))
}

/// `HEAD /v1/events/{source}`: 200 for a known source, so that an ESP that
/// checks a webhook URL before it saves it (Mandrill sends a HEAD) finds
/// it. Needs the ingest token, like the POST.
pub async fn ingest_probe(Path(source): Path<String>) -> Result<StatusCode, ApiError> {
    known_source(&source).map(|_| StatusCode::OK)
}

/// Mandrill posts its events form-encoded, as the JSON text of the
/// `mandrill_events` field; that JSON is the body to read. A JSON body
/// (the same array, or `{"mandrill_events": …}`) passes as it is, unless a
/// webhook key is configured: then only a form whose
/// `X-Mandrill-Signature` verifies does.
fn mandrill_form(s: &AppState, headers: &HeaderMap, bytes: Bytes) -> Result<Bytes, ApiError> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if matches!(start.map(|i| bytes[i]), Some(b'[' | b'{')) {
        return match s.mandrill {
            None => Ok(bytes),
            // What Mandrill signs is its form; a JSON body carries nothing
            // to check.
            Some(_) => Err(ApiError::unauthorized(
                "mandrill signature: signed Mandrill webhooks are form-encoded",
            )),
        };
    }
    let rebound_ingest::MandrillForm { fields, events } =
        rebound_ingest::mandrill_form(&bytes).map_err(ApiError::bad_request)?;
    if let Some(v) = &s.mandrill {
        let signature = headers
            .get("x-mandrill-signature")
            .and_then(|v| v.to_str().ok());
        let verified = v.verify(signature, &fields);
        // When Mandrill checks a new webhook URL whose HEAD did not answer
        // 200, it posts an empty event list signed with the generic key
        // `test-webhook`, not the webhook's own (which does not exist
        // yet). An empty list stores nothing, so it is let through.
        let empty = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&events)
            .is_ok_and(|list| list.is_empty());
        if let Err(e) = verified
            && !empty
        {
            return Err(ApiError::unauthorized(format!("mandrill signature: {e}")));
        }
    }
    Ok(Bytes::from(events))
}

/// The source named in the path, one of [`SOURCES`] (any case).
fn known_source(raw: &str) -> Result<&'static str, ApiError> {
    let source = raw.to_ascii_lowercase();
    SOURCES
        .iter()
        .copied()
        .find(|x| *x == source)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "unknown event source {source:?}; one of {}",
                SOURCES.join(", ")
            ))
        })
}

/// What checking a body's signature left to do.
enum Verified {
    /// Parse and store it, claiming this one-time key (Mailgun) if any.
    Events(Option<rebound_ledger::OnceKey>),
    /// Answer this instead (an SNS envelope that is not a notification).
    Answer(Response),
}

/// A JSON source's body must be JSON; a source with a verifier configured
/// must carry a valid signature (SendGrid over the raw body, Mailgun in
/// the document, SES through its SNS envelope).
async fn verify_body(
    s: &Arc<AppState>,
    source: &'static str,
    headers: &HeaderMap,
    bytes: &Bytes,
) -> Result<Verified, ApiError> {
    let now_s = rebound_ingest::time::now_ms() / 1000;
    match source {
        "sendgrid" | "postmark" | "sparkpost" | "mailjet" | "brevo" | "mandrill" | "resend" => {
            // Only checked to be JSON: the document itself is not needed
            // here (parsing it into a tree cost as much as reading the
            // events from it).
            json_valid(bytes)?;
            if source == "sendgrid"
                && let Some(v) = &s.sendgrid
            {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
                v.verify(
                    h(crate::signatures::SENDGRID_SIGNATURE),
                    h(crate::signatures::SENDGRID_TIMESTAMP),
                    bytes,
                    now_s,
                )
                .map_err(|e| ApiError::unauthorized(format!("sendgrid signature: {e}")))?;
            }
            if source == "resend"
                && let Some(v) = &s.resend
            {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                v.verify(h, bytes, now_s)
                    .map_err(|e| ApiError::unauthorized(format!("resend signature: {e}")))?;
            }
            Ok(Verified::Events(None))
        }
        "mailgun" => {
            let doc = json_document(bytes)?;
            let Some(v) = &s.mailgun else {
                return Ok(Verified::Events(None));
            };
            let first = doc.as_ref().ok_or_else(|| {
                ApiError::unauthorized(
                    "mailgun signature: a signed webhook body is one JSON object",
                )
            })?;
            let once = v
                .verify(first, now_s)
                .map_err(|e| ApiError::unauthorized(format!("mailgun signature: {e}")))?;
            Ok(Verified::Events(Some(once)))
        }
        "ses" => {
            let doc = json_document(bytes)?;
            if let Some(v) = &s.sns {
                // With verification on, only signed SNS envelopes pass: a
                // bare SES event carries no signature.
                let doc = doc.clone().filter(|d| d.get("Type").is_some()).ok_or_else(|| {
                    ApiError::unauthorized(
                        "sns signature: SNS signatures are verified, and this body is not one SNS message",
                    )
                })?;
                let v = Arc::clone(v);
                tokio::task::spawn_blocking(move || v.verify(&doc))
                    .await
                    .map_err(blocking_failed)?
                    .map_err(|e| match e {
                        crate::signatures::SignatureError::Unreachable(_) => {
                            ApiError::unavailable(format!("sns signature: {e}"))
                        }
                        e => ApiError::unauthorized(format!("sns signature: {e}")),
                    })?;
            }
            if let Some(doc) = &doc
                && let Some(resp) = sns_envelope(s, doc)?
            {
                return Ok(Verified::Answer(resp));
            }
            Ok(Verified::Events(None))
        }
        _ => Ok(Verified::Events(None)),
    }
}

/// Under `strict`, any unreadable record refuses the whole body; without
/// it, a body none of whose records could be read is refused.
fn refuse_unreadable(
    s: &AppState,
    source: &'static str,
    parsed: &Parsed,
    strict: bool,
) -> Result<(), ApiError> {
    let all_unreadable =
        parsed.events.is_empty() && parsed.records > 0 && parsed.rejected.len() == parsed.records;
    let strict_refusal = strict && !parsed.rejected.is_empty();
    if !strict_refusal && !all_unreadable {
        return Ok(());
    }
    count_result(s, source, "rejected", parsed.rejected.len());
    if strict_refusal {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            format!(
                "{} of {} records could not be read; nothing was stored (strict): {}",
                parsed.rejected.len(),
                parsed.records,
                Value::Array(parsed.rejected.clone())
            ),
        ));
    }
    Err(ApiError::unprocessable(format!(
        "no record could be read: {}",
        Value::Array(parsed.rejected.clone())
    )))
}

/// Stores the events in one transaction with the policy (claiming the
/// one-time key first, when there is one: a replay stores nothing).
async fn store_events(
    s: &AppState,
    events: Arc<Vec<Event>>,
    once: Option<rebound_ledger::OnceKey>,
) -> Result<rebound_ledger::BatchOutcome, ApiError> {
    let policy = Arc::clone(&s.policy);
    s.pool
        .run_write(move |store| match &once {
            Some(once) => store.ingest_batch_once(&events, &policy, once),
            None => store.ingest_batch(&events, &policy).map(Some),
        })
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(format!(
                "mailgun signature: {}",
                crate::signatures::SignatureError::Replay
            ))
        })
}

fn count_result(s: &AppState, source: &'static str, result: &'static str, n: usize) {
    s.metrics
        .ingest
        .get_or_create(&IngestLabels {
            source: source.to_string(),
            result,
        })
        .inc_by(n as u64);
}

/// The ingest counters: stored, duplicate and rejected records, and the
/// events by reason and provider (summed here first, so that a batch of
/// thousands takes the metrics' lock once per distinct label set, not once
/// per event).
fn count_ingest(
    s: &AppState,
    source: &'static str,
    events: &[Event],
    outcome: &rebound_ledger::BatchOutcome,
    rejected: usize,
) {
    count_result(s, source, "stored", outcome.inserted);
    count_result(s, source, "duplicate", outcome.duplicates);
    count_result(s, source, "rejected", rejected);
    let mut by_label: std::collections::HashMap<(&str, Option<&str>), u64> =
        std::collections::HashMap::new();
    for e in events {
        *by_label
            .entry((e.verdict.reason.as_str(), e.verdict.provider.as_deref()))
            .or_default() += 1;
    }
    for ((reason, provider), n) in by_label {
        s.metrics
            .events
            .get_or_create(&EventLabels {
                source: source.to_string(),
                reason: reason.to_string(),
                provider: provider.unwrap_or("other").to_string(),
            })
            .inc_by(n);
    }
}

/// [`json_document`] without building the document: one JSON document or
/// JSON Lines, else a 400.
fn json_valid(bytes: &[u8]) -> Result<(), ApiError> {
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Ok(());
    }
    json_document(bytes).map(|_| ())
}

/// Checks that a JSON source's body is JSON: one document (returned, for
/// signature checks) or JSON Lines. Anything else is a 400 before any work.
fn json_document(bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Ok(Some(v)),
        Err(whole) => {
            for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                    return Err(ApiError::bad_request(format!(
                        "malformed JSON (neither one document: {whole}; nor JSON Lines: line {}: {e})",
                        i + 1
                    )));
                }
            }
            Ok(None)
        }
    }
}

/// SNS envelopes that are not notifications: a subscription confirmation is
/// acknowledged and its URL returned for the operator (the server makes no
/// outbound calls), and a topic outside `topic_arns` is refused.
fn sns_envelope(s: &AppState, doc: &Value) -> Result<Option<Response>, ApiError> {
    let Some(kind) = doc.get("Type").and_then(Value::as_str) else {
        return Ok(None);
    };
    let topic = doc.get("TopicArn").and_then(Value::as_str).unwrap_or("");
    if let Some(ses) = &s.config.webhooks.ses
        && !ses.topic_arns.is_empty()
        && !ses.topic_arns.iter().any(|t| t == topic)
    {
        return Err(ApiError::forbidden(format!(
            "SNS topic {topic:?} is not in webhooks.ses.topic_arns"
        )));
    }
    if kind == "SubscriptionConfirmation" || kind == "UnsubscribeConfirmation" {
        let url = doc
            .get("SubscribeURL")
            .and_then(Value::as_str)
            .unwrap_or("");
        tracing::warn!("SNS {kind} for {topic}: confirm by visiting {url}");
        return Ok(Some(
            axum::Json(json!({
                "sns": kind,
                "topic": topic,
                "subscribe_url": url,
                "detail": "not confirmed automatically: open subscribe_url once to confirm the subscription",
            }))
            .into_response(),
        ));
    }
    Ok(None)
}

fn parse_events(
    s: &AppState,
    source: &'static str,
    bytes: &[u8],
    year: Option<i64>,
) -> Result<Parsed, ApiError> {
    if source == "email" {
        return parse_email(s, bytes);
    }
    let format = match source {
        "log" => Format::Auto,
        other => other
            .parse::<Format>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    if let Some(y) = year
        && !(1970..=9999).contains(&y)
    {
        return Err(ApiError::bad_request(format!(
            "year={y}: between 1970 and 9999"
        )));
    }
    let options = ReaderOptions {
        format,
        year,
        times: s.config.limits.event_times(),
        // The server's rules of the moment, as /v1/classify judges.
        classifier: s.rules.get(),
        // Syslog dates in the server machine's zone, as `rebound ingest`.
        ..ReaderOptions::default()
    };
    let reader =
        EventReader::new(bytes, "body", options).map_err(|e| ApiError::unprocessable(e.message))?;
    if source == "log"
        && !matches!(
            reader.format(),
            Format::Postfix | Format::Exim | Format::Sendmail | Format::Pmta
        )
    {
        return Err(ApiError::unprocessable(format!(
            "the body reads as {}, not as Postfix, Exim, Sendmail or PowerMTA log lines; post it to /v1/events/{}",
            reader.format(),
            reader.format()
        )));
    }
    let mut parsed = Parsed {
        events: Vec::new(),
        rejected: Vec::new(),
        records: 0,
        ignored: Default::default(),
    };
    let mut reader = reader;
    for item in reader.by_ref() {
        parsed.records += 1;
        match item {
            Ok(e) => parsed.events.push(e),
            Err(e) => parsed
                .rejected
                .push(json!({"position": e.location, "error": e.message})),
        }
    }
    parsed.ignored = reader.skipped().clone();
    Ok(parsed)
}

fn parse_email(s: &AppState, bytes: &[u8]) -> Result<Parsed, ApiError> {
    let opts = rebound_decode::DecodeOptions {
        delivered: true,
        vacation: true,
    };
    let rules = s.rules.get();
    let records = rebound_decode::decode_message_with(bytes, "body", &opts, &rules)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let mut parsed = Parsed {
        events: Vec::new(),
        rejected: Vec::new(),
        records: records.len(),
        ignored: Default::default(),
    };
    let times = s.config.limits.event_times();
    let now = rebound_ingest::time::now_ms();
    let events = rebound_ingest::from_decoded(&records, "eml", bytes, rules.id());
    for (i, (r, event)) in records.iter().zip(events).enumerate() {
        let position = format!("body#{}", i + 1);
        match event {
            Some(e) => match times.check(e.time_ms, now) {
                Ok(()) => parsed.events.push(e),
                Err(why) => parsed
                    .rejected
                    .push(json!({"position": position, "error": why})),
            },
            None => parsed.rejected.push(json!({
                "position": position,
                "error": format!("no usable recipient in {:?}", r.recipient),
            })),
        }
    }
    Ok(parsed)
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    since: Option<String>,
    recipient: Option<String>,
    provider: Option<String>,
    reason: Option<String>,
    limit: Option<usize>,
}

pub async fn events(
    State(s): Shared,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = rebound_ingest::time::now_ms();
    let since_ms = q
        .since
        .as_deref()
        .map(|v| time_param("since", v, now))
        .transpose()?;
    let recipient = q.recipient.as_deref().map(address).transpose()?;
    let query = EventQuery {
        since_ms,
        recipient,
        provider: q.provider,
        reason: q.reason,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    };
    let events = s.pool.run(move |st| st.events(&query)).await?;
    ok(json!({ "events": events }))
}

fn time_param(name: &str, v: &str, now: i64) -> Result<i64, ApiError> {
    rebound_ingest::time::parse_since(v, now).ok_or_else(|| {
        ApiError::bad_request(format!(
            "cannot read {name}={v:?}: RFC 3339, a date, epoch seconds or an age like 24h"
        ))
    })
}

// ---------------------------------------------------------- suppressions

/// The answer to a single-address check, serialised as it stands: the
/// check is the hottest route (one per send).
#[derive(Serialize)]
struct CheckAnswer<'a> {
    address: &'a str,
    suppressed: bool,
    suppression: Option<rebound_ledger::Suppression>,
}

pub async fn check_one(State(s): Shared, Path(raw): Path<String>) -> ApiResult {
    let addr = address(&raw)?;
    let hit = s.checks.check(addr.clone()).await?;
    Ok(axum::Json(CheckAnswer {
        address: &addr,
        suppressed: hit.is_some(),
        suppression: hit,
    })
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    addresses: Vec<String>,
}

pub async fn check_many(
    State(s): Shared,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    json_content(&headers)?;
    let bytes = body(b)?;
    let req: CheckBody = parse_json(&bytes)?;
    let max = s.config.limits.batch_items;
    if req.addresses.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "{} addresses in one request; at most {max}",
                req.addresses.len()
            ),
        ));
    }
    // The valid addresses, normalised, in order; each asked address knows
    // whether it is one of them.
    let mut valid: Vec<String> = Vec::with_capacity(req.addresses.len());
    let is_valid: Vec<bool> = req
        .addresses
        .iter()
        .map(|a| normalize_address(a).map(|n| valid.push(n)).is_some())
        .collect();
    // One store call for the whole list (one statement on PostgreSQL, one
    // read transaction on SQLite); the list goes there and comes back.
    let (valid, answers) = s
        .pool
        .run(move |st| st.check(&valid).map(|answers| (valid, answers)))
        .await?;
    let mut checked = valid.iter().zip(answers);
    let results: Vec<CheckResult<'_>> = req
        .addresses
        .iter()
        .zip(is_valid)
        .map(|(raw, ok)| match ok.then(|| checked.next()).flatten() {
            None => CheckResult::Invalid {
                address: raw,
                error: "not an email address",
            },
            Some((a, hit)) => CheckResult::Checked(CheckAnswer {
                address: a,
                suppressed: hit.is_some(),
                suppression: hit,
            }),
        })
        .collect();
    // Serialised as it stands, not through a `Value` tree per address.
    Ok(axum::Json(CheckResults { results }).into_response())
}

/// The answer to a batch check, one result per address asked, in order.
#[derive(Serialize)]
struct CheckResults<'a> {
    results: Vec<CheckResult<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum CheckResult<'a> {
    Checked(CheckAnswer<'a>),
    Invalid {
        address: &'a str,
        error: &'static str,
    },
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    limit: Option<usize>,
}

pub async fn list_suppressions(
    State(s): Shared,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let (list, total) = s
        .pool
        .run(move |st| Ok((st.suppressions(Some(limit))?, st.count_suppressions()?)))
        .await?;
    ok(json!({"suppressions": list, "total": total}))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SuppressBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

pub async fn suppress(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let addr = address(&raw)?;
    json_content(&headers)?;
    let bytes = body(b)?;
    let req: SuppressBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        SuppressBody::default()
    } else {
        parse_json(&bytes)?
    };
    let item = ManualSuppression {
        address: addr.clone(),
        reason: req.reason.unwrap_or_else(|| "manual".into()),
        detail: req.detail.unwrap_or_default(),
    };
    let actor = caller.name;
    let key = vec![addr.clone()];
    let (added, now) = s
        .pool
        .run_write(move |st| {
            let added = st.add_suppressions(&[item], &actor)?;
            Ok((added, st.check(&key)?))
        })
        .await?;
    let status = if added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let suppression = now.into_iter().next().flatten();
    Ok((
        status,
        axum::Json(json!({"address": addr, "added": added > 0, "suppression": suppression})),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
pub struct RemoveQuery {
    note: Option<String>,
}

pub async fn unsuppress(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    Path(raw): Path<String>,
    q: Result<Query<RemoveQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let addr = address(&raw)?;
    let a = addr.clone();
    let note = q.note.unwrap_or_else(|| "removed through the API".into());
    let removed = s
        .pool
        .run_write(move |st| st.remove_suppression(&a, &caller.name, &note))
        .await?;
    if !removed {
        return Err(ApiError::not_found(format!("{addr} is not suppressed")));
    }
    ok(json!({"address": addr, "removed": true}))
}

// ------------------------------------------------------- report, incidents

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    since: Option<String>,
    until: Option<String>,
    by: Option<String>,
    bucket: Option<String>,
    top: Option<usize>,
    format: Option<String>,
}

pub async fn report(
    State(s): Shared,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let key = format!("report?{}", raw.unwrap_or_default());
    if let Some(r) = s.reports.cached(&key) {
        return Ok(rendered_response(r));
    }
    let now = rebound_ingest::time::now_ms();
    let window = window_params(q.since.as_deref(), q.until.as_deref(), None, now)?;
    let by = match q.by.as_deref() {
        None => rebound_insight::Dimension::Provider,
        Some(v) => v
            .parse()
            .map_err(|e| ApiError::bad_request(format!("by: {e}")))?,
    };
    let bucket = match q.bucket.as_deref() {
        None => rebound_insight::Bucket::Hour,
        Some(v) => v
            .parse()
            .map_err(|e| ApiError::bad_request(format!("bucket: {e}")))?,
    };
    let format = q.format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "html" | "text") {
        return Err(ApiError::bad_request(format!(
            "format={format:?}: one of json, html, text"
        )));
    }
    let opts = rebound_insight::ReportOptions {
        window,
        by,
        bucket,
        top: q.top.unwrap_or(20),
        top_patterns: 5,
        detect: s.config.incidents.detect.clone(),
        alerts: s.config.alerts.clone(),
        // The report's own reader threads; one request should not take
        // every core of a server that has other requests to answer.
        readers: 2,
    };
    built_report(&s, key, opts, move |report| match format.as_str() {
        "html" => crate::reports::Rendered {
            content_type: "text/html; charset=utf-8",
            body: rebound_insight::html::page(report).into(),
        },
        "text" => crate::reports::Rendered {
            content_type: "text/plain; charset=utf-8",
            body: rebound_insight::render::text(report).into(),
        },
        _ => crate::reports::Rendered {
            content_type: "application/json",
            body: serde_json::to_vec(report).unwrap_or_default().into(),
        },
    })
    .await
}

/// `since`/`until` as a window; `since` defaults to `default_since_ms`.
fn window_params(
    since: Option<&str>,
    until: Option<&str>,
    default_since_ms: Option<i64>,
    now: i64,
) -> Result<rebound_insight::Window, ApiError> {
    Ok(rebound_insight::Window {
        since_ms: match since {
            Some(v) => Some(time_param("since", v, now)?),
            None => default_since_ms,
        },
        until_ms: until.map(|v| time_param("until", v, now)).transpose()?,
    })
}

/// Builds a report the way every report request does (see `reports.rs`):
/// a slot among `limits.report_slots`, within `limits.report_buckets`,
/// cancelled when the request is dropped, and the rendered answer shared
/// under `key` for `limits.report_cache_seconds`.
async fn built_report(
    s: &Arc<AppState>,
    key: String,
    opts: rebound_insight::ReportOptions,
    render: impl FnOnce(&rebound_insight::Report) -> crate::reports::Rendered + Send + 'static,
) -> ApiResult {
    let wait = Duration::from_secs(s.config.limits.queue_seconds);
    let Some(_slot) = s.reports.slot(wait).await else {
        return Err(ApiError::unavailable(
            "too many reports being built; retry shortly",
        ));
    };
    // Requests that waited for the slot may find their answer made.
    if let Some(r) = s.reports.cached(&key) {
        return Ok(rendered_response(r));
    }
    let url = s.pool.url().to_string();
    let cancel = crate::reports::CancelOnDrop(Arc::default());
    let bounds = rebound_insight::Bounds {
        max_buckets: s.config.limits.report_buckets,
        cancel: Some(Arc::clone(&cancel.0)),
    };
    let rendered = tokio::task::spawn_blocking(move || {
        let report = rebound_insight::build_within(&url, opts, &bounds)?;
        Ok::<_, rebound_insight::source::Error>(render(&report))
    })
    .await
    .map_err(blocking_failed)?
    .map_err(|e| match e {
        rebound_insight::source::Error::TooBig(why) => ApiError::bad_request(why),
        e => ApiError::store(e),
    })?;
    drop(cancel);
    s.reports.remember(key, rendered.clone());
    Ok(rendered_response(rendered))
}

#[derive(Deserialize, Default)]
pub struct AlertsQuery {
    since: Option<String>,
    until: Option<String>,
}

/// `GET /v1/alerts`: the report's rate alerts over the window (default:
/// the last 24 hours), built by the report's path and bounds.
pub async fn alerts(
    State(s): Shared,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    q: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let key = format!("alerts?{}", raw.unwrap_or_default());
    if let Some(r) = s.reports.cached(&key) {
        return Ok(rendered_response(r));
    }
    let now = rebound_ingest::time::now_ms();
    let window = window_params(
        q.since.as_deref(),
        q.until.as_deref(),
        Some(now - 24 * 3_600_000),
        now,
    )?;
    let mut alerts = s.config.alerts.clone();
    // The answer is the alerts: counting them is not optional here.
    alerts.enabled = true;
    let opts = rebound_insight::ReportOptions {
        window,
        // Day buckets and one group: the least series work for a window.
        bucket: rebound_insight::Bucket::Day,
        top: 1,
        top_patterns: 0,
        detect: s.config.incidents.detect.clone(),
        alerts,
        readers: 2,
        ..Default::default()
    };
    built_report(&s, key, opts, |report| crate::reports::Rendered {
        content_type: "application/json",
        body: serde_json::to_vec(&json!({ "alerts": report.alerts }))
            .unwrap_or_default()
            .into(),
    })
    .await
}

fn rendered_response(r: crate::reports::Rendered) -> Response {
    ([(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

/// The incident list, recomputed from the store at most every
/// `cache_seconds`. Every instance computes it from the same events, so
/// instances on one PostgreSQL serve the same list.
#[derive(Default)]
pub struct IncidentCache {
    slot: tokio::sync::Mutex<Option<(Instant, Arc<Value>)>>,
}

impl IncidentCache {
    pub async fn get(&self, s: &Arc<AppState>) -> Result<Arc<Value>, ApiError> {
        // Holding the lock while computing makes concurrent callers wait for
        // one computation instead of each starting their own.
        let mut slot = self.slot.lock().await;
        let ttl = Duration::from_secs(s.config.incidents.cache_seconds);
        if let Some((at, v)) = slot.as_ref()
            && at.elapsed() < ttl
        {
            return Ok(Arc::clone(v));
        }
        let now = rebound_ingest::time::now_ms();
        let window_ms = s.config.incidents.window_hours.max(1) as i64 * 3_600_000;
        let opts = rebound_insight::ReportOptions {
            window: rebound_insight::Window {
                since_ms: Some(now - window_ms),
                until_ms: None,
            },
            top: 1,
            top_patterns: 0,
            detect: s.config.incidents.detect.clone(),
            // The same pass gives the alerts of the metrics' gauges.
            alerts: s.config.alerts.clone(),
            readers: 2,
            ..Default::default()
        };
        let url = s.pool.url().to_string();
        let report = tokio::task::spawn_blocking(move || rebound_insight::build(&url, opts))
            .await
            .map_err(blocking_failed)?
            .map_err(ApiError::store)?;
        let (open, closed): (Vec<_>, Vec<_>) = report
            .incidents
            .into_iter()
            .partition(|i| i.state == "open");
        s.metrics.incidents_open.set(open.len() as i64);
        // Alerts that ended must leave the scrape, not linger at their
        // last value: the family is rebuilt from the current list.
        s.metrics.alert_values.clear();
        for a in &report.alerts {
            s.metrics
                .alert_values
                .get_or_create(&crate::metrics::AlertLabels {
                    scope: a.scope.as_str(),
                    key: crate::metrics::label_value(&a.key),
                    metric: a.metric.as_str(),
                })
                .set(a.value);
        }
        let v = Arc::new(json!({
            "as_of_ms": now,
            "window_hours": s.config.incidents.window_hours,
            "open": open,
            "closed": closed,
        }));
        *slot = Some((Instant::now(), Arc::clone(&v)));
        Ok(v)
    }
}

pub async fn incidents(State(s): Shared) -> ApiResult {
    let v = s.incidents.get(&s).await?;
    ok((*v).clone())
}

// --------------------------------------------------------------- metrics

pub async fn metrics(State(s): Shared) -> ApiResult {
    let n = s.pool.run(|st| st.count_suppressions()).await?;
    s.metrics.suppressions.set(n as i64);
    // Refreshes the open-incident gauge when the cached list is stale.
    s.incidents.get(&s).await?;
    let mut resp = s.metrics.encode().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(resp)
}
