//! Where messages come from: single files, directories (flat or Maildir
//! `cur/`/`new/`), Unix mbox files and stdin. Everything streams: an mbox is
//! read message by message, never whole, and one unreadable or oversized
//! message is reported with its position while the others go on.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The largest message accepted. Real bounces are far smaller; a larger one
/// is skipped (and reported) so that memory stays bounded.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// One message's bytes and where they came from.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// The file path; `path#N` (1-based) for the N-th message of an mbox;
    /// `-` for stdin.
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// A message that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{origin}: {source}")]
    Io {
        origin: String,
        #[source]
        source: io::Error,
    },
    #[error("{origin}: message larger than {limit} bytes, skipped")]
    TooLarge { origin: String, limit: usize },
}

/// Every message under `paths`, in a stable order (directory entries sorted
/// by name). `-` is stdin.
pub fn messages(paths: &[PathBuf]) -> Messages {
    Messages {
        pending: paths.iter().cloned().collect(),
        mbox: None,
    }
}

/// Iterator returned by [`messages`].
pub struct Messages {
    pending: VecDeque<PathBuf>,
    mbox: Option<MboxReader<Box<dyn BufRead + Send>>>,
}

impl Iterator for Messages {
    type Item = Result<RawMessage, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(mbox) = self.mbox.as_mut() {
                match mbox.next() {
                    Some(item) => return Some(item),
                    None => self.mbox = None,
                }
            }
            let path = self.pending.pop_front()?;
            if path.as_os_str() == "-" {
                let stdin: Box<dyn BufRead + Send> = Box::new(BufReader::new(io::stdin()));
                match self.open_stream(stdin, "-".to_string()) {
                    Ok(Some(msg)) => return Some(Ok(msg)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            let origin = path.display().to_string();
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(source) => return Some(Err(InputError::Io { origin, source })),
            };
            if meta.is_dir() {
                match list_dir(&path) {
                    Ok(entries) => {
                        for p in entries.into_iter().rev() {
                            self.pending.push_front(p);
                        }
                        continue;
                    }
                    Err(source) => return Some(Err(InputError::Io { origin, source })),
                }
            }
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(source) => return Some(Err(InputError::Io { origin, source })),
            };
            let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 16, file));
            match self.open_stream(reader, origin) {
                Ok(Some(msg)) => return Some(Ok(msg)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Messages {
    /// Reads a single message from `reader`, or switches to mbox mode when
    /// the stream starts with a `From ` line.
    fn open_stream(
        &mut self,
        mut reader: Box<dyn BufRead + Send>,
        origin: String,
    ) -> Result<Option<RawMessage>, InputError> {
        let head = reader.fill_buf().map_err(|source| InputError::Io {
            origin: origin.clone(),
            source,
        })?;
        if head.starts_with(b"From ") {
            self.mbox = Some(MboxReader::new(reader, origin));
            return Ok(None);
        }
        let mut bytes = Vec::new();
        let limit = MAX_MESSAGE_BYTES as u64 + 1;
        reader
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|source| InputError::Io {
                origin: origin.clone(),
                source,
            })?;
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(InputError::TooLarge {
                origin,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // An empty file is no message (and no error).
            return Ok(None);
        }
        Ok(Some(RawMessage { origin, bytes }))
    }
}

/// The files of a directory: a Maildir's `cur/` and `new/` (its `tmp/` holds
/// messages still being written), or else every file below it, recursively,
/// skipping hidden entries.
fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let is_maildir = dir.join("cur").is_dir() || dir.join("new").is_dir();
    let mut out = Vec::new();
    if is_maildir {
        for sub in ["cur", "new"] {
            let d = dir.join(sub);
            if d.is_dir() {
                out.extend(sorted_entries(&d)?.into_iter().filter(|p| p.is_file()));
            }
        }
        return Ok(out);
    }
    sorted_entries(dir)
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    // All entries share one parent, so their names' bytes give the order
    // `Path`'s component-wise comparison would, at a fraction of the cost
    // (sorting 630 paths by component took as long as decoding 40 emails).
    entries.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(entries)
}

/// Splits a message after which further messages were appended, each
/// introduced by an mbox postmark (`From sender Thu Jul  2 12:05:05 2020`)
/// that follows the closing boundary of a multipart body or a blank line.
/// Postmarks elsewhere (a bounce quoted inside a text) do not split. Returns
/// the whole input as one piece when nothing was appended.
pub fn split_appended_messages(raw: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    // Only lines starting with "From " can split: find those directly
    // instead of walking every line (most messages have none).
    // Built once: building a searcher per message cost more than the search.
    static POSTMARK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\nFrom "));
    for hit in POSTMARK.find_iter(raw) {
        let line_start = hit + 1;
        if line_start <= start {
            continue;
        }
        let line_end =
            memchr::memchr(b'\n', &raw[line_start..]).map_or(raw.len(), |n| line_start + n);
        let line = trim_line_end(&raw[line_start..line_end]);
        let previous_start = memchr::memrchr(b'\n', &raw[..hit]).map_or(0, |n| n + 1);
        let previous = trim_line_end(&raw[previous_start..hit]);
        if is_postmark(line) && ends_a_message(previous) {
            pieces.push(&raw[start..line_start]);
            start = (line_end + 1).min(raw.len());
        }
    }
    pieces.push(&raw[start..]);
    pieces
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

/// A closing MIME boundary (`--xyz--`) or a blank line.
fn ends_a_message(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
        || (line.len() > 4
            && line.starts_with(b"--")
            && line.ends_with(b"--")
            && line.iter().any(|&b| b != b'-'))
}

/// An mbox postmark: `From `, a sender, then a date ending in a year.
fn is_postmark(line: &[u8]) -> bool {
    if !line.starts_with(b"From ") || line.len() > 256 {
        return false;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    words.len() >= 6
        && words
            .last()
            .and_then(|y| y.parse::<u16>().ok())
            .is_some_and(|y| (1970..=2200).contains(&y))
        && words[1].len() > 1
}

/// Splits a Unix mbox stream into messages. A message starts at a `From `
/// line at the start of the stream or after a blank line; `>From ` lines
/// (mboxrd/mboxo quoting) lose one `>`.
pub struct MboxReader<R> {
    reader: R,
    origin: String,
    index: usize,
    /// The `From ` line that starts the next message, once seen.
    started: bool,
    done: bool,
    line: Vec<u8>,
    /// The byte that ends a line: `\n`, or `\r` in a file written with
    /// bare carriage returns (classic Mac OS), decided by the first line.
    line_end: u8,
}

impl<R: BufRead> MboxReader<R> {
    pub fn new(reader: R, origin: String) -> Self {
        Self {
            reader,
            origin,
            index: 0,
            started: false,
            done: false,
            line: Vec::new(),
            line_end: b'\n',
        }
    }

    /// Whether the stream ends its lines with bare carriage returns: the
    /// first line break in the buffered head is a `\r` not followed by
    /// `\n`. Otherwise every line would be one line: a whole file read as
    /// its `From ` separator, and no message.
    fn detect_line_end(&mut self) -> io::Result<()> {
        let head = self.reader.fill_buf()?;
        if let Some(at) = memchr::memchr2(b'\n', b'\r', head)
            && head[at] == b'\r'
            && head.get(at + 1) != Some(&b'\n')
        {
            self.line_end = b'\r';
        }
        Ok(())
    }

    fn is_blank(&self) -> bool {
        matches!(self.line.as_slice(), b"\n" | b"\r\n" | b"\r")
    }

    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        // Bound a single line too: a 1 GB line without newline must not be
        // buffered whole.
        let n = (&mut self.reader)
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_until(self.line_end, &mut self.line)?;
        Ok(n > 0)
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = Result<RawMessage, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.started
            && let Err(source) = self.detect_line_end()
        {
            self.done = true;
            return Some(Err(self.io_error(source)));
        }
        // Find the first separator.
        while !self.started {
            match self.read_line() {
                Ok(true) if self.line.starts_with(b"From ") => self.started = true,
                Ok(true) => continue,
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(self.io_error(source)));
                }
            }
        }
        self.index += 1;
        let origin = format!("{}#{}", self.origin, self.index);
        let mut bytes = Vec::new();
        let mut too_large = false;
        let mut previous_blank = true;
        loop {
            match self.read_line() {
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Ok(true) => {
                    if previous_blank && self.line.starts_with(b"From ") {
                        break;
                    }
                    previous_blank = self.is_blank();
                    if too_large {
                        continue;
                    }
                    let line: &[u8] = match self.line.iter().position(|&b| b != b'>') {
                        Some(p) if p > 0 && self.line[p..].starts_with(b"From ") => &self.line[1..],
                        _ => &self.line,
                    };
                    if bytes.len() + line.len() > MAX_MESSAGE_BYTES {
                        too_large = true;
                        bytes = Vec::new();
                        continue;
                    }
                    bytes.extend_from_slice(line);
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(InputError::Io { origin, source }));
                }
            }
        }
        if too_large {
            return Some(Err(InputError::TooLarge {
                origin,
                limit: MAX_MESSAGE_BYTES,
            }));
        }
        // The blank line before the next separator belongs to the format.
        let end = self.line_end;
        if bytes.ends_with(&[end, end]) {
            bytes.pop();
        }
        Some(Ok(RawMessage { origin, bytes }))
    }
}

impl<R> MboxReader<R> {
    fn io_error(&self, source: io::Error) -> InputError {
        InputError::Io {
            origin: self.origin.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(mbox: &str) -> Vec<String> {
        MboxReader::new(mbox.as_bytes(), "m".into())
            .map(|m| String::from_utf8(m.unwrap().bytes).unwrap())
            .collect()
    }

    #[test]
    fn mbox_splits_on_from_lines_after_blank_lines() {
        let msgs = split(
            "From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom inside body\n\n\
From c@d Mon Jan  1 00:00:00 2024\nSubject: two\n\n>From quoted\n",
        );
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], "Subject: one\n\nbody\nFrom inside body\n");
        assert_eq!(msgs[1], "Subject: two\n\nFrom quoted\n");
    }

    #[test]
    fn appended_messages_split_only_after_a_message_end() {
        let raw = b"Subject: a\n\n--B--\nFrom x@y Thu Jul  2 12:05:05 2020\nSubject: b\n\nbody\n";
        let pieces = split_appended_messages(raw);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[1], b"Subject: b\n\nbody\n");
        let quoted = b"Subject: a\n\n------------\nFrom x@y Thu Jul  2 12:05:05 2020\nSubject: b\n";
        assert_eq!(split_appended_messages(quoted).len(), 1);
        let prose = b"Subject: a\n\nFrom the desk of the postmaster\n";
        assert_eq!(split_appended_messages(prose).len(), 1);
    }

    #[test]
    fn mbox_with_bare_carriage_returns_splits_by_them() {
        let msgs = split(
            "From a@b Mon Jan  1 00:00:00 2024\rSubject: one\r\rbody\r\r\
From c@d Mon Jan  1 00:00:00 2024\rSubject: two\r\r>From quoted\r",
        );
        assert_eq!(
            msgs,
            ["Subject: one\r\rbody\r", "Subject: two\r\rFrom quoted\r"]
        );
    }

    #[test]
    fn empty_mbox_has_no_messages() {
        assert!(split("").is_empty());
    }
}
