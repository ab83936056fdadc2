//! [`EventReader`]: a stream of events from one input.

use crate::{
    Draft, Event, Format, MAX_JSON_DOCUMENT, MAX_LINE, Normaliser, ParseError, detect, exim::Exim,
    pmta::Pmta, postfix::Postfix, sendmail::Sendmail, time, webhook,
};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Read};

/// How to read an input.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// The format, or [`Format::Auto`] to detect it.
    pub format: Format,
    /// The year for syslog timestamps that have none (Postfix); default: the
    /// current year, or the one before for dates that would lie more than a
    /// day in the future (a December line read in January).
    pub year: Option<i64>,
    /// The zone of syslog timestamps, which state none (Postfix); default:
    /// the machine's. Timestamps with an offset are read as stated.
    pub timezone: time::TimeZone,
    /// When the input is read (default: now); years are inferred and time
    /// windows checked against it.
    pub now_ms: Option<i64>,
    /// Event times accepted; others are rejected records.
    pub times: crate::TimeWindow,
    /// The rules events are judged by (default: the built-in ones).
    pub classifier: rebound_classify::SharedClassifier,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            format: Format::Auto,
            year: None,
            timezone: time::TimeZone::system(),
            now_ms: None,
            times: crate::TimeWindow::default(),
            classifier: rebound_classify::SharedClassifier::Builtin,
        }
    }
}

enum Parser {
    Postfix(Box<Postfix>),
    Exim(Box<Exim>),
    Sendmail(Box<Sendmail>),
    Pmta(Box<Pmta>),
    /// JSON webhook records; the format may be Auto (decided per record).
    Json(Format),
}

/// Reads one input record by record and yields events, or a [`ParseError`]
/// for each record that cannot be read (the caller decides whether to skip
/// it or stop). Memory stays bounded: lines are capped at [`MAX_LINE`] and
/// join tables are bounded.
pub struct EventReader<R: BufRead> {
    input: R,
    name: String,
    format: Format,
    parser: Parser,
    normaliser: Normaliser,
    line_no: u64,
    queue: VecDeque<Result<Event, ParseError>>,
    buf: Vec<u8>,
    done: bool,
    now_ms: i64,
    /// The time of a record that states none.
    received_ms: i64,
    times: crate::TimeWindow,
    /// Records that carry no delivery outcome (opens, clicks, …), by
    /// provider and kind.
    skipped: BTreeMap<String, u64>,
    /// Records rejected, by kind of fault.
    rejected: BTreeMap<&'static str, u64>,
}

impl<R: BufRead> EventReader<R> {
    /// Prepares to read `input`, detecting the format from its first bytes if
    /// `opts.format` is `Auto`. Bounce-email formats are refused: read those
    /// through the decoder.
    pub fn new(mut input: R, name: &str, opts: ReaderOptions) -> Result<Self, ParseError> {
        let err = |m: String| ParseError {
            location: name.to_string(),
            message: m,
        };
        let mut format = opts.format;
        let mut json_auto = false;
        if format == Format::Auto {
            let head = input.fill_buf().map_err(|e| err(e.to_string()))?;
            format = detect(head)
                .ok_or_else(|| err("cannot tell the format (use --format)".to_string()))?;
            json_auto = format.is_json();
        }
        if format.is_email() {
            return Err(err(format!(
                "{format} input is read by the bounce decoder, not the log/webhook reader"
            )));
        }
        let now_ms = opts.now_ms.unwrap_or_else(time::now_ms);
        let parser =
            match format {
                Format::Postfix => Parser::Postfix(Box::new(Postfix::new(time::SyslogClock::new(
                    opts.timezone,
                    opts.year,
                    now_ms,
                )))),
                Format::Exim => Parser::Exim(Box::new(Exim::new())),
                Format::Sendmail => Parser::Sendmail(Box::new(Sendmail::new(
                    time::SyslogClock::new(opts.timezone, opts.year, now_ms),
                ))),
                Format::Pmta => Parser::Pmta(Box::new(Pmta::new())),
                f if json_auto => Parser::Json(if f.is_json() { Format::Auto } else { f }),
                f => Parser::Json(f),
            };
        Ok(Self {
            input,
            name: name.to_string(),
            format,
            parser,
            normaliser: Normaliser::with_classifier(opts.classifier.clone()),
            line_no: 0,
            queue: VecDeque::new(),
            buf: Vec::new(),
            done: false,
            now_ms,
            received_ms: now_ms,
            times: opts.times,
            skipped: BTreeMap::new(),
            rejected: BTreeMap::new(),
        })
    }

    /// Sets the time given to records that state none (default: when the
    /// reader was made), so a caller can pass the time a request arrived
    /// and tests can fix it.
    pub fn received_at(mut self, ms: i64) -> Self {
        self.received_ms = ms;
        self
    }

    /// Records read that carry no delivery outcome (opens, clicks,
    /// `processed`, subscription changes…), by `provider kind`: not events,
    /// not errors, but counted so a summary can show them.
    pub fn skipped(&self) -> &BTreeMap<String, u64> {
        &self.skipped
    }

    /// Why records gave no event, with counts: for log lines, what they were
    /// (`another program`, `no delivery status`…); for every input, the
    /// records rejected as errors, as `rejected: KIND` (`invalid timestamp`,
    /// `line too long`…), each also given as a [`ParseError`] with
    /// file:line.
    pub fn skipped_by_reason(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        let log_skips = match &self.parser {
            Parser::Postfix(p) => Some(&p.skipped),
            Parser::Sendmail(p) => Some(&p.skipped),
            _ => None,
        };
        for (k, v) in log_skips.into_iter().flatten() {
            out.insert(k.to_string(), *v);
        }
        for (k, v) in &self.rejected {
            out.insert(format!("rejected: {k}"), *v);
        }
        out
    }

    /// The format read (the first record's provider for JSON under Auto).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Lines read so far.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Verdict cache statistics: (hits, misses).
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.normaliser.cache_hits, self.normaliser.cache_misses)
    }

    /// A rejected record, counted by kind: the kind is told from the
    /// message, which every parser words the same way for these.
    fn error(&mut self, location: String, message: impl Into<String>) -> ParseError {
        let message = message.into();
        let kind = if message.starts_with("invalid timestamp")
            || message.starts_with("invalid date")
            || message.starts_with("invalid time of day")
        {
            "invalid timestamp"
        } else if message.starts_with("not a syslog line") {
            "not a log line"
        } else if message.starts_with("line longer") {
            "line too long"
        } else if message.starts_with("event time") {
            "time out of range"
        } else {
            "unreadable record"
        };
        *self.rejected.entry(kind).or_default() += 1;
        ParseError { location, message }
    }

    /// Reads one line into `self.buf` (without the newline), capped at
    /// MAX_LINE. Returns Ok(None) at the end, Ok(Some(truncated)).
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buf.clear();
        let mut truncated = false;
        let mut any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            // A Mandrill form body is one line holding a whole batch: it
            // gets a JSON document's limit.
            let cap = if self
                .buf
                .starts_with(webhook::MANDRILL_FORM_FIELD.as_bytes())
            {
                usize::try_from(MAX_JSON_DOCUMENT).unwrap_or(usize::MAX)
            } else {
                MAX_LINE
            };
            let room = cap.saturating_sub(self.buf.len());
            if room < take {
                truncated = true;
            }
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.input.consume(take);
            if found {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(Some(truncated))
    }

    fn push_drafts(&mut self, drafts: Vec<Draft>, format: Format, location: &str) {
        for d in drafts {
            let item = match self
                .times
                .check(d.time_ms, self.now_ms)
                .and_then(|()| self.normaliser.finish(d, format, location.to_string()))
            {
                Ok(e) => Ok(e),
                Err(m) => Err(self.error(location.to_string(), m)),
            };
            self.queue.push_back(item);
        }
    }

    fn json_value(&mut self, v: serde_json::Value, location: String) {
        let Parser::Json(fmt) = self.parser else {
            return;
        };
        let recs = webhook::records(v);
        let many = recs.len() > 1;
        for (i, rec) in recs.iter().enumerate() {
            let loc = if many {
                format!("{location}#{}", i + 1)
            } else {
                location.clone()
            };
            match webhook::record(rec, fmt, self.received_ms) {
                Ok((f, parsed)) => {
                    if let Some(kind) = parsed.skipped {
                        *self.skipped.entry(kind).or_default() += 1;
                    }
                    self.push_drafts(parsed.drafts, f, &loc)
                }
                Err(m) => {
                    let e = self.error(loc, m);
                    self.queue.push_back(Err(e));
                }
            }
        }
    }

    /// Reads the next record(s) into the queue.
    fn advance(&mut self) {
        let truncated = match self.read_line() {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.done = true;
                return;
            }
            Err(e) => {
                self.done = true;
                let e = self.error(format!("{}:{}", self.name, self.line_no + 1), e.to_string());
                self.queue.push_back(Err(e));
                return;
            }
        };
        self.line_no += 1;
        let location = format!("{}:{}", self.name, self.line_no);
        if truncated {
            let e = self.error(location, format!("line longer than {MAX_LINE} bytes"));
            self.queue.push_back(Err(e));
            return;
        }
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        let result = match &mut self.parser {
            Parser::Postfix(p) => p.line(&line),
            Parser::Exim(p) => p.line(&line),
            Parser::Sendmail(p) => p.line(&line),
            Parser::Pmta(p) => p.line(&line),
            Parser::Json(_) => {
                let t = line.trim();
                if t.is_empty() {
                    return;
                }
                if t.starts_with(webhook::MANDRILL_FORM_FIELD) {
                    match webhook::mandrill_form_events(t) {
                        Ok(v) => self.json_value(v, location),
                        Err(m) => {
                            let e = self.error(location, m);
                            self.queue.push_back(Err(e));
                        }
                    }
                    return;
                }
                match serde_json::from_str::<serde_json::Value>(t) {
                    Ok(v) => {
                        self.json_value(v, location);
                        return;
                    }
                    Err(e) if self.line_no == 1 && e.is_eof() => {
                        // Not JSON Lines: one (pretty-printed) document.
                        self.read_document(line);
                        return;
                    }
                    Err(e) => Err(format!("invalid JSON: {e}")),
                }
            }
        };
        let format = self.format;
        match result {
            Ok(drafts) => self.push_drafts(drafts, format, &location),
            Err(m) => {
                let e = self.error(location, m);
                self.queue.push_back(Err(e));
            }
        }
    }

    fn read_document(&mut self, first: String) {
        self.done = true;
        let mut text = first.into_bytes();
        text.push(b'\n');
        let mut rest = Vec::new();
        let limit = MAX_JSON_DOCUMENT.saturating_sub(text.len() as u64);
        if let Err(e) = (&mut self.input).take(limit + 1).read_to_end(&mut rest) {
            let e = self.error(self.name.clone(), e.to_string());
            self.queue.push_back(Err(e));
            return;
        }
        if rest.len() as u64 > limit {
            let e = self.error(
                self.name.clone(),
                format!("JSON document larger than {MAX_JSON_DOCUMENT} bytes; use JSON Lines"),
            );
            self.queue.push_back(Err(e));
            return;
        }
        text.extend_from_slice(&rest);
        match serde_json::from_slice::<serde_json::Value>(&text) {
            Ok(v) => self.json_value(v, self.name.clone()),
            Err(e) => {
                let e = self.error(
                    format!("{}:{}", self.name, e.line()),
                    format!("invalid JSON: {e}"),
                );
                self.queue.push_back(Err(e));
            }
        }
    }
}

impl<R: BufRead> Iterator for EventReader<R> {
    type Item = Result<Event, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            self.advance();
        }
    }
}
