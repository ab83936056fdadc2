//! Timestamps as the sources write them, to UTC epoch milliseconds, through
//! `jiff` (calendar, offsets and the IANA time-zone database). A time that
//! states its offset is read as stated; a classic syslog stamp, which has
//! neither year nor zone, is placed by a [`SyslogClock`].

use jiff::civil::{Date, Time};
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::{Timestamp, ToSpan};

pub use jiff::tz::TimeZone;

/// The time zone named `name`: an IANA name (`Europe/Paris`), `UTC`, or
/// `local` / `system` for the machine's own.
pub fn zone_named(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("local") || name.eq_ignore_ascii_case("system") {
        return Ok(TimeZone::system());
    }
    TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))
}

/// The year of a UTC epoch-milliseconds time.
pub fn year_of(ms: i64) -> i64 {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => i64::from(t.to_zoned(TimeZone::UTC).year()),
        // Outside jiff's range (years -9999 to 9999): clamp, as no caller
        // has a real date there.
        Err(_) if ms < 0 => -9999,
        Err(_) => 9999,
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2026-11-23T15:30:03.120Z`).
pub fn format_rfc3339(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        // Always three decimals, so the strings sort and line up.
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => format!("{ms} ms since 1970"),
    }
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Parses RFC 3339 / ISO 8601 and the close variants the sources use:
/// `2016-01-27T14:59:38.237Z`, `2019-11-05T16:33:54.9070259Z`,
/// `2026-11-23 15:30:03` (no offset: UTC), `2026-11-23 15:30:03-0500`,
/// `2026-11-23 15:30:03 +0100`, `2026-11-23 15:30:03 UTC`,
/// `2026-11-23T15:30:03.123456+00:00`. Sub-millisecond digits are dropped.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    // Date and time of day are required: a bare date is not an event time.
    if b.len() < 19
        || !b[..19].is_ascii()
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
    {
        return None;
    }
    // jiff reads at most nanoseconds; .NET writes 7 digits, some write more.
    let mut end = 19;
    let mut text = s[..19].to_string();
    if let Some(f) = s[19..].strip_prefix(['.', ',']) {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            text.push('.');
            text.push_str(&f[..n.min(9)]);
        }
        end = 20 + n;
    }
    // The zone: ` +0100` and ` UTC` are common in logs but not ISO 8601.
    let zone = s[end..].trim_start();
    if zone.eq_ignore_ascii_case("UTC") || zone.eq_ignore_ascii_case("GMT") {
        text.push('Z');
    } else {
        text.push_str(zone);
    }
    let pieces = Pieces::parse(&text).ok()?;
    let time = pieces.time()?;
    // A time-zone annotation (`[Europe/Paris]`) is not something our
    // sources write; refuse rather than guess which of it and the offset wins.
    if pieces.time_zone_annotation().is_some() {
        return None;
    }
    let dt = pieces.date().to_datetime(time);
    let offset = match pieces.offset() {
        None | Some(PiecesOffset::Zulu) => jiff::tz::Offset::UTC,
        Some(PiecesOffset::Numeric(n)) => n.offset(),
        Some(_) => return None,
    };
    Some(offset.to_timestamp(dt).ok()?.as_millisecond())
}

/// Parses an epoch number in seconds (possibly fractional) or milliseconds
/// (13 digits and more), as a JSON number or string.
pub fn parse_epoch(v: &serde_json::Value) -> Option<i64> {
    let f = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(f) = s.parse::<f64>() {
                f
            } else {
                return parse_iso(s);
            }
        }
        _ => return None,
    };
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    Some(if f >= 1e12 {
        f as i64
    } else {
        (f * 1000.0).round() as i64
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A classic syslog stamp (`Nov 23 15:30:03`) as written: no year, no zone.
/// The numbers are not checked against a calendar yet (that needs the year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogStamp {
    pub month: i8,
    pub day: i8,
    pub hour: i8,
    pub minute: i8,
    pub second: i8,
    pub millisecond: i16,
}

/// What the start of a log line holds.
#[derive(Debug, PartialEq, Eq)]
pub enum LineStamp<'a> {
    /// A time and the rest of the line after it (its leading space kept).
    Time(i64, &'a str),
    /// Something meant as a timestamp that is not a real time: the reason.
    Invalid(String),
    /// No timestamp at all.
    Missing,
}

/// Reads `Mmm dd HH:MM:SS[.frac]` (the day may be space-padded) at the start
/// of `s`. `None` if `s` does not start with a month name and a space;
/// `Some(Err)` if it does but the rest is not a stamp.
pub fn syslog_stamp(s: &str) -> Option<Result<(SyslogStamp, &str), String>> {
    let b = s.as_bytes();
    if b.len() < 4 || b[3] != b' ' {
        return None;
    }
    let month = MONTHS.iter().position(|m| m.as_bytes() == &b[0..3])? as i8 + 1;
    let bad = || {
        let shown: String = s.chars().take(15).collect();
        Err(format!("invalid timestamp {shown:?}"))
    };
    let num = |x: &[u8]| -> Option<i8> {
        let t = std::str::from_utf8(x).ok()?.trim_start();
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    if b.len() < 15 || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return Some(bad());
    }
    let (Some(day), Some(hour), Some(minute), Some(second)) = (
        num(&b[4..6]),
        num(&b[7..9]),
        num(&b[10..12]),
        num(&b[13..15]),
    ) else {
        return Some(bad());
    };
    let mut millisecond = 0;
    let mut rest = &s[15..];
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &f[..n.min(3)];
        if let Ok(v) = digits.parse::<i16>() {
            millisecond = v * 10i16.pow(3 - digits.len() as u32);
        }
        rest = &f[n..];
    }
    // Checked here rather than by the calendar so that `25:99:99` is
    // refused the same way whatever the year turns out to be.
    if hour > 23 || minute > 59 || second > 60 {
        return Some(bad());
    }
    Some(Ok((
        SyslogStamp {
            month,
            day,
            hour,
            minute,
            // A leap second is the last second of its minute.
            second: second.min(59),
            millisecond,
        },
        rest,
    )))
}

/// Places syslog stamps in time: in a zone, and in the year they most
/// likely belong to, since syslog writes neither.
#[derive(Debug, Clone)]
pub struct SyslogClock {
    zone: TimeZone,
    /// `--year`: every stamp is in this year.
    year: Option<i16>,
    /// The reading time's year in `zone`, and a day after the reading time:
    /// a stamp past that is last year's.
    this_year: i16,
    horizon: Timestamp,
}

impl SyslogClock {
    /// Stamps in `zone`; in `year` if given, else in the year that puts
    /// them no more than a day after `now_ms` (a `Dec 31` line read on
    /// 2 January is last year's).
    pub fn new(zone: TimeZone, year: Option<i64>, now_ms: i64) -> Self {
        let now = Timestamp::from_millisecond(now_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        Self {
            this_year: now.to_zoned(zone.clone()).year(),
            // 24 hours: a timestamp has no calendar days.
            horizon: now.checked_add(24.hours()).unwrap_or(now),
            zone,
            year: year.map(|y| y.clamp(-9999, 9999) as i16),
        }
    }

    /// UTC milliseconds of `stamp`, or why it is not a real time (`Nov 32`,
    /// `Feb 29` in a year that has none).
    pub fn place(&self, stamp: SyslogStamp) -> Result<i64, String> {
        let time = Time::new(
            stamp.hour,
            stamp.minute,
            stamp.second,
            i32::from(stamp.millisecond) * 1_000_000,
        )
        .map_err(|e| format!("invalid time of day: {e}"))?;
        let at = |year: i16| -> Result<Timestamp, String> {
            let date = Date::new(year, stamp.month, stamp.day).map_err(|_| {
                format!(
                    "invalid date: {} {} {year}",
                    MONTHS[stamp.month as usize - 1],
                    stamp.day
                )
            })?;
            // In a DST fold (the hour that happens twice) syslog cannot say
            // which; "compatible" takes the earlier, and in a gap the later.
            self.zone
                .to_ambiguous_timestamp(date.to_datetime(time))
                .compatible()
                .map_err(|e| e.to_string())
        };
        let ms = match self.year {
            Some(y) => at(y)?,
            None => match at(self.this_year) {
                Ok(t) if t <= self.horizon => t,
                // In the future (or `Feb 29` this year has none): the
                // stamp is from last year.
                first => at(self.this_year - 1).or(first)?,
            },
        };
        Ok(ms.as_millisecond())
    }

    /// Reads the timestamp at the start of a log line: RFC 3339 (Postfix's
    /// and rsyslog's high-precision format, read as stated) or classic
    /// syslog (placed by this clock).
    pub fn line<'a>(&self, line: &'a str) -> LineStamp<'a> {
        let b = line.as_bytes();
        if b.first().is_some_and(u8::is_ascii_digit) {
            let (ts, rest) = line.split_at(line.find(' ').unwrap_or(line.len()));
            let looks_iso = ts.len() >= 10 && ts.as_bytes()[4] == b'-';
            return match parse_iso(ts) {
                Some(ms) => LineStamp::Time(ms, rest),
                None if looks_iso => LineStamp::Invalid(format!("invalid timestamp {ts:?}")),
                None => LineStamp::Missing,
            };
        }
        match syslog_stamp(line) {
            None => LineStamp::Missing,
            Some(Err(e)) => LineStamp::Invalid(e),
            Some(Ok((stamp, rest))) => match self.place(stamp) {
                Ok(ms) => LineStamp::Time(ms, rest),
                Err(e) => LineStamp::Invalid(e),
            },
        }
    }
}

/// A point in time as people write it on a command line or in a query:
/// RFC 3339 (`2026-11-01T10:00:00Z`), a date (`2026-11-01`), epoch seconds,
/// or an age before `now` (`30m`, `24h`, `7d`, `2w`).
pub fn parse_since(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_iso(s) {
        return Some(t);
    }
    if s.len() == 10 && s.as_bytes()[4] == b'-' {
        return parse_iso(&format!("{s}T00:00:00Z"));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().ok()?;
    let ms = match unit {
        // Checked: a query string can hold any number.
        "" => return n.checked_mul(1000),
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    now.checked_sub(n.checked_mul(ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        parse_iso(s).unwrap()
    }

    #[test]
    fn iso_variants() {
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso("2016-01-27T14:59:38.237Z"),
            Some(1_453_906_778_237)
        );
        assert_eq!(
            parse_iso("2019-11-05T16:33:54.9070259Z"),
            Some(1_572_971_634_907)
        );
        assert_eq!(
            parse_iso("2026-11-23 15:30:03-0500"),
            parse_iso("2026-11-23T20:30:03Z")
        );
        assert_eq!(
            parse_iso("2026-11-23 15:30:03 +0100"),
            parse_iso("2026-11-23T14:30:03Z")
        );
        assert_eq!(
            parse_iso("2026-11-23 15:30:03 UTC"),
            parse_iso("2026-11-23T15:30:03Z")
        );
        assert_eq!(
            parse_iso("2026-11-23 15:30:03"),
            parse_iso("2026-11-23T15:30:03Z")
        );
        assert_eq!(
            parse_iso("2026-11-23T15:30:03.123456+01:00"),
            Some(parse_iso("2026-11-23T14:30:03Z").unwrap() + 123)
        );
        assert_eq!(
            parse_iso("2026-11-23T15:30:03,5Z"),
            Some(utc("2026-11-23T15:30:03Z") + 500)
        );
        assert_eq!(parse_iso("2026-13-01 00:00:00"), None);
        // The calendar is checked: there is no 30 February.
        assert_eq!(parse_iso("2026-02-30T00:00:00Z"), None);
        assert_eq!(parse_iso("2026-11-23T25:00:00Z"), None);
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(parse_iso("2026-11-23T10:00:00Z junk"), None);
        // Multibyte junk where a zone should be: refused, not a panic.
        assert_eq!(parse_iso("2026-11-23T10:00:00+1\u{e9}1"), None);
        assert_eq!(parse_iso("2026-11-23T10:00:00.\u{e9}"), None);
        assert_eq!(
            format_rfc3339(1_453_906_778_237),
            "2016-01-27T14:59:38.237Z"
        );
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(i64::MAX),
            format!("{} ms since 1970", i64::MAX)
        );
        assert_eq!(year_of(1_453_906_778_237), 2016);
        assert_eq!(year_of(utc("2026-12-31T23:59:59.999Z")), 2026);
        assert_eq!(year_of(utc("2027-01-01T00:00:00Z")), 2027);
    }

    #[test]
    fn epochs() {
        assert_eq!(
            parse_epoch(&serde_json::json!(1513299569)),
            Some(1_513_299_569_000)
        );
        assert_eq!(
            parse_epoch(&serde_json::json!(1521472262.908181)),
            Some(1_521_472_262_908)
        );
        assert_eq!(
            parse_epoch(&serde_json::json!("1454442600")),
            Some(1_454_442_600_000)
        );
        assert_eq!(
            parse_epoch(&serde_json::json!(1_513_299_569_123i64)),
            Some(1_513_299_569_123)
        );
    }

    #[test]
    #[ignore = "a measurement: cargo test -p rebound-ingest --lib -- --ignored --nocapture"]
    fn syslog_clock_speed() {
        let paris = zone_named("Europe/Paris").unwrap();
        let clock = SyslogClock::new(paris, None, utc("2027-01-02T09:00:00Z"));
        let lines = [
            "Dec 31 23:59:59 mx",
            "Jan  1 00:00:01 mx",
            "Jul 14 12:00:00 mx",
        ];
        let n = 1_000_000;
        let t = std::time::Instant::now();
        let mut sum = 0i64;
        for i in 0..n {
            if let LineStamp::Time(ms, _) = clock.line(lines[i % 3]) {
                sum = sum.wrapping_add(ms);
            }
        }
        let ns = t.elapsed().as_nanos() / n as u128;
        println!("syslog stamp in Europe/Paris: {ns} ns/line ({sum})");
    }

    #[test]
    fn syslog_in_a_zone_and_a_year() {
        let paris = zone_named("Europe/Paris").unwrap();
        let fixed = SyslogClock::new(TimeZone::UTC, Some(2026), 0);
        assert_eq!(
            fixed.line("Nov  3 05:06:07 mail postfix"),
            LineStamp::Time(utc("2026-11-03T05:06:07Z"), " mail postfix")
        );
        assert_eq!(
            fixed.line("Nov  3 05:06:07.250 mail"),
            LineStamp::Time(utc("2026-11-03T05:06:07.250Z"), " mail")
        );
        // Read on 2 January 2027 in Paris: December is last year's,
        // January this year's, and both are Paris time.
        let jan = SyslogClock::new(paris.clone(), None, utc("2027-01-02T09:00:00Z"));
        assert_eq!(
            jan.line("Dec 31 23:59:59 mx"),
            LineStamp::Time(utc("2026-12-31T22:59:59Z"), " mx")
        );
        assert_eq!(
            jan.line("Jan  1 00:00:01 mx"),
            LineStamp::Time(utc("2026-12-31T23:00:01Z"), " mx")
        );
        // Summer time: Paris is two hours ahead in July.
        assert_eq!(
            jan.line("Jul 14 12:00:00 mx"),
            LineStamp::Time(utc("2026-07-14T10:00:00Z"), " mx")
        );
        // A day of clock drift is still this year.
        assert_eq!(
            jan.line("Jan  3 09:00:00 mx"),
            LineStamp::Time(utc("2027-01-03T08:00:00Z"), " mx")
        );
        // RFC 3339 stamps are read as written, whatever the clock's zone.
        assert_eq!(
            jan.line("2026-12-02T10:00:01.123456+01:00 mx"),
            LineStamp::Time(utc("2026-12-02T09:00:01.123Z"), " mx")
        );
        // 29 February: 2028 has one, so read in 2029 it is 2028's.
        let leap = SyslogClock::new(TimeZone::UTC, None, utc("2029-03-01T00:00:00Z"));
        assert_eq!(
            leap.line("Feb 29 12:00:00 mx"),
            LineStamp::Time(utc("2028-02-29T12:00:00Z"), " mx")
        );
        for bad in [
            "Nov 32 25:99:99 mx",
            "Nov 32 10:00:00 mx",
            "Nov 30 24:00:00 mx",
            "Feb 30 10:00:00 mx",
            "Nov  3 5:06:07 mx",
            "Nov xx 05:06:07 mx",
            "Nov 3",
            "2026-11-32T10:00:00Z mx",
            "2026-11-03T10:00:00+1\u{e9}1 mx",
        ] {
            assert!(
                matches!(fixed.line(bad), LineStamp::Invalid(_)),
                "{bad:?} should be invalid"
            );
        }
        assert!(matches!(
            SyslogClock::new(TimeZone::UTC, Some(2027), 0).line("Feb 29 10:00:00 mx"),
            LineStamp::Invalid(m) if m.contains("Feb 29 2027")
        ));
        for none in ["garbage", "", "Foo  3 05:06:07 x", "12 monkeys"] {
            assert_eq!(fixed.line(none), LineStamp::Missing, "{none:?}");
        }
        assert!(zone_named("Mars/Olympus_Mons").is_err());
    }
}
